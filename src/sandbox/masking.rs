//! Credentials in displays: the scheme and at most 8 characters, then `…`.
//!
//! Recordings keep raw values (replay needs them); everything shown to a person — console
//! lines, tables, `show`, `--json` — goes through here first.

use std::borrow::Cow;

// One definition of what a credential is and how it is shown, shared with the plan engine.
pub use crate::observe::credentials::{is_credential_name, mask};

/// A JSON document with the string values of credential fields masked, at any depth.
pub fn json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    serde_json::Value::String(text) if is_credential_name(key) => {
                        *text = mask(text)
                    }
                    _ => json(value),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(json),
        _ => {}
    }
}

/// A header value as it may be displayed.
pub fn header_value<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if is_credential_name(name) {
        Cow::Owned(mask(value))
    } else {
        Cow::Borrowed(value)
    }
}

/// A query string with the values of credential parameters masked.
pub fn query(query: &str) -> Cow<'_, str> {
    if !query.split('&').any(|pair| {
        pair.split_once('=')
            .is_some_and(|(name, _)| is_credential_name(name))
    }) {
        return Cow::Borrowed(query);
    }
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if is_credential_name(name) => format!("{name}={}", mask(value)),
            _ => pair.to_string(),
        })
        .collect();
    Cow::Owned(pairs.join("&"))
}

/// A path with its query, credentials masked.
pub fn path_and_query(path: &str, query_string: Option<&str>) -> String {
    match query_string {
        Some(q) => format!("{path}?{}", query(q)),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_headers_are_recognised() {
        for name in [
            "Authorization",
            "proxy-authorization",
            "Cookie",
            "X-Api-Key",
            "x-auth-token",
            "Stripe-Signature",
            "x-webhook-secret",
        ] {
            assert!(is_credential_name(name), "{name}");
        }
        for name in [
            "content-type",
            "user-agent",
            "x-request-id",
            "accept",
            "author",
            "code",
        ] {
            assert!(!is_credential_name(name), "{name}");
        }
        assert_eq!(
            header_value("content-type", "application/json"),
            "application/json"
        );
        assert_eq!(header_value("x-api-key", "k_0123456789abcdef"), "k_01…");
    }

    #[test]
    fn json_credential_fields_are_masked_at_any_depth() {
        let mut value = serde_json::json!({"amount": 1, "auth": {"api_key": "ak_0123456789abcdef"}, "items": [{"password": "hunter2hunter2"}]});
        json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"amount": 1, "auth": {"api_key": "ak_0…"}, "items": [{"password": "hun…"}]})
        );
    }

    #[test]
    fn query_credentials_are_masked() {
        assert_eq!(query("a=1&b=2"), "a=1&b=2");
        assert_eq!(query("a=1&token=tok_0123456789abcdef"), "a=1&token=tok_0…");
        assert_eq!(
            path_and_query("/x", Some("api_key=0123456789abcdef")),
            "/x?api_key=0123…"
        );
    }
}
