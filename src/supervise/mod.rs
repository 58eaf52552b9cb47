//! Generic supervision of one long-running child (FFmpeg), used by `hook run`
//! for the publisher and by recording holds for their reader.
//!
//! # Using it
//!
//! Describe the child with a [`Job`] and the fixed options with a [`Spec`],
//! install [`Signals`] once, and call [`supervise`]. It returns when a stop
//! signal came (SIGINT, SIGTERM, SIGHUP), when [`Job::tick`] asked to stop, or
//! when the parent went away (with [`Spec::stop_when_orphaned`]); by then the
//! child and everything in its process group has been stopped and reaped.
//!
//! - [`Job::lock_file`] (optional) names a device lock taken before each start
//!   (see `device_lock`); it is waited for up to `device_lock_wait`, then the
//!   attempt fails with "device busy: held by pid N".
//! - [`Job::command`] builds the program and argument vector before each
//!   start. It may fail: [`StartError::retry`] is reported and retried after
//!   the backoff, [`StartError::device`] likewise but marked as a device
//!   problem (phase `waiting-for-device`), [`StartError::fatal`] ends
//!   supervision with an error (bad flags: exit 2).
//! - [`Job::report`] receives every [`Event`] (state transitions, child pid,
//!   exits, errors, the tail of stderr); it is called on transitions only,
//!   never in a hot loop, and whatever it does with them (the state file) is
//!   its business. It must not fail.
//! - [`Job::tick`] is called every [`Spec::tick_every`], for jobs that must
//!   check something outside (a hold re-applying MediaMTX's record switch);
//!   returning false stops supervision like a signal would.
//!
//! # What it does
//!
//! One attempt: [`Spec::rtsp_port`] must have a listening socket (checked in
//! `/proc/net/tcp*`, without connecting: FFmpeg's one-shot RTSP listener
//! treats any connection as its publisher), then the device lock, then the
//! command, then the spawn (through `crate::process`, like every child of
//! the hook). The child is "starting" until its
//! `-progress` output shows frames advancing, then "running". No progress for
//! `stall_timeout` means stalled: it is stopped and restarted. A child that
//! ends, stalls or cannot be started is retried after the backoff delay
//! (`backoff`); a run of `stable_after` resets the schedule.
//!
//! A stop signal stops the child with SIGINT to its process group (FFmpeg
//! closes its output cleanly), SIGKILL after `grace` (after at most 0.5 s for
//! a child still starting, which has nothing to close and may be stuck in a
//! handshake; at once at a second stop signal), reaps it and returns. These
//! decisions (stall, grace, second signal) are pure functions in `decide`.
//! The supervisor knows nothing of the state file: it reports [`Event`]s and
//! the job records them.
//! Waiting in backoff or for the lock ends at once. Everything happens on the calling thread in one `poll()` loop over
//! the signal pipe and the child's stdout and stderr, with a timeout from the
//! next deadline, so the thread that forks the child is the one that lives
//! for the whole run (`PR_SET_PDEATHSIG` is tied to it).

pub(crate) mod backoff;
pub(crate) mod decide;
pub(crate) mod hook_process;
mod job;
mod lines;
mod port;
pub(crate) mod signals;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::signal::Signal;
use time::OffsetDateTime;

use crate::camera::device_lock::{self, DeviceLock};
use crate::ffmpeg::{parse_progress_line, Progress};
use crate::fs::{LockFile, LockWait, Step};
use crate::process::{self, ChildCommand, Spawned};
use crate::supervise::backoff::{Backoff, SplitMix64};
use crate::supervise::signals::Signals;
use decide::{on_second_signal, stall_verdict, stop_deadline, ChildPhase, StallVerdict};

pub(crate) use job::*;
use lines::Lines;
pub use port::port_listening;

