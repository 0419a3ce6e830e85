//! `${…}` templates inside plan strings: parsed once, checked against the plan, rendered at run time.
//!
//! Syntax: `${env.NAME}`, `${env.NAME:-default}`, `${vars.NAME}`, `${secret.NAME}`,
//! `${secret.NAME:-default}`, `${sandbox.NAME.url}`, `${steps.STEP.NAME}`. `$${` writes a literal `${`.

use super::span::Span;
use std::fmt;

/// Where a template's text sits in the plan file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOrigin {
    /// The whole written value (quotes included).
    pub span: Span,
    /// Where the text starts in the file when it was written verbatim (no escapes),
    /// so that a fault inside it can be pointed at exactly.
    pub verbatim_at: Option<usize>,
}

impl TextOrigin {
    pub fn new(span: Span, verbatim_at: Option<usize>) -> Self {
        Self { span, verbatim_at }
    }

    fn span_of(&self, start: usize, len: usize) -> Span {
        match self.verbatim_at {
            Some(at) => Span::new(at + start, len),
            None => self.span,
        }
    }
}

/// One reference inside a template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    Env { name: String, default: Option<String> },
    Var { name: String },
    Secret { name: String, default: Option<String> },
    Sandbox { name: String, field: String },
    Step { step: String, key: String },
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Env { name, default: None } => write!(f, "${{env.{name}}}"),
            Reference::Env { name, default: Some(d) } => write!(f, "${{env.{name}:-{d}}}"),
            Reference::Var { name } => write!(f, "${{vars.{name}}}"),
            Reference::Secret { name, default: None } => write!(f, "${{secret.{name}}}"),
            // The default of a secret is itself secret: never show it.
            Reference::Secret { name, default: Some(_) } => write!(f, "${{secret.{name}:-…}}"),
            Reference::Sandbox { name, field } => write!(f, "${{sandbox.{name}.{field}}}"),
            Reference::Step { step, key } => write!(f, "${{steps.{step}.{key}}}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Ref { reference: Reference, span: Span },
}

/// A string that may contain references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub span: Span,
    pub help: String,
}

pub const NAMESPACES: &[&str] = &["env", "vars", "secret", "sandbox", "steps"];
pub const SANDBOX_FIELDS: &[&str] = &["url", "host", "port"];

impl Template {
    /// A template with no references.
    pub fn literal(text: impl Into<String>, span: Span) -> Self {
        Self { parts: vec![Part::Text(text.into())], span }
    }

    pub fn parse(text: &str, origin: TextOrigin) -> Result<Self, Vec<TemplateError>> {
        let mut parts = Vec::new();
        let mut errors = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut offset = 0usize;
        while let Some(found) = rest.find('$') {
            literal.push_str(&rest[..found]);
            let after = &rest[found..];
            if let Some(after_escape) = after.strip_prefix("$${") {
                literal.push_str("${");
                rest = after_escape;
                offset += found + 3;
                continue;
            }
            if !after.starts_with("${") {
                literal.push('$');
                rest = &after[1..];
                offset += found + 1;
                continue;
            }
            let start = offset + found;
            let Some(close) = after.find('}') else {
                errors.push(TemplateError {
                    message: "unclosed template: `${` has no matching `}`".into(),
                    span: origin.span_of(start, after.len()),
                    help: "close it with `}`, or write `$${` for a literal `${`".into(),
                });
                rest = "";
                break;
            };
            let inner = &after[2..close];
            let span = origin.span_of(start, close + 1);
            match parse_reference(inner) {
                Ok(reference) => {
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Ref { reference, span });
                }
                Err((message, help)) => errors.push(TemplateError { message, span, help }),
            }
            rest = &after[close + 1..];
            offset = start + close + 1;
        }
        literal.push_str(rest);
        if !literal.is_empty() || parts.is_empty() {
            parts.push(Part::Text(literal));
        }
        if errors.is_empty() { Ok(Self { parts, span: origin.span }) } else { Err(errors) }
    }

    pub fn references(&self) -> impl Iterator<Item = (&Reference, Span)> {
        self.parts.iter().filter_map(|part| match part {
            Part::Ref { reference, span } => Some((reference, *span)),
            Part::Text(_) => None,
        })
    }

    pub fn is_literal(&self) -> bool {
        self.references().next().is_none()
    }

    /// The text when the template has no references.
    pub fn as_literal(&self) -> Option<String> {
        self.is_literal().then(|| self.to_string())
    }

    /// Renders the template, asking `lookup` for each reference's value. Every reference that
    /// cannot be resolved is reported, not just the first.
    pub fn render<E>(&self, mut lookup: impl FnMut(&Reference, Span) -> Result<String, E>) -> Result<String, Vec<E>> {
        let mut out = String::new();
        let mut errors = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Ref { reference, span } => match lookup(reference, *span) {
                    Ok(value) => out.push_str(&value),
                    Err(e) => errors.push(e),
                },
            }
        }
        if errors.is_empty() { Ok(out) } else { Err(errors) }
    }
}

