//! The fake cameras themselves (`tests/support/fakecam/`): real FFmpeg
//! lists and captures them like UVC cameras, at their frame rate, and meets
//! the faults a real camera has (busy, no USB bandwidth, unplug and replug,
//! a slow first frame, a node the user may not open); python3 and the `hook`
//! binary (the `v4l` crate, which issues ioctls through `syscall`) see them
//! too. Every test needs root (nodes and a private mount namespace).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::cmd::Cmd;
use crate::support::common::{as_nobody, run_to_end, TempDir};
use crate::support::fakecam::{Camera, FakeDev, Pixel, Streamer};

const T: Duration = Duration::from_secs(30);

fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads `frames` frames from the camera at `node` with FFmpeg's v4l2
/// input and throws them away: (exit code, stdout, stderr).
fn read_frames(dev: &FakeDev, node: &str, frames: u32) -> (i32, String, String) {
    let mut cmd = dev.ffmpeg();
    cmd.args(["-f", "v4l2", "-i", node, "-frames:v", &frames.to_string()])
        .args(["-f", "null", "-"]);
    run(cmd)
}

fn run(cmd: Command) -> (i32, String, String) {
    run_to_end(cmd, T)
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_lists_formats_and_sizes() {
    let dev = FakeDev::new();
    let cam = Camera::mjpeg("list")
        .format(
            Pixel::Yuyv,
            vec![(640, 480, vec![30, 15]), (320, 240, vec![30])],
        )
        .format(Pixel::H264, vec![(1280, 720, vec![30])]);
    let node = dev.plug(&cam, 0);
    let mut cmd = dev.ffmpeg();
    cmd.args(["-f", "v4l2", "-list_formats", "all", "-i", &node]);
    let (_, _, err) = run(cmd);
    let text = words(&err);
    for line in [
        "Compressed: mjpeg : Motion-JPEG : 1280x720 640x480",
        "Raw : yuyv422 : YUYV 4:2:2 : 640x480 320x240",
        "Compressed: h264 : H.264 : 1280x720",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{err}");
    }
}

/// Captures `secs` seconds of `pixel` at 640x480 with `-c copy`: the
/// packets' timestamps (µs) and the wall time taken.
fn capture(pixel: Pixel, secs: u32) -> (Vec<i64>, Duration, String) {
    let dev = FakeDev::new();
    let cam = match pixel {
        Pixel::Mjpeg => Camera::mjpeg("cap"),
        Pixel::Yuyv => Camera::yuyv("cap"),
        Pixel::H264 => Camera::h264("cap"),
    };
    let node = dev.plug(&cam, 0);
    let mut cmd = dev.ffmpeg();
    cmd.args(["-f", "v4l2", "-input_format", pixel.ffmpeg_name()])
        .args(["-video_size", "640x480", "-i", &node])
        .args(["-t", &secs.to_string(), "-c", "copy", "-f", "framecrc", "-"]);
    let start = Instant::now();
    let (code, out, err) = run(cmd);
    let wall = start.elapsed();
    assert_eq!(code, 0, "{err}");
    let mut tb = None;
    let mut pts = Vec::new();
    for line in out.lines() {
        if let Some(t) = line.strip_prefix("#tb 0: ") {
            tb = Some(t.to_string());
        } else if !line.starts_with('#') {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            pts.push(f[2].parse::<i64>().unwrap());
        }
    }
    let (num, den) = tb
        .as_deref()
        .and_then(|t| t.split_once('/'))
        .expect("#tb line");
    let (num, den): (i64, i64) = (num.parse().unwrap(), den.parse().unwrap());
    let us = pts.iter().map(|p| p * num * 1_000_000 / den).collect();
    (us, wall, err)
}

fn check_capture(pixel: Pixel) {
    let (pts, wall, err) = capture(pixel, 3);
    eprintln!(
        "{pixel:?}: {} frames in {:.2} s of wall time",
        pts.len(),
        wall.as_secs_f64()
    );
    assert!(
        (85..=92).contains(&pts.len()),
        "{} frames:\n{err}",
        pts.len()
    );
    assert!(
        wall >= Duration::from_millis(2800),
        "paced at 30 fps: {wall:?}"
    );
    // FFmpeg's H.264 parser leaves the first access unit without a
    // timestamp (as with a real H.264 camera): the CLI gives it the next one's.
    let timed = if pixel == Pixel::H264 {
        &pts[1..]
    } else {
        &pts[..]
    };
    assert!(
        timed.windows(2).all(|w| w[1] > w[0]),
        "timestamps advance: {pts:?}"
    );
    let span = timed.last().unwrap() - timed[0];
    assert!((2_800_000..3_100_000).contains(&span), "span {span} µs");
    // Each step is one frame period (33.3 ms), give or take scheduling.
    let steps: Vec<i64> = timed.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        steps.iter().all(|s| (20_000..=70_000).contains(s)),
        "{steps:?}"
    );
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_captures_mjpeg_at_30_fps() {
    check_capture(Pixel::Mjpeg);
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_captures_yuyv_at_30_fps() {
    check_capture(Pixel::Yuyv);
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_captures_h264_at_30_fps() {
    check_capture(Pixel::H264);
}

/// The frames are real pictures: the first one decodes at the right size.
#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_frames_decode() {
    let dev = FakeDev::new();
    let node = dev.plug(&Camera::mjpeg("decode"), 0);
    let dir = TempDir::new("fakecam-decode");
    let png = dir.join("frame.png");
    let mut cmd = dev.ffmpeg();
    cmd.args(["-f", "v4l2", "-video_size", "1280x720", "-i", &node])
        .args(["-frames:v", "3", "-update", "1", "-y"])
        .arg(&png);
    let (code, _, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_to_end(
        {
            let mut c = Command::new("ffprobe");
            c.args([
                "-v",
                "error",
                "-show_entries",
                "stream=width,height",
                "-of",
                "csv=p=0",
            ])
            .arg(&png);
            c
        },
        T,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1280,720");
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_second_streamer_is_busy() {
    let dev = FakeDev::new();
    let node = dev.plug(&Camera::mjpeg("busy"), 0);
    let first = dev.streamer(&node);
    assert!(dev.owned("busy"));
    let (code, _, err) = read_frames(&dev, &node, 5);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("Device or resource busy"), "{err}");
    // The hook's probe sees it busy too (setting the format back: EBUSY).
    let dir = TempDir::new("fakecam-busy");
    let out = Cmd::hook(dir.path())
        .fakedev(&dev)
        .args(["devices", "--json", "--device", &node])
        .run();
    assert_eq!(out.json()["devices"][0]["busy"], true, "{}", out.stdout);
    // Once the holder is gone (here killed, so its lock dies with it),
    // the camera is free again.
    drop(first);
    let (code, _, err) = read_frames(&dev, &node, 5);
    assert_eq!(code, 0, "{err}");
    assert!(!dev.owned("busy"));
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_streamon_without_usb_bandwidth() {
    let dev = FakeDev::new();
    let node = dev.plug(&Camera::yuyv("bw").streamon_errno(libc::ENOSPC), 0);
    let (code, _, err) = read_frames(&dev, &node, 5);
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("ioctl(VIDIOC_STREAMON): No space left on device"),
        "{err}"
    );
    // The bus has room again (another camera was unplugged): the next open
    // streams.
    dev.reconfigure(&Camera::yuyv("bw"));
    let (code, _, err) = read_frames(&dev, &node, 5);
    assert_eq!(code, 0, "{err}");
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_unplug_stops_ffmpeg_within_a_second() {
    let dev = FakeDev::new();
    let cam = Camera::mjpeg("unplug");
    let node = dev.plug(&cam, 0);
    let mut s = dev.streamer(&node);
    assert!(s.wait_frames(10, Duration::from_secs(10)), "{}", s.log());
    let unplugged = Instant::now();
    dev.unplug("unplug");
    let code = s.wait_exit(Duration::from_secs(5));
    let took = unplugged.elapsed();
    eprintln!("FFmpeg stopped {} ms after the unplug", took.as_millis());
    // FFmpeg 5.1 takes ENODEV from DQBUF as the end of its input: status 0.
    assert_eq!(code, Some(0), "{}", s.log());
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(
        s.log().contains("ioctl(VIDIOC_DQBUF): No such device"),
        "{}",
        s.log()
    );
    // The node and its links are gone, as udev removes them.
    assert!(!dev.host_path(&node).exists());
    assert!(!dev.host_path(&dev.by_id(&cam)).exists());
    assert!(!dev.host_path("/dev/v4l").exists());
    let (code, _, err) = read_frames(&dev, &node, 1);
    assert_ne!(code, 0);
    assert!(err.contains("No such file or directory"), "{err}");
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_replug_under_another_minor_through_by_id() {
    let dev = FakeDev::new();
    let cam = Camera::yuyv("replug").serial("RP0001");
    assert_eq!(dev.plug(&cam, 0), "/dev/video0");
    let by_id = dev.by_id(&cam);
    assert_eq!(by_id, "/dev/v4l/by-id/usb-Fake_Camera_RP0001-video-index0");
    let by_path = dev.by_path("replug").unwrap();
    assert_eq!(
        by_path,
        "/dev/v4l/by-path/pci-0000:00:14.0-usb-0:1:1.0-video-index0"
    );
    let link = |p: &str| std::fs::read_link(dev.host_path(p)).unwrap();
    assert_eq!(link(&by_id), std::path::Path::new("../../video0"));
    let capture = |path: &str| read_frames(&dev, path, 10);
    let (code, _, err) = capture(&by_id);
    assert_eq!(code, 0, "{err}");
    dev.unplug("replug");
    assert!(!dev.host_path(&by_id).exists());
    let (code, _, err) = capture(&by_id);
    assert_ne!(code, 0, "{err}");
    assert_eq!(dev.plug(&cam, 4), "/dev/video4");
    assert_eq!(link(&by_id), std::path::Path::new("../../video4"));
    assert_eq!(link(&by_path), std::path::Path::new("../../video4"));
    assert!(!dev.host_path("/dev/video0").exists());
    let (code, _, err) = capture(&by_id);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Video: rawvideo (YUY2"), "{err}");
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_slow_first_frame() {
    let dev = FakeDev::new();
    let delay = Duration::from_millis(1500);
    let quick = dev.plug(&Camera::yuyv("quick"), 0);
    let slow = dev.plug(&Camera::yuyv("slow").first_frame_delay(delay), 2);
    // The first frame's timestamp and arrival, from STREAMON (python client).
    let first = |node: &str| {
        let (code, out, err) = run(python_capture(
            &dev,
            node,
            &["YUYV", "320", "240", "2", "poll"],
        ));
        assert_eq!(code, 0, "{out}{err}");
        let lines = json_lines(&out);
        let on = lines[2]["streamon_us"].as_i64().unwrap();
        let (ts, got) = (
            lines[0]["ts_us"].as_i64().unwrap(),
            lines[0]["mono_us"].as_i64().unwrap(),
        );
        (
            Duration::from_micros((ts - on) as u64),
            Duration::from_micros((got - on) as u64),
        )
    };
    let (quick_ts, _) = first(&quick);
    let (slow_ts, slow_got) = first(&slow);
    eprintln!(
        "first frame after STREAMON: {} ms; with a 1500 ms delay {} ms (dequeued after {} ms)",
        quick_ts.as_millis(),
        slow_ts.as_millis(),
        slow_got.as_millis()
    );
    assert!(quick_ts < Duration::from_millis(100), "{quick_ts:?}");
    assert!(
        slow_ts >= delay && slow_ts < delay + Duration::from_millis(100),
        "{slow_ts:?}"
    );
    assert!(slow_got >= delay, "{slow_got:?}");
    // FFmpeg waits for it too.
    let start = Instant::now();
    let (code, _, err) = read_frames(&dev, &slow, 3);
    assert_eq!(code, 0, "{err}");
    assert!(start.elapsed() >= delay, "{:?}", start.elapsed());
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_node_the_user_may_not_open() {
    let dev = FakeDev::new();
    let node = dev.plug(&Camera::yuyv("perm"), 0);
    let meta = std::fs::metadata(dev.host_path(&node)).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o660, 0));
    let as_nobody_capture = || {
        let mut cmd = dev.ffmpeg();
        cmd.args([
            "-f",
            "v4l2",
            "-i",
            &node,
            "-frames:v",
            "5",
            "-f",
            "null",
            "-",
        ]);
        as_nobody(&mut cmd);
        run(cmd)
    };
    let (code, _, err) = as_nobody_capture();
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    // The same user may once the node is open to everyone.
    dev.chmod(&node, 0o666);
    let (code, _, err) = as_nobody_capture();
    assert_eq!(code, 0, "{err}");
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_metadata_node_is_not_a_capture_device() {
    let dev = FakeDev::new();
    let node = dev.plug(&Camera::mjpeg("meta"), 0);
    assert_eq!(node, "/dev/video0");
    // python3 (fcntl.ioctl) sees what a UVC metadata node says of itself.
    let mut py = Command::new("/usr/bin/python3");
    py.arg("-c").arg(
        "import fcntl, os, struct\n\
         for n in ('/dev/video0', '/dev/video1'):\n\
         \x20   fd = os.open(n, os.O_RDWR)\n\
         \x20   b = bytearray(104)\n\
         \x20   fcntl.ioctl(fd, 0x80685600, b)\n\
         \x20   caps, dev = struct.unpack_from('II', b, 84)\n\
         \x20   print(n, b[:16].rstrip(b'\\0').decode(), hex(caps), hex(dev))\n\
         \x20   os.close(fd)\n",
    );
    dev.apply(&mut py);
    let (code, out, err) = run(py);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "/dev/video0 uvcvideo 0x84a00001 0x4200001\n/dev/video1 uvcvideo 0x84a00001 0x4a00000\n"
    );
    let mut cmd = dev.ffmpeg();
    cmd.args([
        "-f",
        "v4l2",
        "-i",
        "/dev/video1",
        "-frames:v",
        "1",
        "-f",
        "null",
        "-",
    ]);
    let (code, _, err) = run(cmd);
    assert_ne!(code, 0, "{err}");
    let dir = TempDir::new("fakecam-meta");
    let out = Cmd::hook(dir.path())
        .fakedev(&dev)
        .args(["devices", "--device", "/dev/video1"])
        .run();
    assert!(out.stderr.contains("metadata node"), "{}", out.stderr);
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_hook_devices_lists_the_camera() {
    let dev = FakeDev::new();
    let cam = Camera::mjpeg("list")
        .serial("HD0001")
        .format(Pixel::Yuyv, vec![(640, 480, vec![30, 15])]);
    dev.plug(&cam, 0);
    let dir = TempDir::new("fakecam-devices");
    let out = Cmd::hook(dir.path())
        .fakedev(&dev)
        .args(["devices", "--json"])
        .run();
    out.code(0);
    let json = out.json();
    let devices = json["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{json:#}");
    let d = &devices[0];
    assert_eq!(d["path"], "/dev/video0", "{json:#}");
    assert_eq!(d["driver"], "uvcvideo");
    assert_eq!(d["card"], "Fake Camera");
    assert_eq!(d["bus"], "usb-0000:00:14.0-1");
    assert_eq!(d["busy"], false);
    let formats: Vec<(&str, Vec<String>)> = d["formats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let sizes = f["sizes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| format!("{}x{}@{}", s["width"], s["height"], s["rates"]["fps"]))
                .collect();
            (f["fourcc"].as_str().unwrap(), sizes)
        })
        .collect();
    assert_eq!(
        formats,
        [
            (
                "MJPG",
                vec![
                    "1280x720@[30.0,15.0]".to_string(),
                    "640x480@[30.0,15.0]".to_string()
                ]
            ),
            ("YUYV", vec!["640x480@[30.0,15.0]".to_string()]),
        ]
    );
}

/// The streamer helper other tests use as "another program streaming".
#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_streamer_holds_the_camera() {
    let dev = FakeDev::new();
    let node = dev.plug(&Camera::h264("hold"), 0);
    let s = Streamer::start(&dev, &node, &["-input_format", "h264"]);
    assert!(s.wait_frames(15, Duration::from_secs(10)), "{}", s.log());
    assert!(dev.owned("hold"));
    // It shows in /proc like a process holding a real camera: a descriptor
    // on the character device 81:0.
    let fds = std::fs::read_dir(format!("/proc/{}/fd", s.pid())).unwrap();
    let holds = fds.flatten().any(|e| {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        std::fs::metadata(e.path())
            .is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == libc::makedev(81, 0))
    });
    assert!(holds);
    s.stop();
    assert!(!dev.owned("hold"));
}

/// `tests/support/fakecam/capture.py` on `node`: a V4L2 client that is not
/// FFmpeg (python3's fcntl.ioctl, mmap, poll or a blocking DQBUF).
fn python_capture(dev: &FakeDev, node: &str, args: &[&str]) -> Command {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fakecam/capture.py");
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(script).arg(node).args(args);
    dev.apply(&mut cmd);
    cmd
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_python_client_polls_and_blocks() {
    let dev = FakeDev::new();
    let node = dev.plug(&Camera::yuyv("py"), 0);
    for mode in ["poll", "block"] {
        let start = Instant::now();
        let (code, out, err) = run(python_capture(
            &dev,
            &node,
            &["YUYV", "320", "240", "15", mode],
        ));
        let took = start.elapsed();
        assert_eq!(code, 0, "{mode}: {out}{err}");
        let lines = json_lines(&out);
        let (frames, summary) = lines.split_at(lines.len() - 1);
        assert_eq!(frames.len(), 15, "{out}");
        assert_eq!(
            summary[0]["format"],
            serde_json::json!([320, 240, 0x5659_5559])
        );
        assert_eq!(summary[0]["sizeimage"], 320 * 240 * 2);
        // A second descriptor, in the same process, may not take the camera.
        assert_eq!(summary[0]["second_s_fmt"], "EBUSY", "{out}");
        for f in frames {
            assert_eq!(f["bytesused"], 320 * 240 * 2);
            // Monotonic timestamps, flagged so, no later than the dequeue.
            assert_ne!(f["flags"].as_u64().unwrap() & 0x2000, 0);
            let (ts, mono) = (f["ts_us"].as_i64().unwrap(), f["mono_us"].as_i64().unwrap());
            assert!(ts <= mono && mono - ts < 500_000, "{f}");
        }
        let seqs: Vec<u64> = frames
            .iter()
            .map(|f| f["sequence"].as_u64().unwrap())
            .collect();
        assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
        // 15 frames at 30 fps take half a second.
        assert!(took >= Duration::from_millis(450), "{mode}: {took:?}");
    }
    assert!(!dev.owned("py"));
}

#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_unplug_fails_a_polling_client_with_enodev() {
    use std::io::{BufRead, BufReader};
    let dev = FakeDev::new();
    let node = dev.plug(&Camera::mjpeg("pyunplug"), 0);
    let mut cmd = python_capture(&dev, &node, &["MJPG", "640", "480", "1000", "poll"]);
    cmd.stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..5 {
        let l = lines.next().unwrap().unwrap();
        let f: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(&f["head"].as_str().unwrap()[..4], "ffd8", "a JPEG: {l}");
    }
    let unplugged = Instant::now();
    dev.unplug("pyunplug");
    let last = lines.map_while(Result::ok).last().expect("a last line");
    let status = child.wait().unwrap();
    let took = unplugged.elapsed();
    assert_eq!(status.code(), Some(3), "{last}");
    assert_eq!(last, r#"{"error": "ENODEV"}"#);
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// A program that still holds the unplugged camera's old descriptor does not
/// hold the camera that comes back: that is a new device.
#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_replugged_camera_is_free_of_a_stale_holder() {
    let dev = FakeDev::new();
    let cam = Camera::yuyv("stale");
    let node = dev.plug(&cam, 0);
    let holder = dev.holder(&node);
    assert!(dev.owned("stale"));
    let capture = || {
        let mut cmd = dev.ffmpeg();
        cmd.args(["-f", "v4l2", "-i", &dev.by_id(&cam)]).args([
            "-frames:v",
            "5",
            "-f",
            "null",
            "-",
        ]);
        run(cmd)
    };
    let (code, _, err) = capture();
    assert_ne!(code, 0);
    assert!(err.contains("Device or resource busy"), "{err}");
    dev.unplug("stale");
    dev.plug(&cam, 2);
    assert!(!dev.owned("stale"));
    let (code, _, err) = capture();
    assert_eq!(code, 0, "{err}");
    assert_eq!(holder.release(), "ENODEV");
}

/// The stand-ins and the MediaMTX fixture start on a test's cameras: they,
/// the hooks they start and the hook commands they make see its `/dev`.
#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_launchers_start_on_the_cameras() {
    use crate::support::e2e::{Backend, Mtx, Setup};
    use crate::support::standin::{Options, Standin};
    let dev = FakeDev::new();
    dev.plug(&Camera::mjpeg("launch"), 0);
    let listed = |out: (i32, String, String)| {
        let (code, stdout, stderr) = out;
        assert_eq!(code, 0, "{stderr}");
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["devices"][0]["path"], "/dev/video0", "{json:#}");
        assert_eq!(
            json["devices"][0]["formats"][0]["fourcc"], "MJPG",
            "{json:#}"
        );
    };
    let sees_camera = |pid: u32| {
        let root = format!("/proc/{pid}/root/dev/video0");
        std::fs::metadata(root).is_ok_and(|m| {
            use std::os::unix::fs::{FileTypeExt, MetadataExt};
            m.file_type().is_char_device() && m.rdev() == libc::makedev(81, 0)
        })
    };
    let dir = TempDir::new("fakecam-launch");
    let server = Standin::start_fakedev(dir.path(), Options::both("cam0"), &dev);
    let mut hook = server.hook(&dir, "{}");
    hook.args(["devices", "--json"]);
    listed(run(hook));
    drop(server);
    let m = Mtx::start_fakedev(Backend::Standin, Setup::default(), &dev);
    assert!(sees_camera(m.pid()), "MediaMTX's /dev is the test's");
    listed(m.run_hook(&["devices", "--json"], T));
}

/// `-framerate` and `-video_size` reach the camera (S_PARM, S_FMT): 15 fps at
/// 1280x720 gives half the frames; a size the camera lacks gives the nearest.
#[test]
#[ignore = "needs root: private mount namespace and mknod"]
fn root_fakecam_rate_and_size_are_set() {
    let dev = FakeDev::new();
    let node = dev.plug(&Camera::mjpeg("rate"), 0);
    let mut cmd = dev.ffmpeg();
    cmd.args(["-f", "v4l2", "-framerate", "15", "-video_size", "1280x720"])
        .args(["-i", &node, "-t", "2", "-c", "copy", "-f", "framecrc", "-"]);
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    let frames = out.lines().filter(|l| !l.starts_with('#')).count();
    assert!((28..=32).contains(&frames), "{frames} frames:\n{err}");
    assert!(err.contains("1280x720"), "{err}");
    assert!(err.contains("15 fps"), "{err}");
    let mut cmd = dev.ffmpeg();
    cmd.args(["-f", "v4l2", "-video_size", "800x600", "-i", &node])
        .args(["-frames:v", "2", "-f", "null", "-"]);
    let (code, _, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("The V4L2 driver changed the video from 800x600 to 640x480"),
        "{err}"
    );
}
