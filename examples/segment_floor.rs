//! The floor `scripts/bench.sh` holds `hook segment-complete` against: the
//! least a program can do for one segment with the same durability, exec'd
//! the same way. It reads the same variables, `stat`s the segment, takes an
//! exclusive lock, reads the state file, appends one JSON line to the
//! ledger with `fdatasync`, writes the state to a temporary file with
//! `fsync`, renames it into place and `fsync`s the directory. No parsing,
//! no checks, no gap detection, no budget: the ratio of the hook's time to
//! this one's is what the hook's own work costs.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

fn main() {
    let var = |name: &str| std::env::var_os(name).expect("MediaMTX's variables");
    let state = std::path::PathBuf::from(var("HOOK_STATE_DIR"));
    let segment = var("MTX_SEGMENT_PATH");
    let path = var("MTX_PATH");
    let size = std::fs::metadata(&segment).expect("the segment").len();
    let ledger_dir = state.join("ledger");
    std::fs::create_dir_all(&ledger_dir).unwrap();
    let lock = File::create(state.join("floor.lock")).unwrap();
    lock.lock().unwrap();
    let old = std::fs::read(state.join("floor-state.json")).unwrap_or_default();

    let mut ledger = OpenOptions::new()
        .create(true)
        .append(true)
        .open(ledger_dir.join(Path::new(&path).with_extension("floor.jsonl")))
        .unwrap();
    let line = format!(
        "{{\"file\":{:?},\"duration\":{},\"size\":{size}}}\n",
        segment.to_string_lossy(),
        var("MTX_SEGMENT_DURATION").to_string_lossy()
    );
    ledger.write_all(line.as_bytes()).unwrap();
    ledger.sync_data().unwrap();

    let tmp = state.join(format!(".floor-state.{}", std::process::id()));
    let mut f = File::create(&tmp).unwrap();
    f.write_all(&old).unwrap();
    f.write_all(line.as_bytes()).unwrap();
    f.sync_all().unwrap();
    std::fs::rename(&tmp, state.join("floor-state.json")).unwrap();
    File::open(&state).unwrap().sync_all().unwrap();
}
