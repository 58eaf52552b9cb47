//! The benchmark behind `scripts/bench.sh`: measures the SPEC's performance
//! budgets against the release `hook` binary, on loopback only, and prints
//! one Markdown table (budget, figure measured, how).
//!
//! Usage: `bench --hook target/release/hook [--quick]`. It cleans up after
//! itself (its temporary directory, every process it started).
//!
//! The same program stands in for FFmpeg where an exact exec time is needed:
//! started with `HOOK_BENCH_STAMP=FILE` in its environment it writes the
//! monotonic clock to FILE first thing and then idles until a signal ends it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "bench/camera.rs"]
mod camera;

use mediamtx_hook::state::{
    PathState, Phase, Publisher, SegmentRecord, SegmentTotals, StartSource, State, StateStore,
};

/// CLOCK_MONOTONIC in nanoseconds: comparable across processes.
fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn main() {
    if let Some(file) = std::env::var_os("HOOK_BENCH_ARGV") {
        // Stand-in FFmpeg that records the command line it was given.
        let argv: Vec<String> = std::env::args().skip(1).collect();
        let _ = std::fs::write(file, argv.join("\0"));
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    if let Some(file) = std::env::var_os("HOOK_BENCH_STAMP") {
        let t = mono_ns();
        let _ = std::fs::write(file, t.to_string());
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let hook = args
        .iter()
        .position(|a| a == "--hook")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .expect("usage: bench --hook PATH [--quick]");
    let quick = args.iter().any(|a| a == "--quick");
    let only: Vec<&str> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    let work = std::env::temp_dir().join(format!("hook-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let _cleanup = RemoveOnDrop(work.clone());
    let b = Bench {
        hook: std::fs::canonicalize(hook).unwrap(),
        me: std::env::current_exe().unwrap(),
        work: work.clone(),
        quick,
    };
    let mut rows = Vec::new();
    let want = |name: &str| only.is_empty() || only.contains(&name);
    if want("exec") {
        rows.push(b.exec_latency());
    }
    if want("frame") {
        rows.push(b.first_frame());
    }
    if want("mediamtx") {
        rows.push(b.mediamtx_first_frame());
    }
    if want("supervisor") {
        rows.extend(b.supervisor_cost());
    }
    if want("hold") {
        rows.extend(b.hold_cost());
    }
    if want("segment") {
        let (seg_rows, empty_p50) = b.segment_complete();
        rows.extend(seg_rows);
        let (long_row, long_p50) = b.segment_complete_long_ledger();
        rows.push(long_row);
        rows.push(b.segment_complete_budget());
        rows.push(b.segment_complete_floor(empty_p50, long_p50));
    }
    if want("status") {
        rows.push(b.status_json());
    }
    if want("snapshot") {
        rows.push(b.snapshot());
    }
    if want("stills") {
        rows.push(b.stills_cost());
    }
    if want("camframe") {
        rows.push(b.camera_first_frame());
    }
    if want("camcost") {
        rows.extend(b.camera_cost());
    }
    if want("replug") {
        rows.push(b.camera_replug());
    }
    println!("| What | Budget | Measured | Met | How |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.what, r.budget, r.measured, r.met, r.how
        );
    }
}

/// The work directory, removed however the run ends (a failed
/// measurement panics and unwinds through it).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Row {
    what: &'static str,
    budget: &'static str,
    measured: String,
    met: &'static str,
    how: String,
}

fn met(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "**no**"
    }
}

struct Bench {
    hook: PathBuf,
    me: PathBuf,
    work: PathBuf,
    quick: bool,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    f()
}

/// SIGINT to a process group, as MediaMTX stops a hook, then SIGKILL after
/// `grace`; the child is reaped.
fn stop_group(child: &mut Child, grace: Duration) {
    let pid = child.id() as i32;
    // SAFETY: kill(2) on a group we created.
    unsafe { libc::kill(-pid, libc::SIGINT) };
    let end = Instant::now() + grace;
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: as above.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let _ = child.wait();
}

/// (ppid, utime+stime ticks) of a process.
fn stat_of(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    Some((
        f.get(1)?.parse().ok()?,
        f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
    ))
}

/// A process's memory from `/proc/PID/smaps_rollup`, in KiB: what it
/// really costs (private pages, its proportional share of shared ones), not
/// VmRSS, which counts shared library and binary pages in full.
#[derive(Clone, Copy, Debug, Default)]
struct Mem {
    /// Private dirty pages: memory only this process holds and that cannot
    /// be dropped (heap, stacks, written data).
    private_dirty: u64,
    /// Unique set size: every page only this process maps (private clean
    /// and private dirty).
    uss: u64,
    /// Proportional set size: private pages plus a share of each shared one.
    pss: u64,
    /// VmRSS, for comparison only.
    rss: u64,
}

impl Mem {
    fn of(pid: u32) -> Option<Mem> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
        let field = |name: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let private_dirty = field("Private_Dirty:");
        Some(Mem {
            private_dirty,
            uss: field("Private_Clean:") + private_dirty,
            pss: field("Pss:"),
            rss: field("Rss:"),
        })
    }

    /// The sample with the most private dirty memory.
    fn max(self, other: Mem) -> Mem {
        if other.private_dirty > self.private_dirty {
            other
        } else {
            self
        }
    }

    fn add(self, o: Mem) -> Mem {
        Mem {
            private_dirty: self.private_dirty + o.private_dirty,
            uss: self.uss + o.uss,
            pss: self.pss + o.pss,
            rss: self.rss + o.rss,
        }
    }
}

