//! `hookplan verify [--direction IN|OUT] [--webhook CODE] [--pattern GLOB] [--database NAME]
//! [--store NAME] [--json]`: the spec's `verify`, as a one-step plan running the `verify` step.
//! It prints the step's lines as they come ("Verifying migration...", one per webhook, "All
//! migrations verified successfully!") and exits 1 when any webhook is not verified. No value
//! is ever printed.

use super::logs::LogSetup;
use super::{CliError, ExitCode, registry};
use crate::exec::event::StepStatus;
use crate::exec::values::{self, ProcessEnvironment};
use crate::exec::{EventKind, RunEvent, Sink};
use crate::model::{Action, Plan, SelectionSpec, Span, Spanned, Step, VerifyAction};
use crate::plan::ProjectConfig;
use crate::registry::Direction;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The direction to verify: OUT, IN, or ALL (ignored with --webhook)
    #[arg(long, value_name = "DIR", default_value = "OUT")]
    pub direction: String,

    /// Only this webhook, whatever its direction
    #[arg(long, value_name = "CODE")]
    pub webhook: Option<String>,

    /// Only webhooks whose code matches this glob (e.g. "STRIPE_*")
    #[arg(long, value_name = "GLOB")]
    pub pattern: Option<String>,

    /// The project config's `database` to read [default: its first, else DATABASE_URL, else
    /// the embedded registry]
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,

    /// The secret store to read back from [default: the project config's only one, else
    /// Infisical from INFISICAL_* when INFISICAL_CLIENT_ID is set, else the local file]
    #[arg(long, value_name = "NAME")]
    pub store: Option<String>,

    /// Print JSON for scripts (each webhook's outcome and fields) instead of the lines
    #[arg(long)]
    pub json: bool,
}

fn direction(text: &str) -> Result<Option<Direction>, CliError> {
    if text.eq_ignore_ascii_case("ALL") {
        return Ok(None);
    }
    Direction::parse(text).map(Some).ok_or_else(|| {
        CliError::usage(format!("--direction: \"{text}\" is not a direction"))
            .with_help("use --direction OUT, IN or ALL")
    })
}

/// The step's lines as they happen, on stdout; a note on seeding the registry goes to stderr
/// so that stdout is the spec's lines alone.
pub(super) struct Lines;

impl Sink for Lines {
    fn name(&self) -> &'static str {
        "console"
    }

    fn handle(&mut self, event: &RunEvent) {
        let EventKind::StepLog { message, .. } = &event.kind else {
            return;
        };
        if message.starts_with("Seeded database ") {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
        } else {
            let _ = writeln!(std::io::stdout().lock(), "{message}");
        }
    }
}

pub fn run(
    args: VerifyArgs,
    state_dir: &Path,
    config: &ProjectConfig,
    logs: &LogSetup,
) -> Result<ExitCode, CliError> {
    let selection = SelectionSpec {
        direction: direction(&args.direction)?,
        webhook: args.webhook.clone(),
        pattern: args.pattern.clone(),
    };
    if let Some(p) = &args.pattern {
        glob::Pattern::new(p).map_err(|e| {
            CliError::usage(format!(
                "--pattern: \"{p}\" is not a pattern of webhook codes: {e}"
            ))
            .with_help("give a glob such as --pattern \"STRIPE_*\"")
        })?;
    }
    let chosen = registry::choose(config, args.database.as_deref(), state_dir)?;
    let store = super::store::choose(config, args.store.as_deref())?;
    let mut stores = config.stores.clone();
    if config.store(&store.name).is_none() {
        stores.push(store.clone());
    }
    let action = VerifyAction {
        database: Spanned::new(chosen.decl.name.clone(), Span::default()),
        store: Spanned::new(store.name.clone(), Span::default()),
        selection,
    };
    let step = Step::new("verify", Action::new(action, Span::default()));
    let mut plan = Plan::one_step("verify", step, PathBuf::from("."));
    plan.databases = vec![chosen.decl.clone()];
    plan.stores = stores;
    let values = values::resolve(&plan, &[], &ProcessEnvironment).map_err(|missing| {
        let first = &missing[0];
        CliError::usage(format!("{} is not set", first.reference))
            .with_help(format!("set {} in the environment", first.name))
    })?;
    let direct = super::direct::Direct {
        state_dir,
        time_scale: 1.0,
        logs,
    };
    let report = if args.json {
        super::direct::run(plan, values, &direct, super::direct::Silent)?
    } else {
        super::direct::run(plan, values, &direct, Lines)?
    };
    let step = &report.steps[0];
    let details = match (&step.status, &step.details) {
        (StepStatus::Passed | StepStatus::Failed, Some(details)) => details,
        _ => {
            return Err(CliError::failed(format!(
                "cannot verify the migration: {}",
                step.message.as_deref().unwrap_or("the step did not finish")
            )));
        }
    };
    if args.json {
        let text = serde_json::to_string_pretty(details)
            .map_err(|e| CliError::failed(format!("cannot write the verification as JSON: {e}")))?;
        println!("{text}");
    }
    Ok(if step.status == StepStatus::Passed {
        ExitCode::Success
    } else {
        ExitCode::Failed
    })
}
