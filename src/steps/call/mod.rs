//! The `call` step: read a webhook from the registry (the spec's `hook.read('CODE')`), build
//! its request for an event with its method, auth and credentials (`hook.call('EVENT')`), and
//! send it like an `http` step — with the `default` retry policy unless the step names another.
//!
//! Every credential read from the row becomes a secret of the run before anything is sent, so
//! the console, reports, journal and logs mask it wherever it turns up.

use super::http::{Prepared, ShownRequest, Signing, execute, render_json};
use super::{KindFuture, Runner, StepCall};

mod credentials;
use crate::exec::{EventKind, RunContext, StepOutcome};
use crate::model::{Body, CallAction, SignatureScheme};
use crate::observe::{MASK, mask_credential};
use crate::registry::{Auth, Field, Method, Registry, Webhook};
use base64::Engine;
use serde_json::{Map, Value, json};

pub const RUNNER: Runner = Runner {
    kind: "call",
    run: start,
};

fn start(call: StepCall<'_>) -> KindFuture<'_> {
    Box::pin(run(call))
}

/// What the report's `details` say of a call: which webhook, for which event, which delivery.
#[derive(Debug, serde::Serialize)]
struct Details<'a> {
    webhook: &'a str,
    event: &'a str,
    database: &'a str,
    /// Random, the same for every retry of the delivery; not part of the digest.
    delivery_id: &'a str,
    method: &'a str,
    auth: &'a str,
}

async fn run(call: StepCall<'_>) -> StepOutcome {
    let action = match call.action::<CallAction>() {
        Ok(action) => action,
        Err(outcome) => return *outcome,
    };
    let opened = call.registry(&action.database.value).await;
    let StepCall {
        ctx,
        index,
        step,
        timeline,
        cancel,
        stores,
        sandboxes,
        ..
    } = call;
    let fail = |message: String| StepOutcome::errored(ctx.redact(&message), timeline.elapsed());
    let registry = match opened {
        Ok(registry) => registry,
        Err(why) => return fail(why),
    };
    let registry = &*registry;
    let mut webhook = match read(registry, &action.code.value).await {
        Ok(webhook) => webhook,
        Err(why) => return fail(why),
    };
    match credentials::resolve(ctx, sandboxes, stores, registry, action, &mut webhook).await {
        Ok(Some(line)) => ctx.events.emit(
            &timeline,
            EventKind::StepLog {
                step: index,
                message: line,
            },
        ),
        Ok(None) => {}
        Err(why) => return fail(why),
    }
    for value in [
        &webhook.user,
        &webhook.key,
        &webhook.password,
        &webhook.signing_secret,
    ]
    .into_iter()
    .flatten()
    {
        ctx.add_secret(value);
    }
    let delivery_id = match delivery_id() {
        Ok(id) => id,
        Err(why) => return fail(why),
    };
    let (prepared, event) = match prepare(ctx, action, registry, &webhook, &delivery_id) {
        Ok(prepared) => prepared,
        Err(why) => return fail(why),
    };
    let method = webhook.method_or_default();
    ctx.events.emit(
        &timeline,
        EventKind::DeliveryStarted {
            step: index,
            webhook: webhook.code.clone(),
            event: ctx.redact(&event),
            database: action.database.value.clone(),
            delivery_id: delivery_id.clone(),
        },
    );
    let mut outcome = execute(ctx, index, step, prepared, timeline, cancel).await;
    let details = Details {
        webhook: &webhook.code,
        event: &ctx.redact(&event),
        database: &action.database.value,
        delivery_id: &delivery_id,
        method: method.as_str(),
        auth: webhook.auth.as_str(),
    };
    outcome.details = serde_json::to_value(&details).ok();
    outcome
}

/// The webhook of this code, enabled and with its credentials where this version can read
/// them; else why not, in one line (with the near codes when there are some).
async fn read(registry: &Registry, code: &str) -> Result<Webhook, String> {
    let db = &registry.config().name;
    let Some(webhook) = registry.get(code).await.map_err(|e| e.to_string())? else {
        let codes: Vec<String> = registry
            .list()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|w| w.code)
            .collect();
        let near = crate::model::suggest::did_you_mean(code, codes.iter().map(String::as_str));
        return Err(match near {
            Some(near) => {
                format!("database \"{db}\" has no webhook \"{code}\"; did you mean \"{near}\"?")
            }
            None if codes.is_empty() => format!(
                "database \"{db}\" has no webhook \"{code}\" (it holds none; add one with `hookplan webhooks add`)"
            ),
            None => format!(
                "database \"{db}\" has no webhook \"{code}\" (it holds: {})",
                codes.join(", ")
            ),
        });
    };
    if !webhook.is_enabled() {
        return Err(format!(
            "webhook \"{code}\" is disabled in database \"{db}\""
        ));
    }
    Ok(webhook)
}

