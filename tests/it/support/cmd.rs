//! A builder for a short `hook` command: the environment a person's shell
//! (or MediaMTX) gives it, arguments and variables added in a chain, then run
//! to its end under a time limit.
//!
//! ```ignore
//! let out = Cmd::hook(dir.path()).args(["status", "--json"]).run();
//! assert_eq!(out.code, 0, "{}", out.stderr);
//! ```

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::common::{hook_command, mediamtx_command, run_to_end, segment_command};

/// How long a short command may take before it is killed (a loaded machine
/// is slow, a hung command fails the test).
pub const LIMIT: Duration = Duration::from_secs(30);

/// A `hook` command being built.
pub struct Cmd {
    cmd: Command,
    limit: Duration,
}

/// What a finished command gave: its exit code (-1 when killed by a
/// signal, the time limit included), stdout and stderr.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Cmd {
    /// `hook` as a person runs it, on the state directory `state_dir`.
    pub fn hook(state_dir: &Path) -> Self {
        Self::from(hook_command(state_dir))
    }

    /// `hook` as MediaMTX runs it for `mtx_path` (MTX_PATH, RTSP_PORT…).
    pub fn mediamtx(state_dir: &Path, mtx_path: &str, rtsp_port: u16) -> Self {
        Self::from(mediamtx_command(state_dir, mtx_path, rtsp_port))
    }

    /// `hook segment-complete` as MediaMTX runs it for a finished segment.
    pub fn segment(state_dir: &Path, mtx_path: &str, file: &Path, duration: &str) -> Self {
        Self::from(segment_command(state_dir, mtx_path, file, duration))
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Self {
        self.cmd.env_remove(k);
        self
    }

    /// Runs it on a test's fake cameras (see [`super::fakecam::FakeDev::apply`]).
    pub fn fakedev(mut self, dev: &super::fakecam::FakeDev) -> Self {
        dev.apply(&mut self.cmd);
        self
    }

    /// A time limit other than [`LIMIT`].
    pub fn limit(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    /// Runs the command to its end (killed after the time limit).
    pub fn run(self) -> Out {
        let (code, stdout, stderr) = run_to_end(self.cmd, self.limit);
        Out {
            code,
            stdout,
            stderr,
        }
    }
}

impl From<Command> for Cmd {
    /// Any prepared command, for what the builder does not cover.
    fn from(cmd: Command) -> Self {
        Cmd { cmd, limit: LIMIT }
    }
}

impl Out {
    /// Asserts exit code `code`, showing both outputs when it differs.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// (code, stdout, stderr), to bind with a pattern.
    pub fn parts(self) -> (i32, String, String) {
        (self.code, self.stdout, self.stderr)
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}
