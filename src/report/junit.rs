//! JUnit XML: one testsuite per plan, one testcase per step named as the step. A failed
//! expectation is a `<failure>`, a step that could not complete an `<error>`, a step that did
//! not run `<skipped>`; `continue-on-error` failures pass, with a note.

use super::model::Report;
use crate::exec::event::StepStatus;
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

pub fn render(report: &Report) -> String {
    let mut suite = TestSuite::new(report.plan.name.as_str());
    suite.add_property(Property::new("seed", report.seed.to_string()));
    suite.add_property(Property::new("plan", report.plan.path.as_str()));
    suite.add_property(Property::new("digest", report.digest.as_str()));
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&report.timing.started_at) {
        suite.set_timestamp(at);
    }
    suite.set_time(Duration::from_secs_f64(
        report.timing.real_duration_ms / 1000.0,
    ));
    for step in &report.steps {
        let details = details(step);
        let status = match step.status {
            StepStatus::Passed | StepStatus::DryRun => TestCaseStatus::success(),
            StepStatus::FailedAllowed => TestCaseStatus::success(),
            StepStatus::Failed | StepStatus::Errored => {
                let kind = if step.status == StepStatus::Failed {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut status = TestCaseStatus::non_success(kind);
                status.set_message(step.message.clone().unwrap_or_else(|| "failed".into()));
                status.set_type(if kind == NonSuccessKind::Failure {
                    "expectation"
                } else {
                    "error"
                });
                status.set_description(details.clone());
                status
            }
            StepStatus::Skipped => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(step.message.clone().unwrap_or_else(|| "skipped".into()));
                status
            }
        };
        let mut case = TestCase::new(step.name.as_str(), status);
        case.set_classname(format!("{}.{}", report.plan.name, step.kind));
        case.set_time(Duration::from_secs_f64(
            step.timing.real_duration_ms / 1000.0,
        ));
        case.set_assertions(step.assertions.len());
        match step.status {
            StepStatus::FailedAllowed => {
                let message = step.message.as_deref().unwrap_or("failed");
                case.set_system_out(format!(
                    "failed (allowed by continue-on-error): {message}\n{details}"
                ));
            }
            StepStatus::DryRun => {
                case.set_system_out(format!("dry run: nothing sent\n{details}"));
            }
            _ if !step.log.is_empty() => {
                case.set_system_out(step.log.join("\n"));
            }
            _ => {}
        }
        suite.add_test_case(case);
    }
    let mut junit = quick_junit::Report::new("hookplan");
    junit.add_test_suite(suite);
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot write JUnit XML: {e} -->\n"))
}

/// The assertions and attempts of a step, as plain text for a failure's body.
fn details(step: &super::model::StepReport) -> String {
    let mut out = String::new();
    for a in &step.assertions {
        let mark = if a.passed { "ok  " } else { "FAIL" };
        out.push_str(&format!(
            "{mark} {}: expected {}, got {}\n",
            a.name, a.expected, a.actual
        ));
    }
    if !step.attempts.is_empty() {
        let outcomes: Vec<&str> = step.attempts.iter().map(|a| a.outcome.as_str()).collect();
        out.push_str(&format!("attempts: {}\n", outcomes.join(", ")));
    }
    for line in &step.log {
        out.push_str(line);
        out.push('\n');
    }
    out
}
