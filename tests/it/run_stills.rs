//! Live stills (`stills.every` / `--still-every`): the real `hook run`
//! publishing the test pattern with real FFmpeg to a real RTSP listener
//! writes a JPEG of the live picture at the interval, never a torn one,
//! that stays after the stream stops; `hook status` shows its age and
//! `hook snapshot --max-age` returns it when it is young enough.

use crate::support::common;
use crate::support::run as run_support;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::{RtspListener, TempDir};
use mediamtx_hook::snapshot::check_jpeg;
use run_support::{assert_nothing_left, Hook, HookOptions};

/// The fast restart values plus stills every 300 ms in `pics/`.
const POLICY: &str = r#"{"restart": {
    "initial_delay": "200ms", "max_delay": "2s", "stable_after": "3s",
    "grace": "1s", "stall_timeout": "3s", "device_lock_wait": "2s"},
    "stills": {"every": "300ms", "dir": "pics"}}"#;

fn mtime(file: &Path) -> Option<SystemTime> {
    std::fs::symlink_metadata(file)
        .and_then(|m| m.modified())
        .ok()
}

fn status_json(dir: &TempDir, path: &str) -> serde_json::Value {
    let (code, out, err) = common::run_to_end(
        {
            let mut c = common::hook_command(&dir.join("state"));
            c.args(["status", "--json", path]);
            c
        },
        Duration::from_secs(10),
    );
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["paths"][path].clone()
}

fn snapshot(
    dir: &TempDir,
    path: &str,
    out: &Path,
    max_age: &str,
) -> (i32, String, String, Duration) {
    let mut c = common::hook_command(&dir.join("state"));
    c.args(["snapshot", path, "--device", "testsrc", "-o"])
        .arg(out)
        .args(["--max-age", max_age])
        // No MediaMTX: an API that refuses at once.
        .env(
            "HOOK_MTX_API",
            format!("http://127.0.0.1:{}", common::free_port()),
        )
        .env("RUST_LOG", "info");
    let t0 = Instant::now();
    let (code, stdout, stderr) = common::run_to_end(c, Duration::from_secs(20));
    (code, stdout, stderr, t0.elapsed())
}

#[test]
fn stills_appear_at_the_interval_whole_and_stay_after_the_stop() {
    let path = "stillcam0";
    let dir = TempDir::new(path);
    let listener = RtspListener::start(path);
    let mut opts = HookOptions::testsrc(path, listener.port);
    opts.policy = Some(POLICY);
    let mut hook = Hook::start(&dir, opts);
    assert!(
        hook.wait_phase("running", Duration::from_secs(20)),
        "never running; state {} log {}",
        hook.state(),
        hook.log()
    );
    let still = dir.join("state/pics/stillcam0.jpg");
    assert!(
        common::wait_until(Duration::from_secs(15), || still.exists()),
        "no still at {}; log {}",
        still.display(),
        hook.log()
    );

    // Read it in a loop while FFmpeg rewrites it: always one whole JPEG.
    let t0 = Instant::now();
    let mut reads = 0;
    let mut times = Vec::new();
    while t0.elapsed() < Duration::from_secs(4) {
        let bytes = std::fs::read(&still).expect("the still is always there");
        reads += 1;
        if let Err(why) = check_jpeg(&bytes) {
            panic!("read {reads}: a torn still ({} bytes): {why}", bytes.len());
        }
        let t = mtime(&still).unwrap();
        if times.last() != Some(&t) {
            times.push(t);
        }
    }
    // Every 300 ms for 4 s: about 13 rewrites; a loaded machine may drop
    // some, none comes faster than the interval allows.
    assert!(
        (4..=16).contains(&times.len()),
        "{} rewrites in 4 s ({reads} reads)",
        times.len()
    );
    assert_eq!(check_jpeg(&std::fs::read(&still).unwrap()), Ok((320, 240)));
    assert!(
        listener.frames() > 0,
        "the stream still flows beside the still"
    );

    let s = status_json(&dir, path);
    assert_eq!(s["still"]["file"], still.display().to_string(), "{s}");
    assert!(s["still"]["age_seconds"].as_f64().unwrap() < 5.0, "{s}");
    assert!(s["still"]["bytes"].as_u64().unwrap() > 1000, "{s}");
    assert_eq!(s["still"]["every_seconds"], 0.3, "{s}");
    let (code, table, _) = common::run_to_end(
        {
            let mut c = common::hook_command(&dir.join("state"));
            c.arg("status");
            c
        },
        Duration::from_secs(10),
    );
    assert_eq!(code, 0);
    assert!(table.lines().next().unwrap().contains("STILL"), "{table}");
    let (_, metrics, _) = common::run_to_end(
        {
            let mut c = common::hook_command(&dir.join("state"));
            c.args(["status", "--prometheus"]);
            c
        },
        Duration::from_secs(10),
    );
    assert!(
        metrics.contains(&format!(
            "mediamtx_hook_still_age_seconds{{path=\"{path}\"}}"
        )),
        "{metrics}"
    );

    // --max-age with a fresh still: returned at once, no capture.
    let out = dir.join("fresh.jpg");
    let (code, stdout, stderr, took) = snapshot(&dir, path, &out, "30s");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("from the still"), "{stdout}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(check_jpeg(&std::fs::read(&out).unwrap()).is_ok());

    // The stop: the last picture stays, with its time.
    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(5))
        .expect("hook stops");
    assert_eq!(status.code(), Some(0), "{}", hook.log());
    assert_nothing_left(&hook);
    let last = mtime(&still).expect("the still stays after the stop");
    assert!(check_jpeg(&std::fs::read(&still).unwrap()).is_ok());
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(mtime(&still), Some(last), "nothing rewrites it any more");
    let s = status_json(&dir, path);
    assert_eq!(s["phase"], "idle", "{s}");
    assert!(s["still"]["age_seconds"].as_f64().unwrap() >= 0.7, "{s}");
    let at = time::OffsetDateTime::parse(
        s["still"]["at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(at, time::OffsetDateTime::from(last), "{s}");

    // --max-age shorter than the still's age: a new snapshot is taken.
    let out = dir.join("stale.jpg");
    let (code, stdout, stderr, _) = snapshot(&dir, path, &out, "500ms");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("from the device"), "{stdout}");
    assert!(stderr.contains("not using the still"), "{stderr}");
    assert!(check_jpeg(&std::fs::read(&out).unwrap()).is_ok());
    assert_eq!(
        mtime(&still),
        Some(last),
        "a snapshot does not touch the still"
    );
}

