//! `hook devices`, `hook mediamtx-config` and the causes in `hook status`
//! on fake V4L2 cameras (`support::fakecam`): real probing through the `v4l`
//! crate, udev-style names, metadata nodes, and the faults a camera has.
//! The cameras live in a private mount namespace: these need root.

use std::net::TcpListener;
use std::time::Duration;

use crate::support::cmd::Cmd;
use crate::support::common::{self, is_root, TempDir};
use crate::support::fakecam::{Camera, FakeDev};
use crate::support::run::{Hook, HookOptions};

/// A C920-like pair of the same model without serial numbers (udev gives
/// their one by-id name to whichever came last), and two with serials.
fn four_cameras(dev: &FakeDev) -> (Camera, Camera, Camera, Camera) {
    let a = Camera::mjpeg("a").card("HD Webcam").serial("A1");
    let b = Camera::h264("b").card("H264 Cam").serial("B2");
    let c = Camera::mjpeg("c").card("USB Cam").no_serial();
    let d = Camera::mjpeg("d").card("USB Cam").no_serial();
    dev.plug(&a, 0);
    dev.plug(&b, 2);
    dev.plug(&c, 4);
    dev.plug(&d, 6);
    (a, b, c, d)
}

fn device<'a>(report: &'a serde_json::Value, node: &str) -> &'a serde_json::Value {
    report["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == node)
        .unwrap_or_else(|| panic!("{node} not listed: {report:#}"))
}

#[test]
#[ignore = "needs root: fake cameras in a private mount namespace"]
fn root_camera_devices_lists_names_formats_and_the_choice() {
    assert!(is_root(), "fake cameras need root");
    let dir = TempDir::new("camdev");
    let dev = FakeDev::new();
    let (a, _, _, _) = four_cameras(&dev);
    let out = Cmd::hook(&dir.join("state"))
        .fakedev(&dev)
        .args(["devices", "--json"])
        .run();
    out.code(0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["devices"].as_array().unwrap().len(), 4, "{report:#}");
    // Each camera's metadata node is skipped, as not a capture device.
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        ["/dev/video1", "/dev/video3", "/dev/video5", "/dev/video7"]
    );
    assert!(report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["kind"] == "not-capture"));

    let v0 = device(&report, "/dev/video0");
    assert_eq!(v0["card"], "HD Webcam");
    assert_eq!(v0["formats"][0]["fourcc"], "MJPG", "{v0:#}");
    assert_eq!(v0["formats"][0]["sizes"][0]["width"], 1280);
    assert_eq!(
        v0["formats"][0]["sizes"][0]["rates"]["fps"],
        serde_json::json!([30.0, 15.0])
    );
    assert_eq!(v0["choice"]["input_format"], "mjpeg");
    assert_eq!(v0["choice"]["width"], 1280);
    assert_eq!(v0["choice"]["encoder"], "libx264");
    let by_id = dev.by_id(&a);
    assert_eq!(v0["stable_name"], by_id.as_str());
    assert_eq!(v0["stable_name_kind"], "by-id");
    assert!(v0["ambiguous"].is_null());
    let names: Vec<&str> = v0["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "/dev/video0",
            by_id.as_str(),
            dev.by_path("a").unwrap().as_str()
        ]
    );

    let v2 = device(&report, "/dev/video2");
    assert_eq!(v2["choice"]["encoder"], "copy", "an H.264 camera is copied");

    // Two cameras of one model without serials: the by-id name is theirs
    // to share, so both are wired by USB port and reported as ambiguous.
    for (node, id) in [("/dev/video4", "c"), ("/dev/video6", "d")] {
        let d = device(&report, node);
        assert_eq!(d["stable_name_kind"], "by-path", "{d:#}");
        assert_eq!(d["stable_name"], dev.by_path(id).unwrap().as_str());
        let why = d["ambiguous"].as_str().unwrap();
        assert!(why.contains("USB Cam"), "{why}");
    }

    // The human listing shows every name and the one to wire by.
    let out = Cmd::hook(&dir.join("state"))
        .fakedev(&dev)
        .arg("devices")
        .run();
    out.code(0);
    let text = &out.stdout;
    assert!(text.contains(&format!("  by-id: {by_id}\n")), "{text}");
    assert!(
        text.contains(&format!("  wire it by: {by_id} (its by-id name")),
        "{text}"
    );
    assert!(text.contains("  ambiguous: "), "{text}");
    assert!(text.contains("/dev/video1, /dev/video3"), "{text}");
}

