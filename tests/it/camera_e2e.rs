//! The camera path end to end, on fake V4L2 cameras (`support::fakecam`):
//! a MediaMTX (real with `MEDIAMTX_BIN`: `real_*`; else the stand-in:
//! `root_*`) wired by `hook mediamtx-config --device <the camera's by-id
//! name>`, readers that demand the path, and the camera unplugged,
//! replugged, taken by another program. Every process the case starts sees
//! the test's own `/dev` in a private mount namespace, so all of these need
//! root.

use crate::both;
use std::time::{Duration, Instant};

use crate::support::common::*;
use crate::support::e2e::*;
use crate::support::fakecam::{Camera, FakeDev};

/// A backoff no camera coming back may wait for: the first restart delay
/// alone is 20 s, so anything quicker came from watching the device.
const LONG_BACKOFF: &str =
    r#"{"initial_delay": "20s", "max_delay": "30s", "grace": "3s", "device_lock_wait": "2s"}"#;

/// What the tests allow for "within 2 s" / "within 1 s" on a loaded CI
/// machine; `scripts/bench.sh` measures the figures themselves.
const BACK_WITHIN: Duration = Duration::from_secs(4);

/// A MediaMTX with `device` wired (a name inside `dev`'s `/dev`).
fn wired(b: Backend, dev: &FakeDev, device: &str) -> Mtx {
    wired_with(b, dev, device, Setup::default())
}

fn wired_with(b: Backend, dev: &FakeDev, device: &str, setup: Setup) -> Mtx {
    assert!(
        is_root(),
        "fake cameras need root (mknod, mount namespaces)"
    );
    Mtx::start_fakedev(
        b,
        Setup {
            device: Some(device.to_string()),
            ..setup
        },
        dev,
    )
}

/// A reader with frames decoded, and the publisher's FFmpeg command line.
fn watch(m: &Mtx) -> (Reader, String) {
    let r = Reader::start(&m.url(m.path()));
    assert!(
        r.wait_frames(10, START_TIMEOUT + SLACK),
        "no frames for a reader: {}\nMediaMTX:\n{}",
        r.log(),
        m.log_text()
    );
    let mut cmdline = String::new();
    let ok = poll(SLACK, Duration::from_millis(100), || {
        let st = m.status();
        match st["child_pid"].as_u64() {
            Some(pid) if st["phase"] == "running" => {
                cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                    .unwrap_or_default();
                !cmdline.is_empty()
            }
            _ => false,
        }
    });
    assert!(
        ok,
        "status never showed the publisher running: {}",
        m.status()
    );
    (r, cmdline)
}

/// Waits for the path's status to satisfy `want`; returns it.
fn status_until(
    m: &Mtx,
    timeout: Duration,
    what: &str,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut st = serde_json::Value::Null;
    let ok = poll(timeout, Duration::from_millis(50), || {
        st = m.status();
        want(&st)
    });
    assert!(
        ok,
        "status never showed {what}: {st}\nMediaMTX:\n{}",
        m.log_text()
    );
    st
}

// 1. An MJPEG camera is decoded and encoded at the largest size not above
//    the one wanted (1280x720 by default), at its nearest rate.
fn mjpeg_camera_is_encoded(b: Backend) {
    let dev = FakeDev::new();
    let cam = Camera::mjpeg("cam1");
    dev.plug(&cam, 0);
    let m = wired(b, &dev, &dev.by_id(&cam));
    assert_eq!(m.path(), "camera0", "named by the node the link reaches");
    let (r, cmd) = watch(&m);
    assert!(
        cmd.contains("-f v4l2 -input_format mjpeg -video_size 1280x720 -framerate 30"),
        "{cmd}"
    );
    assert!(cmd.contains("-c:v libx264"), "{cmd}");
    let st = m.status();
    assert!(st["cause"].is_null(), "{st}");
    assert_eq!(st["device"], dev.by_id(&cam).as_str(), "{st}");
    r.stop();
}
both!(
    root,
    mjpeg_camera_is_encoded,
    real_camera_mjpeg_is_encoded,
    root_camera_mjpeg_is_encoded
);

// 1. An H.264 camera is copied, not encoded again.
fn h264_camera_is_copied(b: Backend) {
    let dev = FakeDev::new();
    let cam = Camera::h264("cam1");
    dev.plug(&cam, 0);
    let m = wired(b, &dev, &dev.by_id(&cam));
    let (r, cmd) = watch(&m);
    assert!(cmd.contains("-input_format h264"), "{cmd}");
    assert!(cmd.contains("-c:v copy"), "{cmd}");
    assert!(!cmd.contains("libx264"), "{cmd}");
    r.stop();
}
both!(
    root,
    h264_camera_is_copied,
    real_camera_h264_is_copied,
    root_camera_h264_is_copied
);

