//! The engine: run context, executor, events.

pub mod context;
pub mod event;
pub mod executor;
pub mod values;

pub use context::{Events, RunContext, SandboxAddress};
pub use event::{
    Assertion, Attempt, EventKind, RunEvent, RunStarted, SandboxSummary, StepInfo, StepOutcome,
    StepStatus,
};
pub use executor::{ExecOptions, StepFuture, StepRunner, execute};
