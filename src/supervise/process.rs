//! Starting, signalling and reaping supervised children.
//!
//! A child is started without a shell, from an argument vector, in its own
//! process group (so one `killpg` reaches everything it starts), with stdin
//! `/dev/null` and stdout/stderr piped back. Between fork and exec (in
//! `pre_exec`, where only async-signal-safe calls are allowed, so nothing here
//! allocates):
//!
//! - `PR_SET_PDEATHSIG(SIGKILL)`: the child dies when the thread that forked
//!   it dies. The supervisor forks from the main thread, which lives for the
//!   whole run, so this means "when the hook dies", even by SIGKILL. If the
//!   hook died between fork and `prctl`, `getppid` no longer names it and the
//!   child gives up instead of running orphaned.
//! - The signal mask is emptied and SIGINT, SIGTERM, SIGHUP and SIGPIPE are set
//!   back to their default actions: a mask or an "ignore" inherited from the
//!   hook (or from whoever started it) would make FFmpeg deaf to the SIGINT
//!   that asks it to stop.
//! - The device lock's descriptor, if any, loses `FD_CLOEXEC`, so FFmpeg holds
//!   the lock too, until it is really gone.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// A started child: its pid (also its process group id) and the read ends of
/// its stdout and stderr, non-blocking.
#[derive(Debug)]
pub struct Spawned {
    pub pid: u32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Code(c) => Some(c),
            ExitStatus::Signal(_) => None,
        }
    }
    pub fn signal(self) -> Option<i32> {
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
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// Starts `program` with `args` as described in the module doc. `keep_fd`
/// is inherited by the child (the device lock).
pub fn spawn(program: &Path, args: &[OsString], keep_fd: Option<RawFd>) -> io::Result<Spawned> {
    let parent = std::process::id() as libc::pid_t;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: the closure only makes async-signal-safe system calls and does
    // not allocate.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                // The hook is already gone: do not run orphaned.
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            if libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
                if libc::signal(sig, libc::SIG_DFL) == libc::SIG_ERR {
                    return Err(io::Error::last_os_error());
                }
            }
            if let Some(fd) = keep_fd {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let stdout: OwnedFd = child.stdout.take().expect("stdout is piped").into();
    let stderr: OwnedFd = child.stderr.take().expect("stderr is piped").into();
    set_nonblocking(stdout.as_raw_fd())?;
    set_nonblocking(stderr.as_raw_fd())?;
    // The supervisor reaps with waitpid itself (it may be a subreaper and
    // reap more than this child); dropping `Child` neither kills nor waits.
    drop(child);
    Ok(Spawned {
        pid,
        stdout,
        stderr,
    })
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sends `sig` to process group `pgid`. A group that is already gone is not
/// an error.
pub fn kill_group(pgid: u32, sig: i32) {
    if pgid == 0 || pgid > i32::MAX as u32 {
        return;
    }
    // SAFETY: plain kill(2) on a positive group id.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), sig);
    }
}

/// Makes this process the reaper of its orphaned descendants, so anything a
/// child leaves behind is re-parented to us and reaped, not to init.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn decode(status: libc::c_int) -> ExitStatus {
    if libc::WIFSIGNALED(status) {
        ExitStatus::Signal(libc::WTERMSIG(status))
    } else {
        ExitStatus::Code(libc::WEXITSTATUS(status))
    }
}

/// Has `pid` ended? Looks without reaping (`WNOWAIT`), so the pid and its
/// process group id stay reserved until [`reap`]: the group can still be
/// killed safely in between.
pub fn peek_exit(pid: u32) -> Option<ExitStatus> {
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

/// How [`run_bounded`] ended a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoundedEnd {
    /// It exited by itself.
    Exited(ExitStatus),
    /// The deadline passed first: its group was killed.
    TimedOut,
    /// Its stdout outgrew the bound: its group was killed.
    TooMuchOutput,
}

/// What [`run_bounded`] collected.
#[derive(Debug)]
pub struct BoundedRun {
    pub end: BoundedEnd,
    /// Everything it wrote to stdout (at most the bound).
    pub stdout: Vec<u8>,
    /// The last 4 KiB it wrote to stderr.
    pub stderr: Vec<u8>,
}

