//! The `migrate` action: back up, write each selected webhook's credentials into a secret
//! store, read them back, and (opt-in) clear the registry's copies (`migration::migrate`).

use super::action::{ActionSpec, Resource};
use super::backup::SelectionSpec;
use super::{Spanned, Template};
use std::any::Any;

/// Write batches in flight at once when a plan names none.
pub const DEFAULT_MIGRATE_CONCURRENCY: usize = 4;

#[derive(Debug, Clone)]
pub struct MigrateAction {
    /// The registry (`from`, default `registry`).
    pub database: Spanned<String>,
    /// The secret store (`to`, default `infisical`).
    pub store: Spanned<String>,
    /// The migration's filters (`OUT` unless given).
    pub selection: SelectionSpec,
    /// `dry-run=#true`: the lines of what would be written, nothing written, no backup.
    pub dry_run: bool,
    /// `clear-database=#true`: clear the row's credentials once the store's copy is verified.
    pub clear_database: bool,
    /// `concurrency=N`: write batches in flight at once.
    pub concurrency: usize,
}

impl ActionSpec for MigrateAction {
    fn kind(&self) -> &'static str {
        "migrate"
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
