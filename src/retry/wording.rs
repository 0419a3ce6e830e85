//! The spec's console lines, word for word, so people who know the old tool read the same log:
//!
//! ```text
//! POST request to https://api.example.com (max_retries=3)
//! Server error 503, retrying in 2.0s (attempt 1/3)
//! Network error: Timeout, retrying in 2.0s (attempt 1/3)
//! Response: 401 Unauthorized
//! No retry - client error
//! Response: 200 OK
//! ```
//!
//! "(attempt n/3)" counts retries — "retry n of at most 3" — as the spec does, while reports
//! count requests. Callers pass URLs already redacted: these functions print what they get.

use std::fmt::Write as _;
use std::time::Duration;

use super::breaker::Transition;
use super::classify::{AttemptOutcome, NoRetryReason};

/// Seconds with one decimal, as the spec writes them: `2.0s`, `0.5s`, `16.0s` (rounded to the
/// nearest tenth, halves up).
pub fn seconds(d: Duration) -> String {
    let tenths = (d.as_millis() + 50) / 100;
    format!("{}.{}s", tenths / 10, tenths % 10)
}

/// `POST request to https://api.example.com (max_retries=3)`, once per call before the first
/// request.
pub fn request_line(method: &str, url: &str, max_retries: u32) -> String {
    format!("{method} request to {url} (max_retries={max_retries})")
}

/// `Server error 503, retrying in 2.0s (attempt 1/3)` — `retry` is the retry about to be made
/// (1-based), `delay` its scheduled wait.
pub fn retry_line(
    outcome: &AttemptOutcome,
    delay: Duration,
    retry: u32,
    max_retries: u32,
) -> String {
    let mut line = failure_phrase(outcome);
    let _ = write!(
        line,
        ", retrying in {} (attempt {retry}/{max_retries})",
        seconds(delay)
    );
    line
}

/// What went wrong, in the spec's words: `Server error 503`, `Network error: Timeout`.
pub fn failure_phrase(outcome: &AttemptOutcome) -> String {
    match outcome {
        AttemptOutcome::Status(status @ 500..=599) => format!("Server error {status}"),
        AttemptOutcome::Status(status @ 400..=499) => format!("Client error {status}"),
        AttemptOutcome::Status(status) => format!("Status {status}"),
        AttemptOutcome::Timeout => "Network error: Timeout".to_string(),
        AttemptOutcome::Connect => "Network error: Connection refused".to_string(),
        AttemptOutcome::Reset => "Network error: Connection reset".to_string(),
        AttemptOutcome::CircuitOpen => "Circuit open".to_string(),
        // The raw text stays out: it may hold a URL with credentials in it.
        AttemptOutcome::Other(_) => "Error".to_string(),
    }
}

/// `Response: 401 Unauthorized`, `Response: 200 OK`; a code without a standard reason phrase is
/// shown alone.
pub fn response_line(status: u16) -> String {
    format!("Response: {}", crate::http_client::status_text(status))
}

/// `No retry - client error`, after the response line of an answer that is not retried.
pub fn no_retry_line(reason: &NoRetryReason) -> String {
    format!("No retry - {reason}")
}

/// `gave up after 4 requests: 503, 503, timeout, 503` — every request and what it got, by the
/// same classes the report and digest use.
pub fn give_up_summary(outcomes: &[AttemptOutcome]) -> String {
    let count = outcomes.len();
    let noun = if count == 1 { "request" } else { "requests" };
    let mut line = format!("gave up after {count} {noun}");
    for (i, outcome) in outcomes.iter().enumerate() {
        line.push_str(if i == 0 { ": " } else { ", " });
        line.push_str(&outcome.class());
    }
    line
}

/// `Circuit open for api.example.com:443, request not sent (probes in 12.0s)`.
pub fn circuit_open_line(target: &str, retry_in: Duration) -> String {
    format!(
        "Circuit open for {target}, request not sent (probes in {})",
        seconds(retry_in)
    )
}