/// Runs `program` as [`spawn`] does and collects its stdout (at most
/// `max_stdout` bytes) and the tail of its stderr until it exits or
/// `deadline` passes. Whatever happens, its process group is then sent
/// SIGKILL (so nothing it started outlives it) and it is reaped before this
/// returns.
pub fn run_bounded(
    program: &Path,
    args: &[OsString],
    keep_fd: Option<RawFd>,
    deadline: std::time::Instant,
    max_stdout: usize,
) -> io::Result<BoundedRun> {
    const STDERR_TAIL: usize = 4096;
    let child = spawn(program, args, keep_fd)?;
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut open = [true, true];
    let mut buf = vec![0u8; 64 * 1024];
    let end = loop {
        let exited = peek_exit(child.pid);
        // Drain what is there (after an exit, everything it wrote is).
        for (i, fd) in [&child.stdout, &child.stderr].into_iter().enumerate() {
            while open[i] && out.len() <= max_stdout {
                // SAFETY: read(2) into a buffer we own, on a descriptor we own.
                let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n > 0 {
                    let got = &buf[..n as usize];
                    if i == 0 {
                        out.extend_from_slice(got);
                    } else {
                        err.extend_from_slice(got);
                        if err.len() > STDERR_TAIL {
                            err.drain(..err.len() - STDERR_TAIL);
                        }
                    }
                } else if n == 0 {
                    open[i] = false;
                } else {
                    match io::Error::last_os_error().kind() {
                        io::ErrorKind::Interrupted => {}
                        io::ErrorKind::WouldBlock => break,
                        _ => open[i] = false,
                    }
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
        let now = std::time::Instant::now();
        if now >= deadline {
            break BoundedEnd::TimedOut;
        }
        // Wait for output (at most 10 ms, to look at the child again), or
        // 1 ms once both pipes are closed and only its exit is awaited.
        let step = if open.contains(&true) { 10 } else { 1 };
        let wait = (deadline - now).min(std::time::Duration::from_millis(step));
        let mut fds: Vec<libc::pollfd> = [&child.stdout, &child.stderr]
            .into_iter()
            .zip(open)
            .filter(|(_, o)| *o)
            .map(|(fd, _)| libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: poll(2) on descriptors we own (an empty set just sleeps).
        unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                wait.as_millis() as i32,
            );
        }
    };
    // The leader is not reaped yet, so its group id still names its group.
    kill_group(child.pid, libc::SIGKILL);
    let mut status = 0;
    // SAFETY: waitpid on our own child, blocking: it was just killed.
    while unsafe { libc::waitpid(child.pid as libc::pid_t, &mut status, 0) } < 0
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
    Ok(BoundedRun {
        end,
        stdout: out,
        stderr: err,
    })
}

/// Reaps `pid` if it has ended.
pub fn reap(pid: u32) -> Option<ExitStatus> {
    let mut status = 0;
    // SAFETY: waitpid on our own child.
    let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
    (rc == pid as libc::pid_t).then(|| decode(status))
}

/// Reaps every ended child (orphans re-parented to a subreaper included)
/// except `keep`, the supervised child, whose exit the supervisor must see
/// itself; returns how many. Never blocks.
pub fn reap_orphans(keep: Option<u32>) -> usize {
    let mut n = 0;
    loop {
        // SAFETY: waitid with WNOWAIT only looks; waitpid reaps that one pid.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let rc = libc::waitid(
                libc::P_ALL,
                0,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            let pid = info.si_pid();
            if rc != 0 || pid <= 0 || Some(pid as u32) == keep {
                return n;
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, libc::WNOHANG);
        }
        n += 1;
    }
}

/// True while this process has any child at all (ended or not).
pub fn has_children() -> bool {
    // SAFETY: waitid with WNOWAIT only looks.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        ) == 0
    }
}

