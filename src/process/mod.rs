//! The one place children are started, signalled and reaped.
//!
//! Every child the hook starts is described by a [`ChildCommand`] and started
//! through it; no other module calls `std::process::Command` (a test greps
//! `src/` for that). A child is started without a shell, from an argument
//! vector, with stdin `/dev/null`. Between fork and exec (in `pre_exec`,
//! where only async-signal-safe calls are allowed, so nothing there
//! allocates) every child gets the same treatment:
//!
//! - Its own process group (so one `killpg` reaches everything it starts),
//!   or for a detached `hook hold` its own session (no terminal's SIGHUP
//!   reaches it, and it outlives the `hook record start` that started it).
//! - `PR_SET_PDEATHSIG(SIGKILL)` for a child that must die with the hook: it
//!   dies when the thread that forked it dies. The supervisor forks from the
//!   main thread, which lives for the whole run, so this means "when the hook
//!   dies", even by SIGKILL. If the hook died between fork and `prctl`,
//!   `getppid` no longer names it and the child gives up instead of running
//!   orphaned.
//! - The signal mask is emptied and every disposition set back to its
//!   default: a mask or an "ignore" inherited from the hook (or from whoever
//!   started it) would make FFmpeg deaf to the SIGINT that asks it to stop.
//! - Every descriptor above 2 is closed on exec except the ones passed with
//!   [`ChildCommand::keep_fd`] (the device lock, so FFmpeg holds the lock too,
//!   until it is really gone): whatever MediaMTX leaked to the hook (its
//!   listening sockets, log files) does not reach FFmpeg.
//!
//! A child that is not the hook itself (FFmpeg) also starts without the
//! secrets of the hook's environment ([`SECRET_ENV`]); a `hook` child (the
//! hold, the native reader) keeps them, it needs them.

mod bounded;
pub(crate) mod identity;
mod wait;

pub(crate) use bounded::*;
pub(crate) use wait::*;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::signal::{pthread_sigmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{getppid, Pid};

/// Environment variables holding credentials, removed from the environment
/// of every child that is not a `hook` process.
pub(crate) const SECRET_ENV: [&str; 4] = [
    "HOOK_RTSP_USER",
    "HOOK_RTSP_PASS",
    "HOOK_MTX_API_USER",
    "HOOK_MTX_API_PASS",
];

/// A started child: its pid (also its process group id) and the read ends of
/// its stdout and stderr, non-blocking.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub pid: u32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// What kind of child, which decides its pre-exec and environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A tool (FFmpeg): own process group, dies with the hook, no secrets.
    Tool,
    /// A `hook` child (the native reader): like a tool, but it keeps the
    /// environment.
    Hook,
    /// A detached `hook` process: own session, outlives the hook, keeps the
    /// environment.
    DetachedHook,
}

/// How a child is to be started; see the module doc.
#[derive(Debug)]
pub(crate) struct ChildCommand {
    program: PathBuf,
    args: Vec<OsString>,
    kind: Kind,
    keep_fds: Vec<RawFd>,
    env: Vec<(OsString, OsString)>,
    output: Option<File>,
}

impl ChildCommand {
    /// A tool such as FFmpeg: its own process group, killed when the hook
    /// dies, the secrets removed from its environment.
    pub(crate) fn tool(program: &Path, args: &[OsString]) -> Self {
        ChildCommand {
            program: program.to_path_buf(),
            args: args.to_vec(),
            kind: Kind::Tool,
            keep_fds: Vec::new(),
            env: Vec::new(),
            output: None,
        }
    }

    /// A `hook` child supervised like a tool (its own process group, killed
    /// when the hook dies) that keeps the environment, credentials included.
    pub(crate) fn hook(program: &Path, args: &[OsString]) -> Self {
        ChildCommand {
            kind: Kind::Hook,
            ..ChildCommand::tool(program, args)
        }
    }

