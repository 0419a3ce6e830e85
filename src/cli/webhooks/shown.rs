//! How a webhook is shown — table, details, JSON, one-line summary — with every credential
//! masked: its value in the scheme-and-a-few-characters form of the sandbox and the reports
//! (`sk_live_…`; a short one shows nothing but `…`), and in its URL the password, credential
//! query values and the webhook's own credentials wherever they turn up.

use super::credentials::FIELDS;
use crate::observe::{Redactor, mask_credential};
use crate::registry::{Auth, Field, RegistryConfig, Webhook};
use crate::sandbox::console::TABLE_STYLE;
use crate::sandbox::masking;
use comfy_table::{ContentArrangement, Table};
use serde_json::{Value, json};
use std::fmt::Write;

/// The registry a webhook is shown from.
pub struct Place<'a> {
    pub config: &'a RegistryConfig,
    /// Its URL with the password masked.
    pub url: &'a str,
}

impl Place<'_> {
    /// Whether the table has a column for the field (hookplan's own table has them all).
    pub fn mapped(&self, field: Field) -> bool {
        self.config.table.is_none() || self.config.columns.get(field).is_some()
    }

    /// `database "registry" (sqlite://.hookplan/registry.db)`, with the legacy table if any.
    pub fn describe(&self) -> String {
        match &self.config.table {
            Some(table) => format!(
                "database \"{}\" ({}, table {table})",
                self.config.name, self.url
            ),
            None => format!("database \"{}\" ({})", self.config.name, self.url),
        }
    }
}

/// A webhook's credentials by field, `None` when not set.
pub fn credentials(webhook: &Webhook) -> [(Field, Option<&str>); 4] {
    FIELDS.map(|field| {
        let value = match field {
            Field::User => webhook.user.as_deref(),
            Field::Key => webhook.key.as_deref(),
            Field::Password => webhook.password.as_deref(),
            _ => webhook.signing_secret.as_deref(),
        };
        (field, value)
    })
}

/// Knows a webhook's credentials, to mask them where they turn up in its URL.
pub fn redactor(webhook: &Webhook) -> Redactor {
    Redactor::new(credentials(webhook).into_iter().filter_map(|(_, v)| v))
}

/// A URL as it may be shown. It is kept as written, not re-serialized, so that what is shown
/// is what is stored.
pub fn url(text: &str, secrets: &Redactor) -> String {
    let masked = crate::registry::mask_url(text);
    let masked = match masked.split_once('?') {
        Some((base, rest)) => {
            let (query, fragment) = match rest.split_once('#') {
                Some((query, fragment)) => (query, Some(fragment)),
                None => (rest, None),
            };
            let mut shown = format!("{base}?{}", masking::query(query));
            if let Some(fragment) = fragment {
                shown.push('#');
                shown.push_str(fragment);
            }
            shown
        }
        None => masked,
    };
    secrets.redact(&masked).into_owned()
}

/// A credential as shown: a user or key by its first characters (which one it is), a password
/// or signing secret not at all — even a few characters of those narrow a guess.
fn masked(field: Field, value: &str) -> String {
    match field {
        Field::Password | Field::SigningSecret => crate::observe::MASK.to_string(),
        _ => mask_credential(value),
    }
}

fn shown_url(webhook: &Webhook) -> Option<String> {
    let secrets = redactor(webhook);
    webhook.url.as_deref().map(|u| url(u, &secrets))
}

