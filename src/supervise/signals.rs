//! The signals a supervisor listens to, turned into something a `poll()`
//! loop can wait on.
//!
//! The handlers (installed through `signal-hook`) do only async-signal-safe
//! work: SIGINT, SIGTERM and SIGHUP record which stop signal came and count
//! them, and every handled signal, SIGCHLD included, writes a byte into a
//! self-pipe. The supervisor polls the pipe's read end beside its children's
//! output, so a signal wakes it at once wherever it is waiting: in backoff,
//! for the device lock, or while a child runs.
//!
//! SIGUSR1 and SIGUSR2 mean nothing to the hook, but their default action
//! kills a process: a stray one (a mistyped `kill`, a log rotator aimed at
//! the wrong pid) would end the stream without stopping FFmpeg cleanly. They
//! get a handler that does nothing, not `SIG_IGN`, because an ignored signal
//! stays ignored across exec and FFmpeg should keep its defaults. SIGPIPE is
//! already ignored by the Rust runtime (writes fail with EPIPE instead).

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;

use nix::sys::signal::Signal;

/// The signals that ask the hook to stop.
pub(crate) const STOP_SIGNALS: [i32; 3] = [
    Signal::SIGINT as i32,
    Signal::SIGTERM as i32,
    Signal::SIGHUP as i32,
];

/// Signals that are caught and dropped, so they cannot kill the hook.
pub(crate) const IGNORED_SIGNALS: [i32; 2] = [Signal::SIGUSR1 as i32, Signal::SIGUSR2 as i32];

/// Installed signal handlers and the self-pipe they wake.
#[derive(Debug)]
pub(crate) struct Signals {
    wake: UnixStream,
    last_stop: Arc<AtomicI32>,
    stops: Arc<AtomicUsize>,
}

impl Signals {
    /// Installs handlers for SIGINT, SIGTERM, SIGHUP and SIGCHLD, and the
    /// do-nothing ones for SIGUSR1 and SIGUSR2. The handlers stay for the life
    /// of the process (a supervisor runs until it exits).
    pub(crate) fn install() -> io::Result<Signals> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        let last_stop = Arc::new(AtomicI32::new(0));
        let stops = Arc::new(AtomicUsize::new(0));
        for sig in STOP_SIGNALS {
            let (last, count) = (last_stop.clone(), stops.clone());
            // SAFETY: signal-hook has no safe registration for an action of
            // our own; this one only stores to atomics (async-signal-safe).
            unsafe {
                signal_hook::low_level::register(sig, move || {
                    last.store(sig, Ordering::SeqCst);
                    count.fetch_add(1, Ordering::SeqCst);
                })?;
            }
            // Registered after the flag, so the flag is set when the byte arrives.
            signal_hook::low_level::pipe::register(sig, write.try_clone()?)?;
        }
        signal_hook::low_level::pipe::register(Signal::SIGCHLD as i32, write)?;
        // A handler that only sets a flag nobody reads: the signal is caught
        // (neither fatal nor ignored, so not ignored in the children either).
        let caught = Arc::new(std::sync::atomic::AtomicBool::new(false));
        for sig in IGNORED_SIGNALS {
            signal_hook::flag::register(sig, caught.clone())?;
        }
        Ok(Signals {
            wake: read,
            last_stop,
            stops,
        })
    }

    /// The descriptor to poll for readability.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// Empties the self-pipe (signals coalesce; the flags say what came).
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = (&self.wake).read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }

    /// The last stop signal received, if any.
    pub(crate) fn stop_signal(&self) -> Option<i32> {
        match self.last_stop.load(Ordering::SeqCst) {
            0 => None,
            sig => Some(sig),
        }
    }

    /// How many stop signals have arrived (a second one hurries the stop).
    pub(crate) fn stop_count(&self) -> usize {
        self.stops.load(Ordering::SeqCst)
    }
}