impl std::fmt::Display for Mem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |k: u64| k as f64 / 1024.0;
        write!(
            f,
            "private dirty {:.2} MiB, USS {:.2} MiB, PSS {:.2} MiB (VmRSS {:.1} MiB)",
            mib(self.private_dirty),
            mib(self.uss),
            mib(self.pss),
            mib(self.rss)
        )
    }
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() {
            if stat_of(p).map(|s| s.0) == Some(pid) {
                out.push(p);
            }
        }
    }
    out
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no side effects.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

fn port_listening(port: u16) -> bool {
    mediamtx_hook::supervise::port_listening(port)
}

/// An FFmpeg that decodes `url` (opened with `input_args`) and discards
/// the frames, in a process group of its own, with no probing (decoding
/// starts at the first packet, so the figure is the publisher's start, not
/// an analysis window); the watch holds the time of its first frame.
fn decoding_reader(input_args: &[&str], url: &str) -> (Child, Arc<AtomicU64>) {
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(["-analyzeduration", "0", "-probesize", "32"])
        .args(input_args)
        .args(["-i", url])
        .args([
            "-f",
            "null",
            "-stats_period",
            "0.02",
            "-progress",
            "pipe:1",
            "-",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("ffmpeg");
    let first = watch_first_frame(child.stdout.take().unwrap());
    (child, first)
}

/// Reads FFmpeg's `-progress` output on a thread of its own; the value
/// becomes the monotonic time of the first report of frame ≥ 1 (0 until
/// then).
fn watch_first_frame(progress: std::process::ChildStdout) -> Arc<AtomicU64> {
    let first = Arc::new(AtomicU64::new(0));
    let f = first.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(progress).lines().map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("frame=") {
                if n.trim().parse::<u64>().unwrap_or(0) >= 1 && f.load(Ordering::SeqCst) == 0 {
                    f.store(mono_ns(), Ordering::SeqCst);
                }
            }
        }
    });
    first
}

/// FFmpeg's RTSP listener (one publisher), decoding what arrives and
/// reporting progress every 20 ms; `first_frame` is the monotonic time of
/// the first progress report with frame ≥ 1.
struct Listener {
    child: Child,
    port: u16,
    first_frame: Arc<AtomicU64>,
}

