//! The `status` action: for each selected webhook of a registry, which credentials its row
//! holds and whether a secret store holds them too (the spec's "Migration Status Output").
//! Values are compared, never shown.

use super::action::{ActionSpec, Resource};
use super::{Spanned, Template};
use crate::registry::Direction;
use std::any::Any;

#[derive(Debug, Clone)]
pub struct StatusAction {
    /// The registry (`from`, default `registry`).
    pub database: Spanned<String>,
    /// The secret store (`to`).
    pub store: Spanned<String>,
    /// `None`: every direction.
    pub direction: Option<Direction>,
    pub webhook: Option<String>,
    /// A glob over codes, checked when the plan is read.
    pub pattern: Option<String>,
}

impl StatusAction {
    /// The spec's filters as a [`Selection`](crate::migration::Selection).
    pub fn selection(&self) -> Result<crate::migration::Selection, String> {
        crate::migration::Selection::new(
            self.direction,
            self.webhook.clone(),
            self.pattern.as_deref(),
        )
    }
}

impl ActionSpec for StatusAction {
    fn kind(&self) -> &'static str {
        "status"
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
