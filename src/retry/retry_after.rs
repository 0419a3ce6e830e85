//! The `Retry-After` response header (RFC 9110 §10.2.3): delta-seconds or an HTTP date.

use std::time::{Duration, SystemTime};

/// How long the server asks us to wait, relative to `now` (the time the response arrived).
///
/// A date in the past, or a negative number of seconds, means "now": zero. Anything else that is
/// not one of the two forms is ignored (`None`) so the policy's own backoff applies — a server's
/// malformed header must not stop a retry. A number too large for a `Duration` saturates; the
/// policy's `max-delay` is what bounds it.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Some(seconds) = delta_seconds(value) {
        return Some(seconds);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `1*DIGIT`, plus a leading `-` read as zero (the standard forbids it; servers send it anyway).
fn delta_seconds(value: &str) -> Option<Duration> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if negative {
        return Some(Duration::ZERO);
    }
    // All digits, so the only way parsing fails is overflow.
    Some(
        digits
            .parse::<u64>()
            .map_or(Duration::MAX, Duration::from_secs),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(unix)
    }

    // 1994-11-06 08:49:37 UTC, the RFC's example date.
    const RFC_EXAMPLE: u64 = 784_111_777;

    #[test]
    fn delta_seconds_are_read_as_seconds() {
        let now = at(RFC_EXAMPLE);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-5", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::MAX),
            "too large saturates; max-delay caps it"
        );
    }

    #[test]
    fn http_dates_are_relative_to_now() {
        let now = at(RFC_EXAMPLE - 30);
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",  // IMF-fixdate
            "Sunday, 06-Nov-94 08:49:37 GMT", // obsolete RFC 850
            "Sun Nov  6 08:49:37 1994",       // obsolete asctime
        ] {
            assert_eq!(
                parse_retry_after(form, now),
                Some(Duration::from_secs(30)),
                "{form}"
            );
        }
    }

    #[test]
    fn past_dates_mean_now() {
        let now = at(RFC_EXAMPLE + 3600);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn garbage_is_ignored() {
        let now = at(RFC_EXAMPLE);
        for garbage in [
            "",
            "soon",
            "1.5",
            "+3",
            "-",
            "12s",
            "Sun, 06 Nov 1994",
            "--1",
            "１２",
        ] {
            assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
        }
    }
}
