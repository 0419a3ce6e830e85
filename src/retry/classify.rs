//! What an attempt ended with, and whether the policy retries it.
//!
//! The rule is the spec's: retry server errors, timeouts and connection failures; never retry a
//! client error, because sending the same request again cannot fix it. 408 and 429 are the
//! exceptions a policy may opt into (they say "later", not "wrong").

use std::borrow::Cow;
use std::fmt;
use std::io;

use crate::model::RetryPolicy;

/// How one attempt (one request) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A response arrived with this status.
    Status(u16),
    /// No response within the per-attempt timeout.
    Timeout,
    /// No connection could be made (refused, unreachable, DNS).
    Connect,
    /// The connection broke after it was made (reset, closed mid-response).
    Reset,
    /// The target's circuit breaker is open: nothing was sent.
    CircuitOpen,
    /// Any other failure (TLS, an invalid request, ...). The text is for people, never for
    /// digests: it may vary from run to run.
    Other(String),
}

impl AttemptOutcome {
    /// The stable class reports and digests use: `"503"`, `"timeout"`, `"connect"`, `"reset"`,
    /// `"circuit-open"`, `"error"`. Never the raw error text, which differs across runs.
    pub fn class(&self) -> Cow<'static, str> {
        match self {
            Self::Status(status) => Cow::Owned(status.to_string()),
            Self::Timeout => Cow::Borrowed("timeout"),
            Self::Connect => Cow::Borrowed("connect"),
            Self::Reset => Cow::Borrowed("reset"),
            Self::CircuitOpen => Cow::Borrowed("circuit-open"),
            Self::Other(_) => Cow::Borrowed("error"),
        }
    }

    /// The class as events carry it.
    pub fn to_class(&self) -> crate::exec::event::OutcomeClass {
        use crate::exec::event::OutcomeClass;
        match self {
            Self::Status(status) => OutcomeClass::Status(*status),
            Self::Timeout => OutcomeClass::Timeout,
            Self::Connect => OutcomeClass::Connect,
            Self::Reset => OutcomeClass::Reset,
            Self::CircuitOpen => OutcomeClass::CircuitOpen,
            Self::Other(_) => OutcomeClass::Error,
        }
    }

    /// A 2xx response.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Status(200..=299))
    }

    /// Whether this outcome counts against the target's health in a circuit breaker: server
    /// errors and network failures do; client errors are the caller's fault and do not.
    pub fn is_target_failure(&self) -> bool {
        matches!(
            self,
            Self::Status(500..=599) | Self::Timeout | Self::Connect | Self::Reset
        )
    }

    /// Classifies a transport error by walking its source chain for the I/O error underneath
    /// (hyper and reqwest wrap it several layers deep). Check the client's own timeout flag
    /// (`reqwest::Error::is_timeout`) first: its timeouts carry no I/O error.
    pub fn from_error_chain(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut current = Some(error);
        while let Some(e) = current {
            if let Some(io) = e.downcast_ref::<io::Error>() {
                match io.kind() {
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => return Self::Timeout,
                    io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::HostUnreachable
                    | io::ErrorKind::NetworkUnreachable
                    | io::ErrorKind::AddrNotAvailable => return Self::Connect,
                    io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof => return Self::Reset,
                    _ => {}
                }
            }
            if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
                // The server closed the connection before a whole response arrived.
                if hyper.is_incomplete_message() {
                    return Self::Reset;
                }
                if hyper.is_timeout() {
                    return Self::Timeout;
                }
            }
            current = e.source();
        }
        Self::Other(error.to_string())
    }
}

/// What the runner does after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A 2xx: stop, the call worked.
    Success,
    /// Wait the scheduled delay and send again.
    Retry,
    /// A final answer the policy does not retry (a client error, a redirect, ...).
    NoRetry(NoRetryReason),
    /// Retryable, but the policy has no retries left.
    GiveUp(GiveUpReason),
}

