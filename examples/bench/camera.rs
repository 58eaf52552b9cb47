//! The bench's rows on fake V4L2 cameras: `tests/support/fakecam/fakecam.c`
//! (an `LD_PRELOAD` shim, built here with the system C compiler into the
//! target directory) serving UVC-like cameras on real character nodes in a
//! per-run `/dev` that only the processes this bench starts see: each is
//! started in a private mount namespace with that directory bound on `/dev`.
//! Needs root (mknod, unshare, mount); the machine's `/dev` is never touched.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{
    children_of, decoding_reader, free_port, met, mono_ns, percentile, port_listening, stat_of,
    stop_group, ticks_per_second, wait_until, Bench, Listener, Mem, Row,
};

/// A compressed format the fake camera serves from a media file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Mjpeg,
    H264,
}

impl Kind {
    fn fourcc(self) -> &'static str {
        match self {
            Kind::Mjpeg => "MJPG",
            Kind::H264 => "H264",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Mjpeg => "MJPEG",
            Kind::H264 => "H.264",
        }
    }
}

/// Host device files and directories bound into the per-run `/dev`.
const HOST_NODES: &[&str] = &["null", "zero", "full", "random", "urandom"];
const HOST_DIRS: &[&str] = &["pts", "shm"];

/// A per-run `/dev` with fake cameras, and the shim's control directory.
pub struct FakeCams {
    dev: PathBuf,
    ctl: PathBuf,
    shim: PathBuf,
    media: PathBuf,
    generation: std::cell::Cell<u64>,
}

/// One camera: 1280x720 at 30 fps (and 15), the format given; the serial
/// makes its by-id name.
const W: u32 = 1280;
const H: u32 = 720;
const FPS: u32 = 30;
const BY_ID: &str = "usb-Fake_Camera_FCBENCH-video-index0";

