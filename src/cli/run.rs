//! `hookplan run PLAN`: resolve, execute, report.

use super::{CliError, ExitCode, render};
use crate::engine;
use crate::exec::{self, values};
use crate::model::suggest::did_you_mean;
use crate::plan::{LoadedPlan, PlanErrors};
use crate::report::console::{Console, Verbosity};
use crate::report::journal::Journal;
use crate::report::{self, Report, RunStatus};
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The plan file
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,

    /// Set a variable declared in the plan's `vars` (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// Override the plan's seed (fixes error injection and jitter)
    #[arg(long)]
    pub seed: Option<u64>,

    /// Steps that may run at once [default: the plan's `jobs`, else the number of CPUs]
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,

    /// Resolve every template and show what would be sent; send nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Write report.json, junit.xml and summary.md here
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,

    /// Run only this step and what it needs (repeatable)
    #[arg(long, value_name = "STEP")]
    pub only: Vec<String>,

    /// Run only steps with this tag and what they need (repeatable)
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,

    /// Real seconds waited per scheduled second of backoff and injected delay (0 = never wait)
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub time_scale: f64,

    /// Stop at the first failed step (teardown steps still run)
    #[arg(long)]
    pub fail_fast: bool,

    /// Plain lines instead of progress bars (also when not on a terminal or when CI is set)
    #[arg(long)]
    pub no_progress: bool,

    /// Trust the certificates in this PEM bundle (for servers with a private CA)
    #[arg(long, value_name = "FILE")]
    pub ca_bundle: Option<PathBuf>,

    /// Show every attempt and assertion
    #[arg(long, short = 'v', conflicts_with = "quiet")]
    pub verbose: bool,

    /// Show only failures and the summary
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Run only if the live state still matches this preview (`hookplan preview`): refused
    /// (exit 3) before any step runs when the plan, a migrate step's registry, store or
    /// selection, or any webhook's values changed since
    #[arg(long, value_name = "FILE")]
    pub approved: Option<PathBuf>,
}

pub fn run(
    args: RunArgs,
    state_dir: &Path,
    config: &crate::plan::ProjectConfig,
    logs: &super::logs::LogSetup,
) -> Result<ExitCode, CliError> {
    let loaded = super::load_plan(&args.plan, config)?;
    if !(args.time_scale.is_finite() && args.time_scale >= 0.0) {
        return Err(CliError::usage(format!(
            "--time-scale must be a number of at least 0, not {}",
            args.time_scale
        ))
        .with_help("use 1 for real time, 0.01 to run 100 times faster, 0 to never wait"));
    }
    if args.jobs == Some(0) {
        return Err(CliError::usage("--jobs must be at least 1"));
    }
    // Where the results go is checked before anything runs, not after.
    for (flag, dir) in [
        ("--report-dir", args.report_dir.as_deref()),
        ("--state-dir", Some(state_dir)),
    ] {
        if let Some(dir) = dir.filter(|d| d.exists() && !d.is_dir()) {
            return Err(CliError::usage(format!(
                "{flag} {} is a file, not a folder",
                dir.display()
            ))
            .with_help("name a folder (it is created if missing)"));
        }
    }
    let selected = selection(&args, &loaded)?;
    let values = values(&args.vars, &loaded)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start the runtime", &e))?;
    if let Some(file) = &args.approved {
        // Before anything runs: no run folder, no step, no sandbox of the run.
        let approved =
            super::preview::check_approved(&runtime, file, &loaded.plan, &values, state_dir)?;
        // JSON lines on stderr are the run's events alone.
        if logs.format != super::logs::LogFormat::Json {
            eprintln!(
                "Approved preview {}: the live state matches ({} webhook(s) in {} migrate step(s))",
                file.display(),
                approved.webhooks,
                approved.steps
            );
        }
    }
    let report = runtime.block_on(execute(&args, loaded, values, selected, state_dir, logs))?;
    // Steps still waiting on the network when interrupted are not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(match report.status {
        RunStatus::Passed => ExitCode::Success,
        // A step refused for safety (a rollback over changes made since) is exit 3.
        RunStatus::Failed
            if report.steps.iter().any(|s| {
                s.details
                    .as_ref()
                    .is_some_and(|d| d["refused"] == serde_json::Value::Bool(true))
            }) =>
        {
            ExitCode::Refused
        }
        RunStatus::Failed => ExitCode::Failed,
        RunStatus::Interrupted => ExitCode::Interrupted,
    })
}