/// `Circuit breaker api.example.com:443: closed -> open (3 consecutive failures)`.
pub fn transition_line(target: &str, transition: &Transition) -> String {
    format!(
        "Circuit breaker {target}: {} -> {} ({})",
        transition.from, transition.to, transition.reason
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::{BreakerState, TransitionReason};

    #[test]
    fn seconds_have_one_decimal() {
        assert_eq!(seconds(Duration::from_secs(2)), "2.0s");
        assert_eq!(seconds(Duration::from_millis(500)), "0.5s");
        assert_eq!(seconds(Duration::from_secs(16)), "16.0s");
        assert_eq!(seconds(Duration::from_millis(1_250)), "1.3s");
        assert_eq!(seconds(Duration::from_millis(1_249)), "1.2s");
        assert_eq!(seconds(Duration::ZERO), "0.0s");
        assert_eq!(seconds(Duration::from_secs(3_600)), "3600.0s");
        assert!(seconds(Duration::MAX).ends_with('s'));
    }

    #[test]
    fn the_spec_lines_word_for_word() {
        let two = Duration::from_secs(2);
        assert_eq!(
            request_line("POST", "https://api.example.com", 3),
            "POST request to https://api.example.com (max_retries=3)"
        );
        assert_eq!(
            retry_line(&AttemptOutcome::Status(503), two, 1, 3),
            "Server error 503, retrying in 2.0s (attempt 1/3)"
        );
        assert_eq!(
            retry_line(&AttemptOutcome::Status(502), Duration::from_secs(4), 2, 3),
            "Server error 502, retrying in 4.0s (attempt 2/3)"
        );
        assert_eq!(
            retry_line(&AttemptOutcome::Timeout, two, 1, 3),
            "Network error: Timeout, retrying in 2.0s (attempt 1/3)"
        );
        assert_eq!(
            retry_line(&AttemptOutcome::Connect, two, 1, 3),
            "Network error: Connection refused, retrying in 2.0s (attempt 1/3)"
        );
        assert_eq!(
            retry_line(&AttemptOutcome::Reset, two, 1, 3),
            "Network error: Connection reset, retrying in 2.0s (attempt 1/3)"
        );
        assert_eq!(response_line(401), "Response: 401 Unauthorized");
        assert_eq!(
            no_retry_line(&NoRetryReason::ClientError(401)),
            "No retry - client error"
        );
        assert_eq!(response_line(200), "Response: 200 OK");
    }

    #[test]
    fn opt_in_client_errors_and_odd_codes_read_sensibly() {
        assert_eq!(
            retry_line(&AttemptOutcome::Status(429), Duration::from_secs(30), 1, 5),
            "Client error 429, retrying in 30.0s (attempt 1/5)"
        );
        assert_eq!(response_line(599), "Response: 599");
        assert_eq!(response_line(0), "Response: 0");
        assert_eq!(
            failure_phrase(&AttemptOutcome::Other("https://u:pw@x".into())),
            "Error"
        );
    }

    #[test]
    fn give_up_summary_lists_every_request() {
        let outcomes = [
            AttemptOutcome::Status(503),
            AttemptOutcome::Status(503),
            AttemptOutcome::Timeout,
            AttemptOutcome::Status(503),
        ];
        assert_eq!(
            give_up_summary(&outcomes),
            "gave up after 4 requests: 503, 503, timeout, 503"
        );
        assert_eq!(
            give_up_summary(&outcomes[..1]),
            "gave up after 1 request: 503"
        );
    }

    #[test]
    fn breaker_lines() {
        let t = Transition {
            from: BreakerState::Closed,
            to: BreakerState::Open,
            reason: TransitionReason::ConsecutiveFailures { failures: 3 },
            at: Duration::ZERO,
        };
        assert_eq!(
            transition_line("api.example.com:443", &t),
            "Circuit breaker api.example.com:443: closed -> open (3 consecutive failures)"
        );
        assert_eq!(
            circuit_open_line("api.example.com:443", Duration::from_secs(12)),
            "Circuit open for api.example.com:443, request not sent (probes in 12.0s)"
        );
    }
}