impl FakeCams {
    /// Builds the shim and an empty `/dev` under `work`. Err says why not.
    pub fn new(work: &Path) -> Result<FakeCams, String> {
        // SAFETY: geteuid has no side effects.
        if unsafe { libc::geteuid() } != 0 {
            return Err("needs root (fake cameras: mknod, a private mount namespace)".into());
        }
        let target = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .ok_or("no target directory")?;
        let shim = target.join("libfakecam.so");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fakecam/fakecam.c");
        let tmp = target.join(format!("libfakecam.so.{}", std::process::id()));
        let out = Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&tmp)
            .arg(&src)
            .args(["-ldl", "-pthread"])
            .output()
            .map_err(|e| format!("cc: {e} (scripts/deps.sh installs gcc)"))?;
        if !out.status.success() {
            return Err(format!(
                "building the fake camera: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        std::fs::rename(&tmp, &shim).map_err(|e| e.to_string())?;
        let media = target.join("fakecam-media");
        std::fs::create_dir_all(&media).map_err(|e| e.to_string())?;
        let root = work.join("cam");
        let (dev, ctl) = (root.join("dev"), root.join("ctl"));
        for d in [&dev, &ctl] {
            std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
        }
        for n in HOST_NODES {
            std::fs::write(dev.join(n), b"").map_err(|e| e.to_string())?;
        }
        for d in HOST_DIRS {
            std::fs::create_dir_all(dev.join(d)).map_err(|e| e.to_string())?;
        }
        for (link, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            symlink(target, dev.join(link)).map_err(|e| e.to_string())?;
        }
        Ok(FakeCams {
            dev,
            ctl,
            shim,
            media,
            generation: std::cell::Cell::new(0),
        })
    }

    /// The camera's media file (two seconds of testsrc2 at 30 fps, made
    /// with FFmpeg once and kept in the target directory): MJPEG 4:2:2 as
    /// UVC cameras send it; H.264 Annex B with access unit delimiters and
    /// SPS/PPS before each IDR (one a second).
    fn media(&self, kind: Kind) -> PathBuf {
        let (name, codec): (&str, &[&str]) = match kind {
            Kind::Mjpeg => (
                "testsrc2-1280x720-v1.mjpeg",
                &[
                    "-c:v", "mjpeg", "-pix_fmt", "yuvj422p", "-q:v", "5", "-f", "mjpeg",
                ],
            ),
            Kind::H264 => (
                "testsrc2-1280x720-v1.h264",
                &[
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-tune",
                    "zerolatency",
                    "-pix_fmt",
                    "yuv420p",
                    "-g",
                    "30",
                    "-x264-params",
                    "repeat-headers=1:aud=1",
                    "-f",
                    "h264",
                ],
            ),
        };
        let file = self.media.join(name);
        if !file.exists() {
            let tmp = self.media.join(format!(".{name}.{}", std::process::id()));
            let ok = Command::new("ffmpeg")
                .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
                .args(["-f", "lavfi", "-i"])
                .arg(format!("testsrc2=size={W}x{H}:rate={FPS}"))
                .args(["-t", "2"])
                .args(codec)
                .arg(&tmp)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "ffmpeg could not make {}", file.display());
            std::fs::rename(&tmp, &file).unwrap();
        }
        file
    }

    /// Plugs the camera in as `/dev/video<minor>` (crw-rw---- root video)
    /// with its `/dev/v4l/by-id` link; a camera plugged before goes first.
    pub fn plug(&self, kind: Kind, minor: u32) {
        let media = self.media(kind);
        self.unplug();
        let config = format!(
            "camera {minor} bench\ncard Fake Camera\nbus usb-0000:00:14.0-1\nsize {} {W}x{H} {FPS},15 {}\n",
            kind.fourcc(),
            media.display()
        );
        write_atomic(&self.ctl.join("config"), &config);
        self.generation.set(self.generation.get() + 1);
        write_atomic(
            &self.ctl.join("plug-bench"),
            &self.generation.get().to_string(),
        );
        let lock = self.ctl.join("lock-bench");
        if !lock.exists() {
            std::fs::write(&lock, b"").unwrap();
        }
        let node = self.dev.join(format!("video{minor}"));
        let c = CString::new(node.as_os_str().as_bytes()).unwrap();
        // SAFETY: plain system calls on a NUL-terminated path we own.
        unsafe {
            assert_eq!(
                libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o660, libc::makedev(81, minor)),
                0,
                "mknod {}",
                node.display()
            );
        }
        let by_id = self.dev.join("v4l/by-id");
        std::fs::create_dir_all(&by_id).unwrap();
        let tmp = by_id.join(".new-link");
        let _ = std::fs::remove_file(&tmp);
        symlink(format!("../../video{minor}"), &tmp).unwrap();
        std::fs::rename(&tmp, by_id.join(BY_ID)).unwrap();
    }

    /// Unplugs the camera: open descriptors get ENODEV, node and link go.
    pub fn unplug(&self) {
        let _ = std::fs::remove_file(self.ctl.join("plug-bench"));
        for e in std::fs::read_dir(&self.dev).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with("video") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let _ = std::fs::remove_dir_all(self.dev.join("v4l"));
    }

    /// The camera's stable name, as its processes see it.
    pub fn by_id(&self) -> String {
        format!("/dev/v4l/by-id/{BY_ID}")
    }

    /// True while a descriptor owns the camera (in any process).
    pub fn owned(&self) -> bool {
        let Ok(f) = std::fs::File::open(self.ctl.join("lock-bench")) else {
            return false;
        };
        matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock))
    }

    /// Makes `cmd` (and its children) see this `/dev`: the shim in its
    /// environment, and before exec a private mount namespace in which the
    /// per-run directory is bound on `/dev` (the host's null, zero, full,
    /// random, urandom, pts and shm bound inside it).
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env("LD_PRELOAD", &self.shim)
            .env("FAKECAM_DIR", &self.ctl);
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).unwrap();
        let mut binds = Vec::new();
        for n in HOST_NODES.iter().chain(HOST_DIRS) {
            let host = Path::new("/dev").join(n);
            if host.exists() {
                binds.push((c(&host), c(&self.dev.join(n))));
            }
        }
        let dev = c(&self.dev);
        let (root, slash_dev) = (c(Path::new("/")), c(Path::new("/dev")));
        // SAFETY: runs in the forked child before exec; only system calls on
        // strings prepared above.
        unsafe {
            cmd.pre_exec(move || {
                let none = std::ptr::null();
                let fail = || Err(std::io::Error::last_os_error());
                if libc::unshare(libc::CLONE_NEWNS) != 0 {
                    return fail();
                }
                let private = libc::MS_REC | libc::MS_PRIVATE;
                if libc::mount(none, root.as_ptr(), none, private, none as _) != 0 {
                    return fail();
                }
                let bind = libc::MS_BIND | libc::MS_REC;
                for (host, inside) in &binds {
                    libc::mount(host.as_ptr(), inside.as_ptr(), none, bind, none as _);
                }
                if libc::mount(dev.as_ptr(), slash_dev.as_ptr(), none, bind, none as _) != 0 {
                    return fail();
                }
                Ok(())
            });
        }
    }
}

fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The seed's plain line, word for word (MediaMTX fills in the variables).
pub const SEED_LINE: &str = "ffmpeg -f v4l2 -i /dev/video0 -c:v libx264 -preset ultrafast -tune zerolatency -f rtsp rtsp://localhost:$RTSP_PORT/$MTX_PATH";

/// The seed's line made to give the hook's stream from an MJPEG camera:
/// the same input size and rate, 4:2:0 (`-pix_fmt yuv420p`; the seed's
/// streams 4:2:2 High 4:2:2, which browsers do not play) and the hook's
/// key-frame interval (one a second).
pub fn playable_line() -> String {
    format!(
        "ffmpeg -f v4l2 -input_format mjpeg -video_size {W}x{H} -framerate {FPS} -i /dev/video0 -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -g {FPS} -keyint_min {FPS} -force_key_frames expr:gte(t,n_forced*1) -f rtsp rtsp://localhost:$RTSP_PORT/$MTX_PATH"
    )
}

/// The plain line that gives the hook's stream from an H.264 camera: a copy.
pub fn copy_line() -> String {
    "ffmpeg -f v4l2 -input_format h264 -i /dev/video0 -c:v copy -f rtsp rtsp://localhost:$RTSP_PORT/$MTX_PATH".into()
}

/// A line's words with MediaMTX's variables filled in.
fn words(line: &str, port: u16, path: &str) -> Vec<String> {
    line.split(' ')
        .map(|w| {
            w.replace("$RTSP_PORT", &port.to_string())
                .replace("$MTX_PATH", path)
        })
        .collect()
}

/// An RTSP listener that only receives (`-c copy -f null`): a sink that
/// costs the publisher what a server does and takes little CPU itself.
fn sink(path: &str) -> Listener {
    let port = free_port();
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(["-rtsp_flags", "listen", "-timeout", "60", "-i"])
        .arg(format!("rtsp://127.0.0.1:{port}/{path}"))
        .args(["-c", "copy", "-f", "null", "-stats_period", "0.1"])
        .args(["-progress", "pipe:1", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("ffmpeg");
    let first_frame = super::watch_first_frame(child.stdout.take().unwrap());
    assert!(
        wait_until(Duration::from_secs(10), || port_listening(port)),
        "the sink did not come up"
    );
    Listener {
        child,
        port,
        first_frame,
    }
}

/// What one publisher costs: CPU ticks of it and every descendant, and
/// the most private dirty memory they held together (with USS and PSS).
#[derive(Clone, Copy, Default)]
struct Cost {
    ticks: u64,
    secs: f64,
    mem: Mem,
}

/// The publisher's process tree (itself and its descendants).
fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        all.extend(children_of(all[i]));
        i += 1;
    }
    all
}