async fn execute(
    args: &RunArgs,
    loaded: LoadedPlan,
    values: values::Values,
    selected: Option<BTreeSet<usize>>,
    state_dir: &Path,
    logs: &super::logs::LogSetup,
) -> Result<Report, CliError> {
    let LoadedPlan {
        mut plan, graph, ..
    } = loaded;
    if let Some(seed) = args.seed {
        plan.seed = seed;
    }
    let plan = Arc::new(plan);
    let jobs = args
        .jobs
        .or(plan.jobs)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(4, |n| n.get()));
    let mut builder = crate::http_client::builder();
    if let Some(bundle) = &args.ca_bundle {
        builder = crate::http_client::with_ca_bundle(builder, bundle).map_err(CliError::usage)?;
    }
    let http = builder
        .build()
        .map_err(|e| CliError::failed(format!("cannot set up the HTTP client: {e}")))?;
    let run_dir = run_folder(state_dir, &plan.name)?;

    let verbosity = if args.quiet {
        Verbosity::Quiet
    } else if args.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let live = !args.no_progress
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none()
        && verbosity != Verbosity::Quiet;
    let json = logs.format == super::logs::LogFormat::Json;
    let console = Console::new(live && !json, render::use_color(), verbosity);
    crate::observe::logging::set_progress(console.multi());
    let sinks = logs.sinks(
        exec::Sinks::default().lossless(super::direct::journal(&run_dir)?),
        console,
        &run_dir,
    )?;

    let abort = CancellationToken::new();
    let interrupt = abort.child_token();
    let listener = {
        let (interrupt, abort) = (interrupt.clone(), abort.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "interrupted: stopping steps and running teardown (press Ctrl-C again to abort)"
                );
                interrupt.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    abort.cancel();
                }
            }
        })
    };
    let sinks = crate::alerting::add_channels(sinks, plan.alerting.as_ref(), &values, &http);
    let sinks = crate::mqtt::add_sinks(sinks, &plan.mqtt, plan.alerting.as_ref(), &values);
    let setup = engine::RunSetup {
        shown_path: args.plan.display().to_string(),
        jobs,
        time_scale: args.time_scale,
        dry_run: args.dry_run,
        fail_fast: args.fail_fast,
        selected,
        run_dir: run_dir.clone(),
        state_dir: state_dir.to_path_buf(),
        http,
        interrupt,
        abort,
        stages: Vec::new(),
    };
    let result = engine::run(plan, graph, values, setup, sinks).await;
    listener.abort();
    let engine::RunResult {
        mut report,
        mut sinks,
    } = result.map_err(|e| CliError::failed(e.to_string()))?;
    crate::observe::logging::set_progress(None);
    super::direct::alert_channel_failures(&mut report, &mut sinks);
    super::direct::mqtt_counts(&mut report, &mut sinks);

    let mut written = Vec::new();
    report::write_all(&report, &run_dir).map_err(|e| {
        CliError::io(
            format!("cannot write the report into {}", run_dir.display()),
            &e,
        )
    })?;
    if let Some(dir) = &args.report_dir {
        report::write_all(&report, dir).map_err(|e| {
            CliError::io(
                format!("cannot write the report into {}", dir.display()),
                &e,
            )
        })?;
        written.push(dir.display().to_string());
    }
    if let Some(journal) = sinks.take::<Journal>()
        && let Some(e) = journal.error()
    {
        eprintln!(
            "warning: the events journal {} is incomplete: {}",
            journal.path().display(),
            crate::io_error::describe(e)
        );
    }
    logs.finish(&mut sinks);
    match sinks.take::<Console>() {
        Some(console) => console.finish(&report, &written),
        // JSON lines said it all; the exit code says how it ended.
        None if json => {}
        None => Console::new(false, render::use_color(), verbosity).finish(&report, &written),
    }
    Ok(report)
}

