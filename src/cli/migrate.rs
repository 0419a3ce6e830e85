//! `hookplan migrate [--dry-run] [--webhook CODE] [--pattern GLOB] [--direction IN|OUT]
//! [--clear-database] [--concurrency N] [--database NAME] [--store NAME] [--json]`: the
//! spec's `migrate`, as a one-step plan running the `migrate` step. It prints the spec's lines
//! as they come and exits 0 when nothing failed (pending approvals included, with a warning),
//! 1 when a webhook failed or was not verified, 3 when another migration holds the registry's
//! lock (or this one lost it), 130 when interrupted. No value is printed.

use super::logs::LogSetup;
use super::one_step::{SelectionArgs, StepLines};
use super::{CliError, ExitCode};
use crate::exec::event::StepStatus;
use crate::model::{DEFAULT_MIGRATE_CONCURRENCY, MigrateAction};
use crate::plan::ProjectConfig;
use crate::report::RunStatus;
use clap::Args;
use std::path::Path;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,

    /// Say what would be written (names, never values); write nothing, not even a backup
    #[arg(long)]
    pub dry_run: bool,

    /// Once the store's copy is verified, clear the registry's credentials (NULL, or '' for
    /// NOT NULL columns) and record that they live in the store
    #[arg(long)]
    pub clear_database: bool,

    /// Write batches in flight at once
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MIGRATE_CONCURRENCY as u16,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Print JSON for scripts (counts, the backup, failed and pending webhooks) instead of the
    /// lines
    #[arg(long)]
    pub json: bool,
}

pub fn run(
    args: MigrateArgs,
    state_dir: &Path,
    config: &ProjectConfig,
    logs: &LogSetup,
) -> Result<ExitCode, CliError> {
    let chosen = args.selection.choose(config, state_dir)?;
    let action = MigrateAction {
        database: chosen.database.clone(),
        store: chosen.store.clone(),
        selection: chosen.selection.clone(),
        dry_run: args.dry_run,
        clear_database: args.clear_database,
        concurrency: usize::from(args.concurrency),
    };
    let (plan, values) = chosen.plan("migrate", action, config)?;
    let direct = super::direct::Direct {
        state_dir,
        time_scale: 1.0,
        logs,
    };
    let report = if args.json {
        super::direct::run(plan, values, &direct, super::direct::Silent)?
    } else {
        super::direct::run(plan, values, &direct, StepLines)?
    };
    let step = &report.steps[0];
    if args.json
        && let Some(details) = &step.details
    {
        let text = serde_json::to_string_pretty(details)
            .map_err(|e| CliError::failed(format!("cannot write the migration as JSON: {e}")))?;
        println!("{text}");
    }
    if report.status == RunStatus::Interrupted {
        return Ok(ExitCode::Interrupted);
    }
    let refused = step
        .details
        .as_ref()
        .is_some_and(|d| d["refused"] == serde_json::Value::Bool(true));
    match step.status {
        StepStatus::Passed | StepStatus::DryRun => Ok(ExitCode::Success),
        StepStatus::Failed if refused => Ok(ExitCode::Refused),
        StepStatus::Failed if step.details.is_some() => Ok(ExitCode::Failed),
        _ => Err(CliError::failed(format!(
            "cannot migrate: {}",
            step.message.as_deref().unwrap_or("the step did not finish")
        ))),
    }
}
