//! What the supervisor is given and what it reports: the [`Job`] that
//! describes a child, the fixed options ([`Spec`]), the events the job hears,
//! a start's error and the outcome.

use crate::policy::Restart;
use crate::state::ExitRecord;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;
use time::OffsetDateTime;

/// The program and arguments to run for one start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

/// Why a start could not even be tried.
#[derive(Debug)]
pub struct StartError {
    pub message: String,
    pub kind: StartErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartErrorKind {
    /// Try again after the backoff.
    Retry,
    /// The device is missing, busy or unsuitable: try again after the
    /// backoff (cameras come back).
    Device,
    /// Retrying cannot help (bad flags): stop supervising with this error.
    Fatal(FatalKind),
}

/// Whether a fatal error is the user's input (exit 2) or not (exit 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FatalKind {
    Usage,
    Failure,
}

impl StartError {
    pub fn retry(message: impl Into<String>) -> Self {
        StartError {
            message: message.into(),
            kind: StartErrorKind::Retry,
        }
    }
    pub fn device(message: impl Into<String>) -> Self {
        StartError {
            message: message.into(),
            kind: StartErrorKind::Device,
        }
    }
    pub fn fatal(message: impl Into<String>, kind: FatalKind) -> Self {
        StartError {
            message: message.into(),
            kind: StartErrorKind::Fatal(kind),
        }
    }
}

/// What happened, for the job to record. Events come in this order per
/// attempt: [`Event::WaitingForLock`]?, then either [`Event::Started`]
/// ([`Event::Running`]?, [`Event::Exited`]) or nothing, then on failure
/// [`Event::Error`] and [`Event::Backoff`]. A stop gives [`Event::Stopping`],
/// [`Event::Exited`] if a child ran, then [`Event::Stopped`].
#[derive(Debug)]
pub enum Event<'a> {
    /// The device lock is held by someone else (pid from the lock file).
    WaitingForLock { holder: Option<u32> },
    /// The child was spawned. `restarts` counts the attempts before this one.
    Started {
        pid: u32,
        at: OffsetDateTime,
        restarts: u64,
        launch: &'a Launch,
    },
    /// The child's output shows frames advancing for the first time.
    Running { pid: u32 },
    /// The child ended (on its own, stalled, or stopped) and was reaped.
    Exited {
        pid: u32,
        record: &'a ExitRecord,
        stderr_tail: &'a [String],
    },
    /// An attempt failed; `message` is fit for `last_error`.
    Error { message: &'a str, device: bool },
    /// Waiting until `until` before the next attempt.
    Backoff {
        until: OffsetDateTime,
        delay: Duration,
        restarts: u64,
        /// The failure was about the device (phase `waiting-for-device`).
        device: bool,
    },
    /// A stop was asked for (`signal` 0: by [`Job::tick`] or the parent's
    /// exit).
    Stopping { signal: i32 },
    /// Everything is stopped and reaped; [`supervise`] returns next.
    Stopped,
}

/// The supervised job: see the module doc.
pub trait Job {
    /// A short name for log lines (`ffmpeg`, `hold reader`).
    fn name(&self) -> &str;
    /// The device lock to hold while the child runs, if any. Called before
    /// every start, so a device that moved is followed.
    fn lock_file(&mut self) -> Option<PathBuf> {
        None
    }
    /// The command for the next start.
    fn command(&mut self) -> Result<Launch, StartError>;
    /// Records an event. Must not fail (log and carry on).
    fn report(&mut self, event: Event<'_>);
    /// Periodic check (see [`Spec::tick_every`]); false stops supervision.
    fn tick(&mut self) -> bool {
        true
    }
}

/// Fixed options of a supervision.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Restart, backoff, grace, stall and lock-wait values.
    pub policy: Restart,
    /// Check before each start that something listens on this loopback port.
    pub rtsp_port: Option<u16>,
    /// Become a child subreaper, so anything the child leaves behind is
    /// re-parented to us and reaped. Only for a process that has no other
    /// children to wait for.
    pub subreaper: bool,
    /// Stop (as on SIGTERM) when the parent process goes away: MediaMTX was
    /// killed and will never send SIGINT.
    pub stop_when_orphaned: bool,
    /// Call [`Job::tick`] this often.
    pub tick_every: Option<Duration>,
}

impl Spec {
    pub fn new(policy: Restart) -> Self {
        Spec {
            policy,
            rtsp_port: None,
            subreaper: false,
            stop_when_orphaned: false,
            tick_every: None,
        }
    }
}

/// Why [`supervise`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A stop signal (its number) came.
    Signal(i32),
    /// [`Job::tick`] asked to stop.
    Finished,
    /// The parent process went away.
    Orphaned,
}
