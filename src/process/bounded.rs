//! A child run to completion within a deadline, its output collected.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;

use super::{kill_group, peek_exit, reap_blocking, ChildCommand, ExitStatus};

/// How [`run_bounded`] ended a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BoundedEnd {
    /// It exited by itself.
    Exited(ExitStatus),
    /// The deadline passed first: its group was killed.
    TimedOut,
    /// Its stdout outgrew the bound: its group was killed.
    TooMuchOutput,
}

/// What [`run_bounded`] collected.
#[derive(Debug)]
pub(crate) struct BoundedRun {
    pub end: BoundedEnd,
    /// Everything it wrote to stdout (at most the bound).
    pub stdout: Vec<u8>,
    /// The last 4 KiB it wrote to stderr.
    pub stderr: Vec<u8>,
}

/// Starts `child` (piped, see [`ChildCommand::spawn_piped`]) and collects its
/// stdout (at most `max_stdout` bytes) and the tail of its stderr until it
/// exits or `deadline` passes. Whatever happens, its process group is then
/// sent SIGKILL (so nothing it started outlives it) and it is reaped before
/// this returns.
pub(crate) fn run_bounded(
    child: ChildCommand,
    deadline: Instant,
    max_stdout: usize,
) -> io::Result<BoundedRun> {
    const STDERR_TAIL: usize = 4096;
    let child = child.spawn_piped()?;
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut open = [true, true];
    let mut buf = vec![0u8; 64 * 1024];
    let end = loop {
        let exited = peek_exit(child.pid);
        // Drain what is there (after an exit, everything it wrote is).
        for (i, fd) in [&child.stdout, &child.stderr].into_iter().enumerate() {
            while open[i] && out.len() <= max_stdout {
                match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                    Ok(0) => open[i] = false,
                    Ok(n) if i == 0 => out.extend_from_slice(&buf[..n]),
                    Ok(n) => {
                        err.extend_from_slice(&buf[..n]);
                        if err.len() > STDERR_TAIL {
                            err.drain(..err.len() - STDERR_TAIL);
                        }
                    }
                    Err(Errno::EINTR) => {}
                    Err(Errno::EAGAIN) => break,
                    Err(_) => open[i] = false,
                }
            }
        }
        if out.len() > max_stdout {
            out.truncate(max_stdout);
            break BoundedEnd::TooMuchOutput;
        }
        if let Some(status) = exited {
            break BoundedEnd::Exited(status);
        }
        let now = Instant::now();
        if now >= deadline {
            break BoundedEnd::TimedOut;
        }
        // Wait for output (at most 10 ms, to look at the child again), or
        // 1 ms once both pipes are closed and only its exit is awaited.
        let step = if open.contains(&true) { 10 } else { 1 };
        let wait = (deadline - now).min(Duration::from_millis(step));
        let mut fds: Vec<PollFd> = [&child.stdout, &child.stderr]
            .into_iter()
            .zip(open)
            .filter(|(_, o)| *o)
            .map(|(fd, _)| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        // An empty set just sleeps; an interrupted poll is looked at again.
        let _ = poll(&mut fds, PollTimeout::from(wait.as_millis() as u16));
    };
    // The leader is not reaped yet, so its group id still names its group.
    kill_group(child.pid, Signal::SIGKILL);
    reap_blocking(child.pid);
    Ok(BoundedRun {
        end,
        stdout: out,
        stderr: err,
    })
}
