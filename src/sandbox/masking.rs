//! Credentials in displays: the scheme and at most 8 characters, then `…`.
//!
//! Recordings keep raw values (replay needs them); everything shown to a person — console
//! lines, tables, `show`, `--json` — goes through here first.

use std::borrow::Cow;

/// Words that make a header, query parameter or JSON field name a credential.
const CREDENTIAL_WORDS: &[&str] = &[
    "authorization",
    "authentication",
    "token",
    "secret",
    "password",
    "passwd",
    "api-key",
    "api_key",
    "apikey",
    "cookie",
    "signature",
    "credential",
    "private-key",
    "private_key",
    "session",
];
/// Whole names that are credentials without holding one of the words.
const CREDENTIAL_NAMES: &[&str] = &["auth", "key", "sig", "pwd", "pass"];

/// Whether a header, query parameter or JSON field of this name holds a credential.
pub fn is_credential_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    CREDENTIAL_NAMES.contains(&name.as_str())
        || CREDENTIAL_WORDS.iter().any(|word| name.contains(word))
        // `x-auth`, `basic_auth`, but not `author`.
        || name.split(['-', '_']).any(|part| part == "auth")
}

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

/// `Bearer sk_test_0123456789abcdef` → `Bearer sk_test_…`. Short values show less (a quarter
/// at most), so that a short secret is never shown whole.
pub fn mask(value: &str) -> String {
    let value = value.trim();
    let (scheme, secret) = match value.split_once(' ') {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !rest.trim().is_empty() =>
        {
            (Some(scheme), rest.trim())
        }
        _ => (None, value),
    };
    let length = secret.chars().count();
    let shown: String = secret.chars().take((length / 4).min(8)).collect();
    match scheme {
        Some(scheme) => format!("{scheme} {shown}…"),
        None => format!("{shown}…"),
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
    fn authorization_shows_the_scheme_and_at_most_eight_characters() {
        assert_eq!(
            mask("Bearer sk_test_0123456789abcdefghijklmn"),
            "Bearer sk_test_…"
        );
        assert_eq!(mask("Basic dXNlcjpwYXNzd29yZA=="), "Basic dXNlc…");
        assert_eq!(mask("sk_live_0123456789abcdefghijklmn"), "sk_live_…");
    }

    #[test]
    fn short_secrets_are_never_shown_whole() {
        assert_eq!(mask("Bearer abc"), "Bearer …");
        assert_eq!(mask("12345678"), "12…");
        assert_eq!(mask(""), "…");
        for secret in ["a", "ab", "abcd", "abcdefgh", "abcdefghijklmnop"] {
            assert!(!mask(secret).contains(secret), "{secret}");
        }
    }

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
