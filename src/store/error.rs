//! What can go wrong with a store, in the classes the callers decide on.

use std::time::Duration;

/// A store's failure. The texts never hold a value or a token: an error body is kept only
/// after the store's client masked it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// No such secret (or folder, or environment) where it was looked for.
    #[error("not found: {what}")]
    NotFound { what: String },
    /// The credentials were refused (a bad client secret, an expired token after a fresh
    /// login failed too).
    #[error("unauthorized: {message}")]
    Unauthorized { message: String },
    /// The identity may not do this (no access to the project, a malformed token).
    #[error("forbidden: {message}")]
    Forbidden { message: String },
    /// The store accepted the change for review and has not applied it.
    #[error("pending approval: {names} await a reviewer", names = names.join(", "))]
    PendingApproval { names: Vec<String> },
    /// Too many requests, after the store's own retries.
    #[error("rate limited{}", retry_after.map_or(String::new(), |d| format!(" (retry after {}s)", d.as_secs())))]
    RateLimited { retry_after: Option<Duration> },
    /// The request was refused as it stands (a bad name, a value the store would alter, a
    /// validation failure): sending it again changes nothing.
    #[error("invalid: {message}")]
    Invalid { message: String },
    /// The store could not be reached or failed (connect, timeout, reset, 5xx), after the
    /// store's own retries.
    #[error("unavailable: {message}")]
    Unavailable { message: String },
}

impl StoreError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// The class as reports and digests name it.
    pub fn class(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not-found",
            Self::Unauthorized { .. } => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::PendingApproval { .. } => "pending-approval",
            Self::RateLimited { .. } => "rate-limited",
            Self::Invalid { .. } => "invalid",
            Self::Unavailable { .. } => "unavailable",
        }
    }
}
