//! Support for the `hook run` tests: a publisher started the way MediaMTX
//! starts it, its log captured to a file, its state entry read back, and a
//! cleanup that leaves nothing running when a test fails half-way.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::common::{self, TempDir};

/// Short restart values so the tests run in seconds, not minutes.
pub const FAST_POLICY: &str = r#"{"restart": {
    "initial_delay": "200ms", "max_delay": "2s", "stable_after": "3s",
    "grace": "1s", "stall_timeout": "3s", "device_lock_wait": "2s"}}"#;

/// A fake FFmpeg from tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A running `hook run`.
pub struct Hook {
    pub child: Child,
    pub pid: u32,
    pub path: String,
    pub port: u16,
    state_dir: PathBuf,
    log: PathBuf,
}

/// How to start one.
pub struct HookOptions<'a> {
    pub path: &'a str,
    pub port: u16,
    pub args: Vec<String>,
    /// JSON policy (written next to the state directory).
    pub policy: Option<&'a str>,
    /// Run on a test's fake cameras.
    pub fakedev: Option<&'a crate::support::fakecam::FakeDev>,
}

impl<'a> HookOptions<'a> {
    /// The test pattern at a small size, with the fast policy.
    pub fn testsrc(path: &'a str, port: u16) -> Self {
        HookOptions {
            path,
            port,
            args: ["--device", "testsrc", "--size", "320x240", "--fps", "10"]
                .map(String::from)
                .to_vec(),
            policy: Some(FAST_POLICY),
            fakedev: None,
        }
    }

    /// A fake camera's device, with the fast policy.
    pub fn camera(
        path: &'a str,
        port: u16,
        dev: &'a crate::support::fakecam::FakeDev,
        device: &str,
    ) -> Self {
        HookOptions {
            path,
            port,
            args: vec!["--device".into(), device.into()],
            policy: Some(FAST_POLICY),
            fakedev: Some(dev),
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn ffmpeg(self, program: &Path) -> Self {
        self.arg("--ffmpeg").arg(program.to_string_lossy())
    }
}

impl Hook {
    /// Starts `hook run` in `dir` (state under `dir/state`) like MediaMTX:
    /// own process group, stdin /dev/null, MTX_PATH and RTSP_PORT.
    pub fn start(dir: &TempDir, opts: HookOptions<'_>) -> Hook {
        let state_dir = dir.join("state");
        let log = dir.join(format!("hook-{}-{}.log", opts.path, common::free_port()));
        let mut cmd = common::mediamtx_command(&state_dir, opts.path, opts.port);
        cmd.arg("run").args(&opts.args);
        if let Some(json) = opts.policy {
            let cfg = dir.join(format!("policy-{}.json", common::free_port()));
            std::fs::write(&cfg, json).unwrap();
            cmd.env("HOOK_CONFIG", cfg);
        }
        if let Some(dev) = opts.fakedev {
            dev.apply(&mut cmd);
        }
        cmd.stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = cmd.spawn().unwrap();
        Hook {
            pid: child.id(),
            child,
            path: opts.path.to_string(),
            port: opts.port,
            state_dir,
            log,
        }
    }

    /// This path's state entry (null until written).
    pub fn state(&self) -> serde_json::Value {
        common::path_state(&self.state_dir, &self.path)
    }

    pub fn phase(&self) -> String {
        self.state()["phase"].as_str().unwrap_or("").to_string()
    }

    /// The child pid the state names, while this hook owns the entry.
    pub fn child_pid(&self) -> Option<u32> {
        let s = self.state();
        if s["supervisor_pid"].as_u64() != Some(self.pid as u64) {
            return None;
        }
        s["child_pid"].as_u64().map(|p| p as u32)
    }

    /// Waits until the state shows `phase` (owned by this hook).
    pub fn wait_phase(&self, phase: &str, timeout: Duration) -> bool {
        common::wait_until(timeout, || {
            let s = self.state();
            s["phase"] == phase && s["supervisor_pid"].as_u64() == Some(self.pid as u64)
        })
    }

    /// Waits for a running child different from `not`; returns its pid.
    pub fn wait_running_child(&self, not: Option<u32>, timeout: Duration) -> Option<u32> {
        let mut found = None;
        common::wait_until(timeout, || {
            let s = self.state();
            let pid = s["child_pid"].as_u64().map(|p| p as u32);
            if s["phase"] == "running" && pid.is_some() && pid != not {
                found = pid;
                true
            } else {
                false
            }
        });
        found
    }

    /// What the hook logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `sig` to the hook's process group (as MediaMTX does) and waits
    /// up to `timeout` for it to exit; returns the status and how long it took.
    pub fn signal_group_and_wait(
        &mut self,
        sig: i32,
        timeout: Duration,
    ) -> Option<(ExitStatus, Duration)> {
        let t0 = Instant::now();
        common::kill_group(self.pid, sig);
        common::wait_timeout(&mut self.child, timeout).map(|s| (s, t0.elapsed()))
    }

    /// Live processes whose command line names this hook's RTSP URL (the
    /// publisher FFmpeg, real or fake), the hook itself excluded.
    pub fn publishers(&self) -> Vec<common::ProcInfo> {
        let url = format!("rtsp://127.0.0.1:{}/{}", self.port, self.path);
        common::live_processes_with(&url)
            .into_iter()
            .filter(|p| p.pid != self.pid && !p.cmdline.contains("-rtsp_flags listen"))
            .collect()
    }

    /// The `next attempt in N ms` delays the hook logged, in order.
    pub fn logged_delays(&self) -> Vec<u64> {
        self.log()
            .lines()
            .filter_map(|l| {
                let rest = l.split("next attempt in ").nth(1)?;
                rest.split(" ms").next()?.parse().ok()
            })
            .collect()
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            for p in self.publishers() {
                common::kill_group(p.pgrp, libc::SIGKILL);
            }
            common::kill_group(self.pid, libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Asserts that nothing of a stopped hook is left: its process group is
/// empty and no process names its RTSP URL.
pub fn assert_nothing_left(hook: &Hook) {
    let gone = common::wait_until(Duration::from_secs(1), || {
        common::group_members(hook.pid).is_empty() && hook.publishers().is_empty()
    });
    assert!(
        gone,
        "left behind: group {:?}, publishers {:?}",
        common::group_members(hook.pid),
        hook.publishers()
    );
}
