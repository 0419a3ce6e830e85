//! The `http` action: a request built from templates.

use super::action::{ActionSpec, Resource};
use super::{SignatureScheme, Span, Spanned, Template};
use std::any::Any;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct HttpAction {
    pub method: String,
    pub url: Template,
    pub headers: Vec<(String, Template)>,
    pub query: Vec<(String, Template)>,
    pub body: Option<Body>,
    pub sign: Option<SignSpec>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Body {
    Json(Template),
    Text(Template),
    /// Relative to the plan's folder; read when the step runs.
    File(Spanned<PathBuf>),
}

#[derive(Debug, Clone)]
pub struct SignSpec {
    pub scheme: SignatureScheme,
    pub secret: Template,
}

impl ActionSpec for HttpAction {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn templates(&self) -> Vec<&Template> {
        let mut out = vec![&self.url];
        out.extend(self.headers.iter().map(|(_, v)| v));
        out.extend(self.query.iter().map(|(_, v)| v));
        match &self.body {
            Some(Body::Json(t) | Body::Text(t)) => out.push(t),
            Some(Body::File(_)) | None => {}
        }
        if let Some(sign) = &self.sign {
            out.push(&sign.secret);
        }
        out
    }

    fn resources(&self) -> Vec<(Resource, &Spanned<String>)> {
        Vec::new()
    }

    fn files(&self) -> Vec<&Spanned<PathBuf>> {
        match &self.body {
            Some(Body::File(path)) => vec![path],
            _ => Vec::new(),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
