//! Plan diagnostics: a message, a label on the exact span, a help line, related spans.

use crate::model::Span;
use miette::{LabeledSpan, NamedSource, Severity, SourceCode};
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable code, e.g. `hookplan::unknown-node`.
    pub code: &'static str,
    pub message: String,
    pub span: Span,
    pub label: String,
    pub help: Option<String>,
    /// Further places that explain this one (the first definition of a duplicate, the other
    /// links of a cycle).
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: label.into(),
            help: None,
            related: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(code, message, span, label) }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A span inside the text, on character boundaries, so that rendering can never slice
/// outside the text or through a character.
pub fn fit(text: &str, span: Span) -> Span {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end().min(text.len()).max(start);
    while !text.is_char_boundary(end) {
        end += 1;
    }
    Span::new(start, end - start)
}

/// Diagnostics collected over one pass of a plan.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn into_vec(mut self) -> Vec<Diagnostic> {
        // Report in file order, errors before warnings at the same place.
        self.items.sort_by_key(|d| (d.span.start, d.severity != Severity::Error));
        self.items
    }
}

/// The text of one plan file, named as the user wrote its path.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Self { name: name.into(), text: text.into() }
    }

    pub fn named_source(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(&self.name, self.text.clone()).with_language("kdl")
    }
}

/// A diagnostic bound to its file, ready for miette to render.
#[derive(Debug)]
pub struct SourceDiagnostic {
    pub diagnostic: Diagnostic,
    pub source: NamedSource<Arc<str>>,
}

impl fmt::Display for SourceDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for SourceDiagnostic {}

impl miette::Diagnostic for SourceDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<Severity> {
        Some(self.diagnostic.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(Some(self.diagnostic.label.clone()), self.diagnostic.span);
        let related = self.diagnostic.related.iter().map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), *span));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// All diagnostics of one file.
#[derive(Debug)]
pub struct FileDiagnostics {
    pub file: SourceFile,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileDiagnostics {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn bound(&self) -> impl Iterator<Item = SourceDiagnostic> + '_ {
        let source = self.file.named_source();
        let text = &self.file.text;
        self.diagnostics.iter().map(move |d| {
            let mut diagnostic = d.clone();
            diagnostic.span = fit(text, diagnostic.span);
            for (span, _) in &mut diagnostic.related {
                *span = fit(text, *span);
            }
            SourceDiagnostic { diagnostic, source: source.clone() }
        })
    }
}

/// Plan files that failed to load, each with every diagnostic found.
#[derive(Debug, Default)]
pub struct PlanErrors {
    pub files: Vec<FileDiagnostics>,
}

impl PlanErrors {
    pub fn single(file: SourceFile, diagnostics: Vec<Diagnostic>) -> Self {
        Self { files: vec![FileDiagnostics { file, diagnostics }] }
    }

    pub fn error_count(&self) -> usize {
        self.files.iter().map(FileDiagnostics::errors).sum()
    }
}

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.files.iter().map(|f| f.file.name.as_str()).collect();
        write!(f, "{} error(s) in {}", self.error_count(), names.join(", "))
    }
}

impl std::error::Error for PlanErrors {}
