//! The `expect-secrets` action: assertions on what a secret store holds. Values are compared,
//! never shown.

use super::action::{ActionSpec, Resource};
use super::{Span, Spanned, Template};
use std::any::Any;

#[derive(Debug, Clone)]
pub struct ExpectSecrets {
    pub store: Spanned<String>,
    /// The folder; `None`: the store's own `path`.
    pub path: Option<String>,
    pub checks: Vec<SecretCheck>,
}

/// `secret "NAME" present=#true equals="${secret.X}" version=1`.
#[derive(Debug, Clone)]
pub struct SecretCheck {
    pub name: Spanned<String>,
    pub span: Span,
    /// `None` with no other condition: present.
    pub present: Option<bool>,
    pub equals: Option<Template>,
    pub version: Option<u64>,
}

impl ActionSpec for ExpectSecrets {
    fn kind(&self) -> &'static str {
        "expect-secrets"
    }

    fn templates(&self) -> Vec<&Template> {
        self.checks
            .iter()
            .filter_map(|c| c.equals.as_ref())
            .collect()
    }

    fn resources(&self) -> Vec<(Resource, &Spanned<String>)> {
        vec![(Resource::Store, &self.store)]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
