//! `hookplan preview PLAN --out FILE [--var NAME=VALUE]`: what the plan's `migrate` steps would
//! touch, read from the live registry and store without running anything, written to FILE
//! (0600) as fingerprints under a random key (`migration::preview`). `hookplan run PLAN
//! --approved FILE` holds the run to it: [`check_approved`] refuses (exit 3) before any step
//! runs when the plan, a step's binding or a webhook drifted. No value is ever printed.

use super::{CliError, ExitCode};
use crate::exec::RunContext;
use crate::exec::values::Values;
use crate::migration::backup;
use crate::migration::preview::{
    self, Binding, Fingerprints, PlanBinding, Preview, PreviewError, StepPreview, WebhookPrint,
};
use crate::model::{MigrateAction, Plan};
use crate::plan::ProjectConfig;
use crate::steps::registries::Registries;
use crate::steps::sandboxes::Sandboxes;
use crate::steps::stores::Stores;
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// At most this many drifts are named; the rest are counted.
const SHOWN_DRIFTS: usize = 50;

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The plan file
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,

    /// Where to write the preview (JSON, mode 0600)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// Set a variable declared in the plan's `vars` (repeatable), as `run` will
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
}

/// A `migrate` step as the live state stands.
struct Live {
    name: String,
    binding: Binding,
    webhooks: Vec<WebhookPrint>,
}

pub fn run(
    args: PreviewArgs,
    state_dir: &Path,
    config: &ProjectConfig,
) -> Result<ExitCode, CliError> {
    let loaded = super::load_plan(&args.plan, config)?;
    let values = super::run::values(&args.vars, &loaded)?;
    let plan = loaded.plan;
    if migrate_steps(&plan).next().is_none() {
        return Err(CliError::usage(format!(
            "plan \"{}\" has no `migrate` step: there is nothing to preview",
            plan.name
        ))
        .with_help("a preview covers the plan's `migrate` steps; `hookplan run` needs none"));
    }
    if args.out.is_dir() {
        return Err(CliError::usage(format!(
            "--out {} is a folder, not a file",
            args.out.display()
        ))
        .with_help("name a file, e.g. --out preview.json"));
    }
    let prints = Fingerprints::random().map_err(|e| CliError::failed(e.to_string()))?;
    let runtime = runtime()?;
    let plan = Arc::new(plan);
    let live = runtime.block_on(live_steps(plan.clone(), values, state_dir, &prints, true))?;
    let preview = Preview {
        format: preview::FORMAT.to_string(),
        version: preview::VERSION,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        plan: PlanBinding {
            name: plan.name.clone(),
            canonical_hash: plan.canonical_hash.clone(),
        },
        key: prints.key_hex().to_string(),
        steps: live
            .into_iter()
            .map(|l| StepPreview {
                name: l.name,
                binding: l.binding,
                webhooks: l.webhooks,
            })
            .collect(),
    };
    preview::write(&args.out, &preview).map_err(|e| CliError::failed(e.to_string()))?;
    println!(
        "Preview of plan \"{}\" written to {} (mode 0600)",
        plan.name,
        args.out.display()
    );
    for step in &preview.steps {
        let b = &step.binding;
        println!(
            "  step \"{}\": {} webhook(s) to migrate ({} -> {}:{}, {})",
            step.name,
            step.webhooks.len(),
            b.database,
            b.store,
            b.path,
            b.selection
        );
    }
    println!(
        "Review it, then: hookplan run {} --approved {}",
        args.plan.display(),
        args.out.display()
    );
    Ok(ExitCode::Success)
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start the runtime", &e))
}

fn migrate_steps(plan: &Plan) -> impl Iterator<Item = (&str, &MigrateAction)> {
    plan.steps
        .iter()
        .filter_map(|s| Some((s.name.as_str(), s.action.get::<MigrateAction>()?)))
}

/// Every `migrate` step of `plan` as the live state stands, read without running anything.
/// `give_id`: a registry without an id yet is given one (in hookplan's own tables, as the
/// migration's backup would), so that the preview can be bound to it; the check never does.
async fn live_steps(
    plan: Arc<Plan>,
    values: Values,
    state_dir: &Path,
    prints: &Fingerprints,
    give_id: bool,
) -> Result<Vec<Live>, CliError> {
    // Recordings of a sandbox a store lives in go to a folder of their own, dropped after.
    let scratch =
        tempfile::tempdir().map_err(|e| CliError::io("cannot create a temporary folder", &e))?;
    let ctx = RunContext::builder(plan.clone(), values)
        .state_dir(state_dir.to_path_buf())
        .run_dir(scratch.path().to_path_buf())
        .build()
        .map_err(CliError::failed)?;
    let sandboxes = Sandboxes::new(&ctx);
    let result = read_live(&ctx, &sandboxes, prints, give_id).await;
    sandboxes.stop_all(&ctx).await;
    result
}

