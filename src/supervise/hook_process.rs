//! The few process actions the commands people run need for processes that
//! are not their children (holds, publishers): is it really a `hook`
//! process of the expected kind (by the rules of `process::identity`; pids
//! are reused), stop one and wait for it to be gone.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::process::identity::{is_running, ProcessId};

/// True when `pid` is a live `hook` process running `subcommand` (`hold`,
/// `run`); see [`crate::process::identity::is_hook`].
pub(crate) fn is_hook_process(pid: u32, subcommand: &str) -> bool {
    is_hook(pid, None, subcommand)
}

/// [`is_hook_process`] for a pid recorded with its identity: also started
/// when it was recorded, in this boot.
pub(crate) fn is_hook(pid: u32, recorded: Option<&ProcessId>, subcommand: &str) -> bool {
    crate::process::identity::is_hook(pid, recorded, Some(subcommand))
}

/// Sends `sig` to `pid` (a negative pid: its process group), which the
/// caller checked is a hook process. One that is already gone is not an error.
pub(crate) fn kill(pid: i32, sig: Signal) {
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
}

/// Waits until `pid` is gone or `timeout` passes; true when gone.
pub(crate) fn wait_gone(pid: u32, timeout: Duration) -> bool {
    wait_gone_id(pid, None, timeout)
}

/// [`wait_gone`] for a pid recorded with its identity.
fn wait_gone_id(pid: u32, recorded: Option<&ProcessId>, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while is_running(pid, recorded) {
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Stops a hold: SIGTERM to its process group (it leads one), then, if it
/// is not gone after `grace` plus a margin (it gives its reader `grace`),
/// SIGKILL to the group. True when it is gone.
/// `recorded` is its identity when the state has one: a pid that now
/// names another process is left alone.
pub(crate) fn stop_hold(pid: u32, recorded: Option<&ProcessId>, grace: Duration) -> bool {
    if !is_hook(pid, recorded, "hold") {
        return true;
    }
    log::info!("stopping hold pid {pid}");
    kill(-(pid as i32), Signal::SIGTERM);
    if wait_gone_id(pid, recorded, grace + Duration::from_secs(2)) {
        return true;
    }
    log::warn!("hold pid {pid} did not stop within {grace:?}: killing it");
    kill(-(pid as i32), Signal::SIGKILL);
    wait_gone_id(pid, recorded, Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_not_a_hold() {
        let me = std::process::id();
        assert!(is_running(me, None));
        assert!(!is_hook_process(me, "hold"));
        assert!(!is_running(u32::MAX - 1, None));
        assert!(!is_hook_process(1, "run"));
        let id = ProcessId::me().unwrap();
        assert!(!is_hook(me, Some(&id), "hold"), "not a hook command line");
    }
}
