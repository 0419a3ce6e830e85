//! A `database` node: where the webhook registry lives and how its table is read.

use super::{Span, Spanned, Template};
use crate::registry::{ColumnMap, RegistryConfig};
use std::path::PathBuf;

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

impl DatabaseDecl {
    /// The registry's configuration, once the URL's template is resolved.
    pub fn config(&self, url: String) -> RegistryConfig {
        RegistryConfig {
            name: self.name.clone(),
            url,
            table: self.table.as_ref().map(|t| t.value.clone()),
            columns: self.columns.clone(),
            auth_header: self.auth_header.clone(),
        }
    }
}
