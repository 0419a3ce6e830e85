//! `hookplan backup` (a one-step plan running the `backup` step) and `hookplan list-backups`
//! (a table of `STATE_DIR/backups/`, read from the files themselves; it needs no registry or
//! store, so it runs no plan). Neither ever shows a credential value.

use super::logs::LogSetup;
use super::{CliError, ExitCode};
use crate::exec::event::StepStatus;
use crate::exec::values::{self, ProcessEnvironment};
use crate::migration::Selection;
use crate::migration::backup::{self, Summary};
use crate::model::{Action, BackupAction, Plan, SelectionSpec, Span, Spanned, Step};
use crate::plan::ProjectConfig;
use crate::registry::Direction;
use clap::Args;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The direction to back up: OUT, IN, or ALL (ignored with --webhook)
    #[arg(long, value_name = "DIR", default_value = "OUT")]
    pub direction: String,

    /// One webhook by code, whatever its direction
    #[arg(long, value_name = "CODE")]
    pub webhook: Option<String>,

    /// A glob over webhook codes (e.g. 'STRIPE_*')
    #[arg(long, value_name = "GLOB")]
    pub pattern: Option<String>,

    /// The project config's `database` to read [default: its first, else DATABASE_URL, else
    /// the embedded registry]
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,

    /// The secret store whose prior values are backed up [default: the project config's only
    /// one, else Infisical when INFISICAL_CLIENT_ID is set, else the local file]
    #[arg(long, value_name = "STORE")]
    pub store: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListBackupsArgs {
    /// Print JSON (an array, oldest first) instead of the table
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

pub fn backup(
    args: BackupArgs,
    state_dir: &Path,
    config: &ProjectConfig,
    logs: &LogSetup,
) -> Result<ExitCode, CliError> {
    let selection = SelectionSpec {
        direction: direction(&args.direction)?,
        webhook: args.webhook.clone(),
        pattern: args.pattern.clone(),
    };
    // A bad pattern is a usage error before anything runs.
    Selection::new(None, None, selection.pattern.as_deref())
        .map_err(|why| CliError::usage(format!("--pattern: {why}")))?;
    let chosen = super::registry::choose(config, args.database.as_deref(), state_dir)?;
    let store = super::store::choose(config, args.store.as_deref())?;
    let action = BackupAction {
        database: Spanned::new(chosen.decl.name.clone(), Span::default()),
        store: Spanned::new(store.name.clone(), Span::default()),
        selection,
    };
    let step = Step::new("backup", Action::new(action, Span::default()));
    let mut plan = Plan::one_step("backup", step, PathBuf::from("."));
    plan.databases = vec![chosen.decl.clone()];
    plan.stores = vec![store];
    plan.alerting = config.alerting.clone();
    plan.mqtt = config.mqtt.clone();
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
    let report = super::direct::run(plan, values, &direct, super::direct::Silent)?;
    let step = &report.steps[0];
    if step.status != StepStatus::Passed {
        return Err(CliError::failed(
            step.message
                .clone()
                .unwrap_or_else(|| "no backup written".to_string()),
        ));
    }
    let details = step.details.clone().unwrap_or_default();
    match details["file"].as_str() {
        Some(file) => {
            let path = backup::folder(state_dir).join(file);
            out(&format!(
                "Backup created: {}\nWebhooks: {}\nChecksum: {}\n",
                path.display(),
                details["webhooks"].as_u64().unwrap_or_default(),
                details["checksum"].as_str().unwrap_or("-")
            ));
        }
        None => out("Found 0 webhook(s) to back up: no backup written\n"),
    }
    Ok(ExitCode::Success)
}

pub fn list(args: ListBackupsArgs, state_dir: &Path) -> Result<ExitCode, CliError> {
    let folder = backup::folder(state_dir);
    let backups = backup::list(&folder).map_err(|e| {
        CliError::io(
            format!("cannot read the backups folder {}", folder.display()),
            &e,
        )
    })?;
    if args.json {
        let shown: Vec<serde_json::Value> = backups.iter().map(json).collect();
        out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&shown).expect("JSON serializes")
        ));
    } else if backups.is_empty() {
        out(&format!("No backups in {}\n", folder.display()));
    } else {
        out(&table(&backups));
    }
    for b in &backups {
        if let Some(problem) = &b.problem {
            eprintln!("warning: {problem}");
        }
    }
    Ok(ExitCode::Success)
}

/// Standard output; a closed pipe (`| head`) is not an error.
fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn json(b: &Summary) -> serde_json::Value {
    serde_json::json!({
        "backup": b.file,
        "direction": b.direction,
        "webhooks": b.webhooks,
        "created_at": b.created_at,
        "checksum": b.checksum,
        "checksum_ok": b.problem.is_none(),
        "problem": b.problem,
    })
}

/// `2026-02-08T14:30:00Z` as `2026-02-08 14:30:00`.
fn created(at: &str) -> String {
    at.trim_end_matches('Z').replacen('T', " ", 1)
}

/// The DESIGN's table: Backup | Direction | Webhooks | Created (UTC) | Checksum, oldest first.
/// A checksum that verifies shows its first 12 digits; one that does not, `✗ BAD`.
pub fn table(backups: &[Summary]) -> String {
    let mut table = Table::new();
    table
        .load_style(crate::sandbox::console::TABLE_STYLE)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty();
    table.set_header(vec![
        "Backup",
        "Direction",
        "Webhooks",
        "Created (UTC)",
        "Checksum",
    ]);
    for b in backups {
        let checksum = match (&b.checksum, &b.problem) {
            (Some(sum), None) => {
                let hex = sum.trim_start_matches("sha256:");
                format!("✓ {}", &hex[..hex.len().min(12)])
            }
            _ => "✗ BAD".to_string(),
        };
        table.add_row(vec![
            Cell::new(&b.file),
            Cell::new(&b.direction),
            Cell::new(b.webhooks.map_or("?".to_string(), |n| n.to_string()))
                .set_alignment(CellAlignment::Right),
            Cell::new(b.created_at.as_deref().map_or("?".to_string(), created)),
            Cell::new(checksum),
        ]);
    }
    format!("{table}\n")
}
