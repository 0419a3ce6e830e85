//! Observability: redaction shared by every sink, and structured logs.

pub mod logging;
pub mod redact;

pub use redact::{MASK, Redactor, is_credential_header, mask_credential};
