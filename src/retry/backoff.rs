//! The scheduled wait before retry *n*: exponential, capped, optionally jittered, or what the
//! server asked for in `Retry-After`.
//!
//! Without jitter the arithmetic is done in integer nanoseconds whenever the multiplier is a
//! whole number (the default 2 always is), so the spec's schedule is exact: 2 s, 4 s, 8 s, never
//! 1.9999999 s. Jittered delays are whole milliseconds: they end up in reports and digests, and
//! a millisecond is far below anything a webhook retry can tell apart.

use std::time::Duration;

use crate::model::{Jitter, RetryPolicy};
use crate::random::KeyedRandom;

/// The decision point jitter is drawn from, keyed by (step, retry number).
const JITTER_POINT: &str = "jitter";

/// Computes scheduled delays for one step under one policy.
///
/// Jitter for retry *n* is drawn from `(seed, "jitter", step, n)` — never from a shared stream —
/// so concurrent steps and timing cannot change what a step waits. The key is the retry number,
/// the same *n* the console shows as "(attempt n/3)".
#[derive(Debug, Clone, Copy)]
pub struct Backoff<'a> {
    policy: &'a RetryPolicy,
    random: KeyedRandom,
    step: &'a str,
}

/// What a runner waits before its next attempt, and where that number came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub delay: Duration,
    pub source: WaitSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitSource {
    /// The policy's schedule (exponential, cap, jitter).
    Backoff,
    /// The server's `Retry-After`, capped by the policy's `max-delay`.
    RetryAfter,
}

impl<'a> Backoff<'a> {
    pub fn new(policy: &'a RetryPolicy, seed: u64, step: &'a str) -> Self {
        Self {
            policy,
            random: KeyedRandom::new(seed),
            step,
        }
    }

    /// `base · multiplier^(n−1)`, capped by `max-delay`, before jitter. `retry` is 1-based; 0 is
    /// read as 1 rather than rejected, so no input can make this fail.
    pub fn exponential(&self, retry: u32) -> Duration {
        let uncapped = scale_exactly(
            self.policy.base_delay,
            self.policy.multiplier,
            retry.saturating_sub(1),
        );
        self.cap(uncapped)
    }

    /// The scheduled delay before retry `retry` (1-based), jitter included.
    ///
    /// `previous` is the delay waited before the previous retry (`None` before the first); only
    /// decorrelated jitter uses it, since each of its draws builds on the last.
    pub fn delay(&self, retry: u32, previous: Option<Duration>) -> Duration {
        let exponential = self.exponential(retry);
        match self.policy.jitter {
            Jitter::None => exponential,
            // [0, d]: spreads a burst of clients out the most.
            Jitter::Full => millis_fraction(exponential, self.draw(retry)),
            // [d/2, d] (to the millisecond): keeps half the backoff while still spreading.
            Jitter::Equal => {
                let millis = duration_millis(exponential);
                let spread = millis / 2;
                let kept = Duration::from_millis(millis - spread);
                kept.saturating_add(millis_fraction(
                    Duration::from_millis(spread),
                    self.draw(retry),
                ))
            }
            // [base, 3 × previous], capped (the AWS "decorrelated jitter" schedule). It ignores the
            // multiplier by design: growth comes from building on the previous draw.
            Jitter::Decorrelated => {
                let low = self.policy.base_delay;
                let high = previous.unwrap_or(low).saturating_mul(3).max(low);
                let drawn = low.saturating_add(millis_fraction(high - low, self.draw(retry)));
                self.cap(drawn)
            }
        }
    }

    /// The wait before retry `retry`: the server's `Retry-After` when the policy respects it and
    /// the response carried one (capped by `max-delay`, so a server cannot stall a run), else
    /// the policy's own [`delay`](Self::delay).
    pub fn wait(
        &self,
        retry: u32,
        previous: Option<Duration>,
        retry_after: Option<Duration>,
    ) -> Wait {
        match retry_after {
            Some(asked) if self.policy.respect_retry_after => Wait {
                delay: self.cap(asked),
                source: WaitSource::RetryAfter,
            },
            _ => Wait {
                delay: self.delay(retry, previous),
                source: WaitSource::Backoff,
            },
        }
    }

    /// Every scheduled delay the policy allows, retry 1 first (for previews and dry runs).
    pub fn schedule(&self) -> Vec<Duration> {
        let mut delays = Vec::with_capacity(self.policy.max_retries.min(1024) as usize);
        let mut previous = None;
        for retry in 1..=self.policy.max_retries {
            let delay = self.delay(retry, previous);
            delays.push(delay);
            previous = Some(delay);
        }
        delays
    }

