//! Moving webhook credentials from the registry into a secret store, and everything an
//! operator needs around it: which webhooks (`selection`), what the store would hold for each
//! (`targets`), where each webhook stands (`status`), whether the store holds exactly what
//! the registry does (`verify`), the backup taken before any change (`backup`), the migration
//! itself (`migrate`, its wording in `outcome`), a run left unfinished (`unfinished`), its
//! undoing (`rollback`), and the preview a reviewed plan is held to before it runs (`preview`).

pub mod backup;
pub mod lock;
pub mod migrate;
pub mod outcome;
pub mod preview;
pub mod rollback;
pub mod selection;
pub mod status;
pub mod unfinished;
pub mod verify;

pub use selection::{Selection, Target, targets};
pub use status::{State, WebhookStatus};
