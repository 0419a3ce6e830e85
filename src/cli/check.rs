//! `hookplan check PLAN...`

use super::{CliError, ExitCode, render};
use crate::plan::{self, FileDiagnostics, LoadError, PlanErrors};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Plan files to check
    #[arg(required = true, value_name = "PLAN")]
    pub plans: Vec<PathBuf>,
}

pub fn run(args: CheckArgs, config: &crate::plan::ProjectConfig) -> Result<ExitCode, CliError> {
    let mut failed = PlanErrors::default();
    let mut unreadable = Vec::new();
    let mut stdout = std::io::stdout().lock();
    for path in &args.plans {
        match plan::load_with(path, config) {
            Ok(loaded) => {
                if !loaded.warnings.is_empty() {
                    let file = FileDiagnostics {
                        file: loaded.file.clone(),
                        diagnostics: loaded.warnings.clone(),
                    };
                    eprint!("{}", render::diagnostics(&file));
                }
                let p = &loaded.plan;
                let mut parts = vec![count(p.steps.len(), "step")];
                if !p.sandboxes.is_empty() {
                    parts.push(count(p.sandboxes.len(), "sandbox"));
                }
                if !p.retry_policies.is_empty() {
                    parts.push(count(p.retry_policies.len(), "retry policy"));
                }
                let _ = writeln!(
                    stdout,
                    "ok: {} — plan \"{}\", {}",
                    path.display(),
                    p.name,
                    parts.join(", ")
                );
            }
            Err(LoadError::Plan(errors)) => failed.files.extend(errors.files),
            Err(LoadError::Source(error)) => unreadable.push(error),
        }
    }
    drop(stdout);
    if !failed.files.is_empty() {
        // Files that could not be read are reported with the plan errors, in one place.
        for error in &unreadable {
            eprintln!("error: {error}\n  help: {}", error.help());
        }
        return Err(CliError::plan(failed));
    }
    if let Some(error) = unreadable.into_iter().next() {
        let help = error.help();
        return Err(CliError::usage(error.to_string()).with_help(help));
    }
    Ok(ExitCode::Success)
}

fn count(n: usize, what: &str) -> String {
    let plural = match what {
        "sandbox" => "sandboxes".to_string(),
        "retry policy" => "retry policies".to_string(),
        _ => format!("{what}s"),
    };
    format!("{n} {}", if n == 1 { what.to_string() } else { plural })
}