/// The parent's pid.
pub fn parent_pid() -> u32 {
    // SAFETY: getppid cannot fail.
    unsafe { libc::getppid() as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait_exit(pid: u32) -> ExitStatus {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(s) = peek_exit(pid) {
                assert_eq!(reap(pid), Some(s));
                return s;
            }
            assert!(Instant::now() < end, "child {pid} did not end");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Runs `script` with sh (which execs the last command, so what it
    /// reads of /proc/self is the spawned process itself) and returns stdout.
    fn output_of(script: &str) -> (u32, String) {
        let s = spawn(Path::new("/bin/sh"), &["-c".into(), script.into()], None).unwrap();
        assert_eq!(wait_exit(s.pid), ExitStatus::Code(0));
        let mut out = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(s.stdout), &mut out).unwrap();
        (s.pid, out)
    }

    #[test]
    fn child_gets_own_group_default_signals_and_empty_mask() {
        let (pid, out) = output_of("exec cut -d' ' -f5 /proc/self/stat");
        assert_eq!(out.trim(), pid.to_string(), "process group id");
        // Block signals in this thread, as a careless parent might: the
        // child must still start with an empty mask.
        // SAFETY: changes only this test thread's mask, restored below.
        let (_, out) = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            let out = output_of("exec grep -E '^(SigBlk|SigIgn)' /proc/self/status");
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            out
        };
        let mut lines = out.lines();
        let blk = lines.next().unwrap();
        assert!(blk.ends_with("0000000000000000"), "{blk}");
        let ign = lines.next().unwrap().split_whitespace().nth(1).unwrap();
        let ign = u64::from_str_radix(ign, 16).unwrap();
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
            assert_eq!(ign & (1 << (sig - 1)), 0, "signal {sig} ignored");
        }
    }

    #[test]
    fn bounded_run_collects_stdout_and_kills_the_group() {
        let sh = Path::new("/bin/sh");
        let soon = || Instant::now() + Duration::from_secs(10);
        let r = run_bounded(
            sh,
            &["-c".into(), "printf abc; echo oops >&2".into()],
            None,
            soon(),
            100,
        )
        .unwrap();
        assert_eq!(r.end, BoundedEnd::Exited(ExitStatus::Code(0)));
        assert_eq!(r.stdout, b"abc");
        assert_eq!(r.stderr, b"oops\n");

        // Stuck, with a child of its own that holds the pipe: killed at the
        // deadline, the whole group with it.
        let started = Instant::now();
        let script = "sleep 917.31 & printf x; exec sleep 917.32";
        let r = run_bounded(
            sh,
            &["-c".into(), script.into()],
            None,
            Instant::now() + Duration::from_millis(300),
            100,
        )
        .unwrap();
        assert_eq!(r.end, BoundedEnd::TimedOut);
        assert_eq!(r.stdout, b"x");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        // Exits at once but leaves a child behind in its group: killed too,
        // so the pipe closes and nothing outlives the run.
        let r = run_bounded(
            sh,
            &["-c".into(), "sleep 917.33 & echo done".into()],
            None,
            soon(),
            100,
        )
        .unwrap();
        assert_eq!(r.end, BoundedEnd::Exited(ExitStatus::Code(0)));
        assert_eq!(r.stdout, b"done\n");

        let r = run_bounded(sh, &["-c".into(), "exec yes".into()], None, soon(), 1000).unwrap();
        assert_eq!(r.end, BoundedEnd::TooMuchOutput);
        assert_eq!(r.stdout.len(), 1000);
        assert!(run_bounded(Path::new("/nonexistent/ffmpeg"), &[], None, soon(), 1).is_err());
        // SIGKILL is sent before run_bounded returns; give the kernel a
        // moment to finish them on a loaded machine.
        let end = Instant::now() + Duration::from_secs(3);
        for left in ["917.31", "917.32", "917.33"] {
            while sleeping(left) {
                assert!(Instant::now() < end, "sleep {left} outlived its run");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Is a `sleep SECS` running anywhere?
    fn sleeping(secs: &str) -> bool {
        let wanted = format!("sleep\0{secs}\0");
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            cmdline == wanted.as_bytes() && !state.contains(") Z ")
        })
    }

    #[test]
    fn exit_statuses_are_decoded() {
        let s = spawn(Path::new("/bin/sh"), &["-c".into(), "exit 3".into()], None).unwrap();
        assert_eq!(wait_exit(s.pid), ExitStatus::Code(3));
        let s = spawn(
            Path::new("/bin/sh"),
            &["-c".into(), "kill -9 $$".into()],
            None,
        )
        .unwrap();
        assert_eq!(wait_exit(s.pid), ExitStatus::Signal(libc::SIGKILL));
        assert!(spawn(Path::new("/nonexistent/ffmpeg"), &[], None).is_err());
    }
}
