//! The `rollback` action: restore the store and the registry to a backup written before a
//! migration (`migration::rollback`). Names and field names are shown, never a value.

use super::action::{ActionSpec, Resource};
use super::{Spanned, Template};
use std::any::Any;

#[derive(Debug, Clone)]
pub struct RollbackAction {
    /// The backup: a path, or a file name in `STATE_DIR/backups/` (`${steps.migrate.backup}`).
    pub backup: Template,
    /// The registry (`from`, default `registry`).
    pub database: Spanned<String>,
    /// The secret store (`to`, default `infisical`).
    pub store: Spanned<String>,
    /// Changes made since the migration (and a backup whose checksum fails, or one of another
    /// registry) are warnings instead of refusals; the backup's values win.
    pub force: bool,
    /// Check and tell what would happen; change nothing.
    pub dry_run: bool,
}

impl ActionSpec for RollbackAction {
    fn kind(&self) -> &'static str {
        "rollback"
    }

    fn templates(&self) -> Vec<&Template> {
        vec![&self.backup]
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
