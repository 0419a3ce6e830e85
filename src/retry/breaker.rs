//! Per-target circuit breakers, driven by the run's virtual clock.
//!
//! Closed: requests pass and their outcomes are counted. After `failures` consecutive failures,
//! or a failure ratio of at least `ratio` over the last `window` requests (once that many were
//! seen), the breaker opens: it rejects requests without sending them ("circuit open"). Once
//! `open-for` has passed it is half-open: it lets `probes` requests through; when they all
//! succeed it closes, when one fails it opens again.
//!
//! Time is never read here: each call gets `now`, the virtual time since the run started, so a
//! scenario behaves the same at any `--time-scale` and tests need no sleeping. Every state
//! change is returned as a [`Transition`] for the engine to emit as an event.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::classify::AttemptOutcome;
use crate::model::{CircuitBreakerPolicy, HumanDuration};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a breaker changed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionReason {
    ConsecutiveFailures { failures: u32 },
    FailureRatio { failures: u32, window: u32 },
    OpenPeriodElapsed { open_for: Duration },
    ProbesSucceeded { probes: u32 },
    ProbeFailed,
}

impl fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConsecutiveFailures { failures } => write!(f, "{failures} consecutive failures"),
            Self::FailureRatio { failures, window } => {
                write!(f, "{failures} of the last {window} requests failed")
            }
            Self::OpenPeriodElapsed { open_for } => {
                write!(f, "open for {}", HumanDuration(*open_for))
            }
            Self::ProbesSucceeded { probes: 1 } => f.write_str("the probe succeeded"),
            Self::ProbesSucceeded { probes } => write!(f, "{probes} probes succeeded"),
            Self::ProbeFailed => f.write_str("a probe failed"),
        }
    }
}

/// A state change, for the engine to emit as an event (and the report to list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
    pub reason: TransitionReason,
    /// Virtual time since the run started.
    pub at: Duration,
}

/// Permission to send one request; hand it back with the outcome.
///
/// It names the breaker state it was issued in, so an outcome that arrives after the state
/// changed (a request that was already in flight when the breaker opened) is not counted twice
/// or against the wrong phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "record the outcome with this ticket, or the breaker never learns of it"]
pub struct Ticket {
    generation: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send the request, then record its outcome with the ticket.
    Admitted(Ticket),
    /// Fail fast: send nothing. `retry_in` is how long until the breaker lets a probe through
    /// (on the virtual clock).
    Rejected { retry_in: Duration },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Open {
        since: Duration,
    },
    /// `admitted` probes are out, of which `succeeded` came back good.
    HalfOpen {
        since: Duration,
        admitted: u32,
        succeeded: u32,
    },
}

/// One target's breaker.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    policy: CircuitBreakerPolicy,
    phase: Phase,
    /// Bumped on every state change; tickets from an earlier phase are ignored.
    generation: u64,
    consecutive_failures: u32,
    /// The last `window` outcomes while closed (true = failed), kept only in ratio mode.
    recent: VecDeque<bool>,
    recent_failures: u32,
}

impl CircuitBreaker {
    pub fn new(policy: CircuitBreakerPolicy) -> Self {
        Self {
            policy,
            phase: Phase::Closed,
            generation: 0,
            consecutive_failures: 0,
            recent: VecDeque::new(),
            recent_failures: 0,
        }
    }

    pub fn policy(&self) -> &CircuitBreakerPolicy {
        &self.policy
    }

