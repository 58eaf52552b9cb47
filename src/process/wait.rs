//! Signalling and reaping children, and how they ended.

use std::io;

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    pub(crate) fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Code(c) => Some(c),
            ExitStatus::Signal(_) => None,
        }
    }
    pub(crate) fn signal(self) -> Option<i32> {
        match self {
            ExitStatus::Signal(s) => Some(s),
            ExitStatus::Code(_) => None,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "signal {s} ({})", signal_name(*s)),
        }
    }
}

/// The usual name of a signal number, for messages.
pub(crate) fn signal_name(sig: i32) -> &'static str {
    match Signal::try_from(sig) {
        Ok(
            s @ (Signal::SIGHUP
            | Signal::SIGINT
            | Signal::SIGQUIT
            | Signal::SIGABRT
            | Signal::SIGKILL
            | Signal::SIGSEGV
            | Signal::SIGPIPE
            | Signal::SIGTERM),
        ) => s.as_str(),
        _ => "signal",
    }
}

/// Sends `sig` to process group `pgid`. A group that is already gone is not
/// an error.
pub(crate) fn kill_group(pgid: u32, sig: Signal) {
    if pgid <= 1 || pgid > i32::MAX as u32 {
        return;
    }
    let _ = killpg(Pid::from_raw(pgid as i32), sig);
}

/// Makes this process the reaper of its orphaned descendants, so anything a
/// child leaves behind is re-parented to us and reaped, not to init.
pub(crate) fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)?;
    Ok(())
}

/// Has `pid` ended? Looks without reaping (`WNOWAIT`), so the pid and its
/// process group id stay reserved until [`reap`]: the group can still be
/// killed safely in between.
pub(crate) fn peek_exit(pid: u32) -> Option<ExitStatus> {
    // libc: nix's waitid cannot carry a real-time signal number (it fails
    // with EINVAL), and a child killed by one must still be seen to end.
    // SAFETY: waitid with a zeroed siginfo we own.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        if rc != 0 || info.si_pid() == 0 {
            return None;
        }
        let status = info.si_status();
        Some(match info.si_code {
            libc::CLD_EXITED => ExitStatus::Code(status),
            _ => ExitStatus::Signal(status),
        })
    }
}

/// Reaps `pid` if it has ended. `None` when it has not (or its status is
/// one nix cannot decode; it is reaped all the same).
pub(crate) fn reap(pid: u32) -> Option<ExitStatus> {
    match waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Some(ExitStatus::Code(code)),
        Ok(WaitStatus::Signaled(_, sig, _)) => Some(ExitStatus::Signal(sig as i32)),
        _ => None,
    }
}

/// Waits for `pid` (just killed) and reaps it.
pub(crate) fn reap_blocking(pid: u32) {
    while let Err(Errno::EINTR) = waitpid(Pid::from_raw(pid as i32), None) {}
}

/// Reaps every ended child (orphans re-parented to a subreaper included)
/// except `keep`, the supervised child, whose exit the supervisor must see
/// itself; returns how many. Never blocks.
pub(crate) fn reap_orphans(keep: Option<u32>) -> usize {
    let mut n = 0;
    loop {
        let Some(pid) = ended_child() else {
            return n;
        };
        if Some(pid) == keep {
            return n;
        }
        let _ = waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG));
        n += 1;
    }
}

/// Any ended child, without reaping it.
fn ended_child() -> Option<u32> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::All, flags) {
        Ok(status) => status.pid().map(|p| p.as_raw() as u32),
        // A status nix cannot decode (a real-time signal): look again with
        // libc to learn the pid.
        Err(Errno::EINVAL) => {
            // libc: see peek_exit.
            // SAFETY: waitid with WNOWAIT only looks.
            unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                let rc = libc::waitid(libc::P_ALL, 0, &mut info, flags.bits());
                (rc == 0 && info.si_pid() > 0).then(|| info.si_pid() as u32)
            }
        }
        Err(_) => None,
    }
}

/// True while this process has any child at all (ended or not).
pub(crate) fn has_children() -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    !matches!(waitid(Id::All, flags), Err(Errno::ECHILD))
}

/// The parent's pid.
pub(crate) fn parent_pid() -> u32 {
    nix::unistd::getppid().as_raw() as u32
}
