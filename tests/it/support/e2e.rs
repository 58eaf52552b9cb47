//! End-to-end fixture: a MediaMTX (the real one from `MEDIAMTX_BIN`, or the
//! on-demand stand-in `tests/support/mtx_ondemand.py`) started with a
//! `mediamtx.yml` whose `paths:` are what `hook mediamtx-config --device
//! testsrc` prints under a short policy, every listener on loopback, `hook` on
//! its PATH and the state in a temporary directory; FFmpeg readers; the
//! Control API read over plain HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::common::*;

/// The path every case uses: `hook mediamtx-config --device testsrc`.
pub const PATH: &str = "testsrc";
/// runOnDemandCloseAfter in the policy.
pub const CLOSE_AFTER: Duration = Duration::from_secs(3);
/// runOnDemandStartTimeout in the policy.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// recordSegmentDuration in the policy.
pub const SEGMENT: Duration = Duration::from_secs(2);

/// Slack for a loaded 2-core machine on top of MediaMTX's own timers.
pub const SLACK: Duration = Duration::from_secs(10);

/// One test per backend for a case body `fn(Backend)`: `$real` against the
/// real MediaMTX (ignored: needs `MEDIAMTX_BIN`, the `real_` group) and
/// `$standin` against the stand-in. With `root,` first, the stand-in's test
/// needs root too (ignored, the `root_` group: fake cameras).
#[macro_export]
macro_rules! both {
    ($body:ident, $real:ident, $standin:ident) => {
        #[test]
        #[ignore = "needs MEDIAMTX_BIN (a MediaMTX binary)"]
        fn $real() {
            $body(Backend::Real)
        }
        #[test]
        fn $standin() {
            $body(Backend::Standin)
        }
    };
    (root, $body:ident, $real:ident, $standin:ident) => {
        #[test]
        #[ignore = "needs MEDIAMTX_BIN (a MediaMTX binary) and root (fake cameras)"]
        fn $real() {
            $body(Backend::Real)
        }
        #[test]
        #[ignore = "needs root: fake cameras in a private mount namespace"]
        fn $standin() {
            $body(Backend::Standin)
        }
    };
}

/// Which MediaMTX the case runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Real,
    Standin,
}

/// What a case needs beyond the defaults.
#[derive(Clone, Debug, Default)]
pub struct Setup {
    /// RTSP publish/read credentials MediaMTX requires (authInternalUsers),
    /// handed to the hooks as HOOK_RTSP_USER / HOOK_RTSP_PASS.
    pub credentials: Option<(String, String)>,
    /// The camera to wire instead of the test pattern (a fake camera's
    /// `/dev/...` name, with [`Mtx::start_fakedev`]); the path is then the
    /// one `hook mediamtx-config --device` names it, see [`Mtx::path`].
    pub device: Option<String>,
    /// runOnDemandCloseAfter other than [`CLOSE_AFTER`] (a camera away for
    /// longer than it is closed by MediaMTX once its readers left).
    pub close_after: Option<Duration>,
    /// The policy's `restart` object other than the short default (a long
    /// backoff, to show that something does not wait for it).
    pub restart: Option<&'static str>,
}

/// A running MediaMTX and everything around it; killed on drop.
pub struct Mtx {
    pub backend: Backend,
    pub dir: TempDir,
    pub state: PathBuf,
    pub recordings: PathBuf,
    pub rtsp_port: u16,
    pub api_port: u16,
    pub config: PathBuf,
    policy: PathBuf,
    bin: PathBuf,
    setup: Setup,
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
    fakedev: Option<crate::support::fakecam::DevNs>,
    /// The MediaMTX path of the case ([`PATH`] for the test pattern).
    path: String,
}

fn support(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(file)
}

/// The MediaMTX binary the real-backend cases need.
pub fn mediamtx_bin() -> PathBuf {
    PathBuf::from(
        std::env::var_os("MEDIAMTX_BIN")
            .expect("MEDIAMTX_BIN names a MediaMTX binary (these cases are run with --ignored)"),
    )
}

impl Mtx {
    pub fn start(backend: Backend, setup: Setup) -> Mtx {
        Self::start_in(backend, setup, None)
    }

    /// Starts it on a test's fake cameras: MediaMTX, its hooks and the
    /// commands [`Mtx::hook`] makes see `dev`'s `/dev`.
    pub fn start_fakedev(
        backend: Backend,
        setup: Setup,
        dev: &crate::support::fakecam::FakeDev,
    ) -> Mtx {
        Self::start_in(backend, setup, Some(dev.ns()))
    }