// 1. A YUYV-only camera: at the largest size within the wanted one and at
//    the rate the camera offers there (its USB bandwidth's limit).
fn yuyv_camera_within_its_bandwidth(b: Backend) {
    let dev = FakeDev::new();
    let cam = Camera::yuyv("cam1").sizes(vec![(1280, 720, vec![10, 5]), (640, 480, vec![30, 15])]);
    dev.plug(&cam, 0);
    let m = wired(b, &dev, &dev.by_id(&cam));
    let (r, cmd) = watch(&m);
    assert!(
        cmd.contains("-input_format yuyv422 -video_size 1280x720 -framerate 10"),
        "{cmd}"
    );
    assert!(cmd.contains("-c:v libx264"), "{cmd}");
    r.stop();
}
both!(
    root,
    yuyv_camera_within_its_bandwidth,
    real_camera_yuyv_within_its_bandwidth,
    root_camera_yuyv_within_its_bandwidth
);

// 4. Unplugged while viewed: the exit is recognised as the camera going
//    away (FFmpeg 5.1 exits 0), status says so at once, nothing runs while
//    it is away, and after a replug under another node number the stable
//    name reaches it and the path publishes again within 2 s. (MediaMTX
//    closes the path once its close-after passes with no reader: the
//    outage here is shorter.)
fn unplug_and_replug_while_viewed(b: Backend) {
    let dev = FakeDev::new();
    let cam = Camera::mjpeg("cam1").sizes(vec![(640, 480, vec![30])]);
    dev.plug(&cam, 0);
    let setup = Setup {
        close_after: Some(Duration::from_secs(30)),
        restart: Some(LONG_BACKOFF),
        ..Setup::default()
    };
    let m = wired_with(b, &dev, &dev.by_id(&cam), setup);
    let (r, _) = watch(&m);
    let runs_before: Vec<u32> = m.hook_runs().iter().map(|p| p.pid).collect();
    assert_eq!(runs_before.len(), 1);

    let unplugged = Instant::now();
    dev.unplug("cam1");
    let st = status_until(&m, Duration::from_secs(3), "the camera unplugged", |s| {
        s["cause"] == "unplugged" && s["phase"] == "waiting-for-device"
    });
    let seen = unplugged.elapsed();
    eprintln!("{b:?}: unplug shown in status after {seen:?}");
    assert!(seen < Duration::from_secs(2), "{seen:?}");
    assert!(st["child_pid"].is_null(), "no FFmpeg while away: {st}");
    assert!(
        st["cause_detail"]
            .as_str()
            .unwrap()
            .contains("/dev/v4l/by-id/"),
        "{st}"
    );
    // Away for a while: no retry loop (restarts stay put), the same hook run.
    let restarts = st["restarts"].as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let st = m.status();
    assert_eq!(st["restarts"].as_u64().unwrap(), restarts, "{st}");
    assert_eq!(st["phase"], "waiting-for-device", "{st}");
    let runs: Vec<u32> = m.hook_runs().iter().map(|p| p.pid).collect();
    assert_eq!(runs, runs_before, "the same hook run waits");

    // Back under /dev/video4: the by-id link now points there.
    let replugged = Instant::now();
    dev.plug(&cam, 4);
    status_until(&m, Duration::from_secs(5), "publishing again", |s| {
        s["phase"] == "running" && s["child_pid"].is_u64()
    });
    let back = replugged.elapsed();
    eprintln!("{b:?}: publishing again {back:?} after the replug");
    assert!(back < BACK_WITHIN, "{back:?}");
    assert!(m.path_ready());
    let again = frames_within(&m.url(m.path()), 5, SLACK);
    assert!(again.is_ok(), "a reader after the replug: {again:?}");
    drop(r);
}
both!(
    root,
    unplug_and_replug_while_viewed,
    real_camera_unplug_and_replug_while_viewed,
    root_camera_unplug_and_replug_while_viewed
);

