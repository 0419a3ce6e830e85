//! Where a call's credentials come from: the registry's row, unless hookplan's tables say a
//! credential lives in a secret store now (`infisical:/webhooks/NAME`), or the step names a
//! store (`credentials "infisical"`) to read them from by the store's name pattern.

use super::super::sandboxes::Sandboxes;
use super::super::stores::Stores;
use crate::exec::RunContext;
use crate::model::{CallAction, CredentialLocation};
use crate::registry::{Auth, Direction, Field, Registry, Webhook, derive_auth};

/// The credential fields a store may hold, in the order they are reported.
const FIELDS: [Field; 4] = [
    Field::User,
    Field::Key,
    Field::Password,
    Field::SigningSecret,
];

/// Replaces the row's credentials with those the stores hold. Answers the line to log (which
/// fields came from which store; never a value), or why the call cannot be made.
pub async fn resolve(
    ctx: &RunContext,
    sandboxes: &Sandboxes,
    stores: &Stores,
    registry: &Registry,
    action: &CallAction,
    webhook: &mut Webhook,
) -> Result<Option<String>, String> {
    let code = webhook.code.clone();
    // A row whose credentials were cleared (they moved to a store) and whose table has no
    // auth column got `none` derived from nothing; the store's credentials decide it then.
    let row_had_credentials = [&webhook.user, &webhook.key, &webhook.password]
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| !v.trim().is_empty()));
    let locations = registry
        .credential_locations(&code)
        .await
        .map_err(|e| e.to_string())?;
    let mut from_store: Vec<(Field, String)> = Vec::new();
    for (field, location) in locations {
        let location = CredentialLocation::parse(&location)
            .map_err(|why| format!("the {} of webhook \"{code}\": {why}", field.name()))?;
        let CredentialLocation::Store { store, path, name } = location else {
            continue;
        };
        let opened = stores.get(ctx, sandboxes, &store).await.map_err(|why| {
            format!(
                "the {} of webhook \"{code}\" lives in secret store \"{store}\": {why}",
                field.name()
            )
        })?;
        let secret = opened.store.get(&path, &name).await.map_err(|e| {
            if e.is_not_found() {
                format!(
                    "the {} of webhook \"{code}\" lives in {store}:{path}/{name}, but the store holds no such secret",
                    field.name()
                )
            } else {
                format!(
                    "reading the {} of webhook \"{code}\" from secret store \"{store}\": {e}",
                    field.name()
                )
            }
        })?;
        ctx.add_secret(secret.value.expose());
        *slot(webhook, field) = Some(secret.value.into_inner());
        from_store.push((field, store));
    }

    if let Some(store_name) = &action.credentials {
        let store_name = &store_name.value;
        let opened = stores.get(ctx, sandboxes, store_name).await?;
        let direction = webhook.direction.unwrap_or(Direction::Out);
        let mut looked_for = Vec::new();
        for field in FIELDS {
            if from_store.iter().any(|(f, _)| *f == field) {
                continue;
            }
            let name = opened.decl.secret_name(direction, &code, field);
            match opened.store.get(&opened.decl.path, &name).await {
                Ok(secret) => {
                    ctx.add_secret(secret.value.expose());
                    *slot(webhook, field) = Some(secret.value.into_inner());
                    from_store.push((field, store_name.clone()));
                }
                Err(e) if e.is_not_found() => looked_for.push(name),
                Err(e) => {
                    return Err(format!(
                        "reading the {} of webhook \"{code}\" from secret store \"{store_name}\": {e}",
                        field.name()
                    ));
                }
            }
        }
        if from_store.is_empty() {
            return Err(format!(
                "secret store \"{store_name}\" holds no credential of webhook \"{code}\" (looked for {} in {})",
                looked_for.join(", "),
                opened.decl.path
            ));
        }
    }
    if from_store.is_empty() {
        return Ok(None);
    }
    if !row_had_credentials && webhook.auth == Auth::None {
        webhook.auth = derive_auth(
            webhook.user.as_deref(),
            webhook.key.as_deref(),
            webhook.password.as_deref(),
        );
    }
    let mut by_store: Vec<(String, Vec<&str>)> = Vec::new();
    for (field, store) in &from_store {
        match by_store.iter_mut().find(|(s, _)| s == store) {
            Some((_, fields)) => fields.push(field.name()),
            None => by_store.push((store.clone(), vec![field.name()])),
        }
    }
    let parts: Vec<String> = by_store
        .into_iter()
        .map(|(store, fields)| format!("{} from secret store \"{store}\"", fields.join(", ")))
        .collect();
    Ok(Some(format!("Credentials of {code}: {}", parts.join("; "))))
}

fn slot(webhook: &mut Webhook, field: Field) -> &mut Option<String> {
    match field {
        Field::User => &mut webhook.user,
        Field::Key => &mut webhook.key,
        Field::Password => &mut webhook.password,
        _ => &mut webhook.signing_secret,
    }
}