    fn cap(&self, delay: Duration) -> Duration {
        self.policy.max_delay.map_or(delay, |max| delay.min(max))
    }

    fn draw(&self, retry: u32) -> f64 {
        self.random
            .unit(JITTER_POINT, &[self.step.as_bytes(), &retry.to_le_bytes()])
    }
}

/// `base · multiplier^exponent`, exact for whole multipliers, saturating instead of overflowing.
fn scale_exactly(base: Duration, multiplier: f64, exponent: u32) -> Duration {
    if exponent == 0 {
        return base;
    }
    let whole = multiplier.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&multiplier);
    if whole {
        // The range check above makes the cast lossless.
        let factor = u128::from(multiplier as u32);
        return factor
            .checked_pow(exponent)
            .and_then(|f| base.as_nanos().checked_mul(f))
            .map_or(Duration::MAX, duration_from_nanos);
    }
    let exponent = i32::try_from(exponent).unwrap_or(i32::MAX);
    let nanos = base.as_nanos() as f64 * multiplier.powi(exponent);
    // `as` from float saturates (and maps NaN and negatives to 0), so a nonsensical multiplier
    // built by hand gives a defined delay instead of a panic.
    duration_from_nanos(nanos.round() as u128)
}

fn duration_from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    match u64::try_from(nanos / NANOS_PER_SEC) {
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

fn duration_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `floor(d · fraction)` in whole milliseconds, never more than `d`.
fn millis_fraction(d: Duration, fraction: f64) -> Duration {
    let millis = duration_millis(d);
    let drawn = (millis as f64 * fraction).floor() as u64;
    Duration::from_millis(drawn.min(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn default_schedule_is_exactly_two_four_eight_seconds() {
        let p = policy();
        let b = Backoff::new(&p, 42, "deliver");
        assert_eq!(b.schedule(), vec![secs(2), secs(4), secs(8)]);
        assert_eq!(b.delay(1, None), secs(2));
        assert_eq!(b.delay(2, Some(secs(2))), secs(4));
        assert_eq!(b.delay(3, Some(secs(4))), secs(8));
    }

    #[test]
    fn custom_five_retries_from_three_seconds() {
        let p = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_secs_f64(3.0),
            ..policy()
        };
        let b = Backoff::new(&p, 0, "s");
        assert_eq!(
            b.schedule(),
            vec![secs(3), secs(6), secs(12), secs(24), secs(48)]
        );
    }

    #[test]
    fn no_retries_schedules_nothing() {
        let p = RetryPolicy {
            max_retries: 0,
            ..policy()
        };
        assert!(Backoff::new(&p, 0, "s").schedule().is_empty());
    }

    #[test]
    fn retry_zero_is_read_as_the_first_retry() {
        let p = policy();
        assert_eq!(Backoff::new(&p, 0, "s").delay(0, None), secs(2));
    }

    #[test]
    fn max_delay_caps_the_schedule() {
        let p = RetryPolicy {
            max_retries: 6,
            max_delay: Some(secs(10)),
            ..policy()
        };
        let b = Backoff::new(&p, 0, "s");
        assert_eq!(
            b.schedule(),
            vec![secs(2), secs(4), secs(8), secs(10), secs(10), secs(10)]
        );
    }

    #[test]
    fn fractional_multiplier_is_rounded_to_the_nanosecond() {
        let p = RetryPolicy {
            multiplier: 1.5,
            base_delay: Duration::from_millis(500),
            ..policy()
        };
        let b = Backoff::new(&p, 0, "s");
        assert_eq!(
            b.schedule(),
            vec![
                Duration::from_millis(500),
                Duration::from_millis(750),
                Duration::from_micros(1_125_000),
            ]
        );
    }

    #[test]
    fn huge_exponents_and_odd_multipliers_saturate_instead_of_panicking() {
        let p = RetryPolicy {
            multiplier: 10.0,
            ..policy()
        };
        assert_eq!(
            Backoff::new(&p, 0, "s").exponential(u32::MAX),
            Duration::MAX
        );
        let p = RetryPolicy {
            multiplier: 2.5,
            ..policy()
        };
        assert_eq!(
            Backoff::new(&p, 0, "s").exponential(u32::MAX),
            Duration::MAX
        );
        for multiplier in [f64::NAN, -2.0, f64::INFINITY, 0.0, 0.5] {
            let p = RetryPolicy {
                multiplier,
                max_delay: Some(secs(60)),
                ..policy()
            };
            let b = Backoff::new(&p, 0, "s");
            for retry in [0, 1, 2, 100, u32::MAX] {
                assert!(b.exponential(retry) <= secs(60), "{multiplier} {retry}");
            }
        }
        let p = RetryPolicy {
            base_delay: Duration::MAX,
            jitter: Jitter::Decorrelated,
            ..policy()
        };
        let b = Backoff::new(&p, 0, "s");
        for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
            let p = RetryPolicy {
                jitter,
                ..p.clone()
            };
            let _ = Backoff::new(&p, 0, "s").delay(3, Some(Duration::MAX));
        }
        let _ = b.schedule();
    }

    #[test]
    fn jitter_is_reproducible_from_the_seed() {
        for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
            let p = RetryPolicy {
                jitter,
                max_retries: 5,
                ..policy()
            };
            let first = Backoff::new(&p, 42, "deliver").schedule();
            assert_eq!(
                first,
                Backoff::new(&p, 42, "deliver").schedule(),
                "{jitter:?}"
            );
            assert_ne!(
                first,
                Backoff::new(&p, 43, "deliver").schedule(),
                "{jitter:?} other seed"
            );
            assert_ne!(
                first,
                Backoff::new(&p, 42, "other").schedule(),
                "{jitter:?} other step"
            );
        }
    }

    #[test]
    fn jitter_differs_across_attempts() {
        // A constant base (multiplier 1) isolates the draw: equal delays would mean one draw.
        let p = RetryPolicy {
            jitter: Jitter::Full,
            multiplier: 1.0,
            max_retries: 8,
            ..policy()
        };
        let delays = Backoff::new(&p, 7, "s").schedule();
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() >= 7, "{delays:?}");
    }

    #[test]
    fn full_and_equal_jitter_stay_within_their_bounds() {
        for seed in 0..200 {
            for (jitter, low_half) in [(Jitter::Full, false), (Jitter::Equal, true)] {
                let p = RetryPolicy {
                    jitter,
                    max_retries: 4,
                    ..policy()
                };
                let b = Backoff::new(&p, seed, "bounds");
                for retry in 1..=4 {
                    let d = b.delay(retry, None);
                    let ceiling = b.exponential(retry);
                    let floor = if low_half {
                        ceiling / 2
                    } else {
                        Duration::ZERO
                    };
                    assert!(d >= floor && d <= ceiling, "{jitter:?} seed {seed}: {d:?}");
                    assert_eq!(d.subsec_nanos() % 1_000_000, 0, "whole milliseconds");
                }
            }
        }
    }

    #[test]
    fn decorrelated_jitter_builds_on_the_previous_delay_within_the_cap() {
        let p = RetryPolicy {
            jitter: Jitter::Decorrelated,
            max_retries: 10,
            max_delay: Some(secs(20)),
            ..policy()
        };
        for seed in 0..200 {
            let b = Backoff::new(&p, seed, "d");
            let mut previous = None;
            for retry in 1..=10 {
                let d = b.delay(retry, previous);
                let high = previous.unwrap_or(secs(2)) * 3;
                assert!(
                    d >= secs(2) && d <= high.min(secs(20)),
                    "seed {seed}: {d:?}"
                );
                previous = Some(d);
            }
        }
    }

    #[test]
    fn retry_after_replaces_the_delay_when_respected_and_is_capped() {
        let p = RetryPolicy {
            respect_retry_after: true,
            max_delay: Some(secs(30)),
            ..policy()
        };
        let b = Backoff::new(&p, 0, "s");
        assert_eq!(
            b.wait(1, None, Some(secs(5))),
            Wait {
                delay: secs(5),
                source: WaitSource::RetryAfter
            }
        );
        assert_eq!(b.wait(1, None, Some(secs(3600))).delay, secs(30));
        assert_eq!(
            b.wait(2, None, None),
            Wait {
                delay: secs(4),
                source: WaitSource::Backoff
            }
        );
        assert_eq!(b.wait(1, None, Some(Duration::ZERO)).delay, Duration::ZERO);

        let ignoring = RetryPolicy {
            respect_retry_after: false,
            ..p
        };
        let b = Backoff::new(&ignoring, 0, "s");
        assert_eq!(
            b.wait(1, None, Some(secs(5))),
            Wait {
                delay: secs(2),
                source: WaitSource::Backoff
            }
        );
    }
}