#[test]
#[ignore = "needs root: fake cameras in a private mount namespace"]
fn root_camera_mediamtx_config_wires_each_camera_by_its_stable_name() {
    assert!(is_root(), "fake cameras need root");
    let dir = TempDir::new("camcfg");
    let dev = FakeDev::new();
    let (a, b, _, _) = four_cameras(&dev);
    let out = Cmd::hook(&dir.join("state"))
        .fakedev(&dev)
        .arg("mediamtx-config")
        .run();
    out.code(0);
    let text = &out.stdout;
    for (path, device) in [
        ("camera0", dev.by_id(&a)),
        ("camera2", dev.by_id(&b)),
        ("camera4", dev.by_path("c").unwrap()),
        ("camera6", dev.by_path("d").unwrap()),
    ] {
        assert!(
            text.contains(&format!(
                "  {path}:\n    runOnDemand: hook run --device {device}\n"
            )),
            "{path} by {device}:\n{text}"
        );
    }
    assert!(text.contains("wired by by-id: its by-id name"), "{text}");
    assert!(text.contains("# ambiguous by-id name: "), "{text}");
    assert!(!text.contains("/dev/video1"), "no metadata node: {text}");

    // Given by node number, the steadier name is pointed out.
    let out = Cmd::hook(&dir.join("state"))
        .fakedev(&dev)
        .args(["mediamtx-config", "--device", "/dev/video0"])
        .run();
    out.code(0);
    assert!(
        out.stdout.contains(&format!(
            "/dev/video0 is a node number, which may change after a replug; {} names this camera steadily",
            dev.by_id(&a)
        )),
        "{}",
        out.stdout
    );
}

/// `ENOSPC` at `STREAMON` is the USB bus, not the disk: the cause says so,
/// in JSON, in the human view's line and as the metric's label.
#[test]
#[ignore = "needs root: fake cameras in a private mount namespace"]
fn root_camera_without_usb_bandwidth_is_named_so_everywhere() {
    assert!(is_root(), "fake cameras need root");
    let dir = TempDir::new("cambw");
    let dev = FakeDev::new();
    let cam = Camera::mjpeg("bw").streamon_errno(libc::ENOSPC);
    let node = dev.plug(&cam, 0);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut hook = Hook::start(&dir, HookOptions::camera("camera0", port, &dev, &node));
    let state = dir.join("state");
    let st = status_until(&state, "the USB bandwidth cause", |s| {
        s["cause"] == "usb_bandwidth"
    });
    assert!(
        st["cause_detail"]
            .as_str()
            .unwrap()
            .contains("VIDIOC_STREAMON"),
        "{st}"
    );
    assert!(
        st["cause_fix"].as_str().unwrap().contains("not the disk"),
        "{st}"
    );
    let human = Cmd::hook(&state).arg("status").run();
    human.code(0);
    let line = human
        .stdout
        .lines()
        .find(|l| l.starts_with("camera0 "))
        .unwrap_or_else(|| panic!("{}", human.stdout));
    assert!(line.contains("usb_bandwidth: FFmpeg: "), "{line}");
    let detail = Cmd::hook(&state).args(["status", "camera0"]).run();
    assert!(
        detail.stdout.contains("cause") && detail.stdout.contains("USB bandwidth"),
        "{}",
        detail.stdout
    );
    let prom = Cmd::hook(&state).args(["status", "--prometheus"]).run();
    assert!(
        prom.stdout
            .contains("mediamtx_hook_cause{path=\"camera0\",cause=\"usb_bandwidth\"} 1\n"),
        "{}",
        prom.stdout
    );
    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(3))
        .unwrap_or_else(|| panic!("still running: {}", hook.log()));
    assert_eq!(status.code(), Some(0));
}

fn status_until(
    state: &std::path::Path,
    what: &str,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut st = serde_json::Value::Null;
    let ok = common::wait_until(Duration::from_secs(15), || {
        let out = Cmd::hook(state).args(["status", "--json"]).run();
        st = serde_json::from_str::<serde_json::Value>(&out.stdout)
            .map(|v| v["paths"]["camera0"].clone())
            .unwrap_or_default();
        want(&st)
    });
    assert!(ok, "status never showed {what}: {st}");
    st
}
