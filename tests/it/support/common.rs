//! Shared test support: the built `hook` started the way MediaMTX starts it,
//! temporary state directories, free loopback ports, a real RTSP listener
//! (FFmpeg's), and process inspection through /proc.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `hook` binary under test.
pub fn hook_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hook"))
}

/// A directory removed on drop (with all it holds, a failing test's
/// included): `$TMPDIR/hook-test-TAG-XXXXXX`, made with the umask's mode as
/// `mkdir` makes it.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let prefix = format!("hook-test-{}-", tag.replace('/', "_"));
        TempDir(
            tempfile::Builder::new()
                .prefix(&prefix)
                .tempdir()
                .expect("a temporary directory"),
        )
    }
    pub fn path(&self) -> &Path {
        self.0.path()
    }
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.path().join(p)
    }
}

/// A loopback TCP port that is free now and that no other test is handed
/// while this test binary runs. Ports come from 20000-31999, below the
/// kernel's ephemeral range (32768 and up), so no connection's local port
/// and no `bind(0)` can take one between this call and the moment the test
/// binds it. Each port is reserved by a lock on `/tmp/hook-test-ports/PORT`
/// held until this process exits, so concurrent test runs (two checkouts on
/// one machine) never share one either.
pub fn free_port() -> u16 {
    use std::sync::atomic::AtomicU32;
    const FIRST: u32 = 20000;
    const SPAN: u32 = 12000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    static HELD: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id() * 97) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    let dir = std::env::temp_dir().join("hook-test-ports");
    std::fs::create_dir_all(&dir).unwrap();
    for _ in 0..SPAN {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        let Ok(reservation) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
        else {
            continue;
        };
        if reservation.try_lock().is_err() {
            continue;
        }
        if nobody_listens(port) {
            HELD.lock().unwrap().push(reservation);
            return port;
        }
    }
    panic!("no free loopback port in {FIRST}-{}", FIRST + SPAN - 1);
}

/// True when no socket listens on 127.0.0.1:`port`: a `bind` with
/// `SO_REUSEADDR` and no `listen`, which only a listening socket refuses.
/// Never a listening check socket: a child another thread forks at that
/// instant would hold a copy of it, still listening, until its `exec`, and
/// the test's own bind of the port would fail.
fn nobody_listens(port: u16) -> bool {
    use nix::sys::socket::{
        bind, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn,
    };
    use std::os::fd::AsRawFd;
    let Ok(fd) = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    ) else {
        return false;
    };
    let _ = setsockopt(&fd, sockopt::ReuseAddr, &true);
    bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, port)).is_ok()
}

/// A `hook` command set up as MediaMTX runs hooks: its own process group,
/// stdin /dev/null, MediaMTX's variables. Add `.env(..)` / `.arg(..)` freely.
pub fn mediamtx_command(state_dir: &Path, mtx_path: &str, rtsp_port: u16) -> Command {
    let mut cmd = Command::new(hook_bin());
    cmd.process_group(0)
        .stdin(Stdio::null())
        .env("MTX_PATH", mtx_path)
        .env("RTSP_PATH", mtx_path)
        .env("RTSP_PORT", rtsp_port.to_string())
        .env("HOOK_STATE_DIR", state_dir)
        .env("RUST_LOG", "debug")
        .env_remove("HOOK_CONFIG")
        .env_remove("G1");
    cmd
}

/// A plain `hook` command for commands people run (status, record…).
pub fn hook_command(state_dir: &Path) -> Command {
    let mut cmd = Command::new(hook_bin());
    cmd.stdin(Stdio::null())
        .env("HOOK_STATE_DIR", state_dir)
        .env_remove("HOOK_CONFIG")
        .env_remove("MTX_PATH")
        .env_remove("RTSP_PORT")
        .env_remove("G1");
    cmd
}

/// Writes a JSON policy config into `dir` and returns its path.
pub fn write_config(dir: &Path, json: &str) -> PathBuf {
    let file = dir.join("hook-config.json");
    std::fs::write(&file, json).unwrap();
    file
}

/// Polls `f` every 20 ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, f: impl FnMut() -> bool) -> bool {
    poll(timeout, Duration::from_millis(20), f)
}

