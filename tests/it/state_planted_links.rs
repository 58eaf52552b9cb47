//! Links and odd files planted in the state directory by the user MediaMTX
//! runs as (here `nobody`, owning the directory), then an administrator
//! running `hook` as root: the link's target is never written, truncated,
//! chowned or chmodded; each command either refuses with a message naming
//! the file, or works without following the link.
//!
//! These tests need root (CI runs as root): they fail, loudly, without it.

use crate::support::common;
use crate::support::standin;

use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const NOBODY: u32 = 65534;
const LIMIT: Duration = Duration::from_secs(30);

fn need_root() {
    assert!(
        is_root(),
        "this test plants files as nobody and runs hook as root: run it as root (CI does)"
    );
}

/// A root-owned file outside the state directory, standing for /etc/shadow.
struct Target {
    path: PathBuf,
    content: &'static [u8],
    meta: (u32, u32, u32),
}

impl Target {
    fn new(dir: &Path) -> Target {
        let path = dir.join("shadow");
        let content: &[u8] = b"root:$y$secret:20000:0:99999:7:::\n";
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::chown(&path, Some(0), Some(42)).unwrap();
        let m = std::fs::metadata(&path).unwrap();
        Target {
            meta: (m.uid(), m.gid(), m.mode()),
            path,
            content,
        }
    }

    fn assert_untouched(&self, what: &str) {
        let m = std::fs::metadata(&self.path).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.mode()),
            self.meta,
            "{what}: owner or mode changed"
        );
        assert_eq!(
            std::fs::read(&self.path).unwrap(),
            self.content,
            "{what}: content changed"
        );
    }
}

/// A state directory owned by nobody, as the service's.
fn service_state(dir: &TempDir) -> PathBuf {
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(NOBODY), Some(NOBODY)).unwrap();
    state
}