impl Listener {
    fn start(path: &str) -> Listener {
        let port = free_port();
        let (child, first_frame) = decoding_reader(
            &["-rtsp_flags", "listen", "-timeout", "30"],
            &format!("rtsp://127.0.0.1:{port}/{path}"),
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

impl Drop for Listener {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the group we created.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Bench {
    /// `hook run` started as MediaMTX starts it.
    fn hook_run(&self, state: &Path, path: &str, port: u16, extra: &[&str]) -> Command {
        self.hook_run_on(state, "testsrc", path, port, extra)
    }

    /// `hook run --device DEVICE` started as MediaMTX starts it.
    fn hook_run_on(
        &self,
        state: &Path,
        device: &str,
        path: &str,
        port: u16,
        extra: &[&str],
    ) -> Command {
        let mut c = Command::new(&self.hook);
        c.arg("run")
            .args(["--device", device])
            .args(extra)
            .env("MTX_PATH", path)
            .env("RTSP_PORT", port.to_string())
            .env("HOOK_STATE_DIR", state)
            .env_remove("HOOK_CONFIG")
            .env_remove("G1")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        c
    }

    fn exec_latency(&self) -> Row {
        let runs = if self.quick { 10 } else { 30 };
        let state = self.work.join("exec-state");
        let stamp = self.work.join("stamp");
        let port_holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = port_holder.local_addr().unwrap().port();
        let read_stamp = || -> Option<u64> { std::fs::read_to_string(&stamp).ok()?.parse().ok() };
        let mut via_hook = Vec::new();
        let mut direct = Vec::new();
        for i in 0..runs + 2 {
            // The hook: its start to the fake FFmpeg's first instruction.
            let _ = std::fs::remove_file(&stamp);
            let mut c = self.hook_run(&state, "bench0", port, &[]);
            c.arg("--ffmpeg")
                .arg(&self.me)
                .env("HOOK_BENCH_STAMP", &stamp);
            let t0 = mono_ns();
            let mut child = c.spawn().unwrap();
            assert!(
                wait_until(Duration::from_secs(5), || read_stamp().is_some()),
                "no exec stamp"
            );
            let t1 = read_stamp().unwrap();
            stop_group(&mut child, Duration::from_secs(3));
            // The same program started directly: the cost of exec and of
            // reaching main that the measurement above includes twice.
            let _ = std::fs::remove_file(&stamp);
            let t2 = mono_ns();
            let mut child = Command::new(&self.me)
                .env("HOOK_BENCH_STAMP", &stamp)
                .stdin(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap();
            assert!(wait_until(Duration::from_secs(5), || read_stamp().is_some()));
            let t3 = read_stamp().unwrap();
            stop_group(&mut child, Duration::from_secs(1));
            if i >= 2 {
                // The first two warm the page cache.
                via_hook.push((t1 - t0) as f64 / 1e6);
                direct.push((t3 - t2) as f64 / 1e6);
            }
        }
        let (h50, h99, d50) = (
            percentile(&via_hook, 0.5),
            percentile(&via_hook, 0.99),
            percentile(&direct, 0.5),
        );
        Row {
            what: "`hook run` start → FFmpeg exec",
            budget: "< 5 ms",
            measured: format!(
                "p50 {h50:.2} ms, max {h99:.2} ms (exec of a bare program alone: p50 {d50:.2} ms)"
            ),
            met: met(h50 < 5.0),
            how: format!(
                "{runs} runs; CLOCK_MONOTONIC before spawning `hook run --device testsrc` (state directory existing, RTSP port listening) to the first instruction of a stand-in FFmpeg (`--ffmpeg` pointing at a program that stamps the clock at once). The figure includes the hook's own exec and startup and the stand-in's exec"
            ),
        }
    }

    fn first_frame(&self) -> Row {
        let pairs = if self.quick { 3 } else { 7 };
        let state = self.work.join("frame-state");
        let mut by_hand_argv: Option<Vec<String>> = None;
        let mut by_hand_port = 0;
        let (mut hook_ms, mut hand_ms) = (Vec::new(), Vec::new());
        for i in 0..pairs * 2 {
            let use_hook = i % 2 == 0;
            let path = "bench1";
            let l = Listener::start(path);
            let t0 = mono_ns();
            let mut child = if use_hook {
                self.hook_run(&state, path, l.port, &[]).spawn().unwrap()
            } else {
                // The hook's command line, aimed at this run's listener.
                let (old, new) = (
                    format!("rtsp://127.0.0.1:{}/", by_hand_port),
                    format!("rtsp://127.0.0.1:{}/", l.port),
                );
                let argv: Vec<String> = by_hand_argv
                    .as_ref()
                    .unwrap()
                    .iter()
                    .map(|a| a.replace(&old, &new))
                    .collect();
                Command::new(&argv[0])
                    .args(&argv[1..])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0)
                    .spawn()
                    .unwrap()
            };
            let got = wait_until(Duration::from_secs(20), || {
                l.first_frame.load(Ordering::SeqCst) != 0
            });
            assert!(got, "no frame reached the listener");
            let ms = (l.first_frame.load(Ordering::SeqCst) - t0) as f64 / 1e6;
            if use_hook {
                if by_hand_argv.is_none() {
                    // The exact command line the hook ran, from /proc.
                    let kid = children_of(child.id());
                    let raw = std::fs::read(format!("/proc/{}/cmdline", kid[0])).unwrap();
                    let argv: Vec<String> = raw
                        .split(|&b| b == 0)
                        .filter(|s| !s.is_empty())
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect();
                    by_hand_argv = Some(argv);
                    by_hand_port = l.port;
                }
                hook_ms.push(ms);
            } else {
                hand_ms.push(ms);
            }
            stop_group(&mut child, Duration::from_secs(6));
            drop(l);
        }
        let (h, f) = (percentile(&hook_ms, 0.5), percentile(&hand_ms, 0.5));
        let ratio = h / f;
        let argv = by_hand_argv.unwrap_or_default().join(" ");
        Row {
            what: "Time to first published frame, hook vs FFmpeg by hand",
            budget: "ratio ≤ 1.05",
            measured: format!(
                "ratio {ratio:.3} (median {h:.0} ms with the hook, {f:.0} ms by hand)"
            ),
            met: met(ratio <= 1.05),
            how: format!(
                "{pairs} runs each, alternating; a fresh FFmpeg RTSP listener per run (`-rtsp_flags listen`, no probing: `-analyzeduration 0 -probesize 32`, decoding, `-progress` every 20 ms); from spawning the publisher to the listener's first report of frame ≥ 1 (decoded, not just announced). By hand = the hook's own FFmpeg command line read from /proc: `{argv}`"
            ),
        }
    }

    /// The FFmpeg command line `hook run --device testsrc` runs, without
    /// the progress pipe only the hook reads: what a user would otherwise
    /// put in a plain `runOnDemand: ffmpeg …` line.
    fn hook_ffmpeg_argv(&self) -> Vec<String> {
        let state = self.work.join("argv-state");
        let file = self.work.join("argv");
        let port_holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = port_holder.local_addr().unwrap().port();
        let mut c = self.hook_run(&state, "PATHNAME", port, &[]);
        c.arg("--ffmpeg")
            .arg(&self.me)
            .env("HOOK_BENCH_ARGV", &file);
        let mut child = c.spawn().unwrap();
        assert!(
            wait_until(Duration::from_secs(5), || file.exists()),
            "the hook started no FFmpeg"
        );
        std::thread::sleep(Duration::from_millis(50));
        stop_group(&mut child, Duration::from_secs(3));
        let text = std::fs::read_to_string(&file).unwrap();
        let mut argv = vec!["ffmpeg".to_string()];
        let mut words = text.split('\0').map(str::to_string).peekable();
        while let Some(w) = words.next() {
            if w == "-progress" {
                words.next();
                continue;
            }
            argv.push(w.replace(
                &format!("rtsp://127.0.0.1:{port}/PATHNAME"),
                "rtsp://127.0.0.1:$RTSP_PORT/$MTX_PATH",
            ));
        }
        argv
    }

    /// A reader's first frame on an on-demand path of a real MediaMTX
    /// (`MEDIAMTX_BIN`): wired to `hook run --device testsrc`, against the
    /// same picture from a plain `runOnDemand: ffmpeg …` line.
    fn mediamtx_first_frame(&self) -> Row {
        let what = "Reader's first frame on an on-demand MediaMTX path, hook vs plain `runOnDemand: ffmpeg …`";
        let budget = "ratio ≤ 1.05";
        let Some(mtx) = std::env::var_os("MEDIAMTX_BIN").filter(|v| !v.is_empty()) else {
            return Row {
                what,
                budget,
                measured: "not measured".into(),
                met: "n/a",
                how: "needs a MediaMTX binary in MEDIAMTX_BIN".into(),
            };
        };
        let pairs = if self.quick { 3 } else { 7 };
        let dir = self.work.join("mtx");
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(&self.hook, bin.join("hook")).unwrap();
        let argv = self.hook_ffmpeg_argv();
        // MediaMTX splits the line shell-style: quote every word.
        let plain_line = argv
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" ");
        let (rtsp, api) = (free_port(), free_port());
        let mut yml = format!(
            "logLevel: warn\napi: true\napiAddress: 127.0.0.1:{api}\nrtsp: true\nrtspAddress: 127.0.0.1:{rtsp}\nrtspTransports: [tcp]\nrtmp: false\nhls: false\nwebrtc: false\nsrt: false\nmoq: false\nmetrics: false\npprof: false\nplayback: false\npaths:\n"
        );
        for i in 0..pairs {
            for (name, cmd) in [
                (format!("hook{i}"), "hook run --device testsrc".to_string()),
                (format!("plain{i}"), plain_line.clone()),
            ] {
                yml.push_str(&format!(
                    "  {name}:\n    runOnDemand: {}\n    runOnDemandStartTimeout: 20s\n    runOnDemandCloseAfter: 1s\n",
                    serde_json::to_string(&cmd).unwrap()
                ));
            }
        }
        std::fs::write(dir.join("mediamtx.yml"), yml).unwrap();
        let path_env = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut server = Command::new(&mtx)
            .arg(dir.join("mediamtx.yml"))
            .current_dir(&dir)
            .env("PATH", path_env)
            .env("HOOK_STATE_DIR", dir.join("state"))
            .env("RUST_LOG", "warn")
            .env_remove("HOOK_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("MEDIAMTX_BIN");
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
            let t0 = mono_ns();
            let (mut reader, first) = decoding_reader(
                &["-rtsp_transport", "tcp"],
                &format!("rtsp://127.0.0.1:{rtsp}/{name}"),
            );
            assert!(
                wait_until(Duration::from_secs(30), || first.load(Ordering::SeqCst)
                    != 0),
                "no frame reached the reader of {name}"
            );
            let ms = (first.load(Ordering::SeqCst) - t0) as f64 / 1e6;
            if use_hook {
                hook_ms.push(ms);
            } else {
                plain_ms.push(ms);
            }
            stop_group(&mut reader, Duration::from_secs(2));
            // The path closes 1 s after its reader left; the next run
            // starts on a quiet machine.
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
        let version = Command::new(&mtx)
            .arg("--help")
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
                    l.strip_prefix("MediaMTX ")
                        .map(|v| v.split(',').next().unwrap_or("").to_string())
                })
            })
            .unwrap_or_default();
        Row {
            what,
            budget,
            measured: format!(
                "ratio {ratio:.3} (median {h:.0} ms with the hook, {f:.0} ms plain)"
            ),
            met: met(ratio <= 1.05),
            how: format!(
                "MediaMTX {version}; {pairs} runs each, alternating, each on a path of its own not opened before (close-after 1 s, then idle before the next run); from spawning an FFmpeg reader (`-rtsp_transport tcp -analyzeduration 0 -probesize 32`, decoding, `-progress` every 20 ms) to its first report of frame ≥ 1. Plain line = the hook's own FFmpeg command without its progress pipe: `{}`",
                argv.join(" ")
            ),
        }
    }