/// A random delivery id, in the `webhook-id` form receivers expect (`msg_…`).
fn delivery_id() -> Result<String, String> {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 12];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system's random source failed".to_string())?;
    Ok(format!("msg_{}", hex::encode(bytes)))
}

/// The request for the event: its URL (the step's `url`, else the registered one), the payload
/// as JSON (POST, PUT) or as query parameters (GET), the auth, and the delivery id headers.
/// Also returns the event as rendered.
fn prepare(
    ctx: &RunContext,
    action: &CallAction,
    registry: &Registry,
    webhook: &Webhook,
    delivery_id: &str,
) -> Result<(Prepared, String), String> {
    let code = &webhook.code;
    let (url_text, shown_url) = match &action.url {
        Some(template) => (ctx.render(template)?, ctx.render_shown(template)?),
        None => match webhook.url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => (url.to_string(), ctx.redact(url)),
            _ => {
                return Err(format!(
                    "webhook \"{code}\" has no URL; set one with `hookplan webhooks set-url {code} URL`, or give the step a `url`"
                ));
            }
        },
    };
    let mut url = url::Url::parse(&url_text)
        .map_err(|e| format!("the URL \"{shown_url}\" of webhook \"{code}\" is not valid: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the URL \"{shown_url}\" of webhook \"{code}\" is not http(s)"
        ));
    }
    let mut shown_url = url::Url::parse(&shown_url).ok();
    let event = ctx.render(&action.event)?;
    let shown_event = ctx.render_shown(&action.event)?;
    let (payload, shown_payload) = payload(ctx, action, code, &event, &shown_event)?;
    let method = webhook.method_or_default();

    let mut headers: Vec<(String, String)> = Vec::new();
    let mut shown_headers: Vec<(String, String)> = Vec::new();
    let body = match method {
        Method::Get => {
            let fields = query_fields(&payload, code, &event);
            url.query_pairs_mut()
                .extend_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            if let Some(shown) = &mut shown_url {
                let fields = query_fields(&shown_payload, code, &shown_event);
                shown
                    .query_pairs_mut()
                    .extend_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            }
            None
        }
        Method::Post | Method::Put => {
            headers.push(("content-type".into(), "application/json".into()));
            shown_headers.push(("content-type".into(), "application/json".into()));
            Some((payload, shown_payload))
        }
    };
    if let Some((name, value, shown)) = auth_header(ctx, registry, webhook)? {
        headers.push((name.clone(), value));
        shown_headers.push((name, shown));
    }
    headers.push(("idempotency-key".into(), delivery_id.to_string()));
    shown_headers.push(("idempotency-key".into(), delivery_id.to_string()));

    let sign = match (&action.sign, &webhook.signing_secret) {
        (Some(spec), _) => Some(Signing {
            scheme: spec.scheme,
            secret: ctx.render(&spec.secret)?,
            id: delivery_id.to_string(),
        }),
        // A registered signing secret means the receiver checks signatures.
        (None, Some(secret)) => Some(Signing {
            scheme: SignatureScheme::StandardWebhooks,
            secret: secret.clone(),
            id: delivery_id.to_string(),
        }),
        (None, None) => None,
    };
    if !sign
        .as_ref()
        .is_some_and(|s| s.scheme == SignatureScheme::StandardWebhooks)
    {
        // The signature adds its own `webhook-id`; without one the header still names the
        // delivery, so a receiver can drop a retried duplicate.
        headers.push((crate::signature::WEBHOOK_ID.into(), delivery_id.to_string()));
        shown_headers.push((crate::signature::WEBHOOK_ID.into(), delivery_id.to_string()));
    }
    let (body, shown_body) = match body {
        Some((body, shown)) => (Some(body.into_bytes()), Some(shown)),
        None => (None, None),
    };
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes())
        .map_err(|_| format!("bad method {method}"))?;
    let shown = ShownRequest {
        url: shown_url.map_or_else(|| ctx.redact(url.as_str()), |u| u.to_string()),
        headers: shown_headers,
        body: shown_body,
    };
    Ok((
        Prepared {
            method,
            url,
            headers,
            body,
            sign,
            shown: Some(shown),
        },
        event,
    ))
}

