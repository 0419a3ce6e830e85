//! The sliding window over deliveries, on the virtual clock, in fixed memory.
//!
//! The window is cut into [`SLICES`] slices of equal length; each keeps its counts and its
//! latency histogram, and the window's totals are kept beside them, so adding a delivery and
//! reading the window cost the same whether it holds ten deliveries or ten million. The window
//! therefore moves in steps of 1/[`SLICES`] of its length: it holds the current slice and the
//! ones before it that began less than a window ago. Memory is the slices' and nothing more,
//! whatever the number of deliveries.
//!
//! Events reach the evaluator in the order they were sent, which with several jobs is not
//! quite the order of virtual time: a delivery stamped before the newest one seen is still
//! counted in its own slice while that slice is in the window.

use super::histogram::{LatencyHistogram, bucket};
use std::time::Duration;

/// Slices per window.
pub const SLICES: usize = 100;

#[derive(Debug, Default, Clone)]
struct Slice {
    /// Which slice of the run this is (virtual time ÷ slice length).
    number: u64,
    counts: Counts,
    latency: LatencyHistogram,
}

/// What a window (or one slice of it) holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub deliveries: u64,
    pub failed: u64,
    /// 401 and 403 answers (attempts, not deliveries).
    pub auth_failures: u64,
}

impl Counts {
    fn take(&mut self, other: Counts) {
        self.deliveries -= other.deliveries;
        self.failed -= other.failed;
        self.auth_failures -= other.auth_failures;
    }
}

pub struct SlidingWindow {
    length: Duration,
    slice_micros: u64,
    slices: Vec<Slice>,
    /// The newest slice number seen: the window's present.
    newest: u64,
    totals: Counts,
    latency: LatencyHistogram,
}

impl SlidingWindow {
    pub fn new(length: Duration) -> Self {
        let micros = length.as_micros().min(u64::MAX as u128) as u64;
        let slice_micros = (micros / SLICES as u64).max(1);
        Self {
            length,
            slice_micros,
            slices: (0..SLICES as u64)
                .map(|number| Slice {
                    number,
                    ..Slice::default()
                })
                .collect(),
            newest: 0,
            totals: Counts::default(),
            latency: LatencyHistogram::default(),
        }
    }

    pub fn length(&self) -> Duration {
        self.length
    }

    fn slice_of(&self, at: Duration) -> u64 {
        (at.as_micros().min(u64::MAX as u128) as u64) / self.slice_micros
    }

    /// Moves the window's present to `now` (never back), dropping the slices that left it.
    pub fn advance(&mut self, now: Duration) {
        let target = self.slice_of(now);
        if target <= self.newest {
            return;
        }
        let first = (self.newest + 1).max(target.saturating_sub(SLICES as u64 - 1));
        for number in first..=target {
            let slice = &mut self.slices[(number % SLICES as u64) as usize];
            self.totals.take(slice.counts);
            self.latency.subtract(&slice.latency);
            slice.counts = Counts::default();
            slice.latency.clear();
            slice.number = number;
        }
        self.newest = target;
    }

    /// The slice for something that happened at `at`, if that is still in the window.
    fn slice_at(&mut self, at: Duration) -> Option<&mut Slice> {
        self.advance(at);
        let number = self.slice_of(at);
        if number + (SLICES as u64) <= self.newest {
            return None;
        }
        let slice = &mut self.slices[(number % SLICES as u64) as usize];
        debug_assert_eq!(slice.number, number);
        Some(slice)
    }

    /// A delivery's final result at `at`: whether it failed, and how long it took.
    pub fn add_delivery(&mut self, at: Duration, failed: bool, latency: Duration) {
        let index = bucket(latency.as_micros().min(u64::MAX as u128) as u64);
        let Some(slice) = self.slice_at(at) else {
            return;
        };
        slice.counts.deliveries += 1;
        slice.counts.failed += u64::from(failed);
        slice.latency.add(index);
        self.totals.deliveries += 1;
        self.totals.failed += u64::from(failed);
        self.latency.add(index);
    }

    /// A 401 or 403 answer at `at`.
    pub fn add_auth_failure(&mut self, at: Duration) {
        if let Some(slice) = self.slice_at(at) {
            slice.counts.auth_failures += 1;
            self.totals.auth_failures += 1;
        }
    }

    pub fn counts(&self) -> Counts {
        self.totals
    }

    /// The p95 of the deliveries' latency in the window, in milliseconds.
    pub fn p95_ms(&self) -> Option<f64> {
        self.latency.quantile(0.95).map(|micros| micros / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn deliveries_leave_the_window_once_it_has_moved_past_them() {
        let mut w = SlidingWindow::new(s(100));
        w.add_delivery(s(0), true, s(1));
        w.add_delivery(s(50), false, s(1));
        assert_eq!(w.counts().deliveries, 2);
        // The first leaves when a whole window has passed since its slice began.
        w.advance(s(99));
        assert_eq!((w.counts().deliveries, w.counts().failed), (2, 1));
        w.advance(s(100));
        assert_eq!((w.counts().deliveries, w.counts().failed), (1, 0));
        w.advance(s(1000));
        assert_eq!(w.counts(), Counts::default());
        assert_eq!(w.p95_ms(), None);
    }

    #[test]
    fn a_late_event_counts_in_its_own_slice_while_that_is_in_the_window() {
        let mut w = SlidingWindow::new(s(100));
        w.advance(s(60));
        w.add_auth_failure(s(10));
        assert_eq!(w.counts().auth_failures, 1);
        w.add_auth_failure(s(150)); // moves the present to 150: the one at 10 leaves
        assert_eq!(w.counts().auth_failures, 1);
        w.add_delivery(s(20), true, s(1)); // before the window: not counted
        assert_eq!(w.counts().deliveries, 0);
    }

    #[test]
    fn time_never_goes_back() {
        let mut w = SlidingWindow::new(s(10));
        w.add_delivery(s(100), false, Duration::from_millis(5));
        w.advance(s(5));
        assert_eq!(w.counts().deliveries, 1);
        assert!((w.p95_ms().unwrap() - 5.0).abs() < 0.05);
    }
}
