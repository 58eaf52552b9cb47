//! Fault drills on restarts: an FFmpeg that exits at once, a hundred times
//! (the restart delays follow the policy, in the log and in fact, and the
//! hook's CPU stays low), and an FFmpeg that ends every couple of seconds for
//! a long time (the hook's open descriptors, memory and children do not
//! grow). The ten-minute run is `#[ignore]`d; scripts/soak.sh runs it.

use crate::support::common;
use crate::support::drill as drill_support;
use crate::support::run as run_support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::TempDir;
use drill_support::{fake_ffmpeg, Sample};
use run_support::{assert_nothing_left, Hook, HookOptions};

/// Nanosecond wall-clock stamps the fake wrote, one per start.
fn stamps(file: &std::path::Path) -> Vec<u64> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn ffmpeg_exiting_at_once_100_times_restarts_on_the_policy_schedule_with_little_cpu() {
    const EXITS: usize = 100;
    let (initial, max) = (20u64, 100u64);
    let path = "drillexit0";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let starts = dir.join("starts");
    let fake = fake_ffmpeg(
        dir.path(),
        "ffmpeg-exits.sh",
        &format!(
            "date +%s%N >> '{}'\necho 'fake ffmpeg: cannot open device' >&2\nexit 1",
            starts.display()
        ),
    );
    let mut opts = HookOptions::testsrc(path, port).ffmpeg(&fake);
    let policy = format!(
        r#"{{"restart": {{"initial_delay": "{initial}ms", "max_delay": "{max}ms",
            "stable_after": "10s", "grace": "1s"}}}}"#
    );
    opts.policy = Some(&policy);
    let t0 = Instant::now();
    let mut hook = Hook::start(&dir, opts);

    let done = common::wait_until(Duration::from_secs(60), || stamps(&starts).len() > EXITS);
    assert!(done, "{} starts; {}", stamps(&starts).len(), hook.log());
    let wall = t0.elapsed();
    let cpu_ms = drill_support::cpu_ms(hook.pid).expect("hook alive");
    assert!(drill_support::child_count(hook.pid) <= 1);

    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(2))
        .expect("hook stops");
    assert_eq!(status.code(), Some(0), "{}", hook.log());
    assert_nothing_left(&hook);

    // The logged delays follow the policy: doubling from 20 ms up to the
    // 100 ms ceiling, shortened by at most a fifth of jitter.
    let delays = hook.logged_delays();
    assert!(delays.len() >= EXITS, "{} delays logged", delays.len());
    for (n, &d) in delays.iter().take(EXITS).enumerate() {
        let base = (initial << n.min(20)).min(max);
        assert!(
            d <= base && d * 10 >= base * 8 - 10,
            "delay {n} is {d} ms, expected {base} ms less up to 20%: {delays:?}"
        );
    }
    // And they are what really happened: each start follows the one before
    // by the logged delay plus the time to start, fail and reap the fake.
    let stamps = stamps(&starts);
    let mut overheads: Vec<i64> = stamps
        .windows(2)
        .zip(&delays)
        .map(|(w, &d)| ((w[1] - w[0]) / 1_000_000) as i64 - d as i64)
        .collect();
    assert!(
        overheads.iter().all(|&o| o >= -1),
        "a restart came before its delay: {overheads:?}"
    );
    overheads.sort();
    let median = overheads[overheads.len() / 2];
    assert!(
        median < 60,
        "median start overhead {median} ms: {overheads:?}"
    );

    // Near-zero CPU: the hook sleeps in poll() between restarts; each
    // restart costs a fork/exec and a few state writes.
    let share = cpu_ms as f64 / wall.as_millis() as f64;
    eprintln!(
        "{EXITS} restarts in {wall:?}: hook CPU {cpu_ms} ms ({:.1}% of a core, {:.2} ms per restart), median start overhead {median} ms",
        share * 100.0,
        cpu_ms as f64 / EXITS as f64
    );
    assert!(
        (cpu_ms as f64) / (EXITS as f64) < 10.0,
        "hook used {cpu_ms} ms of CPU for {EXITS} restarts"
    );
}