/// The payload as sent and as shown: the step's `json` or `body-file`, else
/// `{"event": EVENT, "webhook": CODE}`. It must be JSON.
fn payload(
    ctx: &RunContext,
    action: &CallAction,
    code: &str,
    event: &str,
    shown_event: &str,
) -> Result<(String, String), String> {
    let (text, shown) = match &action.payload {
        None => (
            json!({"event": event, "webhook": code}).to_string(),
            json!({"event": shown_event, "webhook": code}).to_string(),
        ),
        Some(Body::Json(t)) => (
            render_json(t, |r| ctx.lookup(r))?,
            render_json(t, |r| ctx.lookup_shown(r))?,
        ),
        Some(Body::Text(t)) => (ctx.render(t)?, ctx.render_shown(t)?),
        Some(Body::File(path)) => {
            let full = ctx.plan.base_dir.join(&path.value);
            let text = std::fs::read_to_string(&full).map_err(|e| {
                format!(
                    "cannot read the payload file {}: {}",
                    full.display(),
                    crate::io_error::describe(&e)
                )
            })?;
            let shown = ctx.redact(&text);
            (text, shown)
        }
    };
    serde_json::from_str::<Value>(&text)
        .map_err(|e| format!("the payload of the call to \"{code}\" is not valid JSON: {e}"))?;
    Ok((text, shown))
}

/// A GET's query: `event`, `webhook`, then the payload's top-level scalar fields.
fn query_fields(payload: &str, code: &str, event: &str) -> Vec<(String, String)> {
    let mut fields = vec![
        ("event".to_string(), event.to_string()),
        ("webhook".to_string(), code.to_string()),
    ];
    if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(payload) {
        fields.extend(scalars(&object));
    }
    fields
}

fn scalars(object: &Map<String, Value>) -> Vec<(String, String)> {
    object
        .iter()
        .filter(|(k, _)| k.as_str() != "event" && k.as_str() != "webhook")
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            Value::Number(n) => Some((k.clone(), n.to_string())),
            Value::Bool(b) => Some((k.clone(), b.to_string())),
            _ => None,
        })
        .collect()
}

/// The auth header of the webhook's auth type: (name, value, value as shown). `basic` sends
/// the user and the password (the key when there is no password), `bearer` the key, `header`
/// the key in the registry's `auth-header` (`X-API-Key`).
fn auth_header(
    ctx: &RunContext,
    registry: &Registry,
    webhook: &Webhook,
) -> Result<Option<(String, String, String)>, String> {
    let code = &webhook.code;
    let missing = |what: &str, field: Field| {
        format!(
            "webhook \"{code}\" uses {} auth but has no {what} (its `{}` field is empty)",
            webhook.auth,
            field.name()
        )
    };
    let set = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    Ok(match webhook.auth {
        Auth::None => None,
        Auth::Basic => {
            let user = set(&webhook.user).ok_or_else(|| missing("user", Field::User))?;
            let password = set(&webhook.password)
                .or_else(|| set(&webhook.key))
                .ok_or_else(|| missing("password or key", Field::Password))?;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            // A receiver echoing the header must not show it either.
            ctx.add_secret(&token);
            Some((
                "authorization".into(),
                format!("Basic {token}"),
                format!("Basic {MASK}"),
            ))
        }
        Auth::Bearer => {
            let key = set(&webhook.key).ok_or_else(|| missing("key", Field::Key))?;
            let value = format!("Bearer {key}");
            let shown = mask_credential(&value);
            Some(("authorization".into(), value, shown))
        }
        Auth::Header => {
            let key = set(&webhook.key).ok_or_else(|| missing("key", Field::Key))?;
            let shown = mask_credential(&key);
            Some((registry.config().auth_header().to_string(), key, shown))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_carries_the_event_the_code_and_the_payloads_scalars() {
        let fields = query_fields(
            r#"{"order": 1234, "paid": true, "note": "x", "items": [1], "event": "ignored"}"#,
            "TEST_WEBHOOK",
            "DONE",
        );
        assert_eq!(
            fields,
            [
                ("event".to_string(), "DONE".to_string()),
                ("webhook".into(), "TEST_WEBHOOK".into()),
                ("order".into(), "1234".into()),
                ("paid".into(), "true".into()),
                ("note".into(), "x".into()),
            ]
        );
    }

    #[test]
    fn delivery_ids_are_random() {
        let a = delivery_id().unwrap();
        let b = delivery_id().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("msg_") && a.len() == 28, "{a}");
    }
}
