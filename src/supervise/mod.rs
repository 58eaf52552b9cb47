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
//! command, then the spawn (see `process`). The child is "starting" until its
//! `-progress` output shows frames advancing, then "running". No progress for
//! `stall_timeout` means stalled: it is stopped and restarted. A child that
//! ends, stalls or cannot be started is retried after the backoff delay
//! (`backoff`); a run of `stable_after` resets the schedule. Each time a
//! child is running, the pages only the start needed are let go
//! (`footprint`), so a supervisor that lives as long as its stream keeps
//! resident only what its loop uses.
//!
//! A stop signal stops the child with SIGINT to its process group (FFmpeg
//! closes its output cleanly), SIGKILL after `grace` (after at most 0.5 s for
//! a child still starting, which has nothing to close and may be stuck in a
//! handshake; at once at a second stop signal), reaps it and returns.
//! Waiting in backoff or for the lock ends at once. Everything happens on the calling thread in one `poll()` loop over
//! the signal pipe and the child's stdout and stderr, with a timeout from the
//! next deadline, so the thread that forks the child is the one that lives
//! for the whole run (`PR_SET_PDEATHSIG` is tied to it).

pub mod backoff;
pub mod footprint;
pub mod hook_process;
mod job;
mod lines;
mod port;
pub mod process;
pub mod signals;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::camera::device_lock::{self, DeviceLock};
use crate::ffmpeg::{parse_progress_line, Progress};
use crate::state::{now, ExitRecord, STDERR_TAIL_LINES};
use crate::supervise::backoff::{Backoff, SplitMix64};
use crate::supervise::signals::Signals;
use process::{ExitStatus, Spawned};

pub use job::*;
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
pub fn supervise(job: &mut dyn Job, spec: &Spec, signals: &Signals) -> Result<Outcome, StartError> {
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
        file: PathBuf,
        until: Instant,
        next_try: Instant,
    },
    /// A child runs.
    Run(Box<Running>),
    /// Waiting before the next attempt.
    Backoff { until: Instant },
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
    running: bool,
    /// Why it is being stopped, once it is: `stalled` or `stopped`.
    stopping: Option<&'static str>,
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
}