    /// The state as of the last call; an open period that has run out turns half-open at the
    /// next [`admit`](Self::admit), where the transition is reported.
    pub fn state(&self) -> BreakerState {
        match self.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to send one request at virtual time `now`.
    pub fn admit(&mut self, now: Duration) -> (Admission, Option<Transition>) {
        let mut transition = None;
        if let Phase::Open { since } = self.phase {
            let reopens = since.saturating_add(self.policy.open_for);
            if now < reopens {
                return (
                    Admission::Rejected {
                        retry_in: reopens - now,
                    },
                    None,
                );
            }
            transition = Some(self.change(
                Phase::HalfOpen {
                    since: now,
                    admitted: 0,
                    succeeded: 0,
                },
                TransitionReason::OpenPeriodElapsed {
                    open_for: self.policy.open_for,
                },
                now,
            ));
        }
        let ticket = Ticket {
            generation: self.generation,
        };
        let admission = match &mut self.phase {
            Phase::Closed => Admission::Admitted(ticket),
            Phase::Open { .. } => unreachable_open(),
            Phase::HalfOpen {
                since,
                admitted,
                succeeded,
            } => {
                let probes = self.policy.probes.max(1);
                let frees_at = since.saturating_add(self.policy.open_for);
                // A probe that never reports back (its step was cancelled) would hold its slot
                // forever; after another open period its slot is given to a new probe.
                if *admitted >= probes && now >= frees_at {
                    *admitted = *succeeded;
                    *since = now;
                }
                if *admitted < probes {
                    *admitted += 1;
                    Admission::Admitted(ticket)
                } else {
                    Admission::Rejected {
                        retry_in: frees_at.saturating_sub(now),
                    }
                }
            }
        };
        (admission, transition)
    }

    /// Records what an admitted request got. Only server errors and network failures count
    /// against the target; any other response counts for it; an outcome that says nothing about
    /// the target (`Other`, `CircuitOpen`) only frees a probe slot.
    pub fn record(
        &mut self,
        ticket: Ticket,
        outcome: &AttemptOutcome,
        now: Duration,
    ) -> Option<Transition> {
        if ticket.generation != self.generation {
            return None;
        }
        let failed = match outcome {
            AttemptOutcome::Status(_) => outcome.is_target_failure(),
            AttemptOutcome::Timeout | AttemptOutcome::Connect | AttemptOutcome::Reset => true,
            AttemptOutcome::CircuitOpen | AttemptOutcome::Other(_) => {
                if let Phase::HalfOpen { admitted, .. } = &mut self.phase {
                    *admitted = admitted.saturating_sub(1);
                }
                return None;
            }
        };
        match self.phase {
            Phase::Closed => self.record_closed(failed, now),
            Phase::Open { .. } => None,
            Phase::HalfOpen {
                since,
                admitted,
                succeeded,
            } => {
                if failed {
                    return Some(self.change(
                        Phase::Open { since: now },
                        TransitionReason::ProbeFailed,
                        now,
                    ));
                }
                let succeeded = succeeded + 1;
                let probes = self.policy.probes.max(1);
                if succeeded >= probes {
                    return Some(self.change(
                        Phase::Closed,
                        TransitionReason::ProbesSucceeded { probes },
                        now,
                    ));
                }
                self.phase = Phase::HalfOpen {
                    since,
                    admitted,
                    succeeded,
                };
                None
            }
        }
    }

    fn record_closed(&mut self, failed: bool, now: Duration) -> Option<Transition> {
        self.consecutive_failures = if failed {
            self.consecutive_failures.saturating_add(1)
        } else {
            0
        };
        if let Some(threshold) = self.policy.consecutive_failures
            && failed
            && self.consecutive_failures >= threshold
        {
            let failures = self.consecutive_failures;
            let reason = TransitionReason::ConsecutiveFailures { failures };
            return Some(self.change(Phase::Open { since: now }, reason, now));
        }
        let ratio = self.policy.failure_ratio?;
        let window = self.policy.window.max(1);
        self.recent.push_back(failed);
        self.recent_failures += u32::from(failed);
        while self.recent.len() > window as usize {
            if self.recent.pop_front() == Some(true) {
                self.recent_failures -= 1;
            }
        }
        // Only a full window is judged, so one early failure cannot open the breaker; and only
        // a failure can raise the ratio, so only a failure opens it.
        let full = self.recent.len() == window as usize;
        if full && failed && f64::from(self.recent_failures) >= ratio * f64::from(window) {
            let reason = TransitionReason::FailureRatio {
                failures: self.recent_failures,
                window,
            };
            return Some(self.change(Phase::Open { since: now }, reason, now));
        }
        None
    }

    fn change(&mut self, to: Phase, reason: TransitionReason, now: Duration) -> Transition {
        let from = self.state();
        self.phase = to;
        self.generation = self.generation.wrapping_add(1);
        if to == Phase::Closed || matches!(to, Phase::Open { .. }) {
            // A closed breaker starts counting afresh; an open one counts nothing until it
            // probes again.
            self.consecutive_failures = 0;
            self.recent.clear();
            self.recent_failures = 0;
        }
        Transition {
            from,
            to: self.state(),
            reason,
            at: now,
        }
    }
}

/// `admit` turns an open breaker half-open before matching, so this arm cannot be reached; it
/// rejects rather than panics should that ever change.
fn unreachable_open() -> Admission {
    Admission::Rejected {
        retry_in: Duration::ZERO,
    }
}

/// The breakers of one run, one per target (`host:port`), shared by all steps.
///
/// The lock is a `std::sync::Mutex` on purpose: each method locks, updates and unlocks before
/// it returns, and no guard ever leaves this type, so it is never held across an `.await` and
/// never contended for longer than a few field updates.
///
/// A target's breaker is made with the policy of the first step that reaches it; steps that
/// name another breaker policy for the same target share that one breaker (the target's health
/// is one fact, whoever asks).
#[derive(Debug, Default)]
pub struct Breakers {
    by_target: Mutex<HashMap<String, CircuitBreaker>>,
}

impl Breakers {
    pub fn new() -> Self {
        Self::default()
    }

