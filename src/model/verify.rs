//! The `verify` action: read each selected webhook's credentials back from a secret store and
//! compare them exactly with the registry's (`migration::verify`). Values are compared, never
//! shown.

use super::action::{ActionSpec, Resource};
use super::backup::SelectionSpec;
use super::{Spanned, Template};
use std::any::Any;

#[derive(Debug, Clone)]
pub struct VerifyAction {
    /// The registry (`from`, default `registry`).
    pub database: Spanned<String>,
    /// The secret store (`to`, default `infisical`).
    pub store: Spanned<String>,
    /// The migration's filters (`OUT` unless given).
    pub selection: SelectionSpec,
}

impl ActionSpec for VerifyAction {
    fn kind(&self) -> &'static str {
        "verify"
    }

    fn templates(&self) -> Vec<&Template> {
        Vec::new()
    }

    fn resources(&self) -> Vec<(Resource, &Spanned<String>)> {
        vec![
            (Resource::Database, &self.database),
            (Resource::Store, &self.store),
        ]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
