//! An alert in words, the same on the console, in the log and in Slack. Built from the
//! alert's own numbers only, so no text of the run — and no secret — can end up in it.

use crate::exec::Alert;
use crate::model::{AlertKind, AlertState, HumanDuration};
use std::time::Duration;

/// `failure-rate fired: 100% of 10 deliveries failed in the last 5m (threshold 10%)`.
pub fn describe(alert: &Alert) -> String {
    let window = HumanDuration(Duration::from_millis(alert.window_ms));
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let deliveries = plural(alert.deliveries, "delivery", "deliveries");
    let measured = match alert.kind {
        AlertKind::FailureRate => format!(
            "{}% of {deliveries} failed in the last {window} (threshold {}%)",
            number(alert.value),
            number(alert.threshold)
        ),
        AlertKind::AuthFailures => format!(
            "{} (401/403) in the last {window} (threshold {})",
            plural(alert.value as u64, "auth failure", "auth failures"),
            number(alert.threshold)
        ),
        AlertKind::Latency => format!(
            "p95 latency {} over {deliveries} in the last {window} (threshold {})",
            millis(alert.value),
            millis(alert.threshold)
        ),
    };
    format!(
        "{} {}: {measured}",
        alert.kind.as_str(),
        alert.state.as_str()
    )
}

/// A short title: `hookplan alert: failure-rate fired`, `hookplan alert: latency recovered`.
pub fn title(alert: &Alert) -> String {
    let what = match alert.state {
        AlertState::Fired => "fired",
        AlertState::Renotified => "still firing",
        AlertState::Recovered => "recovered",
    };
    format!("hookplan alert: {} {what}", alert.kind.as_str())
}

/// At most one decimal, none when whole: `100`, `12.5`.
fn number(x: f64) -> String {
    let rounded = (x * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

fn millis(ms: f64) -> String {
    HumanDuration(Duration::from_secs_f64(ms.max(0.0) / 1000.0)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_reads_as_it_measures() {
        let mut alert = Alert {
            kind: AlertKind::FailureRate,
            state: AlertState::Fired,
            value: 100.0,
            threshold: 10.0,
            deliveries: 10,
            window_ms: 300_000,
        };
        assert_eq!(
            describe(&alert),
            "failure-rate fired: 100% of 10 deliveries failed in the last 5m (threshold 10%)"
        );
        alert.kind = AlertKind::Latency;
        alert.state = AlertState::Recovered;
        alert.value = 1234.0;
        alert.threshold = 5000.0;
        assert_eq!(
            describe(&alert),
            "latency recovered: p95 latency 1.234s over 10 deliveries in the last 5m (threshold 5s)"
        );
        alert.kind = AlertKind::AuthFailures;
        alert.value = 1.0;
        alert.threshold = 5.0;
        assert!(describe(&alert).starts_with("auth-failures recovered: 1 auth failure (401/403)"));
    }
}