    fn start_in(
        backend: Backend,
        setup: Setup,
        fakedev: Option<crate::support::fakecam::DevNs>,
    ) -> Mtx {
        let dir = TempDir::new(match backend {
            Backend::Real => "e2e-real",
            Backend::Standin => "e2e-standin",
        });
        let state = dir.join("state");
        let recordings = dir.join("recordings");
        let bin = dir.join("bin");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(hook_bin(), bin.join("hook")).unwrap();
        let policy = write_config(
            dir.path(),
            &format!(
                r#"{{
  "viewing": {{"close_after": "{}s", "start_timeout": "{}s"}},
  "recording": {{"segment_duration": "{}s", "hold_check_interval": "500ms",
                 "record_path": "{}/%path/%Y-%m-%d_%H-%M-%S-%f"}},
  "restart": {}
}}"#,
                setup.close_after.unwrap_or(CLOSE_AFTER).as_secs(),
                START_TIMEOUT.as_secs(),
                SEGMENT.as_secs(),
                recordings.display(),
                setup
                    .restart
                    .unwrap_or(r#"{"initial_delay": "500ms", "max_delay": "2s", "grace": "3s"}"#),
            ),
        );
        let mut m = Mtx {
            backend,
            state,
            recordings,
            rtsp_port: free_port(),
            api_port: free_port(),
            config: dir.join("mediamtx.yml"),
            policy,
            bin,
            setup,
            child: None,
            log: Arc::new(Mutex::new(Vec::new())),
            dir,
            fakedev,
            path: PATH.to_string(),
        };
        m.write_config();
        m.spawn();
        m
    }

    /// mediamtx.yml: loopback-only globals, then the generator's `paths:`.
    fn write_config(&mut self) {
        let mut gen = self.hook();
        gen.args(["mediamtx-config", "--device", self.device()]);
        let (code, paths, err) = run_to_end(gen, Duration::from_secs(20));
        assert_eq!(code, 0, "hook mediamtx-config: {err}");
        // The one entry's name: the line after the comments under `paths:`.
        self.path = paths
            .lines()
            .skip_while(|l| *l != "paths:")
            .find(|l| l.starts_with("  ") && !l.trim_start().starts_with('#'))
            .and_then(|l| l.trim().strip_suffix(':'))
            .map(|name| name.trim_matches('"').to_string())
            .expect("hook mediamtx-config prints a path entry");
        let auth = match &self.setup.credentials {
            Some((user, pass)) => format!(
                "authInternalUsers:
  - user: {user}
    pass: {pass}
    ips: [127.0.0.1]
    permissions: [{{action: publish}}, {{action: read}}]
  - user: any
    ips: [127.0.0.1]
    permissions: [{{action: api}}]
"
            ),
            None => String::new(),
        };
        let text = format!(
            "logLevel: info
logDestinations: [stdout]
api: true
apiAddress: 127.0.0.1:{api}
metrics: false
pprof: false
playback: false
rtsp: true
rtspTransports: [tcp]
rtspAddress: 127.0.0.1:{rtsp}
rtmp: false
hls: false
webrtc: false
srt: false
moq: false
{auth}{paths}",
            api = self.api_port,
            rtsp = self.rtsp_port,
        );
        assert!(
            text.contains(&format!("runOnDemand: hook run --device {}", self.device())),
            "{text}"
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// The environment MediaMTX passes on to every hook.
    fn hook_env(&self, cmd: &mut Command) {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env("HOOK_STATE_DIR", &self.state)
            .env("HOOK_CONFIG", &self.policy)
            .env("HOOK_MTX_API", self.api_url())
            .env("RUST_LOG", "info")
            .env_remove("HOOK_RTSP_USER")
            .env_remove("HOOK_RTSP_PASS")
            .env_remove("MTX_PATH")
            .env_remove("G1");
        if let Some((user, pass)) = &self.setup.credentials {
            cmd.env("HOOK_RTSP_USER", user).env("HOOK_RTSP_PASS", pass);
        }
        if let Some(ns) = &self.fakedev {
            ns.apply(cmd);
        }
    }

    fn spawn(&mut self) {
        let mut cmd = match self.backend {
            Backend::Real => Command::new(mediamtx_bin()),
            Backend::Standin => {
                let mut c = Command::new("/usr/bin/python3");
                c.arg(support("mtx_ondemand.py"))
                    .arg("--spec")
                    .arg(support("reference/openapi.yaml"));
                c
            }
        };
        cmd.arg(&self.config);
        self.hook_env(&mut cmd);
        cmd.current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().expect("MediaMTX (or /usr/bin/python3) starts");
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = self.log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            });
        }
        self.child = Some(child);
        let up = wait_until(Duration::from_secs(20), || {
            self.api_get(&format!("/v3/paths/get/{}", self.path)).0 == 200
        });
        assert!(up, "MediaMTX did not come up:\n{}", self.log_text());
    }

    /// The device wired: the test pattern, or [`Setup::device`].
    pub fn device(&self) -> &str {
        self.setup.device.as_deref().unwrap_or("testsrc")
    }

    /// The MediaMTX path of the case.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The MediaMTX process id (its process group too).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("MediaMTX runs").id()
    }

    /// SIGKILL, as a crash: nothing is signalled.
    pub fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_pid(child.id(), libc::SIGKILL);
            let _ = child.wait();
        }
    }

    /// A crash (SIGKILL), `outage` with no MediaMTX, and a new one on the
    /// same ports with the same file.
    pub fn crash_and_start(&mut self, outage: Duration) {
        self.sigkill();
        std::thread::sleep(outage);
        let free = wait_until(Duration::from_secs(10), || {
            std::net::TcpListener::bind(("127.0.0.1", self.rtsp_port)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", self.api_port)).is_ok()
        });
        assert!(free, "MediaMTX's ports stayed taken");
        self.spawn();
    }

    /// A clean stop (SIGINT, as systemd or a terminal does), `outage` with
    /// no MediaMTX, and a new one on the same ports with the same file:
    /// every API change is forgotten. Returns the moment the old one had
    /// exited.
    pub fn restart(&mut self, outage: Duration) -> Instant {
        if let Some(mut child) = self.child.take() {
            kill_pid(child.id(), libc::SIGINT);
            if wait_timeout(&mut child, Duration::from_secs(20)).is_none() {
                kill_pid(child.id(), libc::SIGKILL);
                let _ = child.wait();
            }
        }
        let stopped = Instant::now();
        std::thread::sleep(outage);
        let free = wait_until(Duration::from_secs(10), || {
            std::net::TcpListener::bind(("127.0.0.1", self.rtsp_port)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", self.api_port)).is_ok()
        });
        assert!(free, "MediaMTX's ports stayed taken");
        self.spawn();
        stopped
    }

    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// `rtsp://127.0.0.1:PORT/NAME`.
    pub fn url(&self, name: &str) -> String {
        format!("rtsp://127.0.0.1:{}/{name}", self.rtsp_port)
    }

    /// GET on the Control API: (status, JSON body); status 0 when it did not answer.
    pub fn api_get(&self, path: &str) -> (u16, serde_json::Value) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.api_port)) else {
            return (0, serde_json::Value::Null);
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        if s.write_all(req.as_bytes()).is_err() {
            return (0, serde_json::Value::Null);
        }
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw);
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        (
            code,
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// `/v3/paths/get/testsrc`'s `ready`.
    pub fn path_ready(&self) -> bool {
        self.api_get(&format!("/v3/paths/get/{}", self.path)).1["ready"] == true
    }

    /// `/v3/config/paths/get/testsrc`'s `record`.
    pub fn record_switch(&self) -> Option<bool> {
        self.api_get(&format!("/v3/config/paths/get/{}", self.path))
            .1["record"]
            .as_bool()
    }

    /// A `hook` command as a person runs it next to this MediaMTX.
    pub fn hook(&self) -> Command {
        let mut cmd = Command::new(hook_bin());
        cmd.stdin(Stdio::null())
            .env("RTSP_PORT", self.rtsp_port.to_string());
        self.hook_env(&mut cmd);
        cmd
    }

    /// Runs `hook ARGS` to the end: (exit code, stdout, stderr).
    pub fn run_hook(&self, args: &[&str], timeout: Duration) -> (i32, String, String) {
        let mut cmd = self.hook();
        cmd.args(args);
        run_to_end(cmd, timeout)
    }

    /// `hook status --json`'s entry for the path (null when none).
    pub fn status(&self) -> serde_json::Value {
        let (code, out, err) = self.run_hook(&["status", "--json"], Duration::from_secs(20));
        assert_eq!(code, 0, "hook status --json: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("status JSON parses");
        v["paths"][&self.path].clone()
    }

    /// Everything MediaMTX and the hooks it ran wrote (stdout and stderr).
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Log lines so far (to look only at what comes after a moment).
    pub fn log_len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Log lines from index `from` on.
    pub fn log_since(&self, from: usize) -> String {
        self.log.lock().unwrap()[from..].join("\n")
    }

    /// Lines containing `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Live processes publishing or reading this MediaMTX's path.
    pub fn path_processes(&self) -> Vec<ProcInfo> {
        let url = self.url(&self.path);
        let me = std::process::id();
        processes()
            .into_iter()
            .filter(|p| p.state != 'Z' && p.pid != me)
            .filter(|p| p.cmdline.contains(&url) && !p.cmdline.contains(READER_AGENT))
            .collect()
    }

    /// Live `hook run` processes of this MediaMTX (children of it).
    pub fn hook_runs(&self) -> Vec<ProcInfo> {
        self.hook_processes(&format!("hook run --device {}", self.device()))
    }

    /// Live `hook hold` processes of this state directory.
    pub fn holds(&self) -> Vec<ProcInfo> {
        self.hook_processes(&format!("hook hold {}", self.path))
    }

    /// Live processes whose command line contains `needle` and that run with
    /// this fixture's state directory.
    pub fn hook_processes(&self, needle: &str) -> Vec<ProcInfo> {
        processes()
            .into_iter()
            .filter(|p| p.state != 'Z' && p.cmdline.contains(needle))
            .filter(|p| {
                std::fs::read(format!("/proc/{}/environ", p.pid))
                    .map(|e| {
                        String::from_utf8_lossy(&e)
                            .contains(&format!("HOOK_STATE_DIR={}", self.state.display()))
                    })
                    .unwrap_or(false)
            })
            .collect()
    }

    /// Segment files MediaMTX wrote for the path.
    pub fn segment_files(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(self.recordings.join(&self.path))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        out.retain(|p| p.extension().is_some_and(|e| e == "mp4"));
        out.sort();
        out
    }

    /// The path's segment ledger, one JSON object per segment.
    pub fn ledger(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(
            self.state
                .join("ledger")
                .join(format!("{}.jsonl", self.path)),
        )
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
    }
}

impl Drop for Mtx {
    fn drop(&mut self) {
        // Holds and sessions live outside MediaMTX: end them first.
        let path = self.path.clone();
        let _ = self.run_hook(&["stop", &path], Duration::from_secs(15));
        self.sigkill();
        for p in self.hook_runs() {
            kill_pid(p.pid, libc::SIGKILL);
        }
        for p in self.path_processes() {
            kill_pid(p.pid, libc::SIGKILL);
        }
    }
}

/// The user agent of the test's readers, so they are told apart from the
/// hook's processes.
const READER_AGENT: &str = "e2e-test-reader";

/// An FFmpeg reader (RTSP over TCP, decoding to null) counting frames.
pub struct Reader {
    child: Child,
    frames: Arc<AtomicU64>,
    log: Arc<Mutex<Vec<String>>>,
    pub started: Instant,
}

impl Reader {
    pub fn start(url: &str) -> Reader {
        let mut child = Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
            .args([
                "-rtsp_transport",
                "tcp",
                "-user_agent",
                READER_AGENT,
                "-i",
                url,
            ])
            .args(["-f", "null", "-progress", "pipe:1", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("ffmpeg is installed (scripts/deps.sh)");
        let frames = Arc::new(AtomicU64::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let f = frames.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("frame=") {
                    if let Ok(n) = n.trim().parse::<u64>() {
                        f.store(n, Ordering::SeqCst);
                    }
                }
            }
        });
        let l = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        Reader {
            child,
            frames,
            log,
            started: Instant::now(),
        }
    }

    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::SeqCst)
    }

    /// True once `n` frames were decoded within `timeout`.
    pub fn wait_frames(&self, n: u64, timeout: Duration) -> bool {
        wait_until(timeout, || self.frames() >= n)
    }

    /// True while FFmpeg still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Ends the reader as a viewer closing the player (SIGINT: TEARDOWN).
    pub fn stop(mut self) {
        kill_pid(self.child.id(), libc::SIGINT);
        if wait_timeout(&mut self.child, Duration::from_secs(5)).is_none() {
            kill_pid(self.child.id(), libc::SIGKILL);
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        kill_group(self.child.id(), libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Starts readers one after another (a client that reconnects) until one
/// decodes `n` frames; the time it took, or `None` after `timeout`, with
/// the last reader's errors.
pub fn frames_within(url: &str, n: u64, timeout: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < timeout {
        let mut r = Reader::start(url);
        loop {
            if r.frames() >= n {
                return Ok(start.elapsed());
            }
            if !r.running() || start.elapsed() >= timeout {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        last = r.log();
    }
    Err(format!(
        "no reader decoded {n} frames within {timeout:?}; last reader said: {last}"
    ))
}

/// An RFC 3339 time as seconds since the epoch.
pub fn epoch(v: &serde_json::Value) -> f64 {
    let t = time::OffsetDateTime::parse(
        v.as_str().expect("a time string"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    t.unix_timestamp_nanos() as f64 / 1e9
}
