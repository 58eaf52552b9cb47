//! Fault drill: random signals (SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGPIPE)
//! at random moments, to the hook alone or to its whole process group, from
//! its first milliseconds on. Whatever arrives, the hook either keeps
//! streaming (SIGUSR1, SIGPIPE: the same FFmpeg keeps running) or stops
//! cleanly (a stop signal: exit 0 within the grace period), and never leaves
//! an FFmpeg behind. The long run is `#[ignore]`d; scripts/soak.sh runs it.

use crate::support::common;
use crate::support::drill as drill_support;
use crate::support::run as run_support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::TempDir;
use drill_support::Rng;
use run_support::{assert_nothing_left, fixture, Hook, HookOptions};

const SIGNALS: [i32; 5] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGPIPE,
];

fn is_stop(sig: i32) -> bool {
    matches!(sig, libc::SIGHUP | libc::SIGINT | libc::SIGTERM)
}

/// One round: start a hook, send one to three random signals at random
/// moments within its first 1.5 s, check the outcome.
fn round(n: usize, rng: &mut Rng, dir: &TempDir) {
    let path = format!("drillsig{n}");
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let opts = HookOptions::testsrc(&path, port).ffmpeg(&fixture("ffmpeg-progress.sh"));
    let t0 = Instant::now();
    let mut hook = Hook::start(dir, opts);

    let mut sent = Vec::new();
    let mut at_ms = 0;
    for _ in 0..=rng.below(3) {
        at_ms += rng.below(1500 / 2);
        let sig = SIGNALS[rng.below(SIGNALS.len() as u64) as usize];
        let to_group = rng.below(2) == 0;
        let when = t0 + Duration::from_millis(at_ms);
        std::thread::sleep(when.saturating_duration_since(Instant::now()));
        if to_group {
            common::kill_group(hook.pid, sig);
        } else {
            common::kill_pid(hook.pid, sig);
        }
        sent.push((sig, to_group, t0.elapsed()));
    }
    let what = format!("round {n}: sent {sent:?}");

    match sent.iter().find(|(sig, _, _)| is_stop(*sig)) {
        Some(&(sig, _, at)) => {
            // Grace 1 s (FAST_POLICY) plus slack, from the first stop signal.
            let left = (t0 + at + Duration::from_secs(2)).saturating_duration_since(Instant::now());
            let status = common::wait_timeout(&mut hook.child, left)
                .unwrap_or_else(|| panic!("{what}: still running: {}", hook.log()));
            use std::os::unix::process::ExitStatusExt;
            if status.code() != Some(0) {
                // Only a signal that beat the handlers' installation may
                // end the hook by its default action, and then no FFmpeg
                // had been started yet.
                let early = status.signal().is_some()
                    && !hook.log().contains("started ffmpeg")
                    && at < Duration::from_millis(200);
                assert!(early, "{what}: {status:?} at {at:?}: {}", hook.log());
                eprintln!("{what}: killed by signal {sig} before its handlers were installed");
            }
        }
        None => {
            // USR1 and PIPE change nothing: the hook streams on.
            let child = hook
                .wait_running_child(None, Duration::from_secs(10))
                .unwrap_or_else(|| panic!("{what}: not streaming: {}", hook.log()));
            std::thread::sleep(Duration::from_millis(200));
            assert!(
                hook.child.try_wait().unwrap().is_none(),
                "{what}: the hook died: {}",
                hook.log()
            );
            assert_eq!(hook.child_pid(), Some(child), "{what}: {}", hook.state());
            assert!(common::pid_alive(child), "{what}");
            assert_eq!(hook.state()["restarts"], 0, "{what}: {}", hook.state());
            let (status, _) = hook
                .signal_group_and_wait(libc::SIGINT, Duration::from_secs(2))
                .unwrap_or_else(|| panic!("{what}: SIGINT did not stop it: {}", hook.log()));
            assert_eq!(status.code(), Some(0), "{what}: {}", hook.log());
        }
    }
    assert_nothing_left(&hook);
}

fn drill(rounds: usize, name: &str) {
    let mut rng = Rng::from_env(name);
    let dir = TempDir::new(name);
    for n in 0..rounds {
        round(n, &mut rng, &dir);
    }
}

#[test]
fn random_signals_at_random_moments_stream_on_or_stop_cleanly() {
    drill(10, "random_signals");
}

#[test]
#[ignore = "a few minutes; run by scripts/soak.sh"]
fn soak_random_signals_at_random_moments_200_rounds() {
    drill(200, "random_signals_long");
}

#[test]
fn sigusr1_and_sigpipe_while_streaming_change_nothing() {
    let path = "drillusr0";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut hook = Hook::start(
        &dir,
        HookOptions::testsrc(path, port).ffmpeg(&fixture("ffmpeg-progress.sh")),
    );
    let child = hook
        .wait_running_child(None, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", hook.log()));
    for sig in [libc::SIGUSR1, libc::SIGPIPE, libc::SIGUSR2] {
        common::kill_pid(hook.pid, sig);
        common::kill_group(hook.pid, sig);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(hook.child.try_wait().unwrap().is_none(), "{}", hook.log());
    assert_eq!(hook.child_pid(), Some(child));
    assert_eq!(hook.phase(), "running");
    // FFmpeg itself keeps the default actions: SIGUSR1 is not ignored in it.
    let status = std::fs::read_to_string(format!("/proc/{child}/status")).unwrap();
    let ign = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
        .unwrap();
    assert_eq!(
        ign & (1 << (libc::SIGUSR1 - 1)),
        0,
        "SIGUSR1 ignored in FFmpeg"
    );
    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(2))
        .expect("hook stops");
    assert_eq!(status.code(), Some(0));
    assert_nothing_left(&hook);
}