impl Decision {
    /// Whether the runner stops here.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Retry)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRetryReason {
    /// A 4xx other than an opted-in 408/429: the same request would fail the same way.
    ClientError(u16),
    /// A retryable class the policy's `retry-on` leaves out (e.g. `timeout`).
    NotInPolicy(Cow<'static, str>),
    /// A 1xx or 3xx (or a code outside 100–599): an answer, not a failure to retry.
    NotAnError(u16),
    /// The target's circuit is open: failing fast is the point, so the step does not wait.
    CircuitOpen,
    /// A failure no retry can fix (TLS, an invalid request).
    Error,
}

impl fmt::Display for NoRetryReason {
    /// The words after "No retry - " in the console.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientError(_) => f.write_str("client error"),
            Self::NotInPolicy(class) => write!(f, "{class} is not in the policy's retry-on"),
            Self::NotAnError(status) => write!(f, "status {status} is not an error"),
            Self::CircuitOpen => f.write_str("circuit open"),
            Self::Error => f.write_str("not a retryable error"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GiveUpReason {
    /// Every retry the policy allows was spent.
    RetriesExhausted { max_retries: u32 },
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RetriesExhausted { max_retries } => {
                write!(f, "retries exhausted (max_retries={max_retries})")
            }
        }
    }
}

/// Decides what follows an attempt. `retries_done` is how many retries were already taken
/// (0 after the first request), so `max_retries = 0` means exactly one request.
pub fn decide(policy: &RetryPolicy, outcome: &AttemptOutcome, retries_done: u32) -> Decision {
    let on = &policy.retry_on;
    let retryable = match outcome {
        AttemptOutcome::Status(200..=299) => return Decision::Success,
        AttemptOutcome::Status(500..=599) if on.server_errors => true,
        AttemptOutcome::Status(500..=599) => {
            return Decision::NoRetry(NoRetryReason::NotInPolicy(Cow::Borrowed("5xx")));
        }
        // Only these two client errors mean "try later"; a hand-built policy naming any other
        // 4xx is still not retried, as the spec promises.
        AttemptOutcome::Status(status @ (408 | 429)) if on.statuses.contains(status) => true,
        AttemptOutcome::Status(status @ 400..=499) => {
            return Decision::NoRetry(NoRetryReason::ClientError(*status));
        }
        AttemptOutcome::Status(status) => {
            return Decision::NoRetry(NoRetryReason::NotAnError(*status));
        }
        AttemptOutcome::Timeout => on.timeout,
        AttemptOutcome::Connect => on.connect,
        AttemptOutcome::Reset => on.reset,
        AttemptOutcome::CircuitOpen => return Decision::NoRetry(NoRetryReason::CircuitOpen),
        AttemptOutcome::Other(_) => return Decision::NoRetry(NoRetryReason::Error),
    };
    if !retryable {
        return Decision::NoRetry(NoRetryReason::NotInPolicy(outcome.class()));
    }
    if retries_done >= policy.max_retries {
        return Decision::GiveUp(GiveUpReason::RetriesExhausted {
            max_retries: policy.max_retries,
        });
    }
    Decision::Retry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RetryOn;

    fn spec() -> RetryPolicy {
        RetryPolicy::default()
    }

    #[test]
    fn classes_are_stable_strings() {
        assert_eq!(AttemptOutcome::Status(503).class(), "503");
        assert_eq!(AttemptOutcome::Timeout.class(), "timeout");
        assert_eq!(AttemptOutcome::Connect.class(), "connect");
        assert_eq!(AttemptOutcome::Reset.class(), "reset");
        assert_eq!(AttemptOutcome::CircuitOpen.class(), "circuit-open");
        assert_eq!(
            AttemptOutcome::Other("tls: bad certificate at 0x7f…".into()).class(),
            "error"
        );
    }

    #[test]
    fn success_is_final_whatever_the_retry_count() {
        assert_eq!(
            decide(&spec(), &AttemptOutcome::Status(200), 0),
            Decision::Success
        );
        assert_eq!(
            decide(&spec(), &AttemptOutcome::Status(201), 3),
            Decision::Success
        );
        assert_eq!(
            decide(&spec(), &AttemptOutcome::Status(204), 99),
            Decision::Success
        );
    }

    #[test]
    fn server_errors_and_network_failures_are_retried() {
        for outcome in [
            AttemptOutcome::Status(500),
            AttemptOutcome::Status(502),
            AttemptOutcome::Status(503),
            AttemptOutcome::Status(599),
            AttemptOutcome::Timeout,
            AttemptOutcome::Connect,
            AttemptOutcome::Reset,
        ] {
            assert_eq!(decide(&spec(), &outcome, 0), Decision::Retry, "{outcome:?}");
            assert_eq!(decide(&spec(), &outcome, 2), Decision::Retry, "{outcome:?}");
        }
    }

    #[test]
    fn retries_stop_when_exhausted() {
        let exhausted = Decision::GiveUp(GiveUpReason::RetriesExhausted { max_retries: 3 });
        assert_eq!(decide(&spec(), &AttemptOutcome::Status(502), 3), exhausted);
        assert_eq!(decide(&spec(), &AttemptOutcome::Timeout, 4), exhausted);
    }

    #[test]
    fn max_retries_zero_means_one_attempt() {
        let p = RetryPolicy {
            max_retries: 0,
            ..spec()
        };
        assert_eq!(
            decide(&p, &AttemptOutcome::Status(503), 0),
            Decision::GiveUp(GiveUpReason::RetriesExhausted { max_retries: 0 })
        );
        assert_eq!(
            decide(&p, &AttemptOutcome::Status(200), 0),
            Decision::Success
        );
    }

    #[test]
    fn client_errors_are_never_retried() {
        for status in [400, 401, 403, 404, 409, 410, 422, 408, 429] {
            let decision = decide(&spec(), &AttemptOutcome::Status(status), 0);
            assert_eq!(
                decision,
                Decision::NoRetry(NoRetryReason::ClientError(status))
            );
        }
        assert_eq!(NoRetryReason::ClientError(401).to_string(), "client error");
    }

    #[test]
    fn only_408_and_429_can_be_opted_in() {
        let mut on = RetryOn::default();
        assert!(on.add("408") && on.add("429"));
        // A hand-built policy listing other client errors still does not retry them.
        on.statuses.extend([401, 404]);
        let p = RetryPolicy {
            retry_on: on,
            ..spec()
        };
        assert_eq!(decide(&p, &AttemptOutcome::Status(408), 0), Decision::Retry);
        assert_eq!(decide(&p, &AttemptOutcome::Status(429), 1), Decision::Retry);
        for status in [401, 404] {
            assert_eq!(
                decide(&p, &AttemptOutcome::Status(status), 0),
                Decision::NoRetry(NoRetryReason::ClientError(status))
            );
        }
    }

    #[test]
    fn retry_on_leaves_classes_out() {
        let mut on = RetryOn::none();
        on.add("timeout");
        let p = RetryPolicy {
            retry_on: on,
            ..spec()
        };
        assert_eq!(decide(&p, &AttemptOutcome::Timeout, 0), Decision::Retry);
        assert_eq!(
            decide(&p, &AttemptOutcome::Status(503), 0),
            Decision::NoRetry(NoRetryReason::NotInPolicy("5xx".into()))
        );
        let reset = decide(&p, &AttemptOutcome::Reset, 0);
        assert_eq!(
            reset,
            Decision::NoRetry(NoRetryReason::NotInPolicy("reset".into()))
        );
        assert_eq!(
            NoRetryReason::NotInPolicy("reset".into()).to_string(),
            "reset is not in the policy's retry-on"
        );
    }

    #[test]
    fn answers_that_are_not_failures_and_unfixable_errors_stop() {
        for status in [0, 100, 301, 304, 600, u16::MAX] {
            assert_eq!(
                decide(&spec(), &AttemptOutcome::Status(status), 0),
                Decision::NoRetry(NoRetryReason::NotAnError(status))
            );
        }
        assert_eq!(
            decide(&spec(), &AttemptOutcome::CircuitOpen, 0),
            Decision::NoRetry(NoRetryReason::CircuitOpen)
        );
        assert_eq!(
            decide(&spec(), &AttemptOutcome::Other("bad TLS".into()), 0),
            Decision::NoRetry(NoRetryReason::Error)
        );
        assert!(decide(&spec(), &AttemptOutcome::Other(String::new()), 0).is_final());
        assert!(!Decision::Retry.is_final());
    }

    #[test]
    fn breaker_failures_are_server_and_network_failures_only() {
        assert!(AttemptOutcome::Status(503).is_target_failure());
        assert!(AttemptOutcome::Timeout.is_target_failure());
        assert!(AttemptOutcome::Connect.is_target_failure());
        assert!(AttemptOutcome::Reset.is_target_failure());
        assert!(!AttemptOutcome::Status(429).is_target_failure());
        assert!(!AttemptOutcome::Status(200).is_target_failure());
        assert!(!AttemptOutcome::CircuitOpen.is_target_failure());
        assert!(!AttemptOutcome::Other("x".into()).is_target_failure());
    }

    #[derive(Debug)]
    struct Wrapped(io::Error);

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("error sending request")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn transport_errors_are_classified_by_the_io_error_beneath() {
        let wrapped = |kind| Wrapped(io::Error::new(kind, "boom"));
        let cases = [
            (io::ErrorKind::ConnectionRefused, AttemptOutcome::Connect),
            (io::ErrorKind::ConnectionReset, AttemptOutcome::Reset),
            (io::ErrorKind::UnexpectedEof, AttemptOutcome::Reset),
            (io::ErrorKind::TimedOut, AttemptOutcome::Timeout),
        ];
        for (kind, expected) in cases {
            assert_eq!(AttemptOutcome::from_error_chain(&wrapped(kind)), expected);
        }
        assert_eq!(
            AttemptOutcome::from_error_chain(&wrapped(io::ErrorKind::InvalidData)),
            AttemptOutcome::Other("error sending request".into())
        );
    }
}