/// Measures `pid` and its descendants over `secs`.
fn cost_of_tree(pid: u32, secs: u64) -> Cost {
    let procs = tree(pid);
    let ticks = |ps: &[u32]| -> u64 { ps.iter().filter_map(|p| stat_of(*p)).map(|s| s.1).sum() };
    let t0 = Instant::now();
    let c0 = ticks(&procs);
    let mut most = Mem::default();
    while t0.elapsed() < Duration::from_secs(secs) {
        let sum = procs
            .iter()
            .filter_map(|p| Mem::of(*p))
            .fold(Mem::default(), Mem::add);
        most = most.max(sum);
        std::thread::sleep(Duration::from_millis(500));
    }
    let c1 = ticks(&procs);
    Cost {
        ticks: c1.saturating_sub(c0),
        secs: t0.elapsed().as_secs_f64(),
        mem: most,
    }
}

fn mib(k: u64) -> f64 {
    k as f64 / 1024.0
}

/// What a row says when the cameras cannot be made.
fn not_measured(what: &'static str, budget: &'static str, why: &str) -> Row {
    Row {
        what,
        budget,
        measured: "not measured".into(),
        met: "n/a",
        how: why.to_string(),
    }
}

impl Bench {
    /// `hook run --device …` as MediaMTX starts it, on the fake cameras.
    fn hook_on_camera(&self, cams: &FakeCams, device: &str, path: &str, port: u16) -> Command {
        let mut c = self.hook_run_on(&self.work.join("cam-state"), device, path, port, &[]);
        cams.apply(&mut c);
        c
    }

