//! What the migration's direct commands (`migrate`, `verify`, …) share: the spec's filters and
//! the registry and store they name on the command line, the one-step plan built from them,
//! and a console that prints the step's lines as they come.

use super::CliError;
use crate::exec::values::{self, ProcessEnvironment, Values};
use crate::exec::{EventKind, RunEvent, Sink};
use crate::model::{Action, ActionSpec, Plan, SelectionSpec, Span, Spanned, Step, StoreDecl};
use crate::plan::ProjectConfig;
use crate::registry::Direction;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The spec's filters, and which registry and store.
#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// The direction: OUT, IN, or ALL (ignored with --webhook)
    #[arg(long, value_name = "DIR", default_value = "OUT")]
    pub direction: String,

    /// Only this webhook, whatever its direction
    #[arg(long, value_name = "CODE")]
    pub webhook: Option<String>,

    /// Only webhooks whose code matches this glob (e.g. "STRIPE_*")
    #[arg(long, value_name = "GLOB")]
    pub pattern: Option<String>,

    /// The project config's `database` [default: its first, else DATABASE_URL, else the
    /// embedded registry]
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,

    /// The secret store [default: the project config's only one, else Infisical from
    /// INFISICAL_* when INFISICAL_CLIENT_ID is set, else the local file]
    #[arg(long, value_name = "NAME")]
    pub store: Option<String>,
}

/// The command line's filters, registry and store, resolved.
pub struct Chosen {
    pub selection: SelectionSpec,
    pub database: Spanned<String>,
    pub store: Spanned<String>,
    plan_databases: Vec<crate::model::DatabaseDecl>,
    plan_stores: Vec<StoreDecl>,
}

/// `--direction`: OUT, IN, or ALL (`None`).
pub fn direction(text: &str) -> Result<Option<Direction>, CliError> {
    if text.eq_ignore_ascii_case("ALL") {
        return Ok(None);
    }
    Direction::parse(text).map(Some).ok_or_else(|| {
        CliError::usage(format!("--direction: \"{text}\" is not a direction"))
            .with_help("use --direction OUT, IN or ALL")
    })
}

impl SelectionArgs {
    /// Checks the filters and picks the registry and the store.
    pub fn choose(&self, config: &ProjectConfig, state_dir: &Path) -> Result<Chosen, CliError> {
        let selection = SelectionSpec {
            direction: direction(&self.direction)?,
            webhook: self.webhook.clone(),
            pattern: self.pattern.clone(),
        };
        if let Some(p) = &self.pattern {
            glob::Pattern::new(p).map_err(|e| {
                CliError::usage(format!(
                    "--pattern: \"{p}\" is not a pattern of webhook codes: {e}"
                ))
                .with_help("give a glob such as --pattern \"STRIPE_*\"")
            })?;
        }
        let chosen = super::registry::choose(config, self.database.as_deref(), state_dir)?;
        let store = super::store::choose(config, self.store.as_deref())?;
        let mut stores = config.stores.clone();
        if config.store(&store.name).is_none() {
            stores.push(store.clone());
        }
        Ok(Chosen {
            selection,
            database: Spanned::new(chosen.decl.name.clone(), Span::default()),
            store: Spanned::new(store.name.clone(), Span::default()),
            plan_databases: vec![chosen.decl.clone()],
            plan_stores: stores,
        })
    }
}

impl Chosen {
    /// The one-step plan of `action`, with the project config's alerting and MQTT, and the
    /// values it needs from the environment.
    pub fn plan(
        &self,
        name: &str,
        action: impl ActionSpec,
        config: &ProjectConfig,
    ) -> Result<(Plan, Values), CliError> {
        let step = Step::new(name, Action::new(action, Span::default()));
        let mut plan = Plan::one_step(name, step, PathBuf::from("."));
        plan.databases = self.plan_databases.clone();
        plan.stores = self.plan_stores.clone();
        plan.alerting = config.alerting.clone();
        plan.mqtt = config.mqtt.clone();
        let values = values::resolve(&plan, &[], &ProcessEnvironment).map_err(|missing| {
            let first = &missing[0];
            CliError::usage(format!("{} is not set", first.reference))
                .with_help(format!("set {} in the environment", first.name))
        })?;
        Ok((plan, values))
    }
}

/// The step's lines as they happen, on stdout; a note on seeding the registry goes to stderr
/// so that stdout is the spec's lines alone.
pub struct StepLines;

impl Sink for StepLines {
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