impl Supervisor<'_> {
    fn run(&mut self) -> Result<Outcome, StartError> {
        let mut stage = Stage::Attempt;
        let mut stop: Option<Stop> = None;
        let mut stops_seen = 0usize;
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
            if stop.is_none() {
                stop = self.stop_request();
                if let Some(s) = stop {
                    // Only a stop signal after this one hurries the stop; a
                    // stop that was not a signal is hurried by the second.
                    stops_seen = self.signals.stop_count() + usize::from(s.signal == 0);
                    self.job.report(Event::Stopping { signal: s.signal });
                    match &mut stage {
                        Stage::Run(child) => self.begin_stop(child, "stopped"),
                        _ => {
                            self.job.report(Event::Stopped);
                            return Ok(s.outcome);
                        }
                    }
                }
            } else if self.signals.stop_count() > stops_seen {
                // A second stop signal: no more grace.
                stops_seen = self.signals.stop_count();
                if let Stage::Run(child) = &mut stage {
                    child.kill_at = Some(Instant::now());
                }
            }

            stage = match stage {
                Stage::Attempt => self.attempt()?,
                Stage::WaitLock {
                    file,
                    until,
                    next_try,
                } => {
                    let now = Instant::now();
                    if now < next_try {
                        Stage::WaitLock {
                            file,
                            until,
                            next_try,
                        }
                    } else {
                        match DeviceLock::try_acquire(&file) {
                            Ok(Some(lock)) => self.launch(Some(lock))?,
                            Ok(None) if now >= until => {
                                let holder = device_lock::holder(&file)
                                    .map_or_else(|| "unknown".to_string(), |p| p.to_string());
                                self.fail(
                                    format!(
                                        "device busy: held by pid {holder} for more than {} (lock {})",
                                        crate::policy::duration::Dur(self.spec.policy.device_lock_wait.0),
                                        file.display()
                                    ),
                                    true,
                                    Duration::ZERO,
                                )
                            }
                            Ok(None) => Stage::WaitLock {
                                file,
                                until,
                                next_try: now + LOCK_POLL,
                            },
                            Err(e) => self.fail(
                                format!("cannot take device lock {}: {e}", file.display()),
                                false,
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
                Stage::Run(mut child) => {
                    self.pump(&mut child);
                    if let Some(status) = process::peek_exit(child.pid) {
                        // The group id stays reserved until the reap below:
                        // kill whatever the child left in its group first.
                        process::kill_group(child.pid, libc::SIGKILL);
                        process::reap(child.pid);
                        if self.spec.subreaper {
                            process::reap_orphans(None);
                        }
                        self.pump(&mut child);
                        let ran = child.started.elapsed();
                        let reason = child.stopping.unwrap_or("exited");
                        self.report_exit(&child, status, reason);
                        drop(child);
                        if let Some(s) = stop {
                            self.finish_stop();
                            return Ok(s.outcome);
                        }
                        let message = self.exit_message(status, reason, ran);
                        self.fail(message, false, ran)
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
                        stop = Some(Stop {
                            signal: 0,
                            outcome: Outcome::Finished,
                        });
                        stops_seen = self.signals.stop_count() + 1;
                        self.job.report(Event::Stopping { signal: 0 });
                        match &mut stage {
                            Stage::Run(child) => self.begin_stop(child, "stopped"),
                            _ => {
                                self.job.report(Event::Stopped);
                                return Ok(Outcome::Finished);
                            }
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
                    Duration::ZERO,
                ));
            }
        }
        let Some(file) = self.job.lock_file() else {
            return self.launch(None);
        };
        match DeviceLock::try_acquire(&file) {
            Ok(Some(lock)) => self.launch(Some(lock)),
            Ok(None) => {
                let holder = device_lock::holder(&file);
                log::info!(
                    "device lock {} held by pid {}; waiting up to {}",
                    file.display(),
                    holder.map_or_else(|| "?".to_string(), |p| p.to_string()),
                    crate::policy::duration::Dur(self.spec.policy.device_lock_wait.0)
                );
                self.job.report(Event::WaitingForLock { holder });
                let now = Instant::now();
                Ok(Stage::WaitLock {
                    file,
                    until: now + self.spec.policy.device_lock_wait.0,
                    next_try: now + LOCK_POLL,
                })
            }
            Err(e) => Ok(self.fail(
                format!("cannot take device lock {}: {e}", file.display()),
                false,
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
                            device: false,
                        });
                        Err(e)
                    }
                    StartErrorKind::Device => Ok(self.fail(e.message, true, Duration::ZERO)),
                    StartErrorKind::Retry => Ok(self.fail(e.message, false, Duration::ZERO)),
                }
            }
        };
        log::debug!("starting {:?} {:?}", launch.program, launch.args);
        let spawned = process::spawn(&launch.program, &launch.args, lock.as_ref().map(|l| l.fd()));
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
            at: now(),
            restarts,
            launch: &launch,
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
            running: false,
            stopping: None,
            stop_sent: None,
            kill_at: None,
            killed: false,
            _lock: lock,
        })))
    }

    /// Records a failed attempt and schedules the next one.
    fn fail(&mut self, message: String, device: bool, ran: Duration) -> Stage {
        let delay = self.backoff.next_delay(ran);
        log::warn!(
            "{message}; next attempt in {} ms (failure {})",
            delay.as_millis(),
            self.backoff.failures()
        );
        self.job.report(Event::Error {
            message: &message,
            device,
        });
        self.job.report(Event::Backoff {
            until: now() + delay,
            delay,
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
            if !child.running {
                child.running = true;
                log::info!(
                    "{} running: frames flowing after {} ms",
                    self.job.name(),
                    child.started.elapsed().as_millis()
                );
                self.job.report(Event::Running { pid: child.pid });
                // Startup, or the restart just done, touched code the loop
                // does not run; let those pages go (after the start, so it
                // is not slowed by faulting them back in).
                crate::supervise::footprint::drop_startup_text();
            }
        }
    }

    /// Stall watchdog and the SIGKILL deadline.
    fn watch(&mut self, child: &mut Running, stopping: bool) {
        let now = Instant::now();
        if !stopping && child.stopping.is_none() {
            let quiet = now.duration_since(child.last_progress);
            if quiet >= self.spec.policy.stall_timeout.0 {
                log::warn!(
                    "{} (pid {}) stalled: no new frames for {} ms; restarting it",
                    self.job.name(),
                    child.pid,
                    quiet.as_millis()
                );
                self.begin_stop(child, "stalled");
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
                process::kill_group(child.pid, libc::SIGKILL);
                child.killed = true;
            }
        }
    }

    /// SIGINT to the child's group; SIGKILL after the grace period (short
    /// for a child that never got going).
    fn begin_stop(&self, child: &mut Running, why: &'static str) {
        if child.stopping.is_none() {
            let grace = if child.running {
                self.spec.policy.grace.0
            } else {
                self.spec.policy.grace.0.min(STARTING_GRACE)
            };
            let now = Instant::now();
            child.stopping = Some(why);
            child.stop_sent = Some(now);
            child.kill_at = Some(now + grace);
            process::kill_group(child.pid, libc::SIGINT);
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

    fn report_exit(&mut self, child: &Running, status: ExitStatus, reason: &str) {
        let ran = child.started.elapsed();
        let record = ExitRecord {
            at: now(),
            code: status.code(),
            signal: status.signal(),
            ran_seconds: (ran.as_secs_f64() * 1000.0).round() / 1000.0,
            reason: reason.to_string(),
        };
        let tail: Vec<String> = child.tail.iter().cloned().collect();
        if reason == "stopped" {
            log::info!(
                "{} (pid {}) stopped: {status} after {:.1} s",
                self.job.name(),
                child.pid,
                ran.as_secs_f64()
            );
        } else if !tail.is_empty() {
            log::warn!(
                "{} (pid {}) {reason}: {status}; its last stderr lines:\n  {}",
                self.job.name(),
                child.pid,
                tail.join("\n  ")
            );
        }
        self.job.report(Event::Exited {
            pid: child.pid,
            record: &record,
            stderr_tail: &tail,
        });
    }

    fn exit_message(&self, status: ExitStatus, reason: &str, ran: Duration) -> String {
        match reason {
            "stalled" => format!(
                "{} stalled (no new frames for {}) and was restarted",
                self.job.name(),
                crate::policy::duration::Dur(self.spec.policy.stall_timeout.0)
            ),
            _ => format!(
                "{} exited ({status}) after {:.1} s",
                self.job.name(),
                ran.as_secs_f64()
            ),
        }
    }

    /// Sleeps in poll() until a signal, child output, or the next deadline.
    fn wait(&mut self, stage: &Stage) {
        let now = Instant::now();
        let mut deadline = now + MAX_POLL;
        let mut fds = vec![libc::pollfd {
            fd: self.signals.fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        match stage {
            Stage::Attempt => return,
            Stage::WaitLock { next_try, .. } => deadline = deadline.min(*next_try),
            Stage::Backoff { until } => deadline = deadline.min(*until),
            Stage::Run(child) => {
                if child.stopping.is_none() {
                    deadline = deadline.min(child.last_progress + self.spec.policy.stall_timeout.0);
                }
                if let (Some(at), false) = (child.kill_at, child.killed) {
                    deadline = deadline.min(at);
                }
                if child.killed {
                    // Waiting for the reap after SIGKILL; SIGCHLD wakes us,
                    // but don't trust a lost wakeup for long.
                    deadline = deadline.min(now + Duration::from_millis(50));
                }
                for lines in [&child.stdout, &child.stderr] {
                    if let Some(fd) = lines.fd() {
                        fds.push(libc::pollfd {
                            fd,
                            events: libc::POLLIN,
                            revents: 0,
                        });
                    }
                }
            }
        }
        if let Some(t) = self.next_tick {
            deadline = deadline.min(t);
        }
        let timeout = deadline.saturating_duration_since(now);
        // Round up so a deadline is never missed by a millisecond and spun on.
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: poll over pollfds we own, for at most `ms`.
        unsafe {
            libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms);
        }
    }
}
