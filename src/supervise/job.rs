//! What the supervisor is given and what it reports: the [`Job`] that
//! describes a child, the fixed options ([`Spec`]), the events the job hears,
//! a start's error and the outcome.

use crate::policy::Restart;
use crate::process::ExitStatus;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;
use time::OffsetDateTime;

/// How many of the child's last stderr lines are kept for [`Event::Exited`].
pub(crate) const STDERR_TAIL_LINES: usize = 20;

/// The program and arguments to run for one start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// The child is `hook` itself (the native reader), which needs the
    /// credentials of the environment; any other program (FFmpeg) starts
    /// without them (`process::SECRET_ENV`).
    pub is_hook: bool,
}

impl Launch {
    /// A program other than the hook (FFmpeg).
    pub(crate) fn tool(program: PathBuf, args: Vec<OsString>) -> Self {
        Launch {
            program,
            args,
            is_hook: false,
        }
    }

    /// The hook's own executable.
    pub(crate) fn hook(program: PathBuf, args: Vec<OsString>) -> Self {
        Launch {
            program,
            args,
            is_hook: true,
        }
    }
}

/// Why a child's run ended, as the supervisor saw it (kept as is in the
/// state's exit record).
pub(crate) use crate::state::ExitReason;

/// How one run of the child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChildExit {
    /// When it was reaped.
    pub at: OffsetDateTime,
    /// Its exit code or the signal that killed it.
    pub status: ExitStatus,
    /// How long it ran.
    pub ran: Duration,
    pub reason: ExitReason,
}

impl ChildExit {
    /// The state's record of this end (a path's or a hold's `last_exit`).
    pub(crate) fn record(&self) -> crate::state::ExitRecord {
        crate::state::ExitRecord {
            at: self.at,
            code: self.status.code(),
            signal: self.status.signal(),
            ran_seconds: (self.ran.as_secs_f64() * 1000.0).round() / 1000.0,
            reason: self.reason,
        }
    }
}

/// Something supervision waits for instead of a backoff delay: the next
/// attempt follows as soon as [`Wait::ready`] says so.
pub(crate) trait Wait: std::fmt::Debug {
    /// A descriptor that becomes readable when it may be ready (inotify),
    /// polled with the rest; none: only [`Wait::next_check`] wakes it.
    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>>;
    /// When [`Wait::ready`] must be asked even without a wake-up.
    fn next_check(&self) -> std::time::Instant;
    /// Whether to attempt now; cheap, called at each wake-up.
    fn ready(&mut self) -> bool;
    /// What is waited for, for the log ("the device to come back").
    fn what(&self) -> String;
}

/// A [`Wait`] that is only a short, fixed pause: the next attempt after
/// `delay` whatever the backoff has grown to.
#[derive(Debug)]
pub(crate) struct Pause {
    until: std::time::Instant,
}

impl Pause {
    pub(crate) fn new(delay: Duration) -> Pause {
        Pause {
            until: std::time::Instant::now() + delay,
        }
    }
}

impl Wait for Pause {
    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }
    fn next_check(&self) -> std::time::Instant {
        self.until
    }
    fn ready(&mut self) -> bool {
        std::time::Instant::now() >= self.until
    }
    fn what(&self) -> String {
        let left = self
            .until
            .saturating_duration_since(std::time::Instant::now());
        format!("{} ms instead of the backoff", left.as_millis())
    }
}

/// Where an attempt's failure came from, so the job can name its cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorOrigin {
    /// Nothing listens on [`Spec::rtsp_port`].
    PortUnreachable,
    /// The device lock stayed held by another instance.
    LockHeld { holder: Option<u32> },
    /// The device lock could not be taken (an I/O error).
    Lock,
    /// [`Job::command`] failed.
    Command,
    /// The program could not be started.
    Spawn,
    /// The child ended by itself ([`Event::Exited`] came first).
    Exited,
    /// The watchdog stopped the child: no frames.
    Stalled,
}

/// Why a start could not even be tried.
#[derive(Debug)]
pub(crate) struct StartError {
    pub message: String,
    pub kind: StartErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StartErrorKind {
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
pub(crate) enum FatalKind {
    Usage,
    Failure,
}

impl StartError {
    pub(crate) fn retry(message: impl Into<String>) -> Self {
        StartError {
            message: message.into(),
            kind: StartErrorKind::Retry,
        }
    }
    pub(crate) fn device(message: impl Into<String>) -> Self {
        StartError {
            message: message.into(),
            kind: StartErrorKind::Device,
        }
    }
    pub(crate) fn fatal(message: impl Into<String>, kind: FatalKind) -> Self {
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
    /// The device lock is held by someone else.
    WaitingForLock,
    /// The child was spawned. `restarts` counts the attempts before this one.
    Started {
        pid: u32,
        at: OffsetDateTime,
        restarts: u64,
    },
    /// The child's output shows frames advancing for the first time.
    Running { pid: u32 },
    /// The child ended (on its own, stalled, or stopped) and was reaped.
    Exited {
        exit: &'a ChildExit,
        stderr_tail: &'a [String],
    },
    /// An attempt failed; `message` is fit for `last_error`.
    Error {
        message: &'a str,
        origin: ErrorOrigin,
    },
    /// Instead of backing off, supervision waits for the device the job
    /// named in [`Job::device_wait`]; the next attempt follows at once when
    /// it is back.
    AwaitingDevice,
    /// Waiting until `until` before the next attempt.
    Backoff {
        until: OffsetDateTime,
        restarts: u64,
        /// The failure was about the device (phase `waiting-for-device`).
        device: bool,
    },
    /// A stop was asked for (by a signal, by [`Job::tick`] or by the
    /// parent's exit).
    Stopping,
    /// Everything is stopped and reaped; [`supervise`] returns next.
    Stopped,
}

/// The supervised job: see the module doc.
pub(crate) trait Job {
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
    /// After a failed attempt (its [`Event::Error`] reported): a wait for
    /// what the attempt lacked to come back (a camera unplugged or held by
    /// another program, a publisher waiting for its camera) to use instead
    /// of the backoff delay. None (the default): back off.
    fn wait_instead(&mut self) -> Option<Box<dyn Wait>> {
        None
    }
    /// Periodic check (see [`Spec::tick_every`]); false stops supervision.
    fn tick(&mut self) -> bool {
        true
    }
}

/// Fixed options of a supervision.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
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
    pub(crate) fn new(policy: Restart) -> Self {
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
pub(crate) enum Outcome {
    /// A stop signal (its number) came.
    Signal(i32),
    /// [`Job::tick`] asked to stop.
    Finished,
    /// The parent process went away.
    Orphaned,
}