    /// [`CircuitBreaker::admit`] on the target's breaker, made with `policy` if it is new.
    pub fn admit(
        &self,
        target: &str,
        policy: &CircuitBreakerPolicy,
        now: Duration,
    ) -> (Admission, Option<Transition>) {
        let mut by_target = self
            .by_target
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Look up before inserting so the common case does not allocate the key.
        if let Some(breaker) = by_target.get_mut(target) {
            return breaker.admit(now);
        }
        by_target
            .entry(target.to_string())
            .or_insert_with(|| CircuitBreaker::new(policy.clone()))
            .admit(now)
    }

    /// [`CircuitBreaker::record`] on the target's breaker; nothing for an unknown target.
    pub fn record(
        &self,
        target: &str,
        ticket: Ticket,
        outcome: &AttemptOutcome,
        now: Duration,
    ) -> Option<Transition> {
        let mut by_target = self
            .by_target
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        by_target.get_mut(target)?.record(ticket, outcome, now)
    }

    pub fn state(&self, target: &str) -> Option<BreakerState> {
        let by_target = self
            .by_target
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        by_target.get(target).map(CircuitBreaker::state)
    }
}

/// The breaker key of a URL: `host:port`, with the scheme's default port when none is written
/// (`https://api.example.com/x` → `api.example.com:443`). `None` for URLs without a host.
pub fn target_of(url: &url::Url) -> Option<String> {
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    Some(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn consecutive(n: u32, probes: u32) -> CircuitBreakerPolicy {
        CircuitBreakerPolicy {
            consecutive_failures: Some(n),
            open_for: secs(30),
            probes,
            ..CircuitBreakerPolicy::default()
        }
    }

    /// Sends one request with this outcome; returns the transitions it caused, or `None` when
    /// the breaker rejected it.
    fn send(
        b: &mut CircuitBreaker,
        outcome: AttemptOutcome,
        now: Duration,
    ) -> Option<Vec<Transition>> {
        let (admission, opened) = b.admit(now);
        let Admission::Admitted(ticket) = admission else {
            return None;
        };
        Some(
            opened
                .into_iter()
                .chain(b.record(ticket, &outcome, now))
                .collect(),
        )
    }

    const FAIL: AttemptOutcome = AttemptOutcome::Status(503);
    const OK: AttemptOutcome = AttemptOutcome::Status(200);

    #[test]
    fn opens_after_consecutive_failures_and_fails_fast() {
        let mut b = CircuitBreaker::new(consecutive(3, 1));
        assert_eq!(send(&mut b, FAIL, secs(0)), Some(vec![]));
        assert_eq!(send(&mut b, AttemptOutcome::Timeout, secs(1)), Some(vec![]));
        let opened = send(&mut b, AttemptOutcome::Connect, secs(2)).unwrap();
        assert_eq!(
            opened,
            vec![Transition {
                from: BreakerState::Closed,
                to: BreakerState::Open,
                reason: TransitionReason::ConsecutiveFailures { failures: 3 },
                at: secs(2),
            }]
        );
        assert_eq!(opened[0].reason.to_string(), "3 consecutive failures");
        assert_eq!(
            b.admit(secs(12)),
            (Admission::Rejected { retry_in: secs(20) }, None)
        );
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn a_success_resets_the_consecutive_count() {
        let mut b = CircuitBreaker::new(consecutive(3, 1));
        for outcome in [
            FAIL,
            FAIL,
            OK,
            FAIL,
            FAIL,
            AttemptOutcome::Status(404),
            FAIL,
            FAIL,
        ] {
            assert_eq!(send(&mut b, outcome, secs(0)), Some(vec![]));
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn open_then_half_open_then_closed() {
        let mut b = CircuitBreaker::new(consecutive(2, 2));
        send(&mut b, FAIL, secs(0));
        send(&mut b, FAIL, secs(1));
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(
            send(&mut b, OK, secs(30)),
            None,
            "still open at 29 s after opening"
        );

        let (first, half_open) = b.admit(secs(31));
        let half_open = half_open.expect("turns half-open after open-for");
        assert_eq!(
            (half_open.from, half_open.to),
            (BreakerState::Open, BreakerState::HalfOpen)
        );
        assert_eq!(half_open.reason.to_string(), "open for 30s");
        let (second, none) = b.admit(secs(31));
        assert!(none.is_none());
        // Both probe slots are taken: a third request is turned away.
        assert!(matches!(b.admit(secs(31)).0, Admission::Rejected { .. }));

        let (Admission::Admitted(first), Admission::Admitted(second)) = (first, second) else {
            panic!("two probes admitted")
        };
        assert_eq!(b.record(first, &OK, secs(32)), None);
        let closed = b
            .record(second, &OK, secs(32))
            .expect("closes after all probes");
        assert_eq!(
            (closed.from, closed.to),
            (BreakerState::HalfOpen, BreakerState::Closed)
        );
        assert_eq!(
            closed.reason,
            TransitionReason::ProbesSucceeded { probes: 2 }
        );

        // Closed again, counting from zero.
        send(&mut b, FAIL, secs(33));
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_failed_probe_reopens_for_another_period() {
        let mut b = CircuitBreaker::new(consecutive(1, 1));
        send(&mut b, AttemptOutcome::Reset, secs(0));
        let transitions = send(&mut b, FAIL, secs(30)).expect("probe admitted");
        let states: Vec<_> = transitions.iter().map(|t| (t.from, t.to)).collect();
        assert_eq!(
            states,
            vec![
                (BreakerState::Open, BreakerState::HalfOpen),
                (BreakerState::HalfOpen, BreakerState::Open)
            ]
        );
        assert_eq!(transitions[1].reason, TransitionReason::ProbeFailed);
        assert_eq!(
            b.admit(secs(59)).0,
            Admission::Rejected { retry_in: secs(1) }
        );
        assert_eq!(
            send(&mut b, OK, secs(60)).map(|t| t.len()),
            Some(2),
            "half-open, closed"
        );
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn ratio_mode_judges_only_a_full_window() {
        let policy = CircuitBreakerPolicy {
            failure_ratio: Some(0.5),
            window: 4,
            ..CircuitBreakerPolicy::default()
        };
        let mut b = CircuitBreaker::new(policy);
        // Two failures in the first two requests: 100 %, but the window is not full yet.
        assert_eq!(send(&mut b, FAIL, secs(0)), Some(vec![]));
        assert_eq!(send(&mut b, FAIL, secs(0)), Some(vec![]));
        assert_eq!(send(&mut b, OK, secs(0)), Some(vec![]));
        assert_eq!(
            send(&mut b, OK, secs(0)),
            Some(vec![]),
            "a success never opens it"
        );
        // Window now [F, F, OK, OK] → [F, OK, OK, F]: 2 of 4 failed, at the ratio.
        let opened = send(&mut b, FAIL, secs(1)).unwrap();
        assert_eq!(opened.len(), 1);
        assert_eq!(
            opened[0].reason,
            TransitionReason::FailureRatio {
                failures: 2,
                window: 4
            }
        );
        assert_eq!(
            opened[0].reason.to_string(),
            "2 of the last 4 requests failed"
        );
    }

    #[test]
    fn ratio_mode_forgets_outcomes_that_left_the_window() {
        let policy = CircuitBreakerPolicy {
            failure_ratio: Some(0.75),
            window: 4,
            ..CircuitBreakerPolicy::default()
        };
        let mut b = CircuitBreaker::new(policy);
        for outcome in [FAIL, FAIL, OK, OK, OK, OK, FAIL, FAIL] {
            assert_eq!(send(&mut b, outcome, secs(0)), Some(vec![]));
        }
        assert_eq!(
            send(&mut b, FAIL, secs(0)).map(|t| t.len()),
            Some(1),
            "3 of the last 4"
        );
    }

    #[test]
    fn outcomes_of_an_earlier_phase_are_not_counted() {
        let mut b = CircuitBreaker::new(consecutive(1, 1));
        let (Admission::Admitted(in_flight), _) = b.admit(secs(0)) else {
            panic!()
        };
        send(&mut b, FAIL, secs(0));
        assert_eq!(b.state(), BreakerState::Open);
        // The request sent before it opened comes back after: ignored.
        assert_eq!(b.record(in_flight, &OK, secs(1)), None);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn a_probe_that_never_reports_frees_its_slot_after_another_period() {
        let mut b = CircuitBreaker::new(consecutive(1, 1));
        send(&mut b, FAIL, secs(0));
        let (Admission::Admitted(_lost), _) = b.admit(secs(30)) else {
            panic!()
        };
        assert_eq!(
            b.admit(secs(45)).0,
            Admission::Rejected { retry_in: secs(15) }
        );
        assert!(matches!(b.admit(secs(60)).0, Admission::Admitted(_)));
    }

    #[test]
    fn outcomes_that_say_nothing_about_the_target_free_the_probe() {
        let mut b = CircuitBreaker::new(consecutive(1, 1));
        send(&mut b, FAIL, secs(0));
        let (Admission::Admitted(probe), _) = b.admit(secs(30)) else {
            panic!()
        };
        assert_eq!(
            b.record(probe, &AttemptOutcome::Other("tls".into()), secs(30)),
            None
        );
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(matches!(b.admit(secs(30)).0, Admission::Admitted(_)));
    }

    #[test]
    fn time_going_backwards_does_not_panic() {
        let mut b = CircuitBreaker::new(consecutive(1, 1));
        send(&mut b, FAIL, secs(100));
        assert!(matches!(b.admit(secs(5)).0, Admission::Rejected { .. }));
        let mut b = CircuitBreaker::new(CircuitBreakerPolicy {
            consecutive_failures: Some(0),
            failure_ratio: Some(f64::NAN),
            window: 0,
            open_for: Duration::MAX,
            probes: 0,
        });
        send(&mut b, FAIL, Duration::MAX);
        let _ = b.admit(Duration::ZERO);
        let _ = b.admit(Duration::MAX);
    }

    #[test]
    fn the_registry_keeps_one_breaker_per_target() {
        let breakers = Breakers::new();
        let policy = consecutive(1, 1);
        let (Admission::Admitted(a), None) = breakers.admit("a:443", &policy, secs(0)) else {
            panic!()
        };
        let opened = breakers
            .record("a:443", a, &FAIL, secs(0))
            .expect("a opens");
        assert_eq!(opened.to, BreakerState::Open);
        assert!(matches!(
            breakers.admit("a:443", &policy, secs(1)).0,
            Admission::Rejected { .. }
        ));
        assert!(matches!(
            breakers.admit("b:443", &policy, secs(1)).0,
            Admission::Admitted(_)
        ));
        assert_eq!(breakers.state("a:443"), Some(BreakerState::Open));
        assert_eq!(breakers.state("b:443"), Some(BreakerState::Closed));
        assert_eq!(breakers.state("c:443"), None);
    }

    #[test]
    fn targets_are_host_and_port() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            target_of(&url("https://API.example.com/x?y")).as_deref(),
            Some("api.example.com:443")
        );
        assert_eq!(
            target_of(&url("http://127.0.0.1:8080/")).as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            target_of(&url("http://[::1]/")).as_deref(),
            Some("[::1]:80")
        );
        assert_eq!(target_of(&url("data:text/plain,hi")), None);
    }
}
