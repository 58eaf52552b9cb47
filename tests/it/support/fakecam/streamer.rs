//! "Another program streaming the camera": an FFmpeg capture in a test's
//! namespace, its frames counted.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
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
