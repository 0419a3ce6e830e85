//! Moving webhook credentials from the registry into a secret store, and everything an
//! operator needs around it: which webhooks (`selection`), what the store would hold for each
//! (`targets`), where each webhook stands (`status`), and — as the migration issue lands
//! them — backups, verify and rollback.

pub mod backup;
pub mod selection;
pub mod status;

pub use selection::{Selection, Target, targets};
pub use status::{State, WebhookStatus};