/// Polls `f` every `every` until it is true or `timeout` passes (for
/// checks that run a process each time).
pub fn poll(timeout: Duration, every: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// Waits for a child with a timeout; `None` when it is still running.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `sig` to a process group, as MediaMTX does with `kill(-pid, SIGINT)`.
pub fn kill_group(pgid: u32, sig: i32) {
    unsafe {
        libc::kill(-(pgid as i32), sig);
    }
}

/// Sends `sig` to one process.
pub fn kill_pid(pid: u32, sig: i32) {
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// One process as /proc shows it.
#[derive(Debug, Clone)]
pub struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    pub pgrp: u32,
    pub state: char,
    pub cmdline: String,
}

/// Every process on the machine.
pub fn processes() -> Vec<ProcInfo> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …; comm may contain spaces and parens.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        if fields.len() < 3 {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        out.push(ProcInfo {
            pid,
            ppid: fields[1].parse().unwrap_or(0),
            pgrp: fields[2].parse().unwrap_or(0),
            state: fields[0].chars().next().unwrap_or('?'),
            cmdline,
        });
    }
    out
}

/// True when `pid` exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    processes()
        .iter()
        .any(|p| p.pid == pid && p.state != 'Z' && p.state != 'X')
}

/// Live (non-zombie) processes whose command line contains `needle`.
pub fn live_processes_with(needle: &str) -> Vec<ProcInfo> {
    processes()
        .into_iter()
        .filter(|p| p.state != 'Z' && p.cmdline.contains(needle))
        .collect()
}

/// Live processes in process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<ProcInfo> {
    processes()
        .into_iter()
        .filter(|p| p.pgrp == pgid && p.state != 'Z')
        .collect()
}

/// Live direct children of `pid`.
pub fn children_of(pid: u32) -> Vec<ProcInfo> {
    processes()
        .into_iter()
        .filter(|p| p.ppid == pid && p.state != 'Z')
        .collect()
}