/// How often the device lock is tried while waiting for it.
const LOCK_POLL: Duration = Duration::from_millis(50);
/// How long after SIGKILL the supervisor waits for the group to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(2);
/// Grace period for a child that has not produced output yet (still
/// connecting, say): it has nothing to close cleanly, and FFmpeg blocked in
/// an RTSP handshake does not act on SIGINT, so the stop must not wait long.
const STARTING_GRACE: Duration = Duration::from_millis(500);
/// Longest wait in one poll, so a lost parent is noticed.
const MAX_POLL: Duration = Duration::from_secs(1);

/// Supervises `job` until told to stop; see the module doc. Errors only for
/// a fatal [`StartError`] (after everything is stopped).
pub(crate) fn supervise(
    job: &mut dyn Job,
    spec: &Spec,
    signals: &Signals,
) -> Result<Outcome, StartError> {
    if spec.subreaper {
        if let Err(e) = process::become_subreaper() {
            log::warn!("cannot become a child subreaper ({e}); orphans go to init");
        }
    }
    let mut sup = Supervisor {
        job,
        spec,
        signals,
        backoff: Backoff::new(
            spec.policy.initial_delay.0,
            spec.policy.max_delay.0,
            spec.policy.stable_after.0,
            SplitMix64::from_entropy(),
        ),
        attempts: 0,
        parent: process::parent_pid(),
        next_tick: spec.tick_every.map(|d| Instant::now() + d),
    };
    sup.run()
}

enum Stage {
    /// Start an attempt now.
    Attempt,
    /// Waiting for the device lock.
    WaitLock {
        lock: LockFile,
        wait: LockWait,
        next_try: Instant,
    },
    /// A child runs.
    Run(Box<Running>),
    /// Waiting before the next attempt.
    Backoff { until: Instant },
    /// Waiting for what the last attempt lacked (see [`Job::wait_instead`]);
    /// then an attempt at once.
    Wait(Box<dyn Wait>),
}

/// A live child.
struct Running {
    pid: u32,
    started: Instant,
    stdout: Lines,
    stderr: Lines,
    tail: VecDeque<String>,
    progress: Progress,
    last_progress: Instant,
    phase: ChildPhase,
    /// Why it is being stopped, once it is: stalled or stopped.
    stopping: Option<ExitReason>,
    /// When SIGINT was sent.
    stop_sent: Option<Instant>,
    kill_at: Option<Instant>,
    killed: bool,
    _lock: Option<DeviceLock>,
}

struct Supervisor<'a> {
    job: &'a mut dyn Job,
    spec: &'a Spec,
    signals: &'a Signals,
    backoff: Backoff,
    attempts: u64,
    parent: u32,
    next_tick: Option<Instant>,
}

/// A stop request: which signal (0 when not a signal) and why.
#[derive(Clone, Copy)]
struct Stop {
    signal: i32,
    outcome: Outcome,
    /// Stop signals counted when it began (see [`on_second_signal`]).
    signals_at_begin: usize,
}

/// What [`Supervisor::begin_stop`] decided.
enum Begun {
    /// A child runs: it is being stopped; the loop goes on until it is reaped.
    ChildStopping,
    /// Nothing ran: supervision is over.
    Done(Outcome),
}