    /// Samples a process's memory and CPU over `secs` seconds: the sample
    /// with the most private dirty memory, and the % of a core used.
    fn cost_over(&self, pid: u32, secs: u64) -> (Mem, f64) {
        let t0 = Instant::now();
        let c0 = stat_of(pid).unwrap().1;
        let mut most = Mem::default();
        while t0.elapsed() < Duration::from_secs(secs) {
            most = most.max(Mem::of(pid).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(250));
        }
        let c1 = stat_of(pid).unwrap().1;
        let cpu = (c1 - c0) as f64 / ticks_per_second() / t0.elapsed().as_secs_f64();
        (most, cpu * 100.0)
    }

    fn supervisor_cost(&self) -> Vec<Row> {
        let secs = if self.quick { 5 } else { 20 };
        let state = self.work.join("sup-state");
        let l = Listener::start("bench2");
        let mut hook = self
            .hook_run(&state, "bench2", l.port, &[])
            .spawn()
            .unwrap();
        assert!(wait_until(Duration::from_secs(20), || l
            .first_frame
            .load(Ordering::SeqCst)
            != 0));
        std::thread::sleep(Duration::from_secs(1));
        let ffmpeg = children_of(hook.id())[0];
        let c0 = stat_of(ffmpeg).unwrap().1;
        let (mem, cpu) = self.cost_over(hook.id(), secs);
        let ff_cpu = (stat_of(ffmpeg).unwrap().1 - c0) as f64 / ticks_per_second() / secs as f64;
        let ff_mem = Mem::of(ffmpeg).unwrap_or_default();
        stop_group(&mut hook, Duration::from_secs(6));
        drop(l);
        vec![
            Row {
                what: "Supervisor memory while FFmpeg runs",
                budget: "< 1 MiB private dirty",
                measured: format!("{mem} (its FFmpeg: {ff_mem})"),
                met: met(mem.private_dirty < 1024),
                how: format!("the `hook run` process's /proc/PID/smaps_rollup, sampled every 250 ms for {secs} s while it publishes the test pattern (640x480, 15 fps, libx264) to an RTSP listener; the sample with the most private dirty memory"),
            },
            Row {
                what: "Supervisor CPU while FFmpeg runs",
                budget: "~0",
                measured: if cpu == 0.0 {
                    // Not one clock tick over the whole window.
                    format!(
                        "0 clock ticks in {secs} s, i.e. < {:.2}% of a core (its FFmpeg: {:.1}%)",
                        100.0 / ticks_per_second() / secs as f64,
                        ff_cpu * 100.0
                    )
                } else {
                    format!("{cpu:.2}% of a core (its FFmpeg: {:.1}%)", ff_cpu * 100.0)
                },
                met: met(cpu < 0.5),
                how: format!("utime+stime from /proc/PID/stat over the same {secs} s"),
            },
        ]
    }