/// Reads `state.json` from a state directory (null when missing).
pub fn read_state(state_dir: &Path) -> serde_json::Value {
    match std::fs::read(state_dir.join("state.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes).expect("state.json parses"),
        Err(_) => serde_json::Value::Null,
    }
}

/// One path's entry in the state (null when missing).
/// A path's `recording` object in the state.
pub fn recording(state_dir: &Path, path: &str) -> serde_json::Value {
    path_state(state_dir, path)["recording"].clone()
}

pub fn path_state(state_dir: &Path, path: &str) -> serde_json::Value {
    read_state(state_dir)["paths"][path].clone()
}

/// A real RTSP server accepting one publisher: FFmpeg in listen mode,
/// decoding what arrives and reporting frames through `-progress`.
pub struct RtspListener {
    pub port: u16,
    pub path: String,
    child: Child,
    frames: Arc<AtomicU64>,
    log: Arc<Mutex<Vec<String>>>,
}

impl RtspListener {
    /// Starts listening on a free port for `path`. A port found free can be
    /// taken by a parallel test before FFmpeg binds it: then FFmpeg exits
    /// and another port is tried.
    pub fn start(path: &str) -> RtspListener {
        for _ in 0..5 {
            let mut listener = Self::spawn_on(free_port(), path);
            std::thread::sleep(Duration::from_millis(50));
            if listener.child.try_wait().unwrap().is_none() {
                return listener;
            }
        }
        panic!("no RTSP listener could bind a free port in 5 tries");
    }

    /// Starts listening on `port` (which must be free) for `path`.
    pub fn start_on(port: u16, path: &str) -> RtspListener {
        let mut listener = Self::spawn_on(port, path);
        if let Some(status) = listener.child.try_wait().unwrap() {
            panic!(
                "RTSP listener on port {port} exited ({status}): {:?}",
                listener.log()
            );
        }
        listener
    }

    /// Starts FFmpeg listening on `port` and waits until the port listens or
    /// FFmpeg has exited (the port was taken).
    fn spawn_on(port: u16, path: &str) -> RtspListener {
        let url = format!("rtsp://127.0.0.1:{port}/{path}");
        let mut child = Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
            .args(["-rtsp_flags", "listen", "-timeout", "30"])
            .arg("-i")
            .arg(&url)
            .args(["-f", "null", "-progress", "pipe:1", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("ffmpeg is installed (scripts/deps.sh)");
        let frames = Arc::new(AtomicU64::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let f = frames.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("frame=") {
                    if let Ok(n) = n.trim().parse::<u64>() {
                        f.store(n, Ordering::SeqCst);
                    }
                }
            }
        });
        let stderr = child.stderr.take().unwrap();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        // Wait until the port listens. Look, don't connect: FFmpeg's listener
        // takes the first connection for its publisher and quits when it closes.
        let ok = wait_until(Duration::from_secs(10), || {
            mediamtx_hook::supervise::port_listening(port)
                || child.try_wait().ok().flatten().is_some()
        });
        assert!(ok, "RTSP listener on port {port} did not come up");
        RtspListener {
            port,
            path: path.to_string(),
            child,
            frames,
            log,
        }
    }

    /// Frames decoded so far.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::SeqCst)
    }

    /// What the listener wrote to stderr.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RtspListener {
    fn drop(&mut self) {
        kill_group(self.child.id(), libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Runs a command to completion with a timeout and returns (status, stdout, stderr).
pub fn run_to_end(mut cmd: Command, timeout: Duration) -> (i32, String, String) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    let watchdog = std::thread::spawn(move || {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if d.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_pid(pid, libc::SIGKILL);
    });
    let out = child.wait_with_output().unwrap();
    done.store(true, Ordering::SeqCst);
    let _ = watchdog.join();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `OsStr` convenience.
pub fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// True when the tests run as root (needed to make device nodes and to drop
/// to another user).
pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// Makes `cmd` run as user `nobody` (uid/gid 65534, no supplementary
/// groups): root bypasses file permissions, so permission errors can only be
/// seen by an unprivileged user. Needs root.
pub fn as_nobody(cmd: &mut Command) -> &mut Command {
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Creates a V4L2 character device node (major 81) at `path` with `mode`
/// and group `gid`. No driver answers for it on a machine without cameras,
/// which is what an unplugged camera's stale node looks like. Needs root.
pub fn make_v4l2_node(path: &Path, minor: u32, mode: u32, gid: u32) {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    unsafe {
        let dev = libc::makedev(81, minor);
        assert_eq!(
            libc::mknod(c.as_ptr(), libc::S_IFCHR | mode, dev),
            0,
            "mknod {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        assert_eq!(libc::chmod(c.as_ptr(), mode), 0);
        assert_eq!(libc::chown(c.as_ptr(), 0, gid), 0);
    }
}

/// `hook segment-complete` as MediaMTX's runOnRecordSegmentComplete runs it.
pub fn segment_command(state_dir: &Path, mtx_path: &str, file: &Path, duration: &str) -> Command {
    let mut cmd = mediamtx_command(state_dir, mtx_path, free_port());
    cmd.arg("segment-complete")
        .env("MTX_SEGMENT_PATH", file)
        .env("MTX_SEGMENT_DURATION", duration)
        .env("RUST_LOG", "info");
    cmd
}

/// MediaMTX's name for a segment that starts at `t` (its default
/// `recordPath`, `%Y-%m-%d_%H-%M-%S-%f`), in the clock `t` is given in.
pub fn segment_name(t: time::PrimitiveDateTime) -> String {
    const NAME: &[time::format_description::FormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]_[hour]-[minute]-[second]-[subsecond digits:6].mp4"
    );
    t.format(NAME).expect("a date and time always format")
}

/// Writes a fake segment named the way MediaMTX names them
/// (`%Y-%m-%d_%H-%M-%S-%f.mp4`) for a start `secs` after
/// 2026-11-24 10:00:00 (local time of the hook's `TZ`).
pub fn fake_segment(dir: &Path, secs: f64, bytes: usize) -> PathBuf {
    let t = time::macros::datetime!(2026-11-24 10:00:00) + time::Duration::seconds_f64(secs);
    let file = dir.join(segment_name(t));
    std::fs::write(&file, vec![0u8; bytes]).unwrap();
    file
}

/// Writes an executable script at `path`. The bytes are written to a side
/// file and put in place by `install(1)`, a child process: this process
/// never holds the script open for writing, so a sibling test forking at
/// that moment cannot make the script's exec fail with ETXTBSY.
pub fn write_script(path: &Path, body: &str) {
    let side = path.with_extension("src");
    std::fs::write(&side, body).unwrap();
    let status = Command::new("install")
        .arg("-m")
        .arg("0755")
        .arg(&side)
        .arg(path)
        .status()
        .expect("install(1) runs");
    assert!(status.success(), "install {} failed", path.display());
    let _ = std::fs::remove_file(&side);
}

/// Width and height from a JPEG's start-of-frame marker.
pub fn jpeg_size(bytes: &[u8]) -> Option<(u16, u16)> {
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    while i + 9 < bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        if (0xC0..=0xC3).contains(&marker) {
            let h = u16::from_be_bytes([bytes[i + 5], bytes[i + 6]]);
            let w = u16::from_be_bytes([bytes[i + 7], bytes[i + 8]]);
            return Some((w, h));
        }
        i += 2 + len;
    }
    None
}

/// A 64 KiB tmpfs mounted for a test (root only), unmounted when dropped.
pub struct SmallFs(PathBuf);

impl SmallFs {
    pub fn mount(at: &Path) -> Result<SmallFs, String> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(SmallFs(at.to_path_buf()))
    }

    /// Fills the filesystem to the last byte; returns the filler file.
    pub fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        for chunk in [4096usize, 1] {
            let buf = vec![b'x'; chunk];
            while f.write_all(&buf).is_ok() {}
        }
        filler
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