    /// A `hook` process that outlives its parent (the recording hold): a new
    /// session, not killed with the parent, the environment kept.
    pub(crate) fn detached_hook(program: &Path, args: &[OsString]) -> Self {
        ChildCommand {
            kind: Kind::DetachedHook,
            ..ChildCommand::tool(program, args)
        }
    }

    /// Passes `fd` on to the child (it stays open across exec).
    pub(crate) fn keep_fd(mut self, fd: RawFd) -> Self {
        self.keep_fds.push(fd);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Sends the child's stdout and stderr to `file` instead of pipes (for
    /// [`ChildCommand::spawn_detached`]).
    pub(crate) fn output_to(mut self, file: File) -> Self {
        self.output = Some(file);
        self
    }

    /// Starts the child with stdout and stderr piped back, non-blocking.
    pub(crate) fn spawn_piped(self) -> io::Result<Spawned> {
        let mut cmd = self.command()?;
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let pid = child.id();
        let stdout: OwnedFd = child.stdout.take().expect("stdout is piped").into();
        let stderr: OwnedFd = child.stderr.take().expect("stderr is piped").into();
        // The caller reaps with waitpid itself (the supervisor may be a
        // subreaper and reap more than this child); dropping `Child`
        // neither kills nor waits.
        drop(child);
        set_nonblocking(&stdout)?;
        set_nonblocking(&stderr)?;
        Ok(Spawned {
            pid,
            stdout,
            stderr,
        })
    }

    /// Starts the child with its output where [`ChildCommand::output_to`]
    /// said (or `/dev/null`). The caller may wait for it or drop it (it is
    /// re-parented when the caller exits).
    pub(crate) fn spawn_detached(mut self) -> io::Result<std::process::Child> {
        let output = self.output.take();
        let mut cmd = self.command()?;
        match output {
            Some(file) => {
                cmd.stdout(file.try_clone()?).stderr(file);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        cmd.spawn()
    }

    /// The `Command` with the pre-exec of the module doc.
    fn command(&self) -> io::Result<Command> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).stdin(Stdio::null());
        if self.kind == Kind::Tool {
            for name in SECRET_ENV {
                cmd.env_remove(name);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let detach = self.kind == Kind::DetachedHook;
        if !detach {
            cmd.process_group(0);
        }
        let parent = Pid::this();
        let keep = self.keep_fds.clone();
        // The highest descriptor the fallback loop marks (when close_range
        // is missing), read here because getrlimit is not worth trusting
        // after fork.
        let max_fd = max_fd();
        // SAFETY: the closure makes only async-signal-safe system calls and
        // does not allocate (it iterates `keep`, allocated before the fork).
        unsafe {
            cmd.pre_exec(move || {
                if detach {
                    nix::unistd::setsid()?;
                } else {
                    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                    if getppid() != parent {
                        // The hook is already gone: do not run orphaned.
                        return Err(nix::errno::Errno::ESRCH.into());
                    }
                }
                pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
                for sig in Signal::iterator() {
                    if !matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
                        nix::sys::signal::signal(sig, SigHandler::SigDfl)?;
                    }
                }
                close_inherited_on_exec(max_fd);
                for &fd in &keep {
                    fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
                }
                Ok(())
            });
        }
        Ok(cmd)
    }
}

/// The soft limit on descriptors, bounded (the fallback loop runs to it).
fn max_fd() -> RawFd {
    use nix::sys::resource::{getrlimit, Resource};
    getrlimit(Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft.min(1 << 16) as RawFd)
        .unwrap_or(1024)
}

/// Marks every descriptor from 3 up close-on-exec (so the pipe std uses to
/// report an exec failure keeps working; stdio is already in place).
/// Async-signal-safe.
fn close_inherited_on_exec(max_fd: RawFd) {
    // libc: nix has no close_range(2).
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
    let rc = unsafe { libc::close_range(3, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int) };
    if rc == 0 {
        return;
    }
    // Kernels before 5.11: one fcntl per possible descriptor.
    for fd in 3..max_fd {
        let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    let flags = OFlag::from_bits_retain(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

#[cfg(test)]
mod tests;
