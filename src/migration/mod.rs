//! Moving webhook credentials from the registry into a secret store, and everything an
//! operator needs around it: which webhooks (`selection`), what the store would hold for each
//! (`targets`), and — as the migration issue lands them — backups, status, verify and rollback.

pub mod backup;
pub mod selection;

pub use selection::{Selection, Target, targets};