impl Supervisor<'_> {
    fn run(&mut self) -> Result<Outcome, StartError> {
        let mut stage = Stage::Attempt;
        let mut stop: Option<Stop> = None;
        loop {
            self.signals.drain();
            if self.spec.subreaper {
                // Orphans re-parented to us end at any time; SIGCHLD woke us.
                let keep = match &stage {
                    Stage::Run(child) => Some(child.pid),
                    _ => None,
                };
                process::reap_orphans(keep);
            }
            match &stop {
                None => {
                    if let Some(s) = self.stop_request() {
                        stop = Some(s);
                        if let Begun::Done(outcome) = self.begin_stop(&mut stage, s) {
                            return Ok(outcome);
                        }
                    }
                }
                Some(s) => {
                    if on_second_signal(
                        s.signal != 0,
                        s.signals_at_begin,
                        self.signals.stop_count(),
                    ) {
                        // Another stop signal: no more grace.
                        if let Stage::Run(child) = &mut stage {
                            child.kill_at = Some(Instant::now());
                        }
                    }
                }
            }

            stage = match stage {
                Stage::Attempt => self.attempt()?,
                Stage::WaitLock {
                    lock,
                    mut wait,
                    next_try,
                } => {
                    let now = Instant::now();
                    if now < next_try {
                        Stage::WaitLock {
                            lock,
                            wait,
                            next_try,
                        }
                    } else {
                        match wait.step(&lock, now) {
                            Ok(Step::Held) => self.launch(Some(DeviceLock::claim(lock)))?,
                            Ok(Step::TimedOut) => {
                                let file = lock.path();
                                let holder = device_lock::holder(file)
                                    .map_or_else(|| "unknown".to_string(), |p| p.to_string());
                                self.fail(
                                    format!(
                                        "device busy: held by pid {holder} for more than {} (lock {})",
                                        crate::policy::duration::Dur(self.spec.policy.device_lock_wait.0),
                                        file.display()
                                    ),
                                    true,
                                    ErrorOrigin::LockHeld {
                                        holder: device_lock::holder(file),
                                    },
                                    Duration::ZERO,
                                )
                            }
                            Ok(Step::TryAt(next_try)) => Stage::WaitLock {
                                lock,
                                wait,
                                next_try,
                            },
                            Err(e) => self.fail(
                                format!("cannot take device lock {}: {e}", lock.path().display()),
                                false,
                                ErrorOrigin::Lock,
                                Duration::ZERO,
                            ),
                        }
                    }
                }
                Stage::Backoff { until } => {
                    if Instant::now() >= until {
                        Stage::Attempt
                    } else {
                        Stage::Backoff { until }
                    }
                }
                Stage::Wait(mut wait) => {
                    if wait.ready() {
                        // What was away is back: a fresh start, not to be
                        // delayed by the schedule the outage grew.
                        log::info!("it is back: starting {} now", self.job.name());
                        self.backoff.reset();
                        Stage::Attempt
                    } else {
                        Stage::Wait(wait)
                    }
                }
                Stage::Run(mut child) => {
                    self.pump(&mut child);
                    if let Some(status) = process::peek_exit(child.pid) {
                        // The group id stays reserved until the reap below:
                        // kill whatever the child left in its group first.
                        process::kill_group(child.pid, Signal::SIGKILL);
                        process::reap(child.pid);
                        if self.spec.subreaper {
                            process::reap_orphans(None);
                        }
                        self.pump(&mut child);
                        let exit = ChildExit {
                            at: OffsetDateTime::now_utc(),
                            status,
                            ran: child.started.elapsed(),
                            reason: child.stopping.unwrap_or(ExitReason::Exited),
                        };
                        self.report_exit(&child, &exit);
                        drop(child);
                        if let Some(s) = stop {
                            self.finish_stop();
                            return Ok(s.outcome);
                        }
                        let message = self.exit_message(&exit);
                        let origin = match exit.reason {
                            ExitReason::Stalled => ErrorOrigin::Stalled,
                            _ => ErrorOrigin::Exited,
                        };
                        self.fail(message, false, origin, exit.ran)
                    } else {
                        self.watch(&mut child, stop.is_some());
                        Stage::Run(child)
                    }
                }
            };

            if let Some(at) = self.next_tick {
                if Instant::now() >= at {
                    self.next_tick = self.spec.tick_every.map(|d| Instant::now() + d);
                    if stop.is_none() && !self.job.tick() {
                        let s = Stop {
                            signal: 0,
                            outcome: Outcome::Finished,
                            signals_at_begin: self.signals.stop_count(),
                        };
                        stop = Some(s);
                        if let Begun::Done(outcome) = self.begin_stop(&mut stage, s) {
                            return Ok(outcome);
                        }
                    }
                }
            }

            if matches!(stage, Stage::Attempt) {
                continue;
            }
            self.wait(&stage);
        }
    }

    /// A stop signal, a lost parent, or nothing.
    fn stop_request(&self) -> Option<Stop> {
        if let Some(signal) = self.signals.stop_signal() {
            log::info!(
                "{} received: stopping {}",
                process::signal_name(signal),
                self.job.name()
            );
            return Some(Stop {
                signal,
                outcome: Outcome::Signal(signal),
                signals_at_begin: self.signals.stop_count(),
            });
        }
        if self.spec.stop_when_orphaned && self.parent != 1 && process::parent_pid() != self.parent
        {
            log::warn!(
                "parent process {} is gone: stopping {}",
                self.parent,
                self.job.name()
            );
            return Some(Stop {
                signal: 0,
                outcome: Outcome::Orphaned,
                signals_at_begin: self.signals.stop_count(),
            });
        }
        None
    }

    /// One start attempt: port, lock, command, spawn.
    fn attempt(&mut self) -> Result<Stage, StartError> {
        self.attempts += 1;
        if let Some(port) = self.spec.rtsp_port {
            if !port_listening(port) {
                return Ok(self.fail(
                    format!(
                        "MediaMTX RTSP port {port} unreachable: nothing listens on 127.0.0.1:{port} (is MediaMTX running, and is its rtspAddress that port?)"
                    ),
                    false,
                    ErrorOrigin::PortUnreachable,
                    Duration::ZERO,
                ));
            }
        }
        let Some(file) = self.job.lock_file() else {
            return self.launch(None);
        };
        let taken = LockFile::open(&file).and_then(|lock| Ok((lock.try_lock()?, lock)));
        match taken {
            Ok((true, lock)) => self.launch(Some(DeviceLock::claim(lock))),
            Ok((false, lock)) => {
                let holder = device_lock::holder(&file);
                log::info!(
                    "device lock {} held by pid {}; waiting up to {}",
                    file.display(),
                    holder.map_or_else(|| "?".to_string(), |p| p.to_string()),
                    crate::policy::duration::Dur(self.spec.policy.device_lock_wait.0)
                );
                self.job.report(Event::WaitingForLock);
                let now = Instant::now();
                Ok(Stage::WaitLock {
                    lock,
                    wait: LockWait::new(now + self.spec.policy.device_lock_wait.0, LOCK_POLL),
                    next_try: now + LOCK_POLL,
                })
            }
            Err(e) => Ok(self.fail(
                format!("cannot take device lock {}: {e}", file.display()),
                false,
                ErrorOrigin::Lock,
                Duration::ZERO,
            )),
        }
    }

    /// Builds the command and spawns it (the lock, if any, is held).
    fn launch(&mut self, lock: Option<DeviceLock>) -> Result<Stage, StartError> {
        let launch = match self.job.command() {
            Ok(l) => l,
            Err(e) => {
                return match e.kind {
                    StartErrorKind::Fatal(_) => {
                        self.job.report(Event::Error {
                            message: &e.message,
                            origin: ErrorOrigin::Command,
                        });
                        Err(e)
                    }
                    StartErrorKind::Device => {
                        Ok(self.fail(e.message, true, ErrorOrigin::Command, Duration::ZERO))
                    }
                    StartErrorKind::Retry => {
                        Ok(self.fail(e.message, false, ErrorOrigin::Command, Duration::ZERO))
                    }
                }
            }
        };
        log::debug!("starting {:?} {:?}", launch.program, launch.args);
        let mut child = if launch.is_hook {
            ChildCommand::hook(&launch.program, &launch.args)
        } else {
            ChildCommand::tool(&launch.program, &launch.args)
        };
        if let Some(lock) = &lock {
            child = child.keep_fd(lock.fd());
        }
        let spawned = child.spawn_piped();
        let Spawned {
            pid,
            stdout,
            stderr,
        } = match spawned {
            Ok(s) => s,
            Err(e) => {
                return Ok(self.fail(
                    format!("cannot start {}: {e}", launch.program.display()),
                    false,
                    ErrorOrigin::Spawn,
                    Duration::ZERO,
                ))
            }
        };
        let restarts = self.attempts - 1;
        log::info!(
            "started {} (pid {pid}){}",
            self.job.name(),
            if restarts > 0 {
                format!(", restart {restarts}")
            } else {
                String::new()
            }
        );
        self.job.report(Event::Started {
            pid,
            at: OffsetDateTime::now_utc(),
            restarts,
        });
        let started = Instant::now();
        Ok(Stage::Run(Box::new(Running {
            pid,
            started,
            stdout: Lines::new(stdout),
            stderr: Lines::new(stderr),
            tail: VecDeque::with_capacity(STDERR_TAIL_LINES),
            progress: Progress::default(),
            last_progress: started,
            phase: ChildPhase::Starting,
            stopping: None,
            stop_sent: None,
            kill_at: None,
            killed: false,
            _lock: lock,
        })))
    }

    /// Records a failed attempt and schedules the next one: when the
    /// device is back if the job waits for it, else after the backoff.
    fn fail(&mut self, message: String, device: bool, origin: ErrorOrigin, ran: Duration) -> Stage {
        let delay = self.backoff.next_delay(ran);
        self.job.report(Event::Error {
            message: &message,
            origin,
        });
        if let Some(wait) = self.job.wait_instead() {
            log::warn!("{message}; waiting for {}", wait.what());
            self.job.report(Event::AwaitingDevice);
            return Stage::Wait(wait);
        }
        log::warn!(
            "{message}; next attempt in {} ms (failure {})",
            delay.as_millis(),
            self.backoff.failures()
        );
        self.job.report(Event::Backoff {
            until: OffsetDateTime::now_utc() + delay,
            restarts: self.attempts,
            device,
        });
        Stage::Backoff {
            until: Instant::now() + delay,
        }
    }

    /// Reads what the child wrote: progress from stdout, the stderr tail.
    fn pump(&mut self, child: &mut Running) {
        let mut advanced = false;
        let before = child.progress;
        for line in child.stdout.read_lines() {
            if parse_progress_line(&line, &mut child.progress)
                && child.progress.advanced_since(&before)
            {
                advanced = true;
            }
        }
        for line in child.stderr.read_lines() {
            log::debug!("{}: {line}", self.job.name());
            if child.tail.len() == STDERR_TAIL_LINES {
                child.tail.pop_front();
            }
            child.tail.push_back(line);
        }
        if advanced {
            child.last_progress = Instant::now();
            if child.phase == ChildPhase::Starting {
                child.phase = ChildPhase::Running;
                log::info!(
                    "{} running: frames flowing after {} ms",
                    self.job.name(),
                    child.started.elapsed().as_millis()
                );
                self.job.report(Event::Running { pid: child.pid });
            }
        }
    }

    /// Stall watchdog and the SIGKILL deadline.
    fn watch(&mut self, child: &mut Running, stopping: bool) {
        let now = Instant::now();
        if !stopping && child.stopping.is_none() {
            let timeout = self.spec.policy.stall_timeout.0;
            if let StallVerdict::Stalled { quiet } =
                stall_verdict(child.last_progress, now, timeout)
            {
                log::warn!(
                    "{} (pid {}) stalled: no new frames for {} ms; restarting it",
                    self.job.name(),
                    child.pid,
                    quiet.as_millis()
                );
                self.signal_stop(child, ExitReason::Stalled);
            }
        }
        if let Some(at) = child.kill_at {
            if now >= at && !child.killed {
                log::warn!(
                    "{} (pid {}) still running {} ms after SIGINT: SIGKILL",
                    self.job.name(),
                    child.pid,
                    now.duration_since(child.stop_sent.unwrap_or(now))
                        .as_millis()
                );
                process::kill_group(child.pid, Signal::SIGKILL);
                child.killed = true;
            }
        }
    }

    /// The one way a stop begins (a signal, the job's tick, a lost parent):
    /// reported, then the child (if one runs) is asked to stop; with no
    /// child, supervision is over at once.
    fn begin_stop(&mut self, stage: &mut Stage, stop: Stop) -> Begun {
        self.job.report(Event::Stopping);
        match stage {
            Stage::Run(child) => {
                self.signal_stop(child, ExitReason::Stopped);
                Begun::ChildStopping
            }
            _ => {
                self.job.report(Event::Stopped);
                Begun::Done(stop.outcome)
            }
        }
    }

    /// SIGINT to the child's group; SIGKILL after the grace period (short
    /// for a child that never got going). A child already being stopped
    /// keeps its first reason and deadline.
    fn signal_stop(&self, child: &mut Running, why: ExitReason) {
        if child.stopping.is_none() {
            let grace = stop_deadline(child.phase, self.spec.policy.grace.0, STARTING_GRACE);
            let now = Instant::now();
            child.stopping = Some(why);
            child.stop_sent = Some(now);
            child.kill_at = Some(now + grace);
            process::kill_group(child.pid, Signal::SIGINT);
        }
    }

    /// After the child is reaped on a stop: reap stragglers, report.
    fn finish_stop(&mut self) {
        if self.spec.subreaper {
            // Orphans of the child were killed with its group; reap them.
            let end = Instant::now() + KILL_WAIT;
            while process::has_children() && Instant::now() < end {
                process::reap_orphans(None);
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.job.report(Event::Stopped);
    }

    fn report_exit(&mut self, child: &Running, exit: &ChildExit) {
        let tail: Vec<String> = child.tail.iter().cloned().collect();
        let status = exit.status;
        if exit.reason == ExitReason::Stopped {
            log::info!(
                "{} (pid {}) stopped: {status} after {:.1} s",
                self.job.name(),
                child.pid,
                exit.ran.as_secs_f64()
            );
        } else if !tail.is_empty() {
            log::warn!(
                "{} (pid {}) {}: {status}; its last stderr lines:\n  {}",
                self.job.name(),
                child.pid,
                exit.reason,
                tail.join("\n  ")
            );
        }
        self.job.report(Event::Exited {
            exit,
            stderr_tail: &tail,
        });
    }

    fn exit_message(&self, exit: &ChildExit) -> String {
        match exit.reason {
            ExitReason::Stalled => format!(
                "{} stalled (no new frames for {}) and was restarted",
                self.job.name(),
                crate::policy::duration::Dur(self.spec.policy.stall_timeout.0)
            ),
            ExitReason::Exited | ExitReason::Stopped => format!(
                "{} exited ({}) after {:.1} s",
                self.job.name(),
                exit.status,
                exit.ran.as_secs_f64()
            ),
        }
    }

    /// Sleeps in poll() until a signal, child output, or the next deadline.
    fn wait(&mut self, stage: &Stage) {
        let now = Instant::now();
        let mut deadline = now + MAX_POLL;
        let mut fds = vec![self.signals.fd()];
        match stage {
            Stage::Attempt => return,
            Stage::WaitLock { next_try, .. } => deadline = deadline.min(*next_try),
            Stage::Backoff { until } => deadline = deadline.min(*until),
            Stage::Wait(wait) => {
                deadline = deadline.min(wait.next_check());
                fds.extend(wait.fd());
            }
            Stage::Run(child) => {
                if child.stopping.is_none() {
                    let timeout = self.spec.policy.stall_timeout.0;
                    if let StallVerdict::Progressing { check_at } =
                        stall_verdict(child.last_progress, now, timeout)
                    {
                        deadline = deadline.min(check_at);
                    }
                }
                if let (Some(at), false) = (child.kill_at, child.killed) {
                    deadline = deadline.min(at);
                }
                if child.killed {
                    // Waiting for the reap after SIGKILL; SIGCHLD wakes us,
                    // but don't trust a lost wakeup for long.
                    deadline = deadline.min(now + Duration::from_millis(50));
                }
                fds.extend([&child.stdout, &child.stderr].iter().filter_map(|l| l.fd()));
            }
        }
        if let Some(t) = self.next_tick {
            deadline = deadline.min(t);
        }
        let ms = decide::poll_millis(now, deadline, MAX_POLL);
        let mut polled: Vec<PollFd> = fds
            .into_iter()
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        // A signal interrupting the poll is what wakes us; nothing to handle.
        let _ = poll(&mut polled, ms);
    }
}