async fn read_live(
    ctx: &RunContext,
    sandboxes: &Sandboxes,
    prints: &Fingerprints,
    give_id: bool,
) -> Result<Vec<Live>, CliError> {
    let registries = Registries::default();
    let stores = Stores::default();
    let folder = backup::folder(&ctx.state_dir);
    let mut live = Vec::new();
    for (name, spec) in migrate_steps(&ctx.plan) {
        let what = |e: String| CliError::failed(format!("step \"{name}\": {}", ctx.redact(&e)));
        let selection = spec.selection.selection().map_err(what)?;
        let registry = registries
            .get(ctx, &spec.database.value)
            .await
            .map_err(what)?
            .registry;
        let registry_id = if give_id {
            registry.ensure_registry_id().await
        } else {
            registry.registry_id().await.map(Option::unwrap_or_default)
        }
        .map_err(|e| what(e.to_string()))?;
        let opened = stores
            .get(ctx, sandboxes, &spec.store.value)
            .await
            .map_err(what)?;
        let request = backup::Request {
            registry: &registry,
            database: &spec.database.value,
            store: opened.store.clone(),
            decl: &opened.decl,
            path: &opened.decl.path,
            selection: &selection,
            folder: &folder,
            now: chrono::Utc::now(),
        };
        let webhooks = preview::scan(&request, spec.clear_database, prints)
            .await
            .map_err(|e| what(e.to_string()))?;
        live.push(Live {
            name: name.to_string(),
            binding: Binding {
                database: spec.database.value.clone(),
                store: spec.store.value.clone(),
                path: opened.decl.path.clone(),
                selection: selection.describe(),
                registry_id,
                clear_database: spec.clear_database,
            },
            webhooks,
        });
    }
    Ok(live)
}

/// What `run --approved` found matching.
pub(super) struct Approved {
    pub webhooks: usize,
    pub steps: usize,
}

/// `run --approved FILE`: the live state must be the one previewed, or the run is refused
/// (exit 3) before any step runs.
pub(super) fn check_approved(
    runtime: &tokio::runtime::Runtime,
    file: &Path,
    plan: &Plan,
    values: &Values,
    state_dir: &Path,
) -> Result<Approved, CliError> {
    let previewed = preview::read(file).map_err(|e| match e {
        PreviewError::Read { .. }
        | PreviewError::NotAPreview { .. }
        | PreviewError::Version { .. } => CliError::usage(e.to_string())
            .with_help("--approved names a file written by `hookplan preview PLAN --out FILE`"),
        other => CliError::failed(other.to_string()),
    })?;
    let again = || {
        format!(
            "make a new preview and review it: hookplan preview {} --out {}",
            plan.path.display(),
            file.display()
        )
    };
    if previewed.plan.canonical_hash != plan.canonical_hash {
        return Err(CliError::refused(format!(
            "{} is the preview of another plan (\"{}\"), or of this one before it was edited; nothing was run",
            file.display(),
            previewed.plan.name
        ))
        .with_help(again()));
    }
    let planned: Vec<&str> = migrate_steps(plan).map(|(n, _)| n).collect();
    let held: Vec<&str> = previewed.steps.iter().map(|s| s.name.as_str()).collect();
    if planned != held {
        return Err(CliError::refused(format!(
            "{} previews the migrate steps {held:?}, the plan has {planned:?}; nothing was run",
            file.display()
        ))
        .with_help(again()));
    }
    let prints = Fingerprints::from_hex(&previewed.key).ok_or_else(|| {
        CliError::usage(format!("{}: its key is not 64 hex digits", file.display()))
    })?;
    let live = runtime.block_on(live_steps(
        Arc::new(plan.clone()),
        values.clone(),
        state_dir,
        &prints,
        false,
    ))?;
    let mut problems = Vec::new();
    let mut webhooks = 0;
    for (before, now) in previewed.steps.iter().zip(&live) {
        let bound = preview::compare_binding(&before.name, &before.binding, &now.binding);
        if !bound.is_empty() {
            problems.extend(bound);
            continue;
        }
        webhooks += now.webhooks.len();
        problems.extend(
            preview::compare(&before.webhooks, &now.webhooks)
                .iter()
                .map(ToString::to_string),
        );
    }
    if problems.is_empty() {
        return Ok(Approved {
            webhooks,
            steps: live.len(),
        });
    }
    let mut message = format!(
        "the live state no longer matches the approved preview {}; nothing was run:",
        file.display()
    );
    for line in problems.iter().take(SHOWN_DRIFTS) {
        message.push_str("\n  ");
        message.push_str(line);
    }
    if problems.len() > SHOWN_DRIFTS {
        message.push_str(&format!("\n  … and {} more", problems.len() - SHOWN_DRIFTS));
    }
    Err(CliError::refused(message).with_help(again()))
}
