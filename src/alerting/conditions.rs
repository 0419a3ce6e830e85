//! The three conditions over a window, and whether each holds: what is measured is what an
//! alert reports.

use super::histogram::{bucket, representative};
use super::window::SlidingWindow;
use crate::model::{AlertKind, AlertingDecl};

/// One condition's reading of the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Percent, a count, or milliseconds (see [`AlertKind`]).
    pub value: f64,
    pub threshold: f64,
    pub holds: bool,
}

/// What `kind` reads in `window` under `settings`.
pub fn read(kind: AlertKind, window: &SlidingWindow, settings: &AlertingDecl) -> Reading {
    let counts = window.counts();
    let threshold = settings.threshold(kind);
    let (value, holds) = match kind {
        // Too few deliveries say nothing about a rate: one failure of one is not 100 %.
        AlertKind::FailureRate => {
            let value = if counts.deliveries == 0 {
                0.0
            } else {
                counts.failed as f64 * 100.0 / counts.deliveries as f64
            };
            let enough = counts.deliveries >= u64::from(settings.min_deliveries);
            (value, enough && value >= threshold)
        }
        AlertKind::AuthFailures => {
            let value = counts.auth_failures as f64;
            (value, value >= threshold)
        }
        // Compared as the histogram sees the threshold: a p95 in the threshold's own bucket
        // is at the threshold, whichever side of the bucket's midpoint the two fall.
        AlertKind::Latency => match window.p95_ms() {
            Some(p95) => {
                let micros = settings.latency_threshold.as_micros().min(u64::MAX as u128) as u64;
                (p95, p95 >= representative(bucket(micros)) / 1000.0)
            }
            None => (0.0, false),
        },
    };
    Reading {
        value,
        threshold,
        holds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Span;
    use std::time::Duration;

    fn settings() -> AlertingDecl {
        AlertingDecl::new(Span::default())
    }

    #[test]
    fn the_failure_rate_waits_for_min_deliveries() {
        let mut w = SlidingWindow::new(Duration::from_secs(300));
        for i in 0..9 {
            w.add_delivery(Duration::from_secs(i), true, Duration::ZERO);
        }
        let r = read(AlertKind::FailureRate, &w, &settings());
        assert_eq!((r.value, r.holds), (100.0, false), "9 of min 10");
        w.add_delivery(Duration::from_secs(9), true, Duration::ZERO);
        assert!(read(AlertKind::FailureRate, &w, &settings()).holds);
    }

    #[test]
    fn each_condition_holds_at_its_threshold() {
        let mut w = SlidingWindow::new(Duration::from_secs(300));
        for i in 0..10 {
            // 1 failure in 10 = 10 %, exactly the default threshold.
            w.add_delivery(Duration::from_secs(i), i == 0, Duration::from_secs(5));
        }
        for _ in 0..4 {
            w.add_auth_failure(Duration::from_secs(10));
        }
        let s = settings();
        assert!(read(AlertKind::FailureRate, &w, &s).holds);
        assert!(!read(AlertKind::AuthFailures, &w, &s).holds, "4 of 5");
        w.add_auth_failure(Duration::from_secs(11));
        assert!(read(AlertKind::AuthFailures, &w, &s).holds);
        let latency = read(AlertKind::Latency, &w, &s);
        assert!(latency.holds, "{latency:?}");
        assert!((latency.value - 5000.0).abs() / 5000.0 <= 0.01);
        assert_eq!(latency.threshold, 5000.0);
    }
}
