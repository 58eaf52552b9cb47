//! Processes identified beyond their pid.
//!
//! A pid recorded in the state outlives the process it named: after the
//! process ends (or the machine restarts, the state persists) the kernel
//! hands the number to whatever starts next. So next to each pid the hook
//! records ([`ProcessId`]) its start time (field 22 of `/proc/PID/stat`,
//! clock ticks since boot) and the boot it belongs to
//! (`/proc/sys/kernel/random/boot_id`). [`is_running`] is the one rule every
//! command uses: the pid is alive (not a zombie), started at the recorded
//! tick, in this boot. No other process can match all three.
//!
//! A pid recorded without an identity (a state written by an older hook) is
//! judged as before: alive and not a zombie. That is the conservative
//! choice: a session or publisher of the older hook is never declared dead
//! while it still runs.
//!
//! "One of ours" is the other rule, [`is_hook`]: running by [`is_running`]
//! and its command line is a `hook` executable's (with the expected
//! subcommand when one is named). Every check of a recorded pid goes
//! through these two; nothing else in the hook judges pids.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// A process as the hook records it: pid, start time, boot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat`: when it started, in clock ticks since boot.
    pub start_ticks: u64,
    /// `/proc/sys/kernel/random/boot_id` of the boot it ran in.
    pub boot_id: String,
}

/// What `/proc/PID/stat` says about a process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// The command name (at most 15 bytes, from the executed file name).
    pub comm: String,
    /// The state letter (`R`, `S`, `Z`…).
    pub state: char,
    /// Field 22: start time in clock ticks since boot.
    pub start_ticks: u64,
}

impl ProcStat {
    /// Gone for good: a zombie or a dead task.
    pub(crate) fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the text of a `/proc/PID/stat` file. The command name may hold
/// spaces and parentheses, so the fields after it are found from the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); field 22 is rest[19].
    let state = rest.first()?.chars().next()?;
    let start_ticks = rest.get(19)?.parse().ok()?;
    Some(ProcStat {
        comm,
        state,
        start_ticks,
    })
}

/// `/proc/PID/stat` of a live or zombie process; `None` when there is none.
pub(crate) fn stat(pid: u32) -> Option<ProcStat> {
    if pid == 0 {
        return None;
    }
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// This boot's id; `None` where /proc does not have it.
pub(crate) fn boot_id() -> Option<&'static str> {
    static BOOT: OnceLock<Option<String>> = OnceLock::new();
    BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
    .as_deref()
}

impl ProcessId {
    /// The identity of the live process `pid` now, if it runs.
    pub(crate) fn of(pid: u32) -> Option<ProcessId> {
        let st = stat(pid).filter(|s| !s.is_dead())?;
        Some(ProcessId {
            pid,
            start_ticks: st.start_ticks,
            boot_id: boot_id()?.to_string(),
        })
    }

    /// This process.
    pub(crate) fn me() -> Option<ProcessId> {
        ProcessId::of(std::process::id())
    }
}

/// The one rule: is the process recorded as `pid` (with `recorded`, its
/// identity, when the state has one) running now? Alive and not a zombie;
/// with an identity, also the same start time in the same boot. A pid
/// without an identity (an older state) is judged by the pid alone.
pub(crate) fn is_running(pid: u32, recorded: Option<&ProcessId>) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    let Some(st) = stat(pid) else {
        return false;
    };
    if st.is_dead() {
        return false;
    }
    match recorded {
        None => true,
        Some(id) => {
            id.pid == pid && id.start_ticks == st.start_ticks && boot_id() == Some(&*id.boot_id)
        }
    }
}

/// The second rule: is `pid` running by [`is_running`] and a `hook`
/// process (its executable's name starts with `hook`), running
/// `subcommand` (`hold`, `run`) when one is named? A recorded pid may have
/// been reused by an unrelated process since, and a pid recorded without an
/// identity has only this to tell.
pub(crate) fn is_hook(pid: u32, recorded: Option<&ProcessId>, subcommand: Option<&str>) -> bool {
    if pid <= 1 || !is_running(pid, recorded) {
        return false;
    }
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    hook_command_line(&raw, subcommand)
}

/// [`is_hook`] on the text of `/proc/PID/cmdline` (pure, for tests).
pub(crate) fn hook_command_line(raw: &[u8], subcommand: Option<&str>) -> bool {
    let args: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
    let exe_is_hook = args
        .first()
        .map(|a| String::from_utf8_lossy(a))
        .is_some_and(|a| a.rsplit('/').next().is_some_and(|n| n.starts_with("hook")));
    exe_is_hook && subcommand.is_none_or(|sub| args.iter().skip(1).any(|a| *a == sub.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_found_after_odd_names() {
        let text = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        let st = parse_stat(text).unwrap();
        assert_eq!(st.comm, "a) b (c)");
        assert_eq!(st.state, 'S');
        assert_eq!(st.start_ticks, 987654);
        assert!(parse_stat("42 (x) S 1").is_none());
    }

    #[test]
    fn this_process_matches_itself_only() {
        let me = ProcessId::me().expect("/proc and a boot id");
        assert!(is_running(me.pid, Some(&me)));
        assert!(is_running(me.pid, None));
        let earlier = ProcessId {
            start_ticks: me.start_ticks.wrapping_sub(1),
            ..me.clone()
        };
        assert!(!is_running(me.pid, Some(&earlier)));
        let other_boot = ProcessId {
            boot_id: "00000000-0000-0000-0000-000000000000".into(),
            ..me.clone()
        };
        assert!(!is_running(me.pid, Some(&other_boot)));
        assert!(!is_running(me.pid + 1, Some(&me)), "another pid");
        assert!(!is_running(0, None));
        assert!(!is_running(u32::MAX - 1, None));
    }

    #[test]
    fn hook_command_lines() {
        let cases: [(&[u8], Option<&str>, bool); 7] = [
            (b"/usr/local/bin/hook\0hold\0cam\0", Some("hold"), true),
            (b"hook\0run\0--device\0x\0", Some("run"), true),
            (b"hook\0run\0", Some("hold"), false),
            (b"hook\0run\0", None, true),
            (b"/usr/bin/ffmpeg\0hold\0", Some("hold"), false),
            (b"/usr/bin/ffmpeg\0", None, false),
            (b"", None, false),
        ];
        for (raw, sub, want) in cases {
            assert_eq!(hook_command_line(raw, sub), want, "{raw:?} {sub:?}");
        }
        assert!(!is_hook(std::process::id(), None, None), "a test binary");
        assert!(!is_hook(1, None, None));
    }

    #[test]
    fn a_bare_identity_round_trips_through_json() {
        let id = ProcessId {
            pid: 7,
            start_ticks: 99,
            boot_id: "b".into(),
        };
        let text = serde_json::to_string(&id).unwrap();
        assert_eq!(text, r#"{"pid":7,"start_ticks":99,"boot_id":"b"}"#);
        assert_eq!(serde_json::from_str::<ProcessId>(&text).unwrap(), id);
    }
}
