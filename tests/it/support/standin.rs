//! Test fixture: MediaMTX's stand-in (`mtx_standin.py`), a real RTSP server
//! (GStreamer's, from Debian) serving a live H.264 test pattern plus a
//! Control API that checks every request against MediaMTX's openapi.yaml and
//! logs it. Used by the record/snapshot/api tests.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to serve.
#[derive(Clone, Debug)]
pub struct Options {
    /// Serve RTSP (the stream) for `paths`.
    pub rtsp: bool,
    /// Answer the Control API.
    pub api: bool,
    /// Path names served over RTSP (and config entries, unless `entries`).
    pub paths: Vec<String>,
    /// Config entries the API knows (default: `paths`).
    pub entries: Option<Vec<String>>,
    /// Basic credentials the API requires.
    pub credentials: Option<(String, String)>,
    /// A slow API: each PATCH is logged as received (`patch-received`),
    /// then answered after this long.
    pub patch_delay: Option<Duration>,
}

impl Options {
    pub fn both(path: &str) -> Options {
        Options {
            rtsp: true,
            api: true,
            paths: vec![path.to_string()],
            entries: None,
            credentials: None,
            patch_delay: None,
        }
    }
}

/// A running stand-in; killed on drop.
pub struct Standin {
    pub rtsp_port: u16,
    pub api_port: u16,
    pub log: PathBuf,
    options: Options,
    child: Option<Child>,
    fakedev: Option<crate::support::fakecam::DevNs>,
}

use crate::support::common::free_port;

fn support(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(file)
}

impl Standin {
    /// Starts it on free ports, logging to `dir/standin.jsonl`.
    pub fn start(dir: &Path, options: Options) -> Standin {
        Self::start_in(dir, options, None)
    }

    /// Starts it on a test's fake cameras: it, and the hooks it starts, see
    /// `dev`'s `/dev`; so do the commands [`Standin::hook`] makes.
    pub fn start_fakedev(
        dir: &Path,
        options: Options,
        dev: &crate::support::fakecam::FakeDev,
    ) -> Standin {
        Self::start_in(dir, options, Some(dev.ns()))
    }

    fn start_in(
        dir: &Path,
        options: Options,
        fakedev: Option<crate::support::fakecam::DevNs>,
    ) -> Standin {
        let mut s = Standin {
            rtsp_port: free_port(),
            api_port: free_port(),
            log: dir.join("standin.jsonl"),
            options,
            child: None,
            fakedev,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(support("mtx_standin.py"))
            .arg("--spec")
            .arg(support("reference/openapi.yaml"))
            .arg("--log")
            .arg(&self.log);
        if self.options.rtsp {
            cmd.args(["--rtsp-port", &self.rtsp_port.to_string()]);
        }
        if self.options.api {
            cmd.args(["--api-port", &self.api_port.to_string()]);
        }
        for p in &self.options.paths {
            cmd.args(["--path", p]);
        }
        for e in self.options.entries.iter().flatten() {
            cmd.args(["--entry", e]);
        }
        if let Some((u, p)) = &self.options.credentials {
            cmd.args(["--user", u, "--pass", p]);
        }
        if let Some(delay) = self.options.patch_delay {
            cmd.args(["--patch-delay", &delay.as_secs_f64().to_string()]);
        }
        if let Some(ns) = &self.fakedev {
            ns.apply(&mut cmd);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0);
        let mut child = cmd.spawn().expect("/usr/bin/python3 (scripts/deps.sh)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let ready = matches!(lines.next(), Some(Ok(l)) if l == "READY");
            let _ = tx.send(ready);
            for _ in lines {}
        });
        let ready = rx.recv_timeout(Duration::from_secs(15)).unwrap_or(false);
        assert!(ready, "the MediaMTX stand-in did not start");
        self.child = Some(child);
    }

    /// Kills it (SIGKILL), as a crashed or restarted MediaMTX disappears.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
            }
            let _ = child.wait();
        }
    }

    /// Kills it and starts it again on the same ports: the stream restarts
    /// and the API has forgotten every PATCH, like a MediaMTX restart.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let rtsp_free = !self.options.rtsp
                || std::net::TcpListener::bind(("127.0.0.1", self.rtsp_port)).is_ok();
            let api_free = !self.options.api
                || std::net::TcpListener::bind(("127.0.0.1", self.api_port)).is_ok();
            if (rtsp_free && api_free) || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.spawn();
    }

    /// `HOOK_MTX_API` for the hook.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// A `hook` command aimed at this stand-in (its Control API and RTSP
    /// port), with state in `dir/state`, info logs and the policy `json`.
    /// The policy file is written once per test directory: a rewrite could
    /// be read half-way by a hook command still running.
    pub fn hook(&self, dir: &crate::support::common::TempDir, json: &str) -> Command {
        use crate::support::common::{hook_command, write_config};
        let cfg = dir.join("hook-config.json");
        if !cfg.exists() {
            write_config(dir.path(), json);
        }
        let mut c = hook_command(&dir.join("state"));
        c.env("HOOK_CONFIG", cfg)
            .env("HOOK_MTX_API", self.api_url())
            .env("RTSP_PORT", self.rtsp_port.to_string())
            .env("RUST_LOG", "info");
        if let Some(ns) = &self.fakedev {
            ns.apply(&mut c);
        }
        c
    }

    /// Every logged event, oldest first.
    pub fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Every Control API request, oldest first.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|e| e["kind"] == "api")
            .collect()
    }

    /// The `record` values PATCHed to `entry`, in order.
    pub fn record_patches(&self, entry: &str) -> Vec<bool> {
        let path = format!("/v3/config/paths/patch/{entry}");
        self.requests()
            .iter()
            .filter(|r| r["method"] == "PATCH" && r["path"] == path.as_str())
            .filter_map(|r| r["body"]["record"].as_bool())
            .collect()
    }

    /// PATCHes received so far, answered or not (with `patch_delay`).
    pub fn patches_received(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| e["kind"] == "patch-received")
            .count()
    }

    /// Panics when any request did not match openapi.yaml.
    pub fn assert_requests_valid(&self) {
        for r in self.requests() {
            assert_eq!(r["valid"], true, "request against openapi.yaml: {r}");
        }
    }

    /// RTSP clients connected now (connected minus closed).
    pub fn rtsp_clients(&self) -> i64 {
        self.events()
            .iter()
            .fold(0, |n, e| match e["event"].as_str() {
                Some("client-connected") => n + 1,
                Some("client-closed") => n - 1,
                _ => n,
            })
    }

    /// RTSP clients that ever connected.
    pub fn rtsp_connections(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| e["event"] == "client-connected")
            .count()
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        self.kill();
    }
}

pub use super::common::jpeg_size;
