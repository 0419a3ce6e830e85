//! The `expect-alerts` action: assertions on the alerts the run has raised so far.

use super::action::ActionSpec;
use super::{AlertKind, AlertState, CountExpectation, Template};
use std::any::Any;

#[derive(Debug, Clone)]
pub struct ExpectAlerts {
    /// `None`: alerts of every kind.
    pub kind: Option<AlertKind>,
    pub state: AlertState,
    /// `None`: at least one.
    pub count: Option<CountExpectation>,
}

impl ActionSpec for ExpectAlerts {
    fn kind(&self) -> &'static str {
        "expect-alerts"
    }

    fn templates(&self) -> Vec<&Template> {
        Vec::new()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
