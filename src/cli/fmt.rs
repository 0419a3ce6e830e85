//! `hookplan fmt PLAN... [--check] [--from-v1]`

use super::{CliError, ExitCode};
use crate::atomic_write::{self, Access};
use crate::plan::{self, PlanErrors, SourceFile, format};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct FmtArgs {
    /// Plan files to format in place
    #[arg(required = true, value_name = "PLAN")]
    pub plans: Vec<PathBuf>,

    /// Write nothing; exit 1 if a file is not in the canonical layout
    #[arg(long)]
    pub check: bool,

    /// Convert files written in KDL v1 to KDL v2
    #[arg(long)]
    pub from_v1: bool,
}

pub fn run(args: FmtArgs) -> Result<ExitCode, CliError> {
    let mut errors = PlanErrors::default();
    let mut changed = Vec::new();
    for path in &args.plans {
        let file = match crate::plan::read(path) {
            Ok(file) => file,
            Err(crate::plan::LoadError::Plan(plan_errors)) => {
                errors.files.extend(plan_errors.files);
                continue;
            }
            Err(crate::plan::LoadError::Source(e)) => {
                let help = e.help();
                return Err(CliError::usage(e.to_string()).with_help(help));
            }
        };
        let text = if args.from_v1 {
            // Laid out by our formatter from the v1 parse (kdl's own v1-to-v2 printer can put a
            // `//` comment in front of a closing `}`), then checked to mean the same.
            let converted = plan::parse_v1_document(&file.text)
                .map(|v1| (format::format(&v1, &file.text), format::canonical_hash(&v1)));
            match converted {
                Some((text, hash))
                    if plan::parse_document(&text)
                        .is_ok_and(|v2| format::canonical_hash(&v2) == hash) =>
                {
                    text
                }
                Some(_) => {
                    return Err(CliError::failed(format!("{}: could not convert it to KDL v2 without changing it; the file was left as it is", path.display()))
                        .with_help("convert it by hand: v2 writes #true/#false/#null and raw strings as #\"…\"#"));
                }
                None => {
                    return Err(
                        CliError::usage(format!("{} is not valid KDL v1", path.display()))
                            .with_help("run `hookplan check` on it to see what is wrong"),
                    );
                }
            }
        } else {
            file.text.to_string()
        };
        let formatted = match format_text(&text) {
            Ok(formatted) => formatted,
            Err(FormatError::Syntax(diagnostics)) => {
                errors.files.push(plan::FileDiagnostics {
                    file: SourceFile::new(file.name.clone(), text),
                    diagnostics,
                });
                continue;
            }
            Err(FormatError::LostComment) => {
                return Err(CliError::failed(format!("{}: formatting would lose a comment, so the file was left as it is", path.display()))
                    .with_help("move comments written after a closing `}` or between values onto their own lines"));
            }
        };
        if formatted == *file.text {
            continue;
        }
        if args.check {
            println!("would reformat {}", path.display());
        } else {
            atomic_write::write(path, formatted.as_bytes(), Access::Keep)
                .map_err(|e| CliError::io(format!("cannot write {}", path.display()), &e))?;
            println!("formatted {}", path.display());
        }
        changed.push(path);
    }
    if !errors.files.is_empty() {
        return Err(CliError::plan(errors));
    }
    Ok(if args.check && !changed.is_empty() {
        ExitCode::Failed
    } else {
        ExitCode::Success
    })
}

pub enum FormatError {
    Syntax(Vec<plan::Diagnostic>),
    LostComment,
}

/// Formats plan text, proving the result means the same and keeps every comment.
pub fn format_text(text: &str) -> Result<String, FormatError> {
    let document = plan::parse_document(text).map_err(FormatError::Syntax)?;
    let formatted = format::format(&document, text);
    let reparsed = plan::parse_document(&formatted).map_err(|_| FormatError::LostComment)?;
    if format::canonical_hash(&reparsed) != format::canonical_hash(&document)
        || format::count_comments(&formatted) != format::count_comments(text)
    {
        return Err(FormatError::LostComment);
    }
    Ok(formatted)
}