#[test]
fn bad_still_values_exit_2_naming_the_key() {
    let dir = TempDir::new("stills-bad");
    let run = |args: &[&str], policy: Option<&str>| {
        let mut c = common::mediamtx_command(&dir.join("state"), "cam0", common::free_port());
        c.arg("run").args(["--device", "testsrc"]).args(args);
        if let Some(json) = policy {
            c.env("HOOK_CONFIG", common::write_config(dir.path(), json));
        }
        common::run_to_end(c, Duration::from_secs(10))
    };
    for (args, policy, key) in [
        (&["--still-every", "0s"][..], None, "--still-every"),
        (&["--still-every", "10"][..], None, "--still-every"),
        (&["--still-every", "20ms"][..], None, "--still-every"),
        (
            &[][..],
            Some(r#"{"stills":{"every":"0s"}}"#),
            "stills.every",
        ),
        (
            &[][..],
            Some(r#"{"stills":{"every":"ten"}}"#),
            "stills.every",
        ),
        (&[][..], Some(r#"{"stills":{"dir":"../x"}}"#), "stills.dir"),
    ] {
        let (code, _, err) = run(args, policy);
        assert_eq!(code, 2, "{args:?} {policy:?}: {err}");
        assert!(err.contains(key), "{args:?} {policy:?}: {err}");
    }
    let mut c = common::hook_command(&dir.join("state"));
    c.args(["snapshot", "cam0", "-o"])
        .arg(dir.join("x.jpg"))
        .args(["--max-age", "0s"]);
    let (code, _, err) = common::run_to_end(c, Duration::from_secs(10));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--max-age"), "{err}");
}

/// The still goes to a full file system: FFmpeg ends every output when one
/// cannot be written, so the first attempt dies with "No space left on
/// device"; the hook then restarts the stream at once without the still,
/// and the stream runs on.
#[test]
#[ignore = "mounts a small tmpfs, needs root: scripts/test.sh runs it as root"]
fn root_a_still_on_a_full_disk_never_takes_the_stream_down() {
    let path = "stillfull0";
    let dir = TempDir::new(path);
    assert!(common::is_root(), "mounting a small tmpfs needs root");
    let full = dir.join("full");
    let fs = common::SmallFs::mount(&full)
        .unwrap_or_else(|e| panic!("cannot mount a tmpfs on {}: {e}", full.display()));
    fs.fill();
    let policy = format!(
        r#"{{"restart": {{"initial_delay": "200ms", "max_delay": "1s", "grace": "1s"}},
            "stills": {{"every": "300ms", "dir": "{}"}}}}"#,
        full.display()
    );
    // FFmpeg's one-shot listener takes one publisher: the first attempt's,
    // which the full disk ends; the second listener, on the same port,
    // takes the attempt without the still.
    let first = RtspListener::start(path);
    let port = first.port;
    let mut opts = HookOptions::testsrc(path, port);
    opts.policy = Some(&policy);
    let mut hook = Hook::start(&dir, opts);
    assert!(
        common::wait_until(Duration::from_secs(20), || hook
            .log()
            .contains("restarts without the still")),
        "the hook never gave up the still; log {}",
        hook.log()
    );
    assert!(
        hook.log().contains("No space left on device"),
        "{}",
        hook.log()
    );
    drop(first);
    let second = common::RtspListener::start_on(port, path);
    assert!(
        common::wait_until(Duration::from_secs(20), || second.frames() > 30),
        "the stream did not run on without the still; log {}",
        hook.log()
    );
    let restarts = hook.state()["restarts"].as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        hook.state()["restarts"].as_u64().unwrap(),
        restarts,
        "no more restarts once the still is left out; log {}",
        hook.log()
    );
    assert_eq!(hook.phase(), "running");
    assert!(!full.join(format!("{path}.jpg")).exists());
    hook.signal_group_and_wait(libc::SIGINT, Duration::from_secs(10));
    assert_nothing_left(&hook);
}