/// Shows the template as written, references in `${…}` form (secret defaults hidden).
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(text) => f.write_str(&text.replace("${", "$${"))?,
                Part::Ref { reference, .. } => write!(f, "{reference}")?,
            }
        }
        Ok(())
    }
}

fn is_name(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn parse_reference(inner: &str) -> Result<Reference, (String, String)> {
    let (path, default) = match inner.split_once(":-") {
        Some((path, default)) => (path, Some(default.to_string())),
        None => (inner, None),
    };
    let path = path.trim();
    if path.is_empty() {
        return Err(("empty template `${}`".into(), "name what to insert, e.g. `${env.API_URL}`".into()));
    }
    let segments: Vec<&str> = path.split('.').collect();
    let namespace = segments[0];
    let expect = |count: usize, form: &str| -> Result<(), (String, String)> {
        if segments.len() != count || !segments[1..].iter().all(|s| is_name(s)) {
            return Err((format!("`${{{inner}}}` is not a valid `{namespace}` reference"), format!("write it as `{form}`")));
        }
        Ok(())
    };
    let no_default = |form: &str| -> Result<(), (String, String)> {
        if default.is_some() {
            return Err((format!("`{namespace}` references take no `:-` default"), format!("write it as `{form}`")));
        }
        Ok(())
    };
    match namespace {
        "env" => {
            expect(2, "${env.NAME}")?;
            Ok(Reference::Env { name: segments[1].into(), default })
        }
        "secret" => {
            expect(2, "${secret.NAME}")?;
            Ok(Reference::Secret { name: segments[1].into(), default })
        }
        "vars" => {
            expect(2, "${vars.NAME}")?;
            no_default("${vars.NAME}")?;
            Ok(Reference::Var { name: segments[1].into() })
        }
        "sandbox" => {
            expect(3, "${sandbox.NAME.url}")?;
            no_default("${sandbox.NAME.url}")?;
            if !SANDBOX_FIELDS.contains(&segments[2]) {
                return Err((
                    format!("a sandbox has no field `{}`", segments[2]),
                    format!("use one of: {}", SANDBOX_FIELDS.join(", ")),
                ));
            }
            Ok(Reference::Sandbox { name: segments[1].into(), field: segments[2].into() })
        }
        "steps" => {
            expect(3, "${steps.STEP.NAME}")?;
            no_default("${steps.STEP.NAME}")?;
            Ok(Reference::Step { step: segments[1].into(), key: segments[2].into() })
        }
        other => {
            let suggestion = crate::model::suggest::did_you_mean(other, NAMESPACES.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            Err((
                format!("unknown template namespace `{other}`"),
                format!("{suggestion}templates read from: env, vars, secret, sandbox, steps"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Template, Vec<TemplateError>> {
        Template::parse(text, TextOrigin::new(Span::new(10, text.len() + 2), Some(11)))
    }

    #[test]
    fn splits_text_and_references() {
        let t = parse("Bearer ${secret.TOKEN:-demo} for ${vars.who}").unwrap();
        assert_eq!(t.parts.len(), 4);
        assert_eq!(
            t.references().map(|(r, _)| r.clone()).collect::<Vec<_>>(),
            vec![
                Reference::Secret { name: "TOKEN".into(), default: Some("demo".into()) },
                Reference::Var { name: "who".into() }
            ]
        );
        let (_, span) = t.references().next().unwrap();
        assert_eq!(span, Span::new(11 + 7, "${secret.TOKEN:-demo}".len()));
    }

    #[test]
    fn escapes_and_lone_dollars_are_text() {
        let t = parse("cost $5, literal $${env.X}").unwrap();
        assert!(t.is_literal());
        assert_eq!(t.render::<()>(|_, _| unreachable!()).unwrap(), "cost $5, literal ${env.X}");
    }

    #[test]
    fn reports_every_bad_reference() {
        let errors = parse("${nope.X} ${vars.a.b} ${sandbox.s.uri} ${vars.x:-d} ${}").unwrap_err();
        let messages: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "unknown template namespace `nope`",
                "`${vars.a.b}` is not a valid `vars` reference",
                "a sandbox has no field `uri`",
                "`vars` references take no `:-` default",
                "empty template `${}`",
            ]
        );
        assert!(parse("${env.X").unwrap_err()[0].message.contains("unclosed"));
    }

    #[test]
    fn renders_with_lookup_and_collects_all_misses() {
        let t = parse("${env.A}-${env.B}-${env.C}").unwrap();
        let rendered = t.render(|r, _| match r {
            Reference::Env { name, .. } if name == "B" => Ok("b".to_string()),
            other => Err(other.to_string()),
        });
        assert_eq!(rendered, Err(vec!["${env.A}".to_string(), "${env.C}".to_string()]));
    }

    #[test]
    fn display_hides_secret_defaults() {
        let t = parse("${secret.T:-hunter2}").unwrap();
        assert_eq!(t.to_string(), "${secret.T:-…}");
    }
}