/// Runs a program as nobody, which must succeed.
fn as_service(program: &str, args: &[&std::ffi::OsStr]) {
    let mut c = Command::new(program);
    c.args(args);
    as_nobody(&mut c);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Plants `rel` (in the state directory) as a symbolic link to `to`, as
/// the service user.
fn plant(state: &Path, rel: &str, to: &Path) {
    let link = state.join(rel);
    let parent = link.parent().unwrap();
    as_service("mkdir", &[os("-p"), parent.as_os_str()]);
    as_service("ln", &[os("-sfn"), to.as_os_str(), link.as_os_str()]);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

fn status(state: &Path) -> (i32, String, String) {
    let mut c = hook_command(state);
    c.args(["status", "--json"]);
    run_to_end(c, LIMIT)
}

fn ready(state: &Path) -> (i32, String, String) {
    let mut c = mediamtx_command(state, "cam0", free_port());
    c.arg("ready");
    run_to_end(c, LIMIT)
}

fn segment(state: &Path, rec: &Path, n: u32) -> (i32, String, String) {
    let f = fake_segment(rec, 100.0 + f64::from(n) * 2.0, 10);
    run_to_end(segment_command(state, "cam0", &f, "2"), LIMIT)
}

/// Writes a state (as the service could) whose cam0 ledger has a
/// committed length of 0: a writer following a ledger link would truncate
/// its target.
fn crafted_state(state: &Path) {
    let doc = serde_json::json!({
        "schema_version": 1,
        "paths": {"cam0": {"segments": {"count": 1, "ledger_bytes": 0}}}
    });
    let file = state.join("state.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    std::os::unix::fs::chown(&file, Some(NOBODY), Some(NOBODY)).unwrap();
}

fn assert_refused(what: &str, (code, _, err): (i32, String, String), names: &str) {
    assert_eq!(code, 1, "{what}: {err}");
    assert!(
        err.contains(names) && err.contains("is a symbolic link"),
        "{what}: the message names {names} and says it is a link: {err}"
    );
}

#[test]
#[ignore = "plants files as nobody and runs hook as root: scripts/test.sh runs it as root"]
fn root_commands_never_follow_links_to_state_files() {
    need_root();
    let dir = TempDir::new("planted");
    let target = Target::new(dir.path());
    let rec = dir.join("rec");
    std::fs::create_dir_all(&rec).unwrap();

    // The old fixed name of the state's temporary file: every command works
    // and never touches it.
    let state = service_state(&dir);
    plant(&state, "state.json.tmp", &target.path);
    for (what, out) in [
        ("segment-complete", segment(&state, &rec, 0)),
        ("ready", ready(&state)),
        ("status", status(&state)),
    ] {
        assert_eq!(out.0, 0, "{what} with a planted state.json.tmp: {}", out.2);
    }
    assert_eq!(path_state(&state, "cam0")["segments"]["count"], 1);
    assert!(std::fs::symlink_metadata(state.join("state.json.tmp"))
        .unwrap()
        .file_type()
        .is_symlink());
    target.assert_untouched("state.json.tmp");
    std::fs::remove_dir_all(&state).unwrap();

    // The lock: writers refuse, the reader (which takes no lock) answers.
    let state = service_state(&dir);
    plant(&state, "state.lock", &target.path);
    let lock = state.join("state.lock").display().to_string();
    assert_refused("ready, state.lock", ready(&state), &lock);
    assert_refused("segment, state.lock", segment(&state, &rec, 1), &lock);
    assert_eq!(status(&state).0, 0);
    target.assert_untouched("state.lock");
    std::fs::remove_dir_all(&state).unwrap();

    // The state file itself.
    let state = service_state(&dir);
    plant(&state, "state.json", &target.path);
    let file = state.join("state.json").display().to_string();
    assert_refused("status, state.json", status(&state), &file);
    assert_refused("segment, state.json", segment(&state, &rec, 2), &file);
    target.assert_untouched("state.json");
    std::fs::remove_dir_all(&state).unwrap();

    // A ledger file, with a state whose committed ledger length is 0.
    let state = service_state(&dir);
    crafted_state(&state);
    plant(&state, "ledger/cam0.jsonl", &target.path);
    let ledger = state.join("ledger/cam0.jsonl").display().to_string();
    assert_refused("segment, ledger", segment(&state, &rec, 3), &ledger);
    target.assert_untouched("ledger/cam0.jsonl");
    assert_eq!(path_state(&state, "cam0")["segments"]["count"], 1);
    std::fs::remove_dir_all(&state).unwrap();

    // The ledger directory: nothing is created where it points.
    let state = service_state(&dir);
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    plant(&state, "ledger", &elsewhere);
    let ledger_dir = state.join("ledger").display().to_string();
    assert_refused("segment, ledger/", segment(&state, &rec, 4), &ledger_dir);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    std::fs::remove_dir_all(&state).unwrap();
}

#[test]
#[ignore = "plants files as nobody and runs hook as root: scripts/test.sh runs it as root"]
fn root_a_hard_linked_or_special_file_is_refused_by_root() {
    need_root();
    let dir = TempDir::new("planted-hard");
    let target = Target::new(dir.path());
    let rec = dir.join("rec");
    std::fs::create_dir_all(&rec).unwrap();

    // Where fs.protected_hardlinks is off, the service user can link a
    // system file in; root made the link here.
    let state = service_state(&dir);
    crafted_state(&state);
    let ledger_dir = state.join("ledger");
    std::fs::create_dir_all(&ledger_dir).unwrap();
    std::os::unix::fs::chown(&ledger_dir, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::hard_link(&target.path, ledger_dir.join("cam0.jsonl")).unwrap();
    let (code, _, err) = segment(&state, &rec, 0);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("hard links") && err.contains("cam0.jsonl"),
        "{err}"
    );
    std::fs::remove_file(ledger_dir.join("cam0.jsonl")).unwrap();
    target.assert_untouched("hard link");
    std::fs::remove_dir_all(&state).unwrap();

    // A FIFO as the state file: refused at once, no hang.
    let state = service_state(&dir);
    as_service("mkfifo", &[state.join("state.json").as_os_str()]);
    let (code, _, err) = status(&state);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("a FIFO, not a regular file"), "{err}");
}

#[test]
#[ignore = "plants files as nobody and runs hook as root: scripts/test.sh runs it as root"]
fn root_record_start_never_follows_links_to_hold_files() {
    need_root();
    let dir = TempDir::new("planted-holds");
    let target = Target::new(dir.path());
    let api = standin::Standin::start(
        dir.path(),
        standin::Options {
            rtsp: false,
            ..standin::Options::both("cam0")
        },
    );
    for file in ["holds/cam0.log", "holds/cam0.policy.json"] {
        let state = service_state(&dir);
        plant(&state, file, &target.path);
        let mut c = hook_command(&state);
        c.env("HOOK_MTX_API", api.api_url())
            .env("RTSP_PORT", api.rtsp_port.to_string())
            .args(["record", "start", "cam0"]);
        let (code, _, err) = run_to_end(c, LIMIT);
        assert_eq!(code, 1, "{file}: {err}");
        assert!(
            err.contains(&state.join(file).display().to_string())
                && err.contains("is a symbolic link"),
            "{file}: {err}"
        );
        target.assert_untouched(file);
        std::fs::remove_dir_all(&state).unwrap();
    }
}

#[test]
#[ignore = "plants files as nobody and runs hook as root: scripts/test.sh runs it as root"]
fn root_hook_run_never_follows_a_link_to_a_device_lock() {
    need_root();
    let dir = TempDir::new("planted-lock");
    let target = Target::new(dir.path());
    let state = service_state(&dir);
    plant(&state, "locks/testsrc-lockcam0.lock", &target.path);
    let port = free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut c = mediamtx_command(&state, "lockcam0", port);
    c.args(["run", "--device", "testsrc"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut hook = c.spawn().unwrap();
    let refused = wait_until(Duration::from_secs(15), || {
        path_state(&state, "lockcam0")["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("testsrc-lockcam0.lock") && e.contains("symbolic link"))
    });
    kill_group(hook.id(), libc::SIGINT);
    let status = wait_timeout(&mut hook, Duration::from_secs(10));
    if status.is_none() {
        kill_group(hook.id(), libc::SIGKILL);
        let _ = hook.wait();
    }
    assert!(refused, "{}", path_state(&state, "lockcam0"));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    target.assert_untouched("device lock");
}

#[test]
fn a_state_dir_writable_by_everyone_is_refused() {
    let dir = TempDir::new("worldwritable");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let rec = dir.join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let fix = format!("chmod o-w {}", state.display());
    for (what, (code, _, err)) in [
        ("status", status(&state)),
        ("segment-complete", segment(&state, &rec, 0)),
    ] {
        // A setting to correct: a usage error.
        assert_eq!(code, 2, "{what}: {err}");
        assert!(
            err.contains("writable by every user") && err.contains(&fix),
            "{what}: {err}"
        );
    }
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 0);
}

#[test]
#[ignore = "plants files as nobody and runs hook as root: scripts/test.sh runs it as root"]
fn root_a_squatted_lock_fallback_names_its_owner() {
    need_root();
    let dir = TempDir::new("squat");
    // A state directory nobody cannot write (root's, 0755) and a shared
    // temporary directory where root already made nobody's fallback.
    let state = dir.join("rootonly/state");
    std::fs::create_dir_all(dir.join("rootonly")).unwrap();
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let squat = tmp.join(format!("mediamtx-hook-{NOBODY}"));
    std::fs::create_dir(&squat).unwrap();
    std::fs::set_permissions(&squat, std::fs::Permissions::from_mode(0o700)).unwrap();

    let port = free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let log = dir.join("hook.log");
    let mut c = mediamtx_command(&state, "squatcam0", port);
    c.args(["run", "--device", "testsrc"])
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    as_nobody(&mut c);
    let mut hook = c.spawn().unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let said = wait_until(Duration::from_secs(15), || {
        read_log().contains("belongs to uid 0")
    });
    kill_group(hook.id(), libc::SIGINT);
    if wait_timeout(&mut hook, Duration::from_secs(10)).is_none() {
        kill_group(hook.id(), libc::SIGKILL);
        let _ = hook.wait();
    }
    let text = read_log();
    assert!(said, "{text}");
    assert!(
        text.contains(&squat.display().to_string())
            && text.contains(&format!("rm -r {}", squat.display())),
        "{text}"
    );
    assert_eq!(std::fs::read_dir(&squat).unwrap().count(), 0);
}
