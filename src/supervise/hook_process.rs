//! The few process checks the commands people run need for processes that
//! are not their children (holds, publishers): is a pid alive, is it really
//! a `hook` process of the expected kind (pids are reused), and stop one and
//! wait for it to be gone.

use std::time::{Duration, Instant};

use crate::state::identity::{is_running, ProcessId};

/// True when `pid` is a live process (not a zombie). A pid recorded with
/// its identity goes through [`is_running`] instead.
pub fn pid_alive(pid: u32) -> bool {
    is_running(pid, None)
}

/// True when `pid` is a live `hook` process running `subcommand` (`hold`,
/// `run`), judged from its command line: a recorded pid may have been
/// reused by an unrelated process since.
pub fn is_hook_process(pid: u32, subcommand: &str) -> bool {
    is_hook(pid, None, subcommand)
}

/// [`is_hook_process`] for a pid recorded with its identity: also started
/// when it was recorded, in this boot ([`is_running`]).
pub fn is_hook(pid: u32, recorded: Option<&ProcessId>, subcommand: &str) -> bool {
    if pid <= 1 || !is_running(pid, recorded) {
        return false;
    }
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
    let exe_is_hook = args
        .first()
        .map(|a| String::from_utf8_lossy(a))
        .is_some_and(|a| a.rsplit('/').next().is_some_and(|n| n.starts_with("hook")));
    exe_is_hook && args.iter().skip(1).any(|a| *a == subcommand.as_bytes())
}

pub(crate) fn kill(pid: i32, sig: i32) {
    // SAFETY: kill(2) with a pid we checked belongs to a hook process.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Waits until `pid` is gone or `timeout` passes; true when gone.
pub fn wait_gone(pid: u32, timeout: Duration) -> bool {
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
pub fn stop_hold(pid: u32, recorded: Option<&ProcessId>, grace: Duration) -> bool {
    if !is_hook(pid, recorded, "hold") {
        return true;
    }
    log::info!("stopping hold pid {pid}");
    kill(-(pid as i32), libc::SIGTERM);
    if wait_gone_id(pid, recorded, grace + Duration::from_secs(2)) {
        return true;
    }
    log::warn!("hold pid {pid} did not stop within {grace:?}: killing it");
    kill(-(pid as i32), libc::SIGKILL);
    wait_gone_id(pid, recorded, Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_not_a_hold() {
        let me = std::process::id();
        assert!(pid_alive(me));
        assert!(!is_hook_process(me, "hold"));
        assert!(!pid_alive(u32::MAX - 1));
        assert!(!is_hook_process(1, "run"));
        let id = ProcessId::me().unwrap();
        assert!(!is_hook(me, Some(&id), "hold"), "not a hook command line");
    }
}
