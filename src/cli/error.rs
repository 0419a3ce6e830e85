//! The command line's one error type. Errors are printed in exactly one place: [`super::main`].

use super::ExitCode;
use crate::plan::PlanErrors;
use std::fmt;

#[derive(Debug)]
pub struct CliError {
    pub code: ExitCode,
    pub kind: ErrorKind,
}

#[derive(Debug)]
pub enum ErrorKind {
    /// A one-line message, optionally with what to do about it.
    Message {
        message: String,
        help: Option<String>,
    },
    /// Diagnostics of one or more plan files.
    Plan(Box<PlanErrors>),
}

impl CliError {
    fn message(code: ExitCode, message: impl Into<String>) -> Self {
        Self {
            code,
            kind: ErrorKind::Message {
                message: message.into(),
                help: None,
            },
        }
    }

    /// A bad flag, argument or input file (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::message(ExitCode::Invalid, message)
    }

    /// Something went wrong while doing the work (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self::message(ExitCode::Failed, message)
    }

    /// Refused for safety (exit 3).
    pub fn refused(message: impl Into<String>) -> Self {
        Self::message(ExitCode::Refused, message)
    }

    /// An I/O error on a path, with what was being done.
    pub fn io(context: impl fmt::Display, error: &std::io::Error) -> Self {
        Self::failed(format!("{context}: {}", crate::io_error::describe(error)))
    }

    pub fn plan(errors: PlanErrors) -> Self {
        Self {
            code: ExitCode::Invalid,
            kind: ErrorKind::Plan(Box::new(errors)),
        }
    }

    pub fn with_help(mut self, text: impl Into<String>) -> Self {
        if let ErrorKind::Message { help, .. } = &mut self.kind {
            *help = Some(text.into());
        }
        self
    }

    pub fn with_code(mut self, code: ExitCode) -> Self {
        self.code = code;
        self
    }
}