// 5. Busy: another program streams the camera. Status names it (pid and
//    command), and the hook takes the camera within a second of its end.
fn busy_camera_names_its_holder(b: Backend) {
    let dev = FakeDev::new();
    let cam = Camera::mjpeg("cam1").sizes(vec![(640, 480, vec![30])]);
    let node = dev.plug(&cam, 0);
    let other = dev.streamer(&node);
    let setup = Setup {
        restart: Some(LONG_BACKOFF),
        ..Setup::default()
    };
    let m = wired_with(b, &dev, &dev.by_id(&cam), setup);
    let r = Reader::start(&m.url(m.path()));
    let st = status_until(&m, SLACK, "the camera busy", |s| s["cause"] == "busy");
    let detail = st["cause_detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("pid {}", other.pid())) && detail.contains("ffmpeg"),
        "the holder is named: {st}"
    );
    other.stop();
    let released = Instant::now();
    // Taken: a descriptor of the hook's FFmpeg owns the camera's stream.
    let taken = poll(Duration::from_secs(5), Duration::from_millis(10), || {
        dev.owned("cam1")
    });
    let took = released.elapsed();
    assert!(taken, "the camera was never taken: {}", m.log_text());
    eprintln!("{b:?}: camera taken {took:?} after its holder let go");
    assert!(took < BACK_WITHIN, "{took:?}\n{}", m.log_text());
    assert!(
        r.wait_frames(10, START_TIMEOUT + SLACK),
        "the waiting reader is served: {}",
        r.log()
    );
    status_until(&m, SLACK, "the cause cleared", |s| {
        s["phase"] == "running" && s["cause"].is_null()
    });
}
both!(
    root,
    busy_camera_names_its_holder,
    real_camera_busy_names_its_holder,
    root_camera_busy_names_its_holder
);

// 8. Snapshots: straight from the idle camera (warm-up frames dropped),
//    from the stream when one runs, and a busy camera named.
fn snapshot_from_the_camera(b: Backend) {
    let dev = FakeDev::new();
    let cam = Camera::mjpeg("cam1").sizes(vec![(640, 480, vec![30])]);
    let node = dev.plug(&cam, 0);
    let m = wired(b, &dev, &dev.by_id(&cam));
    let out = m.dir.join("snap.jpg");
    let out_s = out.to_str().unwrap();
    let snap = |extra: &[&str]| {
        let mut args = vec!["snapshot", m.path(), "-o", out_s];
        args.extend_from_slice(extra);
        m.run_hook(&args, SLACK * 2)
    };
    let by_id = dev.by_id(&cam);
    let (code, said, err) = snap(&["--device", &by_id]);
    assert_eq!(code, 0, "{said}{err}");
    assert!(said.contains("from the device"), "{said}");
    assert!(m.hook_runs().is_empty(), "a snapshot starts no stream");
    let jpeg = std::fs::read(&out).unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);

    let (r, _) = watch(&m);
    let (code, said, err) = snap(&[]);
    assert_eq!(code, 0, "{said}{err}");
    assert!(said.contains("from the stream"), "{said}");
    r.stop();
    m.run_hook(&["stop", m.path()], SLACK);
    let stopped = poll(SLACK, Duration::from_millis(100), || {
        m.hook_runs().is_empty()
    });
    assert!(stopped, "hook stop ended the publisher");

    let other = dev.streamer(&node);
    let (code, said, err) = snap(&["--device", &by_id, "--timeout", "3s"]);
    assert_eq!(code, 1, "{said}{err}");
    assert!(
        err.contains("busy") && err.contains(&format!("pid {}", other.pid())),
        "{err}"
    );
    other.stop();

    // Unplugged: named, at once, not after the time limit.
    dev.unplug("cam1");
    let t0 = Instant::now();
    let (code, said, err) = snap(&["--device", &by_id]);
    assert_eq!(code, 1, "{said}{err}");
    assert!(
        err.contains("camera_missing") && err.contains("is the camera plugged in?"),
        "{err}"
    );
    assert!(t0.elapsed() < SLACK, "{:?}", t0.elapsed());
}
both!(
    root,
    snapshot_from_the_camera,
    real_camera_snapshot_from_the_camera,
    root_camera_snapshot_from_the_camera
);

// 4. Unplugged while a recording session holds it (nobody views it): the
//    session survives, recording resumes after the replug, the hole is one
//    gap in the ledger with its cause and length, and once the session is
//    stopped nothing is left running. The backoff is long: neither the
//    publisher nor the hold may wait for it.
fn unplug_during_a_recording_session(b: Backend) {
    unplugged_while_recording(b, Duration::from_secs(4), Duration::from_secs(30));
}

