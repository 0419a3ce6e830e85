//! `hookplan call CODE EVENT [--payload FILE] [--url URL]`: the spec's
//! `hook.read('CODE'); hook.call('EVENT')` as a one-step plan running the `call` step, with
//! the registry's retry on, its lines printed as they happen in the spec's words.

use super::logs::LogSetup;
use super::registry;
use super::{CliError, ExitCode};
use crate::exec::Sink;
use crate::exec::event::{EventKind, RunEvent, StepStatus};
use crate::exec::values::{self, ProcessEnvironment};
use crate::model::{Action, Body, CallAction, Plan, Span, Spanned, Step, Template};
use crate::plan::ProjectConfig;
use crate::plan::config::DEFAULT_POLICY;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The webhook's code in the registry (the spec's Webhookcode)
    pub code: String,

    /// The event to report (e.g. DONE)
    pub event: String,

    /// A JSON file to send instead of {"event": EVENT, "webhook": CODE}
    #[arg(long, value_name = "FILE")]
    pub payload: Option<PathBuf>,

    /// Send to this URL instead of the registered one (e.g. a sandbox)
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// The project config's `database` to read [default: its first, else DATABASE_URL, else
    /// the embedded registry]
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,

    /// Read the webhook's credentials from this secret store (one of the project config, or
    /// `local` or `infisical`), by its name pattern; those it lacks are the registry's
    #[arg(long, value_name = "STORE")]
    pub credentials: Option<String>,

    /// Turn the registry's retry off for this call
    #[arg(long)]
    pub no_retry: bool,

    /// Scale the retry waits: 1 = real time, 0 = no waiting (the lines still say 2.0s, 4.0s)
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub time_scale: f64,
}

pub fn run(
    args: CallArgs,
    state_dir: &Path,
    config: &ProjectConfig,
    logs: &LogSetup,
) -> Result<ExitCode, CliError> {
    if !(args.time_scale.is_finite() && args.time_scale >= 0.0) {
        return Err(CliError::usage(
            "--time-scale must be a number of at least 0 (1 = real time, 0 = no waiting)",
        ));
    }
    let chosen = registry::choose(config, args.database.as_deref(), state_dir)?;
    if let Some(url) = &args.url {
        check_url(url)?;
    }
    // The project's stores (a credential the tables place in one is read from it), and the
    // one `--credentials` names.
    let mut stores = config.stores.clone();
    if let Some(name) = &args.credentials
        && config.store(name).is_none()
    {
        stores.push(super::store::choose(config, Some(name))?);
    }
    if let Some(file) = &args.payload {
        check_payload(file)?;
    }
    let action = CallAction {
        code: Spanned::new(args.code.clone(), Span::default()),
        event: Template::literal(&args.event, Span::default()),
        database: Spanned::new(chosen.decl.name.clone(), Span::default()),
        payload: args
            .payload
            .clone()
            .map(|p| Body::File(Spanned::new(p, Span::default()))),
        url: args
            .url
            .as_deref()
            .map(|u| Template::literal(u, Span::default())),
        credentials: args
            .credentials
            .as_deref()
            .map(|s| Spanned::new(s.to_string(), Span::default())),
        sign: None,
    };
    let mut step = Step::new("call", Action::new(action, Span::default()));
    if !args.no_retry {
        step.retry = config.policy(DEFAULT_POLICY).cloned();
    }
    let mut plan = Plan::one_step("call", step, PathBuf::from("."));
    plan.databases = vec![chosen.decl.clone()];
    plan.stores = stores;
    plan.alerting = config.alerting.clone();
    plan.mqtt = config.mqtt.clone();
    let values = values::resolve(&plan, &[], &ProcessEnvironment).map_err(|missing| {
        let first = &missing[0];
        CliError::usage(format!("{} is not set", first.reference))
            .with_help(format!("set {} in the environment", first.name))
    })?;
    let direct = super::direct::Direct {
        state_dir,
        time_scale: args.time_scale,
        logs,
    };
    let report = super::direct::run(plan, values, &direct, Lines)?;
    let step = &report.steps[0];
    match step.status {
        StepStatus::Passed => Ok(ExitCode::Success),
        _ => Err(CliError::failed(format!(
            "the call to {} failed: {}",
            args.code,
            step.message.as_deref().unwrap_or("no response")
        ))),
    }
}

fn check_url(url: &str) -> Result<(), CliError> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        Ok(u) => Err(CliError::usage(format!(
            "--url: the scheme `{}` is not supported",
            u.scheme()
        ))
        .with_help("give an http(s) URL, e.g. --url http://127.0.0.1:8888/webhook/test")),
        Err(e) => Err(CliError::usage(format!("--url: not a URL: {e}"))
            .with_help("give an http(s) URL, e.g. --url http://127.0.0.1:8888/webhook/test")),
    }
}

/// The payload is read again when the step runs; checking it now makes a bad file a usage
/// error (exit 2) before anything is sent.
fn check_payload(file: &Path) -> Result<(), CliError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        CliError::usage(format!(
            "cannot read the payload {}: {}",
            file.display(),
            crate::io_error::describe(&e)
        ))
    })?;
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| CliError::usage(format!("the payload {} is not JSON: {e}", file.display())))?;
    Ok(())
}

/// The step's lines as they happen, each behind the local time as the spec prints them
/// (`[08:10:01] Server error 503, retrying in 2.0s (attempt 1/3)`), on stderr.
struct Lines;

impl Sink for Lines {
    fn name(&self) -> &'static str {
        "console"
    }

    fn handle(&mut self, event: &RunEvent) {
        let text = match &event.kind {
            EventKind::StepLog { message, .. } => message,
            _ => return,
        };
        let at = chrono::Local::now().format("%H:%M:%S");
        let _ = writeln!(std::io::stderr().lock(), "[{at}] {text}");
    }
}
