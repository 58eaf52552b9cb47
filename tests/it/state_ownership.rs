//! Files an operator's root command creates in the state directory are
//! handed to the directory's owner (the user MediaMTX runs as), so the
//! service's own hooks can still open them afterwards.

use crate::support::common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

const NOBODY: u32 = 65534;

fn segment_complete(state: &Path, segment: &Path) -> Command {
    let mut c = hook_command(state);
    c.env("MTX_PATH", "cam0")
        .env("MTX_SEGMENT_PATH", segment)
        .env("MTX_SEGMENT_DURATION", "2.000")
        .arg("segment-complete");
    c
}

#[test]
#[ignore = "needs root to run a command as root and as nobody: scripts/test.sh runs it as root"]
fn root_created_state_files_belong_to_the_state_dir_owner() {
    assert!(
        is_root(),
        "needs root to run a command as root and as nobody"
    );
    let dir = TempDir::new("ownership");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(NOBODY), Some(NOBODY)).unwrap();
    let first = dir.join("2026-11-24_10-00-00-000000.mp4");
    let second = dir.join("2026-11-24_10-00-02-000000.mp4");
    std::fs::write(&first, b"segment one").unwrap();
    std::fs::write(&second, b"segment two").unwrap();

    // The operator, as root.
    let (code, _, err) = run_to_end(segment_complete(&state, &first), Duration::from_secs(10));
    assert_eq!(code, 0, "{err}");
    for created in ["state.lock", "state.json", "ledger", "ledger/cam0.jsonl"] {
        let meta = std::fs::metadata(state.join(created)).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (NOBODY, NOBODY),
            "{created} belongs to the state directory's owner"
        );
    }

    // The service user goes on using the same files.
    let mut c = segment_complete(&state, &second);
    as_nobody(&mut c);
    let (code, _, err) = run_to_end(c, Duration::from_secs(10));
    assert_eq!(code, 0, "the service user can still write the state: {err}");
    let st = path_state(&state, "cam0");
    assert_eq!(st["segments"]["count"], 2, "{st}");
    let ledger = std::fs::read_to_string(state.join("ledger/cam0.jsonl")).unwrap();
    assert_eq!(ledger.lines().count(), 2);
}
