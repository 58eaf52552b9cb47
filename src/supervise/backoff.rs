//! Restart delays: exponential backoff with downward jitter, reset after a
//! stable run.
//!
//! The delay before the n-th consecutive retry is `min(initial · 2ⁿ, max)`,
//! shortened by up to 20 % at random. Jitter only ever shortens the delay, so
//! it never exceeds `max`, and because the shortening is below one half each
//! delay is still longer than the one before it (until the ceiling). Jitter
//! keeps several cameras that failed together (a USB hub reset) from retrying
//! in lockstep. The random numbers come from a tiny seeded generator
//! ([`SplitMix64`]): nothing here needs cryptographic quality, and a seed makes
//! tests repeatable.

use std::time::Duration;

/// Largest share of a delay that jitter may take away.
pub(crate) const MAX_JITTER: f64 = 0.2;

/// The delay before retry number `failures` (0 for the first retry).
///
/// `jitter` is a number in `[0, 1)`; it shortens the delay by up to
/// [`MAX_JITTER`] of itself.
pub(crate) fn restart_delay(
    initial: Duration,
    max: Duration,
    failures: u32,
    jitter: f64,
) -> Duration {
    // 2^failures without overflow: past 2^20 every realistic ceiling is hit.
    let factor = 1u32 << failures.min(20);
    let base = initial.saturating_mul(factor).min(max);
    let jitter = jitter.clamp(0.0, 1.0);
    base.mul_f64(1.0 - MAX_JITTER * jitter)
}

/// SplitMix64: a 64-bit generator small enough to inline, with good
/// statistical quality for jitter.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    #[cfg(test)]
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// Seeded from the process id and the clock, so instances differ.
    pub(crate) fn from_entropy() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        SplitMix64(nanos ^ (u64::from(std::process::id()) << 32))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The restart schedule of one supervised child: counts consecutive
/// failures and hands out the next delay.
#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    stable_after: Duration,
    failures: u32,
    rng: SplitMix64,
}

impl Backoff {
    pub(crate) fn new(
        initial: Duration,
        max: Duration,
        stable_after: Duration,
        rng: SplitMix64,
    ) -> Self {
        Backoff {
            initial,
            max,
            stable_after,
            failures: 0,
            rng,
        }
    }

    /// Consecutive failures so far.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// Starts the schedule over, as after a stable run.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// Records that an attempt ended after running `ran` (zero when it never
    /// started) and returns the delay before the next one. A run of at least
    /// `stable_after` starts the schedule over.
    pub(crate) fn next_delay(&mut self, ran: Duration) -> Duration {
        if ran >= self.stable_after {
            self.failures = 0;
        }
        let delay = restart_delay(self.initial, self.max, self.failures, self.rng.next_f64());
        self.failures = self.failures.saturating_add(1);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn doubles_up_to_the_ceiling_without_jitter() {
        let d: Vec<_> = (0..8).map(|n| restart_delay(S(1), S(30), n, 0.0)).collect();
        assert_eq!(d, [S(1), S(2), S(4), S(8), S(16), S(30), S(30), S(30)]);
        assert_eq!(restart_delay(S(1), S(30), u32::MAX, 0.0), S(30));
    }

    #[test]
    fn jitter_only_shortens_and_by_at_most_a_fifth() {
        for n in 0..10 {
            let base = restart_delay(S(1), S(30), n, 0.0);
            let short = restart_delay(S(1), S(30), n, 0.999_999);
            assert!(short <= base);
            assert!(short >= base.mul_f64(0.8) - Duration::from_micros(1));
            assert!(restart_delay(S(1), S(30), n, 1.0) <= S(30));
        }
    }

    #[test]
    fn jittered_delays_still_grow_until_the_ceiling() {
        let mut b = Backoff::new(S(1), S(30), S(60), SplitMix64::new(7));
        let mut prev = Duration::ZERO;
        for _ in 0..5 {
            let d = b.next_delay(Duration::ZERO);
            assert!(d > prev, "{d:?} after {prev:?}");
            assert!(d <= S(30));
            prev = d;
        }
        for _ in 0..20 {
            let d = b.next_delay(Duration::ZERO);
            assert!(d >= S(24) && d <= S(30), "{d:?}");
        }
    }

    #[test]
    fn a_stable_run_resets_the_schedule() {
        let mut b = Backoff::new(S(1), S(30), S(60), SplitMix64::new(1));
        for _ in 0..6 {
            b.next_delay(S(1));
        }
        assert_eq!(b.failures(), 6);
        let d = b.next_delay(S(60));
        assert!(d <= S(1) && d >= Duration::from_millis(800), "{d:?}");
        assert_eq!(b.failures(), 1);
        // A short run does not reset.
        let d = b.next_delay(S(59));
        assert!(d > S(1), "{d:?}");
    }

    #[test]
    fn generator_is_seeded_and_uniform_enough() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut r = SplitMix64::new(3);
        let xs: Vec<f64> = (0..10_000).map(|_| r.next_f64()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