// 4. The same with the camera away for longer than MediaMTX waits for a
//    publisher (its start timeout) and than it keeps a path nobody reads
//    (close-after): MediaMTX stops the waiting `hook run`, the hold asks
//    again and a new one waits; the recording still resumes at once.
fn long_unplug_during_a_recording_session(b: Backend) {
    unplugged_while_recording(b, START_TIMEOUT + Duration::from_secs(4), CLOSE_AFTER);
}

fn unplugged_while_recording(b: Backend, outage: Duration, close_after: Duration) {
    let dev = FakeDev::new();
    let cam = Camera::mjpeg("cam1").sizes(vec![(640, 480, vec![30])]);
    dev.plug(&cam, 0);
    let setup = Setup {
        close_after: Some(close_after),
        restart: Some(LONG_BACKOFF),
        ..Setup::default()
    };
    let m = wired_with(b, &dev, &dev.by_id(&cam), setup);
    let path = m.path().to_string();
    let (code, out, err) = m.run_hook(&["record", "start", &path], START_TIMEOUT + SLACK * 2);
    assert_eq!(code, 0, "record start: {out}{err}\n{}", m.log_text());
    let segments = |n: usize| {
        poll(SLACK * 2, Duration::from_millis(200), || {
            m.ledger().len() >= n
        })
    };
    assert!(
        segments(2),
        "no segments: {:?}\n{}",
        m.ledger(),
        m.log_text()
    );

    dev.unplug("cam1");
    let st = status_until(&m, Duration::from_secs(3), "the camera unplugged", |s| {
        s["cause"] == "unplugged"
    });
    assert_eq!(st["recording"]["session"]["status"], "active", "{st}");
    std::thread::sleep(outage);
    let before = m.ledger().len();
    let replugged = Instant::now();
    dev.plug(&cam, 4);
    status_until(&m, BACK_WITHIN, "publishing again", |s| {
        s["phase"] == "running"
    });
    eprintln!(
        "{b:?}: publishing again {:?} after the replug",
        replugged.elapsed()
    );
    // Recording resumes: a segment after the hole, which has its cause.
    let mut gap = serde_json::Value::Null;
    let resumed = poll(SLACK * 2, Duration::from_millis(200), || {
        let ledger = m.ledger();
        match ledger
            .iter()
            .skip(before.saturating_sub(1))
            .find(|s| s["gap_before"].is_number())
        {
            Some(s) => {
                gap = s.clone();
                true
            }
            None => false,
        }
    });
    assert!(
        resumed,
        "no segment after the replug with the hole before it: {:?}\n{}",
        m.ledger(),
        m.log_text()
    );
    eprintln!(
        "{b:?}: recording resumed {:?} after the replug; {gap}",
        replugged.elapsed()
    );
    assert_eq!(gap["gap_cause"], "unplugged", "{gap}");
    let hole = gap["gap_before"].as_f64().unwrap();
    assert!(
        (3.0..20.0).contains(&hole),
        "the hole is the outage: {hole} s"
    );
    let gaps = m
        .ledger()
        .iter()
        .filter(|s| s["gap_before"].is_number())
        .count();
    assert_eq!(gaps, 1, "one gap: {:?}", m.ledger());
    // The ledger line is written inside the state's locked update, before
    // state.json is replaced: the totals follow it a moment later.
    let st = status_until(&m, SLACK, "the gap in the totals", |s| {
        s["segments"]["gaps"] == 1
    });
    assert_eq!(st["recording"]["session"]["status"], "active", "{st}");
    assert_eq!(st["segments"]["gaps"], 1, "{st}\nledger: {:?}", m.ledger());

    let (code, out, err) = m.run_hook(&["record", "stop", &path], SLACK * 2);
    assert_eq!(code, 0, "record stop: {out}{err}");
    let (code, out, err) = m.run_hook(&["stop", &path], SLACK * 2);
    assert_eq!(code, 0, "hook stop: {out}{err}");
    let quiet = poll(SLACK, Duration::from_millis(200), || {
        m.hook_runs().is_empty() && m.holds().is_empty() && m.path_processes().is_empty()
    });
    assert!(
        quiet,
        "left running: runs {:?} holds {:?} path {:?}",
        m.hook_runs(),
        m.holds(),
        m.path_processes()
    );
}
both!(
    root,
    unplug_during_a_recording_session,
    real_camera_unplug_during_a_recording_session,
    root_camera_unplug_during_a_recording_session
);
both!(
    root,
    long_unplug_during_a_recording_session,
    real_camera_long_unplug_during_a_recording_session,
    root_camera_long_unplug_during_a_recording_session
);