/// `key sk_live_…, password …`: the credentials that are set.
fn credentials_cell(webhook: &Webhook) -> String {
    let set: Vec<String> = credentials(webhook)
        .into_iter()
        .filter_map(|(field, value)| Some(format!("{} {}", field.name(), masked(field, value?))))
        .collect();
    if set.is_empty() {
        "-".to_string()
    } else {
        set.join(", ")
    }
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

/// The webhooks as a table, in the order given.
pub fn table(webhooks: &[Webhook]) -> String {
    let mut table = Table::new();
    table
        .load_style(TABLE_STYLE)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty();
    table.set_header(vec![
        "Code",
        "Direction",
        "Method",
        "URL",
        "Auth",
        "Credentials",
        "Enabled",
    ]);
    for webhook in webhooks {
        table.add_row(vec![
            webhook.code.clone(),
            webhook.direction.map_or("-".to_string(), |d| d.to_string()),
            webhook.method_or_default().to_string(),
            shown_url(webhook).unwrap_or_else(|| "-".to_string()),
            webhook.auth.to_string(),
            credentials_cell(webhook),
            yes_no(webhook.is_enabled()).to_string(),
        ]);
    }
    format!("{table}\n")
}

/// One webhook as JSON: the method and `enabled` as a call uses them (defaults filled in),
/// each credential as `{"set": false}` or `{"set": true, "masked": "sk_live_…"}`; with
/// `locations`, where each one lives.
pub fn json(webhook: &Webhook, locations: Option<&[(Field, String)]>) -> Value {
    let mut shown = serde_json::Map::new();
    for (field, value) in credentials(webhook) {
        let mut entry = json!({ "set": value.is_some() });
        if let Some(value) = value {
            entry["masked"] = json!(masked(field, value));
        }
        if let Some(locations) = locations
            && let Some(location) = location(field, value.is_some(), locations)
        {
            entry["location"] = json!(location);
        }
        shown.insert(field.name().to_string(), entry);
    }
    json!({
        "code": webhook.code,
        "direction": webhook.direction.map(|d| d.to_string()),
        "method": webhook.method_or_default().to_string(),
        "url": shown_url(webhook),
        "auth": webhook.auth.to_string(),
        "credentials": shown,
        "enabled": webhook.is_enabled(),
    })
}

/// Where a credential lives: what was recorded, else `db` when it is set.
fn location(field: Field, set: bool, locations: &[(Field, String)]) -> Option<String> {
    match locations.iter().find(|(f, _)| *f == field) {
        Some((_, location)) => Some(location.clone()),
        None => set.then(|| "db".to_string()),
    }
}

/// `POST https://… (OUT, auth bearer, key sk_live_…)`.
pub fn summary(webhook: &Webhook) -> String {
    let mut facts = Vec::new();
    if let Some(direction) = webhook.direction {
        facts.push(direction.to_string());
    }
    facts.push(format!("auth {}", webhook.auth));
    let credentials = credentials_cell(webhook);
    if credentials != "-" {
        facts.push(credentials);
    }
    if !webhook.is_enabled() {
        facts.push("disabled".to_string());
    }
    format!(
        "{} {} ({})",
        webhook.method_or_default(),
        shown_url(webhook).unwrap_or_else(|| "(no URL)".to_string()),
        facts.join(", ")
    )
}

/// What each auth sends, in words.
fn auth_text(auth: Auth, config: &RegistryConfig) -> String {
    match auth {
        Auth::None => "none: no credentials are sent".to_string(),
        Auth::Basic => {
            "basic: the user and the password (the key when there is no password)".to_string()
        }
        Auth::Bearer => "bearer: Authorization: Bearer KEY".to_string(),
        Auth::Header => format!("header: the key in {}", config.auth_header()),
    }
}

/// Every field of one webhook, and where each credential lives.
pub fn details(webhook: &Webhook, place: &Place<'_>, locations: &[(Field, String)]) -> String {
    let table = place.config.table.as_deref().unwrap_or("webhooks");
    let absent = |field: Field| {
        if place.mapped(field) {
            "not set".to_string()
        } else {
            format!("not in table {table}")
        }
    };
    let mut rows: Vec<(&str, String)> = vec![
        (
            "direction",
            webhook
                .direction
                .map_or_else(|| absent(Field::Direction), |d| d.to_string()),
        ),
        (
            "url",
            shown_url(webhook).unwrap_or_else(|| absent(Field::Url)),
        ),
        (
            "method",
            match webhook.method {
                Some(method) => method.to_string(),
                None => format!("{} (the default)", webhook.method_or_default()),
            },
        ),
        ("auth", {
            let mut text = auth_text(webhook.auth, place.config);
            if !place.mapped(Field::Auth) {
                text.push_str(" (from the credentials: the table has no auth column)");
            }
            text
        }),
        (
            "enabled",
            match webhook.enabled {
                Some(flag) => yes_no(flag).to_string(),
                None => format!("{} (the default)", yes_no(webhook.is_enabled())),
            },
        ),
    ];
    for (field, value) in credentials(webhook) {
        let text = match (value, location(field, value.is_some(), locations)) {
            (Some(value), Some(location)) => {
                format!("{}  (lives in {location})", masked(field, value))
            }
            (None, Some(location)) => format!("not in the table; lives in {location}"),
            (_, None) => absent(field),
        };
        rows.push((field.name(), text));
    }
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    let mut out = format!("{} in {}\n", webhook.code, place.describe());
    for (label, value) in rows {
        let _ = writeln!(out, "  {label:<width$}  {value}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(key: &str) -> Webhook {
        let mut webhook = Webhook::new("A", "https://api.example.com/hooks/x");
        webhook.key = Some(key.to_string());
        webhook
    }

    #[test]
    fn urls_hide_passwords_credential_queries_and_the_webhooks_credentials() {
        let secrets = Redactor::new(["sk_live_0123456789abcdef"]);
        let shown = url(
            "https://svc:hunter2@api.example.com/h/sk_live_0123456789abcdef?token=tok_0123456789abcdef&a=1#frag",
            &secrets,
        );
        assert_eq!(
            shown,
            "https://svc:***@api.example.com/h/***?token=tok_0…&a=1#frag"
        );
        assert_eq!(
            url("https://api.example.com", &Redactor::default()),
            "https://api.example.com",
            "kept as written"
        );
    }

    #[test]
    fn credentials_show_a_few_characters_at_most() {
        for key in ["0", "ss", "true", "POST", "sk_live_0123456789abcdef"] {
            let webhook = hook(key);
            let cell = credentials_cell(&webhook);
            assert_eq!(cell, format!("key {}", mask_credential(key)));
            let value = json(&webhook, None);
            assert_eq!(value["credentials"]["key"]["set"], json!(true));
            assert_ne!(value["credentials"]["key"]["masked"], json!(key));
            assert_eq!(value["credentials"]["password"], json!({ "set": false }));
        }
    }
}
