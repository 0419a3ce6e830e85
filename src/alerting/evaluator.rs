//! The alert evaluator: a lossless stage over the run's deliveries that emits alert events.
//!
//! A delivery is the final result of a `call` or `http` step (its `StepFinished`, after
//! retries); it failed when its status is anything but passed (a failure that
//! `continue-on-error` allows is still a failed delivery). Auth failures are 401 and 403
//! answers, counted per attempt. Latency is the delivery's duration on the virtual clock, so
//! an alert depends on the plan and its seed, not on how fast the machine is. The window
//! slides on the virtual clock too; state is per run.

use super::conditions;
use super::lifecycle::Lifecycle;
use super::record::{AlertRecord, RaisedAlert};
use super::window::SlidingWindow;
use crate::exec::{Alert, EventKind, OutcomeClass, RunEvent, Stage, StepStatus};
use crate::model::{AlertKind, AlertingDecl};
use std::time::Duration;

/// The step kinds whose results are deliveries.
const DELIVERY_KINDS: &[&str] = &["call", "http"];

pub struct AlertEvaluator {
    settings: AlertingDecl,
    window: SlidingWindow,
    /// One per [`AlertKind::ALL`], in that order.
    alerts: [Lifecycle; 3],
    /// By step index: whether the step's result is a delivery (learnt from `RunStarted`).
    delivery_steps: Vec<bool>,
    record: AlertRecord,
}

impl AlertEvaluator {
    pub fn new(settings: &AlertingDecl, record: AlertRecord) -> Self {
        Self {
            window: SlidingWindow::new(settings.window),
            settings: settings.clone(),
            alerts: Default::default(),
            delivery_steps: Vec::new(),
            record,
        }
    }

    /// A delivery's final result at `at`; returns the alerts it raised.
    pub fn delivery(&mut self, at: Duration, failed: bool, latency: Duration) -> Vec<Alert> {
        self.window.add_delivery(at, failed, latency);
        self.evaluate(at)
    }

    /// A 401 or 403 answer at `at`; returns the alerts it raised.
    pub fn auth_failure(&mut self, at: Duration) -> Vec<Alert> {
        self.window.add_auth_failure(at);
        self.evaluate(at)
    }

    /// Virtual time passed without a delivery (another step ended): conditions may clear.
    pub fn tick(&mut self, now: Duration) -> Vec<Alert> {
        self.window.advance(now);
        self.evaluate(now)
    }

    fn evaluate(&mut self, at: Duration) -> Vec<Alert> {
        let mut raised = Vec::new();
        let length = self.window.length();
        let deliveries = self.window.counts().deliveries;
        for (kind, lifecycle) in AlertKind::ALL.into_iter().zip(&mut self.alerts) {
            let reading = conditions::read(kind, &self.window, &self.settings);
            if let Some(state) = lifecycle.update(reading.holds, at, length) {
                let alert = Alert {
                    kind,
                    state,
                    value: (reading.value * 1000.0).round() / 1000.0,
                    threshold: reading.threshold,
                    deliveries,
                    window_ms: length.as_millis() as u64,
                };
                self.record.push(RaisedAlert { at, alert });
                raised.push(alert);
            }
        }
        raised
    }
}

impl Stage for AlertEvaluator {
    fn observe(&mut self, event: &RunEvent) -> Vec<EventKind> {
        let at = event.elapsed;
        let raised = match &event.kind {
            EventKind::RunStarted(started) => {
                self.delivery_steps = started
                    .steps
                    .iter()
                    .map(|s| DELIVERY_KINDS.contains(&s.kind.as_str()))
                    .collect();
                Vec::new()
            }
            EventKind::AttemptFinished { attempt, .. }
                if matches!(attempt.outcome, OutcomeClass::Status(401 | 403)) =>
            {
                self.auth_failure(at)
            }
            EventKind::StepFinished { step, outcome } => {
                let delivered = self.delivery_steps.get(*step).copied().unwrap_or(false)
                    && !matches!(outcome.status, StepStatus::Skipped | StepStatus::DryRun);
                if delivered {
                    let failed = outcome.status != StepStatus::Passed;
                    self.delivery(at, failed, outcome.duration)
                } else {
                    self.tick(at)
                }
            }
            _ => Vec::new(),
        };
        raised.into_iter().map(EventKind::Alert).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertState, Span};

    fn evaluator() -> (AlertEvaluator, AlertRecord) {
        let record = AlertRecord::default();
        let settings = AlertingDecl::new(Span::default());
        (AlertEvaluator::new(&settings, record.clone()), record)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_burst_of_failures_fires_once_then_renotifies_once_per_window_then_recovers() {
        let (mut e, record) = evaluator();
        let mut states = Vec::new();
        // Every delivery fails, one per second, for 10 minutes and 10 s (window: 5 minutes).
        for i in 0..610 {
            for alert in e.delivery(ms(i * 1000), true, ms(10)) {
                states.push((i, alert.kind, alert.state));
            }
        }
        assert_eq!(
            states,
            [
                (9, AlertKind::FailureRate, AlertState::Fired),
                (309, AlertKind::FailureRate, AlertState::Renotified),
                (609, AlertKind::FailureRate, AlertState::Renotified),
            ]
        );
        // Then every delivery passes: the rate falls below 10 % and it recovers, once.
        let mut recovered = Vec::new();
        for i in 610..1400 {
            recovered.extend(e.delivery(ms(i * 1000), false, ms(10)));
        }
        assert_eq!(recovered.len(), 1, "{recovered:?}");
        assert_eq!(recovered[0].state, AlertState::Recovered);
        assert!(recovered[0].value < 10.0);
        assert_eq!(record.raised().len(), 4, "the record holds every notice");
    }

    #[test]
    fn no_failure_rate_alert_below_min_deliveries_and_recovery_when_the_window_empties() {
        let (mut e, _) = evaluator();
        for i in 0..9 {
            assert!(e.delivery(ms(i), true, ms(1)).is_empty());
        }
        let fired = e.delivery(ms(9), true, ms(1));
        assert_eq!(fired.len(), 1);
        assert_eq!((fired[0].deliveries, fired[0].value), (10, 100.0));
        // Ten minutes of nothing but other steps: the window empties, the alert clears.
        let cleared = e.tick(Duration::from_secs(600));
        assert_eq!(cleared.len(), 1);
        assert_eq!(cleared[0].state, AlertState::Recovered);
    }

    #[test]
    fn auth_failures_and_latency_fire_at_their_thresholds() {
        let (mut e, _) = evaluator();
        for i in 0..4 {
            assert!(e.auth_failure(ms(i)).is_empty());
        }
        let auth = e.auth_failure(ms(4));
        assert_eq!(auth.len(), 1);
        assert_eq!(
            (auth[0].kind, auth[0].value, auth[0].threshold),
            (AlertKind::AuthFailures, 5.0, 5.0)
        );
        let slow = e.delivery(ms(5), false, Duration::from_secs(6));
        assert_eq!(slow.len(), 1);
        assert_eq!(slow[0].kind, AlertKind::Latency);
        assert!((slow[0].value - 6000.0).abs() <= 60.0, "{}", slow[0].value);
    }
}
