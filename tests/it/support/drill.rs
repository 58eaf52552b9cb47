//! Support for the fault drills: fake FFmpeg scripts written per test (so a
//! script can name the test's own files), and what /proc tells about one
//! process: CPU time, resident memory, open descriptors, children.

use std::path::{Path, PathBuf};

/// Writes an executable `/bin/sh` script `name` into `dir` (through
/// `common::write_script`, so its exec never meets ETXTBSY).
pub fn fake_ffmpeg(dir: &Path, name: &str, body: &str) -> PathBuf {
    let file = dir.join(name);
    crate::support::common::write_script(&file, &format!("#!/bin/sh\n{body}\n"));
    file
}

/// Clock ticks per second, the unit of utime/stime in /proc/PID/stat.
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no side effects.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as u64 }
}

/// User plus system CPU time of `pid` in clock ticks (None once it is gone).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    // After "pid (comm) ": state is field 0, utime 11, stime 12.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU time of `pid` in milliseconds.
pub fn cpu_ms(pid: u32) -> Option<u64> {
    cpu_ticks(pid).map(|t| t * 1000 / ticks_per_second())
}

/// Resident memory of `pid` in KiB (VmRSS).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Open file descriptors of `pid`.
pub fn fd_count(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Live direct children of `pid`, zombies included (a zombie left unreaped
/// is a leak too).
pub fn child_count(pid: u32) -> usize {
    crate::support::common::processes()
        .iter()
        .filter(|p| p.ppid == pid)
        .count()
}

/// One sample of a process's resources.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub fds: usize,
    pub rss_kib: u64,
    pub children: usize,
}

/// Samples `pid` (None once it is gone).
pub fn sample(pid: u32) -> Option<Sample> {
    Some(Sample {
        fds: fd_count(pid)?,
        rss_kib: rss_kib(pid)?,
        children: child_count(pid),
    })
}

/// A small deterministic generator for drills that pick random moments
/// (seeded, and the seed printed, so a failure can be replayed).
pub struct Rng(u64);

impl Rng {
    /// From `DRILL_SEED` when set, else the clock; prints the seed.
    pub fn from_env(test: &str) -> Rng {
        let seed = std::env::var("DRILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{test}: DRILL_SEED={seed}");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