/// Runs an FFmpeg that ends every two seconds under `hook run` for `length`,
/// sampling the hook's descriptors, memory and children every 250 ms, and
/// checks that none of them grows.
fn restarts_leak_nothing(path: &str, length: Duration) {
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    // Twenty frames of progress and some stderr chatter, then a clean exit.
    let fake = fake_ffmpeg(
        dir.path(),
        "ffmpeg-brief.sh",
        "echo 'fake ffmpeg starting' >&2\n\
         i=0\n\
         while [ $i -lt 20 ]; do\n\
           i=$((i + 1))\n\
           printf 'frame=%d\\ntotal_size=%d\\nprogress=continue\\n' $i $((i * 1000))\n\
           echo \"frame $i encoded\" >&2\n\
           sleep 0.1\n\
         done\n\
         echo 'fake ffmpeg: end of input' >&2",
    );
    let mut opts = HookOptions::testsrc(path, port).ffmpeg(&fake);
    opts.policy = Some(
        r#"{"restart": {"initial_delay": "200ms", "max_delay": "1s", "stable_after": "1s",
            "grace": "1s", "stall_timeout": "3s"}}"#,
    );
    let mut hook = Hook::start(&dir, opts);

    // Warm up: past the first restart, so lazily made things exist.
    let first = hook
        .wait_running_child(None, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{}", hook.log()));
    hook.wait_running_child(Some(first), Duration::from_secs(10))
        .unwrap_or_else(|| panic!("not restarted: {}", hook.log()));

    let end = Instant::now() + length;
    let mut samples: Vec<Sample> = Vec::new();
    while Instant::now() < end {
        let s =
            drill_support::sample(hook.pid).unwrap_or_else(|| panic!("hook gone: {}", hook.log()));
        assert!(s.children <= 1, "{} children: {s:?}", s.children);
        samples.push(s);
        std::thread::sleep(Duration::from_millis(250));
    }
    let restarts = hook.state()["restarts"].as_u64().unwrap_or(0);
    assert!(
        restarts as f64 >= length.as_secs_f64() / 3.0,
        "only {restarts} restarts in {length:?}"
    );

    // The first and last thirds of the run see the same phases (running,
    // backoff) many times over. Their medians compare like with like: a
    // spawn briefly holds a few more descriptors (the exec-error pipe, the
    // child's pipe ends), but a leak stays and grows with every restart.
    let third = samples.len() / 3;
    let (early, late) = (&samples[..third], &samples[samples.len() - third..]);
    let median = |s: &[Sample], f: fn(&Sample) -> u64| {
        let mut v: Vec<u64> = s.iter().map(f).collect();
        v.sort();
        v[v.len() / 2]
    };
    let fds = |s: &Sample| s.fds as u64;
    let rss = |s: &Sample| s.rss_kib;
    eprintln!(
        "{restarts} restarts in {length:?}: median fds {} then {}, median VmRSS {} KiB then {} KiB",
        median(early, fds),
        median(late, fds),
        median(early, rss),
        median(late, rss)
    );
    assert!(
        median(late, fds) <= median(early, fds),
        "descriptors grew: {early:?} then {late:?}"
    );
    // Allocator noise is a few pages; a leak per restart would be more.
    assert!(
        median(late, rss) <= median(early, rss) + 128,
        "memory grew: {early:?} then {late:?}"
    );

    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(3))
        .expect("hook stops");
    assert_eq!(status.code(), Some(0), "{}", hook.log());
    assert_nothing_left(&hook);
}

#[test]
fn restarting_every_two_seconds_for_30_s_leaks_nothing() {
    restarts_leak_nothing("drillleak0", Duration::from_secs(30));
}

#[test]
#[ignore = "ten minutes; run by scripts/soak.sh"]
fn soak_restarting_every_two_seconds_for_10_minutes_leaks_nothing() {
    restarts_leak_nothing("drillleak1", Duration::from_secs(600));
}