    /// A plain line run as MediaMTX runs it, on the fake cameras.
    fn plain_on_camera(&self, cams: &FakeCams, line: &str, path: &str, port: u16) -> Command {
        let w = words(line, port, path);
        let mut c = Command::new(&w[0]);
        c.args(&w[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        cams.apply(&mut c);
        c
    }

    /// A reader's first frame on an on-demand path of a real MediaMTX
    /// wired to `hook run --device /dev/video0`, against the seed's plain
    /// line on the same fake MJPEG camera.
    pub fn camera_first_frame(&self) -> Row {
        let what = "Camera: reader's first frame on an on-demand MediaMTX path, hook vs the seed's plain line (fake MJPEG camera)";
        let budget = "ratio ≤ 1.05";
        let Some(mtx) = std::env::var_os("MEDIAMTX_BIN").filter(|v| !v.is_empty()) else {
            return not_measured(what, budget, "needs a MediaMTX binary in MEDIAMTX_BIN");
        };
        let cams = match FakeCams::new(&self.work.join("camframe")) {
            Ok(c) => c,
            Err(why) => return not_measured(what, budget, &why),
        };
        cams.plug(Kind::Mjpeg, 0);
        let pairs = if self.quick { 3 } else { 7 };
        let dir = self.work.join("camframe");
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(&self.hook, bin.join("hook")).unwrap();
        let (rtsp, api) = (free_port(), free_port());
        let mut yml = format!(
            "logLevel: warn\napi: true\napiAddress: 127.0.0.1:{api}\nrtsp: true\nrtspAddress: 127.0.0.1:{rtsp}\nrtspTransports: [tcp]\nrtmp: false\nhls: false\nwebrtc: false\nsrt: false\nmoq: false\nmetrics: false\npprof: false\nplayback: false\npaths:\n"
        );
        for i in 0..pairs {
            for (name, cmd) in [
                (format!("hook{i}"), "hook run --device /dev/video0"),
                (format!("plain{i}"), SEED_LINE),
            ] {
                yml.push_str(&format!(
                    "  {name}:\n    runOnDemand: {}\n    runOnDemandStartTimeout: 20s\n    runOnDemandCloseAfter: 1s\n",
                    serde_json::to_string(cmd).unwrap()
                ));
            }
        }
        std::fs::write(dir.join("mediamtx.yml"), yml).unwrap();
        let path_env = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(&mtx);
        cmd.arg(dir.join("mediamtx.yml"))
            .current_dir(&dir)
            .env("PATH", path_env)
            .env("HOOK_STATE_DIR", dir.join("state"))
            .env("RUST_LOG", "warn")
            .env_remove("HOOK_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        cams.apply(&mut cmd);
        let mut server = cmd.spawn().expect("MEDIAMTX_BIN");
        let client =
            mediamtx_hook::mediamtx::api::Api::new(&format!("http://127.0.0.1:{api}"), None, None)
                .unwrap();
        assert!(
            wait_until(Duration::from_secs(10), || client.path("hook0").is_ok()),
            "MediaMTX did not come up"
        );
        let (mut hook_ms, mut plain_ms) = (Vec::new(), Vec::new());
        for i in 0..pairs * 2 {
            let use_hook = i % 2 == 0;
            let name = format!("{}{}", if use_hook { "hook" } else { "plain" }, i / 2);
            // The previous publisher has let go of the camera.
            wait_until(Duration::from_secs(10), || !cams.owned());
            let t0 = mono_ns();
            let (mut reader, first) = decoding_reader(
                &["-rtsp_transport", "tcp"],
                &format!("rtsp://127.0.0.1:{rtsp}/{name}"),
            );
            let got = wait_until(Duration::from_secs(30), || {
                first.load(Ordering::SeqCst) != 0
            });
            if !got {
                stop_group(&mut reader, Duration::from_secs(2));
                stop_group(&mut server, Duration::from_secs(10));
                return not_measured(
                    what,
                    budget,
                    &format!("no frame reached the reader of {name}"),
                );
            }
            let ms = (first.load(Ordering::SeqCst) - t0) as f64 / 1e6;
            if use_hook {
                hook_ms.push(ms);
            } else {
                plain_ms.push(ms);
            }
            stop_group(&mut reader, Duration::from_secs(2));
            wait_until(Duration::from_secs(15), || {
                client
                    .path(&name)
                    .map(|p| p.is_some_and(|p| !p.available))
                    .unwrap_or(false)
            });
            std::thread::sleep(Duration::from_millis(500));
        }
        stop_group(&mut server, Duration::from_secs(10));
        let (h, f) = (percentile(&hook_ms, 0.5), percentile(&plain_ms, 0.5));
        let ratio = h / f;
        Row {
            what,
            budget,
            measured: format!(
                "ratio {ratio:.3} (median {h:.0} ms with the hook, {f:.0} ms plain)"
            ),
            met: met(ratio <= 1.05),
            how: format!(
                "real MediaMTX; a fake UVC camera (MJPEG 4:2:2, {W}x{H} at {FPS} fps, its default format) as /dev/video0 in a private mount namespace; {pairs} runs each, alternating, each on a path of its own (close-after 1 s, the camera let go before the next run); from spawning an FFmpeg reader (`-rtsp_transport tcp -analyzeduration 0 -probesize 32`, decoding) to its first decoded frame. Hook = `hook run --device /dev/video0`; plain = the seed's `runOnDemand: {SEED_LINE}` (4:2:2 High 4:2:2)"
            ),
        }
    }

    /// The whole camera's cost (the hook and its FFmpeg together) against
    /// plain lines on the same fake camera: MJPEG 1280x720@30 (encoded) and
    /// H.264 (copied).
    pub fn camera_cost(&self) -> Vec<Row> {
        let what_m = "Camera cost, MJPEG 1280x720@30 (hook + its FFmpeg) vs plain lines";
        let what_h = "Camera cost, H.264 1280x720@30 copied (hook + its FFmpeg) vs plain lines";
        let budget_m = "≤ 0.95× the playable plain line's CPU";
        let budget_h = "reported";
        let cams = match FakeCams::new(&self.work.join("camcost")) {
            Ok(c) => c,
            Err(why) => {
                return vec![
                    not_measured(what_m, budget_m, &why),
                    not_measured(what_h, budget_h, &why),
                ]
            }
        };
        let secs = if self.quick { 5 } else { 15 };
        let rounds = if self.quick { 1 } else { 2 };
        let mut rows = Vec::new();
        for kind in [Kind::Mjpeg, Kind::H264] {
            cams.plug(kind, 0);
            let playable = match kind {
                Kind::Mjpeg => playable_line(),
                Kind::H264 => copy_line(),
            };
            // (label, plain line or None for the hook, rounds)
            let h264_secs = if self.quick { 5 } else { 10 };
            let secs = if kind == Kind::Mjpeg { secs } else { h264_secs };
            let order: Vec<(&str, Option<String>)> = (0..rounds)
                .flat_map(|r| {
                    let mut v = vec![("hook", None), ("playable", Some(playable.clone()))];
                    if r == 0 {
                        v.push(("seed", Some(SEED_LINE.to_string())));
                    }
                    v
                })
                .collect();
            let mut got: Vec<(&str, Cost)> = Vec::new();
            let mut argv = String::new();
            for (label, line) in &order {
                wait_until(Duration::from_secs(10), || !cams.owned());
                let l = sink("cam");
                let mut child = match line {
                    None => self.hook_on_camera(&cams, "/dev/video0", "cam", l.port),
                    Some(line) => self.plain_on_camera(&cams, line, "cam", l.port),
                }
                .spawn()
                .unwrap();
                let ok = wait_until(Duration::from_secs(20), || {
                    l.first_frame.load(Ordering::SeqCst) != 0
                });
                assert!(
                    ok,
                    "no frame from the {label} publisher of the {} camera",
                    kind.name()
                );
                std::thread::sleep(Duration::from_secs(2));
                if line.is_none() && argv.is_empty() {
                    if let Some(kid) = children_of(child.id()).first() {
                        let raw = std::fs::read(format!("/proc/{kid}/cmdline")).unwrap_or_default();
                        argv = String::from_utf8_lossy(&raw)
                            .trim_end_matches('\0')
                            .replace('\0', " ");
                    }
                }
                let cost = cost_of_tree(child.id(), secs);
                stop_group(&mut child, Duration::from_secs(6));
                drop(l);
                got.push((label, cost));
            }
            let per = |label: &str| -> (Vec<u64>, Mem) {
                let mut ticks = Vec::new();
                let mut mem = Mem::default();
                for (l, c) in &got {
                    if *l == label {
                        // Per `secs` exactly, should a window run long.
                        ticks.push((c.ticks as f64 * secs as f64 / c.secs).round() as u64);
                        mem = mem.max(c.mem);
                    }
                }
                (ticks, mem)
            };
            let (hook_t, hook_m) = per("hook");
            let (play_t, play_m) = per("playable");
            let (seed_t, seed_m) = per("seed");
            let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len() as f64;
            let ratio = mean(&hook_t) / mean(&play_t);
            let ratio_seed = mean(&hook_t) / mean(&seed_t);
            let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
            let memtxt = |m: Mem| {
                format!(
                    "private dirty {:.1} MiB, USS {:.1} MiB, PSS {:.1} MiB",
                    mib(m.private_dirty),
                    mib(m.uss),
                    mib(m.pss)
                )
            };
            let tps = ticks_per_second();
            let pct = |v: &[u64]| mean(v) / tps / secs as f64 * 100.0;
            let (playable_name, what, budget) = match kind {
                Kind::Mjpeg => ("playable plain line", what_m, budget_m),
                Kind::H264 => ("plain copy line", what_h, budget_h),
            };
            rows.push(Row {
                what,
                budget,
                measured: format!(
                    "CPU ticks per {secs} s: hook {} ({:.1}% of a core), {playable_name} {} ({:.1}%), seed's line {} ({:.1}%); hook/{playable_name} **{ratio:.3}**, hook/seed {ratio_seed:.3}. Memory: hook {}; {playable_name} {}; seed's line {}",
                    list(&hook_t),
                    pct(&hook_t),
                    list(&play_t),
                    pct(&play_t),
                    list(&seed_t),
                    pct(&seed_t),
                    memtxt(hook_m),
                    memtxt(play_m),
                    memtxt(seed_m),
                ),
                met: match kind {
                    Kind::Mjpeg => met(ratio <= 0.95),
                    Kind::H264 => "-",
                },
                how: format!(
                    "a fake UVC camera ({} {W}x{H} at {FPS} fps) as /dev/video0 in a private mount namespace, publishing to an FFmpeg RTSP sink (`-rtsp_flags listen … -c copy -f null`); each publisher measured alone, alternating ({rounds} round(s), the seed's line once), {secs} s from 2 s after its first frame: utime+stime from /proc/PID/stat of the publisher and all its descendants, memory the largest sum of their /proc/PID/smaps_rollup sampled every 500 ms. Hook = `hook run --device /dev/video0`, which ran `{argv}`; {playable_name} = `{playable}`; seed's line = `{SEED_LINE}`{}",
                    kind.name(),
                    match kind {
                        Kind::Mjpeg => " (streams 4:2:2 High 4:2:2, which browsers do not play)",
                        Kind::H264 => " (decodes and encodes the camera's H.264 again)",
                    }
                ),
            });
        }
        cams.unplug();
        rows
    }

    /// Replug to frames published again: `hook run --device <by-id link>`
    /// publishing; the camera unplugged, then plugged back (alternately
    /// under another node number); from the replug to a reader's first
    /// decoded frame. The backoff is long (20 s) so that only the device
    /// watch can bring it back in time.
    pub fn camera_replug(&self) -> Row {
        let what = "Camera replug → frames published again";
        let budget = "< 2 s";
        let cams = match FakeCams::new(&self.work.join("replug")) {
            Ok(c) => c,
            Err(why) => return not_measured(what, budget, &why),
        };
        let runs = if self.quick { 2 } else { 5 };
        let config = self.work.join("replug.json");
        std::fs::write(
            &config,
            r#"{"restart": {"initial_delay": "20s", "max_delay": "30s", "grace": "3s"}}"#,
        )
        .unwrap();
        cams.plug(Kind::Mjpeg, 0);
        let port = free_port();
        let mut reader = Self::camera_reader(port);
        let mut hook = self.hook_on_camera(&cams, &cams.by_id(), "replug", port);
        hook.env("HOOK_CONFIG", &config);
        let mut hook = hook.spawn().unwrap();
        assert!(
            wait_until(Duration::from_secs(20), || reader
                .first_frame
                .load(Ordering::SeqCst)
                != 0),
            "no first frame from the camera"
        );
        let mut ms = Vec::new();
        for i in 0..runs {
            std::thread::sleep(Duration::from_secs(1));
            cams.unplug();
            // The publisher has gone; a fresh reader waits on the port.
            let _ = reader.child.wait();
            wait_until(Duration::from_secs(5), || !port_listening(port));
            reader = Self::camera_reader(port);
            std::thread::sleep(Duration::from_millis(500));
            let minor = if i % 2 == 0 { 2 } else { 0 };
            let t0 = mono_ns();
            cams.plug(Kind::Mjpeg, minor);
            let got = wait_until(Duration::from_secs(15), || {
                reader.first_frame.load(Ordering::SeqCst) != 0
            });
            if !got {
                stop_group(&mut hook, Duration::from_secs(6));
                return not_measured(what, budget, "no frame within 15 s of a replug");
            }
            ms.push((reader.first_frame.load(Ordering::SeqCst) - t0) as f64 / 1e6);
        }
        stop_group(&mut hook, Duration::from_secs(6));
        drop(reader);
        let (p50, max) = (percentile(&ms, 0.5), percentile(&ms, 1.0));
        Row {
            what,
            budget,
            measured: format!("median {p50:.0} ms, max {max:.0} ms"),
            met: met(max < 2000.0),
            how: format!(
                "{runs} replugs of a fake UVC camera (MJPEG {W}x{H} at {FPS} fps) wired by its by-id link to a running `hook run --device /dev/v4l/by-id/…` (restart backoff 20 s, so only the device watch brings it back); each unplugged for 0.5 s after its reader left, then plugged back alternately as /dev/video2 and /dev/video0; from the replug (node and link made) to the first decoded frame at a fresh FFmpeg RTSP listener"
            ),
        }
    }

    /// A decoding RTSP listener on `port` for the replug row.
    fn camera_reader(port: u16) -> Listener {
        let (child, first_frame) = decoding_reader(
            &["-rtsp_flags", "listen", "-timeout", "60"],
            &format!("rtsp://127.0.0.1:{port}/replug"),
        );
        assert!(
            wait_until(Duration::from_secs(10), || port_listening(port)),
            "listener did not come up"
        );
        Listener {
            child,
            port,
            first_frame,
        }
    }
}
