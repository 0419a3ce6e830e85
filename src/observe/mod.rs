//! Observability: redaction shared by every sink.

pub mod redact;

pub use redact::{MASK, Redactor, is_credential_header, mask_credential};
