//! The `backup` action: a backup of a selection's credentials and the store's prior values,
//! as `migrate` writes before any change (`migration::backup`).

use super::action::{ActionSpec, Resource};
use super::{Spanned, Template};
use crate::registry::Direction;
use std::any::Any;

/// The spec's filters as a plan writes them (shared by the migration's kinds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionSpec {
    /// `None`: every direction (`direction="ALL"`).
    pub direction: Option<Direction>,
    /// One webhook by code, whatever its direction.
    pub webhook: Option<String>,
    /// A glob over codes, checked when the plan is read.
    pub pattern: Option<String>,
}

impl SelectionSpec {
    pub fn selection(&self) -> Result<crate::migration::Selection, String> {
        crate::migration::Selection::new(
            self.direction,
            self.webhook.clone(),
            self.pattern.as_deref(),
        )
    }
}

#[derive(Debug, Clone)]
pub struct BackupAction {
    /// The registry: a `database` of the plan or the project config, or the implicit one.
    pub database: Spanned<String>,
    pub store: Spanned<String>,
    pub selection: SelectionSpec,
}

impl ActionSpec for BackupAction {
    fn kind(&self) -> &'static str {
        "backup"
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
