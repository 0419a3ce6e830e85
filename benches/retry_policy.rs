//! The retry layer's own cost around one request, without the network: the issue asks for at
//! most 1 µs per call on a first-attempt success (the spec promises "no overhead").
//!
//! Run with `cargo bench --bench retry_policy`.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use divan::Bencher;
use hookplan::model::{CircuitBreakerPolicy, Jitter, RetryPolicy, SignatureScheme};
use hookplan::retry::{
    Admission, AttemptOutcome, Backoff, Breakers, Decision, decide, parse_retry_after,
};
use hookplan::signature;

fn main() {
    divan::main();
}

fn policy_with_breaker() -> RetryPolicy {
    RetryPolicy {
        jitter: Jitter::Full,
        max_delay: Some(Duration::from_secs(30)),
        circuit_breaker: Some(CircuitBreakerPolicy {
            consecutive_failures: Some(5),
            failure_ratio: Some(0.5),
            window: 20,
            ..CircuitBreakerPolicy::default()
        }),
        ..RetryPolicy::default()
    }
}

/// Everything the runner does around a request that succeeds at once: set up the step's
/// backoff, admit at the target's breaker, record the outcome (ratio window included), decide,
/// and take the outcome's class for the report's attempt entry.
#[divan::bench]
fn first_attempt_success(bencher: Bencher) {
    let policy = policy_with_breaker();
    let breaker_policy = policy.circuit_breaker.clone().unwrap();
    let breakers = Breakers::new();
    let mut tick = 0u64;
    bencher.bench_local(|| {
        tick += 1;
        let now = Duration::from_millis(tick);
        let backoff = Backoff::new(&policy, 42, "deliver");
        let (admission, opened) = breakers.admit("api.example.com:443", &breaker_policy, now);
        let Admission::Admitted(ticket) = admission else {
            unreachable!("never opens")
        };
        let outcome = AttemptOutcome::Status(200);
        let closed = breakers.record("api.example.com:443", ticket, &outcome, now);
        let decision = decide(&policy, black_box(&outcome), 0);
        assert_eq!(decision, Decision::Success);
        black_box((backoff, opened, closed, outcome.class()));
    });
}

/// The same without a breaker (the default policy).
#[divan::bench]
fn first_attempt_success_without_breaker(bencher: Bencher) {
    let policy = RetryPolicy::default();
    bencher.bench_local(|| {
        let backoff = Backoff::new(&policy, 42, "deliver");
        let outcome = AttemptOutcome::Status(200);
        let decision = decide(&policy, black_box(&outcome), 0);
        black_box((backoff, decision, outcome.class()));
    });
}

/// Deciding to retry a 503 and scheduling the wait (jitter is one keyed SHA-256 draw).
#[divan::bench(args = [Jitter::None, Jitter::Full, Jitter::Equal, Jitter::Decorrelated])]
fn retry_after_503(bencher: Bencher, jitter: Jitter) {
    let policy = RetryPolicy {
        jitter,
        ..policy_with_breaker()
    };
    bencher.bench_local(|| {
        let decision = decide(&policy, black_box(&AttemptOutcome::Status(503)), 1);
        let wait = Backoff::new(&policy, 42, "deliver").wait(2, Some(Duration::from_secs(2)), None);
        black_box((decision, wait));
    });
}

#[divan::bench(args = ["120", "Sun, 06 Nov 1994 08:49:37 GMT"])]
fn retry_after_header(value: &str) -> Option<Duration> {
    parse_retry_after(black_box(value), SystemTime::UNIX_EPOCH)
}

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;

#[divan::bench(args = [SignatureScheme::StandardWebhooks, SignatureScheme::Stripe])]
fn sign_and_verify(scheme: SignatureScheme) {
    let headers = signature::sign(scheme, SECRET, "msg_1", 1_649_367_553, black_box(BODY)).unwrap();
    let pairs = headers.iter().map(|(k, v)| (*k, v.as_str()));
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_649_367_553);
    signature::verify(
        scheme,
        SECRET,
        pairs,
        BODY,
        now,
        signature::DEFAULT_TOLERANCE,
    )
    .unwrap();
}
