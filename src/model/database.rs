//! A `database` node: where the webhook registry lives and how its table is read.

use super::{Span, Spanned, Template};
use crate::registry::{ColumnMap, RegistryConfig};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct DatabaseDecl {
    pub name: String,
    pub span: Span,
    /// `None`: the embedded default, `STATE_DIR/registry.db`.
    pub url: Option<Template>,
    /// A legacy table; `None` for hookplan's own `webhooks`.
    pub table: Option<Spanned<String>>,
    pub columns: ColumnMap,
    /// Run into an empty database only; relative to the plan's folder.
    pub seed_sql: Option<Spanned<PathBuf>>,
    pub auth_header: Option<String>,
}

/// The registry a `call` uses when it names none, and that `hookplan call` and
/// `hookplan webhooks` use when the project config declares none.
pub const DEFAULT_DATABASE: &str = "registry";

/// The environment variable the implicit registry reads its URL from (the spec's tool's).
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";

impl DatabaseDecl {
    /// The registry nobody declared: `DATABASE_URL` when it is set, else the embedded SQLite
    /// file in the state folder.
    pub fn implicit() -> Self {
        let reference = super::Reference::Env {
            name: DATABASE_URL_ENV.to_string(),
            default: Some(String::new()),
        };
        Self {
            name: DEFAULT_DATABASE.to_string(),
            span: Span::default(),
            url: Some(Template {
                parts: vec![super::Part::Ref {
                    reference,
                    span: Span::default(),
                }],
                span: Span::default(),
            }),
            table: None,
            columns: ColumnMap::default(),
            seed_sql: None,
            auth_header: None,
        }
    }

    /// The registry's configuration, once the URL's template is rendered: an empty (or absent)
    /// URL is the embedded SQLite file in the state folder.
    pub fn config(&self, rendered_url: Option<&str>, state_dir: &Path) -> RegistryConfig {
        let url = match rendered_url.map(str::trim) {
            Some(url) if !url.is_empty() => url.to_string(),
            _ => crate::registry::embedded_url(state_dir),
        };
        RegistryConfig {
            name: self.name.clone(),
            url,
            table: self.table.as_ref().map(|t| t.value.clone()),
            columns: self.columns.clone(),
            auth_header: self.auth_header.clone(),
        }
    }
}
