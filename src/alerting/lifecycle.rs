//! An alert's life: it fires when its condition starts to hold, re-notifies at most once per
//! window while it keeps holding, and recovers when it clears. Pure: time is passed in.

use crate::model::AlertState;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    /// When the last notice (fired or renotified) went out, while the alert is up.
    up_since_notice: Option<Duration>,
}

impl Lifecycle {
    /// The notice due now, if any, given whether the condition holds at `now`.
    pub fn update(&mut self, holds: bool, now: Duration, window: Duration) -> Option<AlertState> {
        match (self.up_since_notice, holds) {
            (None, true) => {
                self.up_since_notice = Some(now);
                Some(AlertState::Fired)
            }
            (Some(last), true) if now.saturating_sub(last) >= window => {
                self.up_since_notice = Some(now);
                Some(AlertState::Renotified)
            }
            (Some(_), false) => {
                self.up_since_notice = None;
                Some(AlertState::Recovered)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn fires_once_renotifies_once_per_window_and_recovers() {
        let window = s(300);
        let mut alert = Lifecycle::default();
        assert_eq!(alert.update(false, s(0), window), None);
        assert_eq!(alert.update(true, s(10), window), Some(AlertState::Fired));
        // Holding for less than a window: nothing more.
        for t in (11..310).step_by(7) {
            assert_eq!(alert.update(true, s(t), window), None, "at {t}s");
        }
        assert_eq!(
            alert.update(true, s(310), window),
            Some(AlertState::Renotified)
        );
        assert_eq!(alert.update(true, s(400), window), None);
        assert_eq!(
            alert.update(true, s(610), window),
            Some(AlertState::Renotified)
        );
        assert_eq!(
            alert.update(false, s(611), window),
            Some(AlertState::Recovered)
        );
        assert_eq!(alert.update(false, s(2000), window), None);
        // A new episode fires again.
        assert_eq!(alert.update(true, s(2001), window), Some(AlertState::Fired));
    }
}
