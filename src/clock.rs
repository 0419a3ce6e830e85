//! Scenario time: real waits are scaled by `--time-scale`, the virtual clock advances by the full
//! scheduled amount.
//!
//! Backoff waits, injected sandbox delays and circuit-breaker periods are *scheduled* durations:
//! they really sleep `scale × scheduled`. Timeouts, attempt offsets and `duration-below` are
//! measured on the virtual clock of the step that waits (its [`Timeline`]), so a scenario means
//! the same at any scale. Only the per-request network timeout is real time.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    scale: f64,
    origin: Instant,
    origin_wall: SystemTime,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new(1.0)
    }
}

impl Clock {
    /// `scale` = real seconds slept per scheduled second (0 = never wait).
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            0.0
        };
        Self {
            inner: Arc::new(Inner {
                scale,
                origin: Instant::now(),
                origin_wall: SystemTime::now(),
            }),
        }
    }

    pub fn scale(&self) -> f64 {
        self.inner.scale
    }

    /// Real time since the clock was made.
    pub fn real_elapsed(&self) -> Duration {
        self.inner.origin.elapsed()
    }

    /// The wall-clock time now (for timestamps in logs, never for decisions).
    pub fn wall_now(&self) -> SystemTime {
        self.inner.origin_wall + self.real_elapsed()
    }

    /// The real time a scheduled wait takes at this scale.
    pub fn scaled(&self, scheduled: Duration) -> Duration {
        if self.inner.scale == 0.0 {
            return Duration::ZERO;
        }
        Duration::try_from_secs_f64(scheduled.as_secs_f64() * self.inner.scale)
            .unwrap_or(Duration::MAX)
    }

    /// Waits `scale × scheduled` of real time.
    pub async fn sleep(&self, scheduled: Duration) {
        let real = self.scaled(scheduled);
        if real.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(real).await;
        }
    }

    /// A virtual timeline that starts now, at `start` on the run's virtual clock.
    pub fn timeline(&self, start: Duration) -> Timeline {
        Timeline {
            clock: self.clone(),
            started: Instant::now(),
            start,
            credit: Duration::ZERO,
            deadline: None,
        }
    }
}

/// One sequential thread of virtual time (a step and its attempts).
///
/// Virtual now = start + real time since start + (scheduled − really slept) of every wait.
#[derive(Debug, Clone)]
pub struct Timeline {
    clock: Clock,
    started: Instant,
    start: Duration,
    credit: Duration,
    /// Virtual time (since this timeline started) by which its work must be done.
    deadline: Option<Duration>,
}

impl Timeline {
    /// Limits the timeline: its work must be done `limit` of virtual time after it started.
    pub fn with_deadline(mut self, limit: Option<Duration>) -> Self {
        self.deadline = match (self.deadline, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self
    }

    /// Virtual time left before the deadline (`None` = no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_sub(self.elapsed()))
    }

    /// Whether a wait of `scheduled` would run past the deadline.
    pub fn would_overrun(&self, scheduled: Duration) -> bool {
        self.remaining().is_some_and(|left| scheduled > left)
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Virtual time (since the run started) at which this timeline started.
    pub fn start(&self) -> Duration {
        self.start
    }

    /// Virtual time since the run started.
    pub fn now(&self) -> Duration {
        self.start + self.elapsed()
    }

    /// Virtual time since this timeline started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed() + self.credit
    }

    /// Waits a scheduled duration: the virtual clock advances by exactly `scheduled`.
    pub async fn sleep(&mut self, scheduled: Duration) {
        let before = Instant::now();
        self.clock.sleep(scheduled).await;
        let slept = before.elapsed();
        self.credit += scheduled.saturating_sub(slept);
    }

    /// Counts a wait that happened elsewhere at scale (e.g. a delay the sandbox injected into a
    /// response): `scheduled` of virtual time of which `really` passed in real time.
    pub fn credit(&mut self, scheduled: Duration, really: Duration) {
        self.credit += scheduled.saturating_sub(really);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scale_zero_advances_virtual_time_without_waiting() {
        let clock = Clock::new(0.0);
        let mut timeline = clock.timeline(Duration::from_secs(5));
        let real = Instant::now();
        timeline.sleep(Duration::from_secs(60)).await;
        assert!(real.elapsed() < Duration::from_secs(1));
        assert!(timeline.elapsed() >= Duration::from_secs(60));
        assert!(timeline.now() >= Duration::from_secs(65));
    }

    #[test]
    fn scaling_multiplies_scheduled_waits() {
        assert_eq!(
            Clock::new(0.5).scaled(Duration::from_secs(4)),
            Duration::from_secs(2)
        );
        assert_eq!(
            Clock::new(0.0).scaled(Duration::from_secs(4)),
            Duration::ZERO
        );
        assert_eq!(Clock::new(f64::NAN).scale(), 0.0);
    }

    #[test]
    fn credit_accounts_for_waits_done_elsewhere() {
        let secs = Duration::from_secs;
        let mut timeline = Clock::new(0.0).timeline(secs(10));
        // 3 s scheduled of which 1 s really passed: the virtual clock gains the other 2 s.
        timeline.credit(secs(3), secs(1));
        assert_eq!(timeline.credit, secs(2));
        // More real time than scheduled (a slow machine): nothing is taken back.
        timeline.credit(secs(1), secs(3));
        assert_eq!(timeline.credit, secs(2));
        timeline.credit(Duration::from_millis(500), Duration::ZERO);
        let credit = Duration::from_millis(2500);
        assert_eq!(timeline.credit, credit);
        // Virtual time = real time since the start + the credit, bounded on both sides.
        let before = timeline.started.elapsed();
        let elapsed = timeline.elapsed();
        let now = timeline.now();
        let after = timeline.started.elapsed();
        assert!(before + credit <= elapsed && elapsed <= after + credit);
        assert!(secs(10) + before + credit <= now && now <= secs(10) + after + credit);
    }
}