    /// The publisher's FFmpeg CPU without stills and with a still every 1 s
    /// and every 10 s (`--still-every`), each run on its own after the
    /// stream flows.
    fn stills_cost(&self) -> Row {
        let secs = if self.quick { 5 } else { 20 };
        let mut figures = Vec::new();
        for (name, extra) in [
            ("none", &[][..]),
            ("1s", &["--still-every", "1s"][..]),
            ("10s", &["--still-every", "10s"][..]),
        ] {
            let state = self.work.join(format!("stills-{name}"));
            let l = Listener::start("bench-still");
            let mut hook = self
                .hook_run(&state, "bench-still", l.port, extra)
                .spawn()
                .unwrap();
            assert!(wait_until(Duration::from_secs(20), || l
                .first_frame
                .load(Ordering::SeqCst)
                != 0));
            std::thread::sleep(Duration::from_secs(1));
            let ffmpeg = children_of(hook.id())[0];
            let c0 = stat_of(ffmpeg).unwrap().1;
            let t0 = Instant::now();
            std::thread::sleep(Duration::from_secs(secs));
            let cpu = (stat_of(ffmpeg).unwrap().1 - c0) as f64
                / ticks_per_second()
                / t0.elapsed().as_secs_f64();
            stop_group(&mut hook, Duration::from_secs(6));
            drop(l);
            figures.push((name, cpu * 100.0));
        }
        let base = figures[0].1;
        let measured = figures
            .iter()
            .map(|(name, cpu)| match *name {
                "none" => format!("no stills {cpu:.1}%"),
                _ => format!("every {name} {cpu:.1}% ({:+.1})", cpu - base),
            })
            .collect::<Vec<_>>()
            .join(", ");
        Row {
            what: "Live stills: the publisher's FFmpeg CPU",
            budget: "small (reported)",
            measured,
            met: "-",
            how: format!("% of a core, utime+stime of the publisher's FFmpeg from /proc/PID/stat over {secs} s, test pattern 640x480 at 15 fps encoded with libx264 (the picture is split for the still; a copied H.264 camera decodes key frames only), each configuration run alone"),
        }
    }

