//! `hookplan rollback FILE [--force] [--dry-run] [--database NAME] [--store NAME] [--json]`:
//! the spec's `rollback`, as a one-step plan running the `rollback` step. It prints the
//! step's lines as they come and exits 0 when every webhook was restored (or had nothing to
//! restore), 1 when one failed, 3 when the rollback was refused (nothing changed). No value is
//! ever printed.

use super::logs::LogSetup;
use super::{CliError, ExitCode, registry};
use crate::exec::event::StepStatus;
use crate::exec::values::{self, ProcessEnvironment};
use crate::model::{Action, Plan, RollbackAction, Span, Spanned, Step, Template};
use crate::plan::ProjectConfig;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The backup: a path, or a file name in STATE_DIR/backups (see `hookplan list-backups`)
    #[arg(value_name = "FILE")]
    pub file: String,

    /// Restore the backup's values even over changes made since the migration, a backup of
    /// another registry, or one whose checksum fails (if it can still be read)
    #[arg(long)]
    pub force: bool,

    /// Check and print what would be restored, per webhook; change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// The project config's `database` to restore [default: its first, else DATABASE_URL,
    /// else the embedded registry]
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,

    /// The secret store to restore [default: the project config's only one, else Infisical
    /// from INFISICAL_* when INFISICAL_CLIENT_ID is set, else the local file]
    #[arg(long, value_name = "NAME")]
    pub store: Option<String>,

    /// Print JSON for scripts (each webhook's outcome, names and fields) instead of the lines
    #[arg(long)]
    pub json: bool,
}

pub fn run(
    args: RollbackArgs,
    state_dir: &Path,
    config: &ProjectConfig,
    logs: &LogSetup,
) -> Result<ExitCode, CliError> {
    if args.file.trim().is_empty() {
        return Err(CliError::usage("FILE is empty")
            .with_help("name a backup, e.g. hookplan rollback backup_OUT_2026-02-08_143000.json"));
    }
    let chosen = registry::choose(config, args.database.as_deref(), state_dir)?;
    let store = super::store::choose(config, args.store.as_deref())?;
    let mut stores = config.stores.clone();
    if config.store(&store.name).is_none() {
        stores.push(store.clone());
    }
    let action = RollbackAction {
        // Taken as it is: a file name is not a template.
        backup: Template::literal(args.file.clone(), Span::default()),
        database: Spanned::new(chosen.decl.name.clone(), Span::default()),
        store: Spanned::new(store.name.clone(), Span::default()),
        force: args.force,
        dry_run: args.dry_run,
    };
    let step = Step::new("rollback", Action::new(action, Span::default()));
    let mut plan = Plan::one_step("rollback", step, PathBuf::from("."));
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
        super::direct::run(plan, values, &direct, super::verify::Lines)?
    };
    let step = &report.steps[0];
    let details = match (&step.status, &step.details) {
        (StepStatus::Passed | StepStatus::Failed, Some(details)) => details,
        _ => {
            return Err(CliError::failed(step.message.clone().unwrap_or_else(
                || "cannot roll back: the step did not finish".to_string(),
            )));
        }
    };
    if args.json {
        let text = serde_json::to_string_pretty(details)
            .map_err(|e| CliError::failed(format!("cannot write the rollback as JSON: {e}")))?;
        println!("{text}");
    }
    Ok(code(step.status, details))
}

/// 0 restored, 1 a webhook failed, 3 refused.
pub(super) fn code(status: StepStatus, details: &serde_json::Value) -> ExitCode {
    if details["refused"] == serde_json::Value::Bool(true) {
        ExitCode::Refused
    } else if status == StepStatus::Passed {
        ExitCode::Success
    } else {
        ExitCode::Failed
    }
}
