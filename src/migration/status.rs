//! Where each selected webhook's credentials stand (the spec's "Migration Status Output"):
//! which ones its row holds, whether the store holds them with the same values, and so
//! whether the webhook is migrated, pending, mismatched or has no credentials at all.
//!
//! Values are read to be compared and dropped at once: nothing here keeps or shows one.

use super::selection::{CREDENTIAL_FIELDS, Selection, Target, targets};
use crate::model::{CredentialLocation, StoreDecl};
use crate::registry::{Direction, Field, Registry, Webhook};
use crate::store::SecretStore;

/// How many rows are read at once: the registry is never held whole in memory.
pub const PAGE_SIZE: usize = 500;

/// A webhook's migration state, as the spec's Status column says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The store holds every credential with the row's value (or the row was cleared and
    /// hookplan's tables place its credentials in the store, which holds them).
    Migrated,
    /// The store lacks at least one credential, and holds none with another value.
    Pending,
    /// The store holds at least one credential with a value other than the row's.
    Mismatch,
    /// Neither the row nor hookplan's tables know a credential of it.
    NoCredentials,
}

impl State {
    /// The name in reports and `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Migrated => "migrated",
            State::Pending => "pending",
            State::Mismatch => "mismatch",
            State::NoCredentials => "no-credentials",
        }
    }

    /// The spec's wording in the table.
    pub fn shown(self) -> &'static str {
        match self {
            State::Migrated => "Migrated",
            State::Pending => "Pending",
            State::Mismatch => "Mismatch",
            State::NoCredentials => "No credentials",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            State::Migrated,
            State::Pending,
            State::Mismatch,
            State::NoCredentials,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// What the store holds of one credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The same value as the row's (or, for a credential the row no longer holds, present).
    Same,
    Differs,
    Absent,
}

/// One webhook's line of the status table. No value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookStatus {
    pub code: String,
    pub direction: Direction,
    /// The credentials its row holds, in [`CREDENTIAL_FIELDS`] order.
    pub db_fields: Vec<Field>,
    /// The store holds every credential (whatever its value).
    pub in_store: bool,
    pub state: State,
}

/// The state from what the store holds of each of the webhook's credentials.
pub fn classify(held: &[Held]) -> (bool, State) {
    if held.is_empty() {
        return (false, State::NoCredentials);
    }
    let in_store = held.iter().all(|h| *h != Held::Absent);
    let state = if held.contains(&Held::Differs) {
        State::Mismatch
    } else if held.iter().all(|h| *h == Held::Same) {
        State::Migrated
    } else {
        State::Pending
    };
    (in_store, state)
}

/// The short name of a field in the DB Creds column (`user,key`, `user,pass`, as the spec).
pub fn short_name(field: Field) -> &'static str {
    match field {
        Field::Password => "pass",
        Field::SigningSecret => "secret",
        other => other.name(),
    }
}

/// What `store` (declared as `decl`) holds of each credential `webhook` has: those its row
/// holds, looked up under the store's name pattern, and those hookplan's tables place in this
/// store (a row cleared by `--clear-database`), in [`CREDENTIAL_FIELDS`] order. Empty when it
/// has none. Values are compared and dropped here. The error is one line.
pub async fn compare(
    registry: &Registry,
    store: &dyn SecretStore,
    decl: &StoreDecl,
    webhook: &Webhook,
) -> Result<Vec<(Field, Held)>, String> {
    compare_row(registry, store, decl, webhook, &targets(decl, webhook)).await
}

async fn compare_row(
    registry: &Registry,
    store: &dyn SecretStore,
    decl: &StoreDecl,
    webhook: &Webhook,
    row: &[Target],
) -> Result<Vec<(Field, Held)>, String> {
    let code = &webhook.code;
    // Where hookplan's tables say a credential lives now, when that is this store.
    let mut placed: Vec<(Field, String, String)> = Vec::new();
    for (field, location) in registry
        .credential_locations(code)
        .await
        .map_err(|e| e.to_string())?
    {
        let location = CredentialLocation::parse(&location)
            .map_err(|why| format!("the {} of webhook \"{code}\": {why}", field.name()))?;
        if let CredentialLocation::Store { store, path, name } = location
            && store == decl.name
        {
            placed.push((field, path, name));
        }
    }
    let mut held = Vec::new();
    for field in CREDENTIAL_FIELDS {
        let target = row.iter().find(|t| t.field == field);
        let place = placed.iter().find(|(f, _, _)| *f == field);
        let (path, name) = match (place, target) {
            (Some((_, path, name)), _) => (path.as_str(), name.as_str()),
            (None, Some(t)) => (decl.path.as_str(), t.name.as_str()),
            (None, None) => continue,
        };
        let found = match store.get(path, name).await {
            Ok(secret) => Some(secret),
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                return Err(format!(
                    "reading the {} of webhook \"{code}\" from secret store \"{}\": {e}",
                    field.name(),
                    decl.name
                ));
            }
        };
        held.push((
            field,
            match (found, target) {
                (None, _) => Held::Absent,
                (Some(secret), Some(t)) if secret.value.expose() == t.value.expose() => Held::Same,
                (Some(_), Some(_)) => Held::Differs,
                // The row no longer holds it: the store's copy is the credential.
                (Some(_), None) => Held::Same,
            },
        ));
    }
    Ok(held)
}

