//! The run on the console: live progress bars on a terminal, one plain line per event otherwise
//! (CI, pipes, `--no-progress`). Everything goes to stderr; stdout stays free for data.

use super::model::{Report, RunStatus};
use crate::exec::event::{EventKind, RunEvent, StepOutcome, StepStatus};
use crate::model::HumanDuration;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Failures and the summary only.
    Quiet,
    /// Steps, the spec's retry lines, the summary.
    Normal,
    /// Also every attempt.
    Verbose,
}

pub struct Console {
    verbosity: Verbosity,
    color: bool,
    live: Option<Live>,
    names: Vec<String>,
    /// Plain lines not written yet.
    pending: std::cell::RefCell<String>,
}

struct Live {
    multi: MultiProgress,
    overall: ProgressBar,
    running: HashMap<usize, ProgressBar>,
}

impl Console {
    /// `live`: draw progress bars (a terminal, not CI, not `--no-progress`).
    pub fn new(live: bool, color: bool, verbosity: Verbosity) -> Self {
        let live = live.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template(
                    "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} steps  {elapsed}",
                )
                .expect("a valid template")
                .progress_chars("█▉▊▋▌▍▎▏ "),
            );
            overall.set_prefix("hookplan");
            Live {
                multi,
                overall,
                running: HashMap::new(),
            }
        });
        Self {
            verbosity,
            color,
            live,
            names: Vec::new(),
            pending: std::cell::RefCell::new(String::new()),
        }
    }

    /// The progress bars, so logs can be printed without tearing them.
    pub fn multi(&self) -> Option<MultiProgress> {
        self.live.as_ref().map(|l| l.multi.clone())
    }

    /// A line; plain lines are gathered and written when the console has caught up
    /// ([`Console::flush`]), so a burst of events costs one write, not one per line.
    fn line(&self, text: &str) {
        match &self.live {
            Some(live) => live.multi.suspend(|| eprintln!("{text}")),
            None => {
                let mut pending = self.pending.borrow_mut();
                pending.push_str(text);
                pending.push('\n');
                if pending.len() >= 64 * 1024 {
                    drop(pending);
                    self.flush();
                }
            }
        }
    }

    /// Writes the lines gathered so far.
    pub fn flush(&self) {
        let mut pending = self.pending.borrow_mut();
        if !pending.is_empty() {
            let _ = std::io::stderr().lock().write_all(pending.as_bytes());
            pending.clear();
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn name(&self, step: usize) -> &str {
        self.names.get(step).map_or("?", String::as_str)
    }

    /// Shows one event.
    pub fn show(&mut self, event: &RunEvent) {
        match &event.kind {
            EventKind::RunStarted(started) => {
                self.names = started.steps.iter().map(|s| s.name.clone()).collect();
                if let Some(live) = &self.live {
                    live.overall.set_length(started.steps.len() as u64);
                }
                if self.verbosity != Verbosity::Quiet {
                    let mode = if started.dry_run { " · dry run" } else { "" };
                    let scale = if started.time_scale != 1.0 {
                        format!(" · time scale {}", started.time_scale)
                    } else {
                        String::new()
                    };
                    let text = format!(
                        "{} plan \"{}\" ({}) · seed {} · {} step{} · jobs {}{scale}{mode}",
                        self.paint("1", "hookplan"),
                        started.plan,
                        started.path,
                        started.seed,
                        started.steps.len(),
                        if started.steps.len() == 1 { "" } else { "s" },
                        started.jobs
                    );
                    self.line(&text);
                }
            }
            EventKind::SandboxStarted { name, url } => {
                if self.verbosity != Verbosity::Quiet {
                    self.line(&format!("sandbox {name} listening on {url}"));
                }
            }
            EventKind::SandboxStopped { name, summary } => {
                if self.verbosity != Verbosity::Quiet {
                    let endpoints: Vec<String> = summary
                        .endpoints
                        .iter()
                        .map(|(e, n)| format!("{e} ×{n}"))
                        .collect();
                    let faults: Vec<String> = summary
                        .faults
                        .iter()
                        .filter(|(f, _)| *f != "none")
                        .map(|(f, n)| format!("{f} ×{n}"))
                        .collect();
                    let mut text = format!(
                        "sandbox {name} recorded {} request{}",
                        summary.requests,
                        if summary.requests == 1 { "" } else { "s" }
                    );
                    if !endpoints.is_empty() {
                        text.push_str(&format!(": {}", endpoints.join(", ")));
                    }
                    if !faults.is_empty() {
                        text.push_str(&format!(" · injected {}", faults.join(", ")));
                    }
                    self.line(&text);
                }
            }
            EventKind::StepStarted { step } => {
                if let Some(live) = &mut self.live {
                    let bar = live
                        .multi
                        .insert_before(&live.overall, ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("  {spinner} {prefix} {wide_msg}")
                            .expect("a valid template"),
                    );
                    bar.set_prefix(self.names.get(*step).cloned().unwrap_or_default());
                    bar.enable_steady_tick(Duration::from_millis(100));
                    live.running.insert(*step, bar);
                } else if self.verbosity == Verbosity::Verbose {
                    self.line(&format!("   START {}", self.name(*step)));
                }
            }
            EventKind::StepLog { step, message } => {
                if let Some(bar) = self.live.as_ref().and_then(|l| l.running.get(step)) {
                    bar.set_message(message.clone());
                }
                if self.verbosity != Verbosity::Quiet {
                    self.line(&format!("[{}] {message}", self.name(*step)));
                }
            }
            EventKind::DeliveryStarted {
                step,
                webhook,
                event,
                delivery_id,
                ..
            } => {
                if self.verbosity == Verbosity::Verbose {
                    self.line(&format!(
                        "[{}] delivering {event} to {webhook} (delivery {delivery_id})",
                        self.name(*step)
                    ));
                }
            }
            EventKind::AttemptFinished { step, attempt } => {
                if self.verbosity == Verbosity::Verbose {
                    let delay = if attempt.scheduled_delay.is_zero() {
                        String::new()
                    } else {
                        format!(" after {}", HumanDuration(attempt.scheduled_delay))
                    };
                    self.line(&format!(
                        "[{}] attempt {}: {}{delay}",
                        self.name(*step),
                        attempt.n,
                        attempt.outcome
                    ));
                }
            }
            // The step that saw the change logs it in its own words.
            EventKind::CircuitChanged { .. } => {}
            EventKind::StepFinished { step, outcome } => {
                self.finish_bar(*step);
                self.step_line(*step, outcome);
            }
            EventKind::StepSkipped { step, reason } => {
                self.finish_bar(*step);
                if self.verbosity != Verbosity::Quiet {
                    let text = format!(
                        "{} {}: {reason}",
                        self.paint("33", "    SKIP"),
                        self.name(*step)
                    );
                    self.line(&text);
                }
            }
            // Shown at every verbosity: an alert is what a quiet run is for.
            EventKind::Alert(alert) => {
                let label = match alert.state {
                    crate::model::AlertState::Recovered => self.paint("32", "   ALERT"),
                    _ => self.paint("1;31", "   ALERT"),
                };
                self.line(&format!(
                    "{label} {}",
                    crate::alerting::message::describe(alert)
                ));
            }
            EventKind::RunFinished { .. } => {
                if let Some(live) = &self.live {
                    live.overall.finish_and_clear();
                }
            }
        }
    }

    fn finish_bar(&mut self, step: usize) {
        if let Some(live) = &mut self.live {
            if let Some(bar) = live.running.remove(&step) {
                bar.finish_and_clear();
                live.multi.remove(&bar);
            }
            live.overall.inc(1);
        }
    }

    fn step_line(&self, step: usize, outcome: &StepOutcome) {
        let (label, code) = match outcome.status {
            StepStatus::Passed => ("    PASS", "32"),
            StepStatus::Failed => ("    FAIL", "31"),
            StepStatus::Errored => ("   ERROR", "31"),
            StepStatus::FailedAllowed => ("    WARN", "33"),
            StepStatus::Skipped => ("    SKIP", "33"),
            StepStatus::DryRun => ("     DRY", "36"),
        };
        let quiet_ok = self.verbosity == Verbosity::Quiet && !outcome.status.is_failure();
        if quiet_ok {
            return;
        }
        let mut text = format!(
            "{} {} [{}]",
            self.paint(code, label),
            self.name(step),
            HumanDuration(outcome.duration)
        );
        if let Some(message) = &outcome.message {
            text.push_str(&format!(": {message}"));
        }
        if outcome.status == StepStatus::DryRun
            && let Some(request) = &outcome.request
        {
            text.push_str(&format!(
                "\n         would send {} {}",
                request.method, request.url
            ));
            for (name, value) in &request.headers {
                text.push_str(&format!("\n           {name}: {value}"));
            }
            if let Some(body) = &request.body {
                text.push_str(&format!("\n           body: {}", Report::body_text(body)));
            }
        }
        for assertion in outcome
            .assertions
            .iter()
            .filter(|a| !a.passed || self.verbosity == Verbosity::Verbose)
        {
            let mark = if assertion.passed {
                self.paint("32", "✓")
            } else {
                self.paint("31", "✗")
            };
            text.push_str(&format!(
                "\n         {mark} {}: expected {}, got {}",
                assertion.name, assertion.expected, assertion.actual
            ));
        }
        self.line(&text);
    }

    /// The closing summary.
    pub fn finish(&self, report: &Report, written: &[String]) {
        self.flush();
        let parts = report.summary.parts();
        let status = match report.status {
            RunStatus::Passed => self.paint("1;32", "PASSED"),
            RunStatus::Failed => self.paint("1;31", "FAILED"),
            RunStatus::Interrupted => self.paint("1;33", "INTERRUPTED"),
        };
        let virtual_time = HumanDuration(Duration::from_secs_f64(
            report.timing.virtual_duration_ms / 1000.0,
        ));
        let real_time = HumanDuration(Duration::from_secs_f64(
            report.timing.real_duration_ms / 1000.0,
        ));
        let mut text = format!(
            "{status} {} in {virtual_time} (real {real_time}) · digest {}",
            parts.join(", "),
            report.digest
        );
        for (sink, dropped) in &report.dropped_events {
            text.push_str(&format!(
                "\n{sink}: {dropped} event{} not shown (it fell behind); the report and the events journal have them all",
                if *dropped == 1 { "" } else { "s" }
            ));
        }
        for (name, mqtt) in &report.mqtt {
            text.push_str(&format!(
                "\nmqtt \"{name}\": {} published, {} unpublished, {} dropped (outbox full)",
                mqtt.published, mqtt.unpublished, mqtt.dropped
            ));
            if let Some(why) = &mqtt.error {
                text.push_str(&format!(" · {why}"));
            }
        }
        for path in written {
            text.push_str(&format!("\nreport: {path}"));
        }
        self.line(&text);
        self.flush();
    }
}

impl crate::exec::Sink for Console {
    fn name(&self) -> &'static str {
        "console"
    }

    fn handle(&mut self, event: &RunEvent) {
        self.show(event);
    }

    fn idle(&mut self) {
        self.flush();
    }

    fn finish(&mut self) {
        self.flush();
    }
}
