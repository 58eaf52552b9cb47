//! Tests of the child builder, the bounded run and reaping.
use super::*;
use std::time::{Duration, Instant};

fn sh(script: &str) -> ChildCommand {
    ChildCommand::tool(Path::new("/bin/sh"), &["-c".into(), script.into()])
}

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

/// Like [`wait_exit`] for a status `reap` cannot decode: peeked, then reaped.
fn wait_exit_peeked(pid: u32) -> ExitStatus {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(s) = peek_exit(pid) {
            reap(pid);
            assert_eq!(peek_exit(pid), None, "reaped");
            assert!(!Path::new(&format!("/proc/{pid}")).exists() || reap(pid).is_none());
            return s;
        }
        assert!(Instant::now() < end, "child {pid} did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `script` with sh (which execs the last command, so what it
/// reads of /proc/self is the spawned process itself) and returns stdout.
fn output_of(script: &str) -> (u32, String) {
    let s = sh(script).spawn_piped().unwrap();
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
    // Changes only this test thread's mask, restored below.
    let (_, out) = {
        let mut set = SigSet::empty();
        set.add(Signal::SIGINT);
        set.add(Signal::SIGTERM);
        let mut old = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old)).unwrap();
        let out = output_of("exec grep -E '^(SigBlk|SigIgn)' /proc/self/status");
        pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None).unwrap();
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
    let soon = || Instant::now() + Duration::from_secs(10);
    let r = run_bounded(sh("printf abc; echo oops >&2"), soon(), 100).unwrap();
    assert_eq!(r.end, BoundedEnd::Exited(ExitStatus::Code(0)));
    assert_eq!(r.stdout, b"abc");
    assert_eq!(r.stderr, b"oops\n");

    // Stuck, with a child of its own that holds the pipe: killed at the
    // deadline, the whole group with it.
    let started = Instant::now();
    let script = "sleep 917.31 & printf x; exec sleep 917.32";
    let r = run_bounded(sh(script), Instant::now() + Duration::from_millis(300), 100).unwrap();
    assert_eq!(r.end, BoundedEnd::TimedOut);
    assert_eq!(r.stdout, b"x");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Exits at once but leaves a child behind in its group: killed too,
    // so the pipe closes and nothing outlives the run.
    let r = run_bounded(sh("sleep 917.33 & echo done"), soon(), 100).unwrap();
    assert_eq!(r.end, BoundedEnd::Exited(ExitStatus::Code(0)));
    assert_eq!(r.stdout, b"done\n");

    let r = run_bounded(sh("exec yes"), soon(), 1000).unwrap();
    assert_eq!(r.end, BoundedEnd::TooMuchOutput);
    assert_eq!(r.stdout.len(), 1000);
    assert!(run_bounded(
        ChildCommand::tool(Path::new("/nonexistent/ffmpeg"), &[]),
        soon(),
        1
    )
    .is_err());
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
    let s = sh("exit 3").spawn_piped().unwrap();
    assert_eq!(wait_exit(s.pid), ExitStatus::Code(3));
    let s = sh("kill -9 $$").spawn_piped().unwrap();
    assert_eq!(wait_exit(s.pid), ExitStatus::Signal(libc::SIGKILL));
    assert!(ChildCommand::tool(Path::new("/nonexistent/ffmpeg"), &[])
        .spawn_piped()
        .is_err());
    // A real-time signal, which nix cannot name, is still seen and reaped.
    let s = sh("kill -s 40 $$").spawn_piped().unwrap();
    assert_eq!(wait_exit_peeked(s.pid), ExitStatus::Signal(40));
    assert_eq!(signal_name(40), "signal");
    assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
}

#[test]
fn only_kept_descriptors_reach_the_child() {
    // A descriptor this process "leaked" (no close-on-exec, a high number
    // no fresh open takes), as MediaMTX leaks its own to the hook, and one
    // passed on purpose (opened close-on-exec, as the device lock is).
    let tmp = tempfile::Builder::new()
        .prefix("hook-fds-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().to_path_buf();
    let marker = dir.join("leaked-marker");
    let file = std::fs::File::create(&marker).unwrap();
    let leaked = fcntl(file.as_raw_fd(), FcntlArg::F_DUPFD(200)).unwrap();
    assert_eq!(
        fcntl(leaked, FcntlArg::F_GETFD).unwrap() & libc::FD_CLOEXEC,
        0
    );
    let kept = std::fs::File::open("/dev/null").unwrap();
    let kept_fd = kept.as_raw_fd();
    let s = sh("exec ls -l /proc/self/fd")
        .keep_fd(kept_fd)
        .spawn_piped()
        .unwrap();
    assert_eq!(wait_exit(s.pid), ExitStatus::Code(0));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(s.stdout), &mut out).unwrap();
    nix::unistd::close(leaked).unwrap();
    let fds: Vec<(i32, &str)> = out
        .lines()
        .filter_map(|l| {
            let (name, target) = l.split_once(" -> ")?;
            Some((name.rsplit(' ').next()?.parse().ok()?, target))
        })
        .collect();
    assert!(
        !out.contains("leaked-marker"),
        "leaked fd inherited:\n{out}"
    );
    assert!(fds.iter().all(|(fd, _)| *fd != leaked), "{out}");
    assert!(
        fds.contains(&(kept_fd, "/dev/null")),
        "kept fd {kept_fd} missing:\n{out}"
    );
    // Besides stdio and the kept one, only ls's own (listing the directory).
    let others: Vec<_> = fds
        .iter()
        .filter(|(fd, _)| ![0, 1, 2, kept_fd].contains(fd))
        .collect();
    assert!(others.len() <= 1, "{out}");
    assert!(others.iter().all(|(_, t)| t.contains("/proc/")), "{out}");
    drop(kept);
}

#[test]
fn tools_lose_the_secrets_and_a_detached_hook_keeps_them_in_its_own_session() {
    // The process environment is shared by the tests running at once, so
    // what is removed is read from the command (tests/run_child_env.rs
    // checks a real hook's FFmpeg).
    let removed = |c: &ChildCommand| -> Vec<String> {
        let cmd = c.command().unwrap();
        cmd.get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect()
    };
    let tool = sh("env").env("HOOK_VISIBLE", "yes");
    let mut gone = removed(&tool);
    gone.sort();
    let mut want = SECRET_ENV.map(String::from).to_vec();
    want.sort();
    assert_eq!(gone, want);
    let s = tool.spawn_piped().unwrap();
    assert_eq!(wait_exit(s.pid), ExitStatus::Code(0));
    let mut env = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(s.stdout), &mut env).unwrap();
    assert!(env.contains("HOOK_VISIBLE=yes"), "{env}");
    let hook = ChildCommand::detached_hook(Path::new("/bin/true"), &[]);
    assert!(removed(&hook).is_empty());

    let tmp = tempfile::Builder::new()
        .prefix("hook-detached-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().to_path_buf();
    let log = dir.join("out");
    let script = "echo sid=$(cut -d' ' -f6 /proc/self/stat) pid=$$; env";
    let mut child =
        ChildCommand::detached_hook(Path::new("/bin/sh"), &["-c".into(), script.into()])
            .output_to(std::fs::File::create(&log).unwrap())
            .spawn_detached()
            .unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(
        out.contains(&format!("sid={pid} pid={pid}")),
        "own session: {out}"
    );
}