    /// A recording session's hold (`hook record start` against MediaMTX's
    /// stand-in: GStreamer's RTSP server and a Control API), with each hold
    /// reader, against a plain `ffmpeg -c copy -f null` reader of the same
    /// stream.
    fn hold_cost(&self) -> Vec<Row> {
        let secs = if self.quick { 4 } else { 15 };
        let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support");
        let (rtsp, api) = (free_port(), free_port());
        let mut server = Command::new("/usr/bin/python3")
            .arg(support.join("mtx_standin.py"))
            .arg("--spec")
            .arg(support.join("reference/openapi.yaml"))
            .arg("--log")
            .arg(self.work.join("standin.log"))
            .args(["--rtsp-port", &rtsp.to_string(), "--path", "bench3"])
            .args(["--api-port", &api.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("python3");
        let mut line = String::new();
        let mut out = BufReader::new(server.stdout.take().unwrap());
        let ready = out.read_line(&mut line).is_ok() && line.contains("READY");
        let not_measured = |what: &'static str, why: String| Row {
            what,
            budget: "< 1% of a core, < 4 MiB private dirty",
            measured: "not measured".into(),
            met: "n/a",
            how: why,
        };
        const WHAT: [&str; 1] = ["A hold with its native reader (hook + reader)"];
        if !ready {
            stop_group(&mut server, Duration::from_secs(2));
            let why = "MediaMTX's stand-in (Debian's GStreamer RTSP server, run by /usr/bin/python3) did not start";
            return WHAT.iter().map(|w| not_measured(w, why.into())).collect();
        }

        // The plain reader first: the figure each hold is compared with.
        let mut plain = Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
            .args(["-rtsp_transport", "tcp", "-i"])
            .arg(format!("rtsp://127.0.0.1:{rtsp}/bench3"))
            .args(["-c", "copy", "-f", "null", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs(2));
        let (plain_mem, plain_cpu) = self.cost_over(plain.id(), secs);
        stop_group(&mut plain, Duration::from_secs(3));

        let mut rows = Vec::new();
        for (what, reader_kind) in WHAT.into_iter().zip(["native"]) {
            let state = self.work.join(format!("hold-state-{reader_kind}"));
            let policy = self.work.join(format!("hold-{reader_kind}.json"));
            std::fs::write(&policy, r#"{"recording": {}}"#).unwrap();
            let hook = |args: &[&str]| {
                Command::new(&self.hook)
                    .args(args)
                    .env("HOOK_STATE_DIR", &state)
                    .env("HOOK_MTX_API", format!("http://127.0.0.1:{api}"))
                    .env("RTSP_PORT", rtsp.to_string())
                    .env("HOOK_CONFIG", &policy)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap()
            };
            let started = hook(&["record", "start", "bench3"]);
            let hold = StateStore::new(&state)
                .read()
                .ok()
                .and_then(|s| s.paths.get("bench3")?.recording.session.as_ref()?.hold_pid);
            let Some(hold) = hold.filter(|_| started.status.success()) else {
                rows.push(not_measured(
                    what,
                    format!(
                        "`hook record start` failed: {}",
                        String::from_utf8_lossy(&started.stderr).trim()
                    ),
                ));
                continue;
            };
            std::thread::sleep(Duration::from_secs(2));
            let reader = children_of(hold).first().copied();
            let rc0 = reader.and_then(stat_of).map_or(0, |s| s.1);
            let (hold_mem, hold_cpu) = self.cost_over(hold, secs);
            let rc1 = reader.and_then(stat_of).map_or(0, |s| s.1);
            let reader_mem = reader.and_then(Mem::of).unwrap_or_default();
            let reader_cpu = (rc1 - rc0) as f64 / ticks_per_second() / secs as f64 * 100.0;
            let stopped = hook(&["record", "stop", "bench3"]);
            let (mem, cpu) = (hold_mem.add(reader_mem), hold_cpu + reader_cpu);
            rows.push(Row {
                what,
                budget: "< 1% of a core, < 4 MiB private dirty",
                measured: format!(
                    "{cpu:.2}% of a core, {mem}; the hook {hold_cpu:.2}%, {hold_mem}; its reader {reader_cpu:.2}%, {reader_mem}. Plain FFmpeg reader: {plain_cpu:.2}%, {plain_mem}",
                ),
                met: met(cpu < 1.0 && mem.private_dirty < 4 * 1024),
                how: format!(
                    "`hook record start` (the hold reads with the hook's {reader_kind} RTSP reader) against MediaMTX's stand-in (Debian's GStreamer RTSP server, 320x240 H.264 at 10 fps, and a Control API); the hold (`hook hold`, detached) and its reader measured over {secs} s from /proc (smaps_rollup: the sample with the most private dirty memory; utime+stime); then `hook record stop` ({}). The plain reader (`ffmpeg -c copy -f null`) read the same stream for {secs} s before",
                    if stopped.status.success() { "exit 0" } else { "failed" }
                ),
            });
        }
        stop_group(&mut server, Duration::from_secs(3));
        rows
    }

    fn segment_cmd(&self, state: &Path, path: &str, file: &Path) -> Command {
        let mut c = Command::new(&self.hook);
        c.arg("segment-complete")
            .env("MTX_PATH", path)
            .env("MTX_SEGMENT_PATH", file)
            .env("MTX_SEGMENT_DURATION", "60.000")
            .env("HOOK_STATE_DIR", state)
            .env_remove("HOOK_CONFIG")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn fake_segment(dir: &Path, n: u64) -> PathBuf {
        let (h, m) = (n / 60, n % 60);
        let file = dir.join(format!("2026-11-24_{:02}-{m:02}-00-000000.mp4", h % 24));
        let file = if h >= 24 {
            dir.join(format!("2026-11-25_{:02}-{m:02}-00-000000.mp4", h - 24))
        } else {
            file
        };
        std::fs::write(&file, vec![0u8; 1024]).unwrap();
        file
    }

    fn segment_complete(&self) -> (Vec<Row>, f64) {
        let n = if self.quick { 50 } else { 200 };
        let state = self.work.join("seg-state");
        let segs = self.work.join("segs");
        std::fs::create_dir_all(&segs).unwrap();
        let mut alone = Vec::new();
        for i in 0..n + 3 {
            let file = Self::fake_segment(&segs, i);
            let mut c = self.segment_cmd(&state, "cam0", &file);
            let t0 = Instant::now();
            let status = c.status().unwrap();
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            assert!(status.success());
            if i >= 3 {
                alone.push(ms);
            }
        }
        // A burst: all at once, each timed from its own spawn.
        let burst_dir = self.work.join("burst");
        std::fs::create_dir_all(&burst_dir).unwrap();
        let files: Vec<PathBuf> = (0..n).map(|i| Self::fake_segment(&burst_dir, i)).collect();
        let t0 = Instant::now();
        let mut children: Vec<(Instant, Child)> = files
            .iter()
            .map(|f| {
                let mut c = self.segment_cmd(&state, "cam1", f);
                (Instant::now(), c.spawn().unwrap())
            })
            .collect();
        let mut burst = Vec::new();
        let mut ok = 0;
        while !children.is_empty() {
            children.retain_mut(|(t, c)| match c.try_wait().unwrap() {
                Some(s) => {
                    burst.push(t.elapsed().as_secs_f64() * 1000.0);
                    ok += usize::from(s.success());
                    false
                }
                None => true,
            });
            std::thread::sleep(Duration::from_micros(200));
        }
        let total = t0.elapsed().as_secs_f64() * 1000.0;
        let recorded = StateStore::new(&state)
            .read()
            .ok()
            .and_then(|s| s.paths.get("cam1").map(|p| p.segments.count))
            .unwrap_or(0);
        let (p50, p99) = (percentile(&alone, 0.5), percentile(&alone, 0.99));
        let rows = vec![
            Row {
                what: "`segment-complete`, one at a time",
                budget: "< 5 ms",
                measured: format!("p50 {p50:.2} ms, p99 {p99:.2} ms"),
                met: met(p50 < 5.0),
                how: format!("{n} runs in sequence on one path (spawn to exit, wall clock), each appending to the ledger and replacing state.json with fsyncs, on {}", fs_of(&state)),
            },
            Row {
                what: "`segment-complete`, burst",
                budget: "all recorded",
                measured: format!(
                    "{recorded} of {n} recorded ({ok} exited 0); whole burst {total:.0} ms; per process p50 {:.0} ms, p99 {:.0} ms",
                    percentile(&burst, 0.5),
                    percentile(&burst, 0.99)
                ),
                met: met(recorded == n && ok as u64 == n),
                how: format!("{n} processes spawned at once on one path; the count read back from state.json"),
            },
        ];
        (rows, p50)
    }

    /// `segment-complete` with a disk budget enforced: `recording.max_size`
    /// 4KiB and 1 KiB segments, so that every run past the fourth deletes
    /// the oldest segment (one `unlink`, one `deleted` ledger line). The
    /// cost does not grow with the ledger: the oldest kept segment is the
    /// ledger cursor in the state.
    fn segment_complete_budget(&self) -> Row {
        let runs = if self.quick { 20 } else { 100 };
        let state = self.work.join("seg-budget-state");
        let segs = self.work.join("segs-budget");
        let cam = segs.join("cam0");
        std::fs::create_dir_all(&cam).unwrap();
        let config = self.work.join("budget.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"recording":{{"record_path":"{}/%path/%Y-%m-%d_%H-%M-%S-%f","max_size":"4KiB","min_free":"0"}}}}"#,
                segs.display()
            ),
        )
        .unwrap();
        let mut ms = Vec::new();
        for i in 0..runs + 4 {
            let file = Self::fake_segment(&cam, i);
            let mut c = self.segment_cmd(&state, "cam0", &file);
            c.env("HOOK_CONFIG", &config);
            let t0 = Instant::now();
            let status = c.status().unwrap();
            if i >= 4 {
                ms.push(t0.elapsed().as_secs_f64() * 1000.0);
            }
            assert!(status.success());
        }
        let deleted = StateStore::new(&state)
            .read()
            .ok()
            .and_then(|s| s.paths.get("cam0").map(|p| p.segments.deleted))
            .unwrap_or_default();
        let (p50, p99) = (percentile(&ms, 0.5), percentile(&ms, 0.99));
        Row {
            what: "`segment-complete`, disk budget enforced",
            budget: "< 5 ms",
            measured: format!("p50 {p50:.2} ms, p99 {p99:.2} ms"),
            met: met(p50 < 5.0 && deleted == runs),
            how: format!(
                "{runs} runs in sequence with recording.max_size 4KiB and 1 KiB segments: each run deletes the oldest ({deleted} deleted in all), on {}",
                fs_of(&state)
            ),
        }
    }

    /// `segment-complete` on a path whose ledger already holds 100,000
    /// segments, none of whose files exist: the worst case of the search
    /// for gone files (every run marks the most it may).
    fn segment_complete_long_ledger(&self) -> (Row, f64) {
        let runs = if self.quick { 20 } else { 100 };
        let state = self.work.join("seg-long-state");
        let segments = 100_000u64;
        generate_state(&state, 1, segments);
        let segs = self.work.join("segs-long");
        std::fs::create_dir_all(&segs).unwrap();
        let mut ms = Vec::new();
        for i in 0..runs + 3 {
            let file = Self::fake_segment(&segs, i);
            let mut c = self.segment_cmd(&state, "camera0", &file);
            let t0 = Instant::now();
            let status = c.status().unwrap();
            if i >= 3 {
                ms.push(t0.elapsed().as_secs_f64() * 1000.0);
            }
            assert!(status.success());
        }
        let totals = StateStore::new(&state)
            .read()
            .ok()
            .and_then(|s| {
                s.paths
                    .get("camera0")
                    .map(|p| (p.segments.count, p.segments.gone))
            })
            .unwrap_or_default();
        assert_eq!(totals.0, segments + runs + 3);
        let (p50, p99) = (percentile(&ms, 0.5), percentile(&ms, 0.99));
        let row = Row {
            what: "`segment-complete`, 100,000 segments in the ledger",
            budget: "< 5 ms",
            measured: format!("p50 {p50:.2} ms, p99 {p99:.2} ms"),
            met: met(p50 < 5.0),
            how: format!(
                "{runs} runs in sequence on a path whose ledger holds 100,000 segments whose files are all gone (the worst case: each run stats and marks {} of them; {} marked in all), on {}",
                mediamtx_hook::recording::segments::GONE_CHECKS,
                totals.1,
                fs_of(&state)
            ),
        };
        (row, p50)
    }

    /// The floor beside the hook, in the same run: `examples/segment_floor`
    /// (the same exec, lock, appends, fsyncs and rename, none of the work),
    /// timed like the hook; the ratios are the budget.
    fn segment_complete_floor(&self, empty_p50: f64, long_p50: f64) -> Row {
        let n = if self.quick { 50 } else { 200 };
        let floor = self.me.with_file_name("segment_floor");
        let state = self.work.join("floor-state");
        let segs = self.work.join("floor-segs");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::create_dir_all(&segs).unwrap();
        let mut ms = Vec::new();
        for i in 0..n + 3 {
            let file = Self::fake_segment(&segs, i);
            // The hook's variables, for the floor.
            let mut c = Command::new(&floor);
            c.env("MTX_PATH", "cam0")
                .env("MTX_SEGMENT_PATH", &file)
                .env("MTX_SEGMENT_DURATION", "60.000")
                .env("HOOK_STATE_DIR", &state)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let t0 = Instant::now();
            let status = c.status().unwrap();
            if i >= 3 {
                ms.push(t0.elapsed().as_secs_f64() * 1000.0);
            }
            assert!(status.success(), "{} failed", floor.display());
        }
        let floor_p50 = percentile(&ms, 0.5);
        let ratio = empty_p50 / floor_p50;
        let long = long_p50 / empty_p50;
        Row {
            what: "`segment-complete` against its floor",
            budget: "≤ 1.5× the floor; 100,000 segments ≤ 1.1× none",
            measured: format!(
                "floor p50 {floor_p50:.2} ms; the hook {empty_p50:.2} ms = {ratio:.2}× the floor; with 100,000 segments {long_p50:.2} ms = {long:.2}× the empty ledger"
            ),
            met: met(ratio <= 1.5 && long <= 1.1),
            how: format!(
                "{n} runs in sequence of `examples/segment_floor` (exec, stat, flock, read the state, one ledger line with fdatasync, state to a temporary file with fsync, rename, directory fsync) with the same variables, on {}, in the same run as the rows above",
                fs_of(&state)
            ),
        }
    }

    fn status_json(&self) -> Row {
        let state = self.work.join("status-state");
        let (paths, segments) = (64u64, 100_000u64);
        let t = std::time::Instant::now();
        generate_state(&state, paths, segments);
        let generated = t.elapsed();
        let runs = if self.quick { 10 } else { 30 };
        let mut ms = Vec::new();
        let mut bytes = 0;
        for _ in 0..runs + 2 {
            let t0 = Instant::now();
            let out = Command::new(&self.hook)
                .args(["status", "--json"])
                .env("HOOK_STATE_DIR", &state)
                .env_remove("HOOK_CONFIG")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .unwrap();
            ms.push(t0.elapsed().as_secs_f64() * 1000.0);
            assert!(out.status.success());
            bytes = out.stdout.len();
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let total: u64 = v["paths"]
                .as_object()
                .unwrap()
                .values()
                .map(|p| p["segments"]["count"].as_u64().unwrap())
                .sum();
            assert_eq!(total, segments);
        }
        ms.drain(..2);
        let (p50, p99) = (percentile(&ms, 0.5), percentile(&ms, 0.99));
        let state_size = std::fs::metadata(state.join("state.json")).unwrap().len();
        Row {
            what: "`status --json`, 64 paths, 100,000 segments",
            budget: "< 10 ms",
            measured: format!("p50 {p50:.2} ms, p99 {p99:.2} ms"),
            met: met(p50 < 10.0),
            how: format!("{runs} runs, spawn to exit; the state made by a generator in {:.0} ms (the library's StateStore writes state.json, {} KiB; ledgers of 100,000 JSON lines written directly); output {} KiB, its counts summed and checked", generated.as_secs_f64() * 1000.0, state_size / 1024, bytes / 1024),
        }
    }

    fn snapshot(&self) -> Row {
        let runs = if self.quick { 3 } else { 7 };
        let state = self.work.join("snap-state");
        let closed = free_port();
        let mut ms = Vec::new();
        for i in 0..runs + 1 {
            let out_file = self.work.join(format!("snap{i}.jpg"));
            let t0 = Instant::now();
            let out = Command::new(&self.hook)
                .args(["snapshot", "cam9", "-o"])
                .arg(&out_file)
                .args(["--device", "testsrc"])
                .env("HOOK_STATE_DIR", &state)
                .env("HOOK_MTX_API", format!("http://127.0.0.1:{closed}"))
                .env_remove("HOOK_CONFIG")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let took = t0.elapsed().as_secs_f64() * 1000.0;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let jpeg = std::fs::read(&out_file).unwrap();
            assert!(jpeg.starts_with(&[0xFF, 0xD8]), "not a JPEG");
            if i >= 1 {
                ms.push(took);
            }
        }
        let (p50, max) = (percentile(&ms, 0.5), percentile(&ms, 1.0));
        Row {
            what: "Snapshot from the device (test pattern)",
            budget: "< 1 s",
            measured: format!("median {p50:.0} ms, max {max:.0} ms"),
            met: met(max < 1000.0),
            how: format!("{runs} runs of `hook snapshot cam9 -o FILE --device testsrc` with no stream running (Control API unreachable, so straight from the device), spawn to exit; each output checked to be a JPEG"),
        }
    }
}

/// The filesystem type under `dir`, for the record (fsync costs differ).
fn fs_of(dir: &Path) -> String {
    let out = Command::new("findmnt")
        .args(["-n", "-o", "FSTYPE", "-T"])
        .arg(dir)
        .output()
        .ok();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "an unknown filesystem".into())
}

/// Writes a state of `paths` paths with `segments` recorded segments in
/// all: per path a ledger of JSON lines and totals that match it, the last
/// five records, a stderr tail and an exit record, as the real commands
/// leave them.
fn generate_state(dir: &Path, paths: u64, segments: u64) {
    let store = StateStore::new(dir);
    std::fs::create_dir_all(dir.join("ledger")).unwrap();
    let t0 = time::macros::datetime!(2026-01-01 00:00 UTC);
    let mut state = State::empty();
    for p in 0..paths {
        let name = format!("camera{p}");
        let n = segments / paths + u64::from(p < segments % paths);
        let mut ledger = Vec::with_capacity(n as usize * 200);
        let mut last = Vec::new();
        let mut totals = SegmentTotals::default();
        for i in 0..n {
            let start = t0 + time::Duration::seconds(1800 * i as i64);
            let rec = SegmentRecord {
                file: format!(
                    "/var/lib/mediamtx/recordings/{name}/{}.mp4",
                    start.unix_timestamp()
                ),
                start,
                duration: 1800.016,
                size: 180_000_000,
                gap_before: None,
                gap_cause: None,
                start_from: StartSource::FileName,
                recovered: false,
                session: None,
            };
            serde_json::to_writer(&mut ledger, &rec).unwrap();
            ledger.push(b'\n');
            totals.count += 1;
            totals.recorded_seconds += rec.duration;
            totals.bytes += rec.size;
            totals.first_start.get_or_insert(rec.start);
            totals.last_end = Some(rec.end());
            if n - i <= mediamtx_hook::state::RECENT_SEGMENTS as u64 {
                last.push(rec);
            }
        }
        std::fs::write(dir.join(format!("ledger/{name}.jsonl")), &ledger).unwrap();
        totals.last = last;
        totals.ledger_bytes = Some(ledger.len() as u64);
        // A full day of the disk forecast's write window (a segment every
        // half hour), the most it ever holds.
        let now = time::OffsetDateTime::now_utc();
        for h in 0..48 {
            totals.written.add(
                now - time::Duration::minutes(30 * (47 - h)),
                180_000_000,
                1800.016,
            );
        }
        let entry = PathState {
            publisher: Publisher {
                phase: Phase::Idle,
                device: Some(format!("/dev/video{p}")),
                restarts: 3,
                last_error: Some("ffmpeg exited (exit code 1) after 0.4 s".into()),
                stderr_tail: (0..20)
                    .map(|i| format!("[h264 @ 0x55d0] frame {i} encoded; speed=1.00x"))
                    .collect(),
                ..Default::default()
            },
            segments: totals,
            ..PathState::default()
        };
        state.paths.insert(name, entry);
    }
    store
        .update(|s| {
            *s = state;
            Ok(())
        })
        .unwrap();
    let _ = std::io::stdout().flush();
}
