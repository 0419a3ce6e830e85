//! Plan diagnostics: a message, a label on the exact span, a help line, related spans.

use crate::model::Span;
use miette::{
    LabeledSpan, MietteError, MietteSpanContents, Severity, SourceCode, SourceSpan, SpanContents,
};
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
    pub fn error(
        code: &'static str,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
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

    pub fn warning(
        code: &'static str,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message, span, label)
        }
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
    let span = fit_bounds(text, span);
    if span.len <= MAX_LABEL {
        return span;
    }
    let first_line = text[span.start..span.end()]
        .find(['\n', '\r'])
        .unwrap_or(span.len);
    let len = first_line.clamp(1, MAX_LABEL);
    fit_bounds(text, Span::new(span.start, len))
}

fn fit_bounds(text: &str, span: Span) -> Span {
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
        self.items
            .sort_by_key(|d| (d.span.start, d.severity != Severity::Error));
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
        Self {
            name: name.into(),
            text: text.into(),
        }
    }

    pub fn named_source(&self) -> PlanSource {
        PlanSource {
            name: self.name.clone(),
            text: self.text.clone(),
        }
    }
}

/// Context shown around a label longer than this is cut to a window on the label's line.
const MAX_CONTEXT: usize = 4096;
/// Bytes shown on each side of a label in such a window.
const WINDOW: usize = 160;
/// Labels longer than this are cut to their first line, and to this length.
const MAX_LABEL: usize = 400;

/// A plan's text for miette. A line of megabytes (a generated or broken file) is shown as a
/// window around the label, so that a diagnostic stays readable and cheap to render.
#[derive(Debug, Clone)]
pub struct PlanSource {
    name: String,
    text: Arc<str>,
}

impl SourceCode for PlanSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let text: &str = &self.text;
        let full = text.read_span(span, before, after)?;
        if full.data().len() <= MAX_CONTEXT {
            let contents = MietteSpanContents::new_named(
                self.name.clone(),
                full.data(),
                *full.span(),
                full.line(),
                full.column(),
                full.line_count(),
            );
            return Ok(Box::new(contents.with_language("kdl")));
        }
        let line_start = text[..span.offset()]
            .rfind(['\n', '\r'])
            .map_or(0, |p| p + 1);
        let span_end = span.offset() + span.len();
        let line_end = text[span_end..]
            .find(['\n', '\r'])
            .map_or(text.len(), |p| span_end + p);
        let start = floor_char(text, span.offset().saturating_sub(WINDOW).max(line_start));
        let end = ceil_char(text, (span_end + WINDOW).min(line_end));
        // Lines as miette counts them: `\r\n`, `\r` and `\n` each end one.
        let before_window = &text.as_bytes()[..start];
        let line = before_window.iter().filter(|b| **b == b'\n').count()
            + before_window
                .windows(2)
                .filter(|w| w[0] == b'\r' && w[1] != b'\n')
                .count()
            + usize::from(before_window.last() == Some(&b'\r'));
        let contents = MietteSpanContents::new_named(
            self.name.clone(),
            &text.as_bytes()[start..end],
            (start, end - start).into(),
            line,
            start - line_start,
            line + 1,
        );
        Ok(Box::new(contents.with_language("kdl")))
    }
}

fn floor_char(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// A diagnostic bound to its file, ready for miette to render.
#[derive(Debug)]
pub struct SourceDiagnostic {
    pub diagnostic: Diagnostic,
    pub source: PlanSource,
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
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(
            Some(self.diagnostic.label.clone()),
            self.diagnostic.span,
        );
        let related = self
            .diagnostic
            .related
            .iter()
            .map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), *span));
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
            SourceDiagnostic {
                diagnostic,
                source: source.clone(),
            }
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
        Self {
            files: vec![FileDiagnostics { file, diagnostics }],
        }
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
