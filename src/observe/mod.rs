//! Observability: redaction shared by every sink, and structured logs.

pub mod credentials;
pub mod logging;
pub mod redact;

pub use credentials::{is_credential_name, mask as mask_credential};
pub use redact::{MASK, Redactor};