/// One webhook's status against `store` (declared as `decl`). The error is one line.
pub async fn webhook_status(
    registry: &Registry,
    store: &dyn SecretStore,
    decl: &StoreDecl,
    webhook: &Webhook,
) -> Result<WebhookStatus, String> {
    let row = targets(decl, webhook);
    let held: Vec<Held> = compare_row(registry, store, decl, webhook, &row)
        .await?
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    let (in_store, state) = classify(&held);
    Ok(WebhookStatus {
        code: webhook.code.clone(),
        direction: webhook.direction.unwrap_or(Direction::Out),
        db_fields: row.iter().map(|t| t.field).collect(),
        in_store,
        state,
    })
}

/// The selected webhooks of a registry, a page of rows at a time, in code order: the registry
/// is never held whole in memory.
pub struct Pages<'a> {
    registry: &'a Registry,
    selection: &'a Selection,
    page_size: usize,
    after: Option<String>,
    done: bool,
}

impl<'a> Pages<'a> {
    pub fn new(registry: &'a Registry, selection: &'a Selection, page_size: usize) -> Self {
        Self {
            registry,
            selection,
            page_size: page_size.max(1),
            after: None,
            done: false,
        }
    }

    /// The selected webhooks of the next page (perhaps none of its rows), `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Vec<Webhook>>, String> {
        if self.done {
            return Ok(None);
        }
        if let Some(code) = &self.selection.webhook {
            self.done = true;
            let one = self.registry.get(code).await.map_err(|e| e.to_string())?;
            return Ok(Some(one.into_iter().collect()));
        }
        let page = self
            .registry
            .page(self.after.as_deref(), self.page_size)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else {
            self.done = true;
            return Ok(None);
        };
        self.after = Some(last.code.clone());
        self.done = page.len() < self.page_size;
        Ok(Some(
            page.into_iter()
                .filter(|w| self.selection.matches(w))
                .collect(),
        ))
    }
}

/// Every selected webhook's status, in code order, read page by page; `each` gets them one at
/// a time.
pub async fn scan(
    registry: &Registry,
    store: &dyn SecretStore,
    decl: &StoreDecl,
    selection: &Selection,
    each: impl FnMut(WebhookStatus),
) -> Result<(), String> {
    scan_pages(registry, store, decl, selection, PAGE_SIZE, each).await
}

/// [`scan`], reading `page_size` rows at a time.
pub async fn scan_pages(
    registry: &Registry,
    store: &dyn SecretStore,
    decl: &StoreDecl,
    selection: &Selection,
    page_size: usize,
    mut each: impl FnMut(WebhookStatus),
) -> Result<(), String> {
    let mut pages = Pages::new(registry, selection, page_size);
    while let Some(page) = pages.next().await? {
        for webhook in &page {
            each(webhook_status(registry, store, decl, webhook).await?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_follows_what_the_store_holds() {
        use Held::*;
        assert_eq!(classify(&[]), (false, State::NoCredentials));
        assert_eq!(classify(&[Same, Same]), (true, State::Migrated));
        assert_eq!(classify(&[Same, Absent]), (false, State::Pending));
        assert_eq!(classify(&[Absent, Absent]), (false, State::Pending));
        assert_eq!(classify(&[Same, Differs]), (true, State::Mismatch));
        assert_eq!(classify(&[Differs, Absent]), (false, State::Mismatch));
    }

    #[test]
    fn states_have_the_specs_words_and_round_trip() {
        for s in [
            State::Migrated,
            State::Pending,
            State::Mismatch,
            State::NoCredentials,
        ] {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::NoCredentials.shown(), "No credentials");
        assert_eq!(short_name(Field::Password), "pass");
        assert_eq!(short_name(Field::Key), "key");
    }
}
