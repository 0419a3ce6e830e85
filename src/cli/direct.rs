//! Direct commands (`sandbox replay`, and later `call`, `migrate`, …) are one-step plans: built
//! in memory, run through the same engine and step modules as a plan file, with a report and an
//! events journal in the state folder like any run. Each command keeps the spec's console
//! wording by printing from the step's outcome.

use super::CliError;
use super::logs::LogSetup;
use crate::engine::{self, RunSetup};
use crate::exec::{Sink, Sinks, values::Values};
use crate::graph::StepGraph;
use crate::model::Plan;
use crate::report::journal::Journal;
use crate::report::{self, Report};
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How a direct command runs its plan.
pub struct Direct<'a> {
    pub state_dir: &'a Path,
    /// 1 = real time; 0 skips the retry waits.
    pub time_scale: f64,
    pub logs: &'a LogSetup,
}

/// Runs a plan built in memory to its end; Ctrl-C interrupts it like a plan run. `console`
/// is the command's own live output (in text format); the events journal and the logs are
/// added to it.
pub fn run(
    plan: Plan,
    values: Values,
    direct: &Direct<'_>,
    console: impl Sink,
) -> Result<Report, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start the async runtime", &e))?;
    let report = runtime.block_on(execute(plan, values, direct, console))?;
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(report)
}

/// A command that prints from the report at the end, not while it runs.
pub struct Silent;

impl Sink for Silent {
    fn name(&self) -> &'static str {
        "console"
    }

    fn handle(&mut self, _: &crate::exec::RunEvent) {}
}

/// The events journal of a run, in its folder.
pub(super) fn journal(run_dir: &Path) -> Result<Journal, CliError> {
    let path = run_dir.join("events.jsonl");
    Journal::create(&path).map_err(|e| {
        CliError::io(
            format!("cannot create the events journal {}", path.display()),
            &e,
        )
    })
}

/// Alert channels that failed: a warning each, and their counts in the report (never a
/// failed run: channels are lossy).
/// Puts each mqtt connection's counts into the report.
pub(super) fn mqtt_counts(report: &mut Report, sinks: &mut crate::exec::Finished) {
    for (name, connection) in crate::mqtt::take_reports(sinks) {
        let counts = connection.counts;
        report.mqtt.insert(
            name,
            crate::report::MqttReport {
                published: counts.published,
                dropped: counts.dropped,
                unpublished: counts.unpublished,
                error: connection.setup_error,
            },
        );
    }
}

pub(super) fn alert_channel_failures(report: &mut Report, sinks: &mut crate::exec::Finished) {
    for failure in crate::alerting::channel_failures(sinks) {
        let why = failure
            .first
            .as_deref()
            .map_or_else(String::new, |w| format!(" (first: {w})"));
        eprintln!(
            "warning: the {} alert channel failed to deliver {} alert(s){why}",
            failure.channel, failure.failed
        );
        report
            .alert_channel_failures
            .insert(failure.channel.to_string(), failure.failed);
    }
}

async fn execute(
    plan: Plan,
    values: Values,
    direct: &Direct<'_>,
    console: impl Sink,
) -> Result<Report, CliError> {
    let state_dir = direct.state_dir;
    let run_dir = super::run::run_folder(state_dir, &plan.name)?;
    let sinks = direct.logs.sinks(
        Sinks::default().lossless(journal(&run_dir)?),
        console,
        &run_dir,
    )?;
    let http = crate::http_client::builder()
        .build()
        .map_err(|e| CliError::failed(format!("cannot set up the HTTP client: {e}")))?;
    let sinks = crate::alerting::add_channels(sinks, plan.alerting.as_ref(), &values, &http);
    let sinks = crate::mqtt::add_sinks(sinks, &plan.mqtt, plan.alerting.as_ref(), &values);
    let graph = StepGraph::new(&plan);
    let abort = CancellationToken::new();
    let interrupt = abort.child_token();
    let listener = {
        let interrupt = interrupt.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupt.cancel();
            }
        })
    };
    let setup = RunSetup {
        shown_path: plan.path.display().to_string(),
        jobs: 1,
        time_scale: direct.time_scale,
        dry_run: false,
        fail_fast: false,
        selected: None,
        run_dir: run_dir.clone(),
        state_dir: state_dir.to_path_buf(),
        http,
        interrupt,
        abort,
        stages: Vec::new(),
    };
    let result = engine::run(Arc::new(plan), graph, values, setup, sinks).await;
    listener.abort();
    let engine::RunResult {
        mut report,
        mut sinks,
    } = result.map_err(|e| CliError::failed(e.to_string()))?;
    alert_channel_failures(&mut report, &mut sinks);
    mqtt_counts(&mut report, &mut sinks);
    // A direct command has no closing summary: say so only when something did not get out.
    for (name, mqtt) in &report.mqtt {
        if mqtt.unpublished > 0 || mqtt.dropped > 0 {
            eprintln!(
                "warning: mqtt \"{name}\": {} message(s) unpublished, {} dropped (outbox full)",
                mqtt.unpublished, mqtt.dropped
            );
        }
    }
    direct.logs.finish(&mut sinks);
    report::write_all(&report, &run_dir).map_err(|e| {
        CliError::io(
            format!("cannot write the report into {}", run_dir.display()),
            &e,
        )
    })?;
    Ok(report)
}