/// `.hookplan/runs/<time>-<plan>/`, owner-only: recordings and journals may hold raw values.
pub(super) fn run_folder(state_dir: &Path, plan: &str) -> Result<PathBuf, CliError> {
    let runs = state_dir.join("runs");
    crate::atomic_write::private_dir(state_dir).map_err(|e| {
        CliError::io(
            format!("cannot create the state folder {}", state_dir.display()),
            &e,
        )
    })?;
    crate::atomic_write::private_dir(&runs)
        .map_err(|e| CliError::io(format!("cannot create {}", runs.display()), &e))?;
    let stamp = chrono::Local::now().format("%Y-%m-%d_%H%M%S");
    for n in 0..1000 {
        let name = if n == 0 {
            format!("{stamp}-{plan}")
        } else {
            format!("{stamp}-{plan}-{n}")
        };
        let dir = runs.join(name);
        match crate::atomic_write::new_private_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(CliError::io(format!("cannot create {}", dir.display()), &e)),
        }
    }
    Err(CliError::failed(format!(
        "cannot find a free run folder name in {}",
        runs.display()
    )))
}

/// The plan's values as a run resolves them: `--var` overrides, then the environment.
pub(super) fn values(vars: &[String], loaded: &LoadedPlan) -> Result<values::Values, CliError> {
    let overrides = parse_vars(vars, loaded)?;
    let mut resolved = values::resolve(&loaded.plan, &overrides, &values::ProcessEnvironment)
        .map_err(|missing| {
            let diagnostics = missing.iter().map(missing_value).collect();
            CliError::plan(PlanErrors::single(loaded.file.clone(), diagnostics))
        })?;
    resolved.vars.extend(overrides.iter().cloned());
    Ok(resolved)
}

fn parse_vars(vars: &[String], loaded: &LoadedPlan) -> Result<Vec<(String, String)>, CliError> {
    let declared: Vec<&str> = loaded.plan.vars.iter().map(|v| v.name.as_str()).collect();
    vars.iter()
        .map(|pair| {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(
                    CliError::usage(format!("--var {pair}: expected NAME=VALUE"))
                        .with_help("e.g. --var region=eu"),
                );
            };
            if !declared.contains(&name) {
                let help = match did_you_mean(name, declared.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if declared.is_empty() => {
                        "the plan declares no variables; add them in `vars { … }`".into()
                    }
                    None => format!("the plan declares: {}", declared.join(", ")),
                };
                return Err(CliError::usage(format!(
                    "--var {name}: the plan declares no variable `{name}`"
                ))
                .with_help(help));
            }
            Ok((name.to_string(), value.to_string()))
        })
        .collect()
}

/// The steps `--only` and `--tag` select, with everything they need.
fn selection(args: &RunArgs, loaded: &LoadedPlan) -> Result<Option<BTreeSet<usize>>, CliError> {
    if args.only.is_empty() && args.tag.is_empty() {
        return Ok(None);
    }
    let steps = &loaded.plan.steps;
    let mut roots = Vec::new();
    for name in &args.only {
        match steps.iter().position(|s| &s.name == name) {
            Some(i) => roots.push(i),
            None => {
                let help = match did_you_mean(name, steps.iter().map(|s| s.name.as_str())) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "the plan's steps: {}",
                        steps
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                return Err(CliError::usage(format!("--only {name}: no such step")).with_help(help));
            }
        }
    }
    for tag in &args.tag {
        let tagged: Vec<usize> = steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.tags.contains(tag))
            .map(|(i, _)| i)
            .collect();
        if tagged.is_empty() {
            let mut tags: Vec<&str> = steps
                .iter()
                .flat_map(|s| s.tags.iter().map(String::as_str))
                .collect();
            tags.sort_unstable();
            tags.dedup();
            let help = if tags.is_empty() {
                "no step has tags; add `tags \"smoke\"` to a step".to_string()
            } else {
                format!("the plan's tags: {}", tags.join(", "))
            };
            return Err(
                CliError::usage(format!("--tag {tag}: no step has this tag")).with_help(help),
            );
        }
        roots.extend(tagged);
    }
    Ok(Some(loaded.graph.with_needs(roots)))
}

/// A value the plan reads that is not set, at its place in the plan.
fn missing_value(missing: &values::MissingValue) -> crate::plan::Diagnostic {
    let name = &missing.name;
    let default_form = if missing.is_secret {
        format!("${{secret.{name}:-…}}")
    } else {
        format!("${{env.{name}:-…}}")
    };
    crate::plan::Diagnostic::error(
        "hookplan::missing-value",
        missing.to_string(),
        missing.span,
        format!("{} has no value", missing.reference),
    )
    .with_help(format!(
        "set {name} in the environment, or give a default: {default_form}"
    ))
}
