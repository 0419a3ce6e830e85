//! `hookplan status [--direction IN|OUT] [--webhook CODE] [--pattern GLOB] [--database NAME]
//! [--store NAME] [--json]`: the spec's migration status table, as a one-step plan running the
//! `status` step. Every direction unless one is given; no value is ever printed.

use super::logs::LogSetup;
use super::{CliError, ExitCode, registry};
use crate::exec::event::StepStatus;
use crate::exec::values::{self, ProcessEnvironment};
use crate::migration::State;
use crate::migration::unfinished::Unfinished;
use crate::model::{Action, Plan, Span, Spanned, StatusAction, Step};
use crate::plan::ProjectConfig;
use crate::registry::Direction;
use clap::Args;
use comfy_table::{ContentArrangement, Table};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only webhooks of this direction [default: every direction]
    #[arg(long, value_name = "IN|OUT", value_parser = parse_direction)]
    pub direction: Option<Direction>,

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

    /// The secret store to compare with [default: the project config's only one, else
    /// Infisical from INFISICAL_* when INFISICAL_CLIENT_ID is set, else the local file]
    #[arg(long, value_name = "NAME")]
    pub store: Option<String>,

    /// Print JSON for scripts instead of the table
    #[arg(long)]
    pub json: bool,
}

fn parse_direction(text: &str) -> Result<Direction, String> {
    Direction::parse(text).ok_or_else(|| format!("\"{text}\" is not a direction: use IN or OUT"))
}

pub fn run(
    args: StatusArgs,
    state_dir: &Path,
    config: &ProjectConfig,
    logs: &LogSetup,
) -> Result<ExitCode, CliError> {
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
    let action = StatusAction {
        database: Spanned::new(chosen.decl.name.clone(), Span::default()),
        store: Spanned::new(store.name.clone(), Span::default()),
        direction: args.direction,
        webhook: args.webhook.clone(),
        pattern: args.pattern.clone(),
    };
    let step = Step::new("status", Action::new(action, Span::default()));
    let mut plan = Plan::one_step("status", step, PathBuf::from("."));
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
    let report = super::direct::run(plan, values, &direct, super::direct::Silent)?;
    let step = &report.steps[0];
    let details = match (&step.status, &step.details) {
        (StepStatus::Passed, Some(details)) => details,
        _ => {
            return Err(CliError::failed(format!(
                "cannot tell the migration status: {}",
                step.message.as_deref().unwrap_or("the step did not finish")
            )));
        }
    };
    if args.json {
        let text = serde_json::to_string_pretty(details)
            .map_err(|e| CliError::failed(format!("cannot write the status as JSON: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", table(details));
        if let Some(unfinished) = details.get("unfinished").filter(|u| !u.is_null()) {
            match serde_json::from_value::<Unfinished>(unfinished.clone()) {
                Ok(unfinished) => println!("{}", unfinished.warning()),
                Err(_) => println!("Warning: a migration into this store is unfinished"),
            }
        }
    }
    Ok(ExitCode::Success)
}

/// The spec's table: `Webhook Code | DB Creds | Infisical | Status`, a heavy header over light
/// rows. Built from the step's details, which hold no value.
fn table(details: &serde_json::Value) -> String {
    let mut table = Table::new();
    table
        .load_style(crate::sandbox::console::TABLE_STYLE)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty();
    table.set_header(vec!["Webhook Code", "DB Creds", "Infisical", "Status"]);
    let empty = Vec::new();
    let lines = details["webhooks"].as_array().unwrap_or(&empty);
    for line in lines {
        let fields: Vec<&str> = line["db_fields"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter_map(|f| f.as_str())
            .collect();
        let state = line["status"].as_str().and_then(State::parse);
        let mark = match (state, line["in_store"].as_bool()) {
            (Some(State::NoCredentials), _) => "-",
            (_, Some(true)) => "✓",
            _ => "✗",
        };
        table.add_row(vec![
            line["code"].as_str().unwrap_or("").to_string(),
            if fields.is_empty() {
                "-".to_string()
            } else {
                fields.join(",")
            },
            mark.to_string(),
            state.map_or("?", State::shown).to_string(),
        ]);
    }
    let mut out = format!("{table}\n");
    if lines.is_empty() {
        out.push_str("Found 0 webhook(s)\n");
    }
    out
}
