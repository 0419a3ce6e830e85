//! Secret stores: where webhook credentials live once they leave the registry's tables.
//!
//! A store holds named values in folders (`/webhooks`). [`SecretStore`] is the one interface
//! every step and command uses; `infisical` speaks Infisical's REST API (v4, or v3 "raw" on
//! older servers) and `file` keeps a local JSON file, the embedded default. The sandbox's
//! emulation of Infisical (`sandbox::infisical`) is a server, not a store: the client is tested
//! against it and both against `reference/infisical-api.md`.

mod error;
pub mod file;
pub mod infisical;

pub use error::StoreError;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// What a store's operation returns: boxed, so stores can be chosen at run time by name.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A secret's value. Its `Debug` and `Display` never show it: reach it with [`expose`].
///
/// [`expose`]: SecretValue::expose
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends or compares it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for SecretValue {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// A secret as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub name: String,
    pub value: SecretValue,
    /// 1 when created; one more on every update.
    pub version: u64,
}

/// A value to write under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSecret {
    pub name: String,
    pub value: SecretValue,
}

impl NewSecret {
    pub fn new(name: impl Into<String>, value: impl Into<SecretValue>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A name the store now holds with the value sent, and at which version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub name: String,
    pub version: u64,
}

/// A folder of a store, as Infisical writes it: `/`, `/webhooks`, `/webhooks/out`.
pub fn normalize_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// A secret store. Every operation names its folder; writes of several names are one call
/// (all or nothing where the store is, like Infisical's batch endpoints).
///
/// Writes answer [`StoreError::PendingApproval`] when the store accepted the change for review
/// but has not applied it: that is never a success.
pub trait SecretStore: Send + Sync {
    /// The store's name in the plan (`secret-store "NAME"`).
    fn name(&self) -> &str;

    /// One secret; [`StoreError::NotFound`] when the store has no such name there.
    fn get<'a>(&'a self, path: &'a str, name: &'a str) -> StoreFuture<'a, Secret>;

    /// Every secret directly in a folder, by name. A folder that does not exist is empty.
    fn list<'a>(&'a self, path: &'a str) -> StoreFuture<'a, Vec<Secret>>;

    /// Creates or updates one secret, creating the folder if it is missing.
    fn set<'a>(&'a self, path: &'a str, secret: NewSecret) -> StoreFuture<'a, Written> {
        Box::pin(async move {
            let mut written = self.set_many(path, vec![secret]).await?;
            written.pop().ok_or_else(|| StoreError::Invalid {
                message: "the store answered a write without the secret written".into(),
            })
        })
    }

    /// Creates or updates several secrets in one call, creating the folder if it is missing.
    /// Answers them in the order given.
    fn set_many<'a>(
        &'a self,
        path: &'a str,
        secrets: Vec<NewSecret>,
    ) -> StoreFuture<'a, Vec<Written>>;

    /// Creates or updates `secrets` (a migration's batch), given what the folder held of their
    /// names when the caller read them last (`known`, by name; a name missing from it did not
    /// exist). A store that would list the folder to tell creates from updates is spared the
    /// list, so a write costs nothing that grows with the folder; a stale `known` costs a read
    /// of the batch's names, never a wrong write. Answers them in the order given.
    fn set_known<'a>(
        &'a self,
        path: &'a str,
        secrets: Vec<NewSecret>,
        known: std::collections::HashMap<String, Secret>,
    ) -> StoreFuture<'a, Vec<Written>> {
        drop(known);
        self.set_many(path, secrets)
    }

    /// Deletes one secret; [`StoreError::NotFound`] when it is not there.
    fn delete<'a>(&'a self, path: &'a str, name: &'a str) -> StoreFuture<'a, ()>;

    /// Deletes every one of `names` the folder holds (all or nothing where the store is);
    /// names it does not hold are skipped, so a repeated call succeeds.
    fn delete_many<'a>(&'a self, path: &'a str, names: Vec<String>) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            for name in &names {
                match self.delete(path, name).await {
                    Ok(()) | Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_never_shows_itself() {
        let value = SecretValue::new("0");
        assert_eq!(format!("{value:?}"), "SecretValue(***)");
        assert_eq!(value.to_string(), "***");
        let secret = Secret {
            name: "WEBHOOK_OUT_X_KEY".into(),
            value,
            version: 1,
        };
        assert!(!format!("{secret:?}").contains("\"0\""));
    }

    #[test]
    fn paths_are_written_the_way_infisical_writes_them() {
        assert_eq!(normalize_path(""), "/");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("webhooks/"), "/webhooks");
        assert_eq!(normalize_path("//webhooks//out"), "/webhooks/out");
    }
}
