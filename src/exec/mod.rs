//! The engine: run context, executor, events.

pub mod context;
pub mod event;
pub mod executor;
pub mod sink;
pub mod values;

pub use context::{Events, RunContext, SandboxAddress};
pub use event::{
    Alert, Assertion, Attempt, EventKind, OutcomeClass, RunEvent, RunStarted, SandboxSummary,
    StepInfo, StepOutcome, StepStatus,
};
pub use executor::{ExecOptions, StepFuture, StepRunner, execute};
pub use sink::{Finished, Sink, Sinks, Stage};
