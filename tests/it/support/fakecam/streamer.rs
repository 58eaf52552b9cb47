//! "Another program using the camera": an FFmpeg capture in a test's
//! namespace, its frames counted, or a python3 client holding the camera
//! without streaming.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::FakeDev;
use crate::support::common::{kill_pid, wait_timeout, wait_until};

/// An FFmpeg capturing a fake camera to nowhere (`-f null`), counting its
/// frames through `-progress`; killed on drop.
pub struct Streamer {
    child: Option<Child>,
    frames: Arc<AtomicU64>,
    log: Arc<Mutex<String>>,
    pub started: Instant,
}

impl Streamer {
    /// Starts `ffmpeg [input_args] -f v4l2 -i node -c copy -f null -`.
    pub fn start(dev: &FakeDev, node: &str, input_args: &[&str]) -> Streamer {
        let mut cmd = dev.ffmpeg();
        cmd.args([
            "-loglevel",
            "info",
            "-nostats",
            "-progress",
            "pipe:1",
            "-f",
            "v4l2",
        ])
        .args(input_args)
        .args(["-i", node, "-c", "copy", "-f", "null", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().expect("ffmpeg starts");
        let frames = Arc::new(AtomicU64::new(0));
        let log = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().unwrap();
        let f = frames.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("frame=") {
                    if let Ok(n) = n.trim().parse() {
                        f.store(n, Ordering::SeqCst);
                    }
                }
            }
        });
        let stderr = child.stderr.take().unwrap();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = l.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Streamer {
            child: Some(child),
            frames,
            log,
            started,
        }
    }

    /// Frames FFmpeg reported so far (its `-progress` updates twice a second).
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::SeqCst)
    }

    pub fn wait_frames(&self, n: u64, timeout: Duration) -> bool {
        wait_until(timeout, || self.frames() >= n)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// FFmpeg's stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for it to exit by itself: its exit code
    /// (-1 for a signal), or `None` when it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        wait_timeout(child, timeout).map(|s| s.code().unwrap_or(-1))
    }

    /// Stops it as a person does (SIGINT; SIGKILL after 5 s).
    pub fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            kill_pid(child.id(), libc::SIGINT);
            if wait_timeout(&mut child, Duration::from_secs(5)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Streamer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A python3 V4L2 client (`tests/support/fakecam/capture.py hold`) that
/// set the format and mapped its buffers, so the camera is busy for everyone
/// else, and does not stream; killed on drop.
pub struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Holder {
    pub fn start(dev: &FakeDev, node: &str) -> Holder {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/support/fakecam/capture.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script)
            .args([node, "MJPG", "640", "480", "0", "hold"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        dev.apply(&mut cmd);
        let mut child = cmd.spawn().expect("python3 starts");
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(
            first.starts_with(r#"{"held": true"#),
            "the holder of {node}: {first}"
        );
        Holder {
            child,
            stdin,
            lines,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets go: closes the camera and exits. What its descriptor's last
    /// ioctl got: "ok", or "ENODEV" when the camera was unplugged meanwhile.
    pub fn release(mut self) -> String {
        drop(self.stdin.take());
        let last = self.lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = wait_timeout(&mut self.child, Duration::from_secs(5));
        serde_json::from_str::<serde_json::Value>(&last)
            .ok()
            .and_then(|v| v["after"].as_str().map(str::to_string))
            .unwrap_or(last)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
