//! Durations as plan files write them: `"2s"`, `"500ms"`, `"1.5s"`, `"1m30s"`, `"2h"`.

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("a duration cannot be empty")]
    Empty,
    #[error("`{0}` has no unit")]
    MissingUnit(String),
    #[error("unknown unit `{unit}`")]
    UnknownUnit { unit: String },
    #[error("`{0}` is not a number")]
    BadNumber(String),
    #[error("the duration is too long")]
    Overflow,
}

/// Parses a duration written as one or more `<number><unit>` parts.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() {
            return Err(DurationError::BadNumber(rest.split_whitespace().next().unwrap_or(rest).to_string()));
        }
        let value: f64 = number.parse().map_err(|_| DurationError::BadNumber(number.to_string()))?;
        rest = rest[number_len..].trim_start();
        let unit_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let seconds_per_unit = match unit {
            "" => return Err(DurationError::MissingUnit(number.to_string())),
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            _ => return Err(DurationError::UnknownUnit { unit: unit.to_string() }),
        };
        let part = Duration::try_from_secs_f64(value * seconds_per_unit).map_err(|_| DurationError::Overflow)?;
        total = total.checked_add(part).ok_or(DurationError::Overflow)?;
    }
    Ok(total)
}

/// Renders a duration the way plans write it: `2s`, `1.5s`, `250ms`, `1m30s`.
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let millis = d.as_millis();
        if millis == 0 && d > Duration::ZERO {
            return write!(f, "{}µs", d.as_micros());
        }
        if millis < 1000 {
            return write!(f, "{millis}ms");
        }
        let secs = d.as_secs();
        if secs < 60 {
            let s = d.as_secs_f64();
            return if millis.is_multiple_of(1000) { write!(f, "{secs}s") } else { write!(f, "{}s", trim_float(s)) };
        }
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 || !millis.is_multiple_of(1000) {
            let rest = (d - Duration::from_secs(h * 3600 + m * 60)).as_secs_f64();
            write!(f, "{}s", trim_float(rest))?;
        }
        Ok(())
    }
}

fn trim_float(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_plans_use() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_duration("10"), Err(DurationError::MissingUnit("10".into())));
        assert_eq!(parse_duration("3 days"), Err(DurationError::UnknownUnit { unit: "days".into() }));
        assert_eq!(parse_duration("fast"), Err(DurationError::BadNumber("fast".into())));
        assert_eq!(parse_duration("1.2.3s"), Err(DurationError::BadNumber("1.2.3".into())));
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn renders_compactly() {
        let show = |ms: u64| HumanDuration(Duration::from_millis(ms)).to_string();
        assert_eq!(show(2000), "2s");
        assert_eq!(show(1500), "1.5s");
        assert_eq!(show(250), "250ms");
        assert_eq!(show(90_000), "1m30s");
        assert_eq!(show(3_600_000), "1h");
        assert_eq!(show(0), "0ms");
    }
}
