//! The one redaction of values: secret values — raw, JSON-escaped, URL-encoded or base64 — are
//! masked in text that may hold them (responses, error text, assertion values, recorded paths)
//! where that text is produced, never in a serialized report.
//!
//! A short form (under [`BOUNDED_BELOW`] characters: `0`, `ss`, `true`, `POST`) is masked only
//! where it stands alone — between characters that are not letters or digits — so that `503`,
//! `passed` or `Bearer` stay what they are when a secret is `0`, `ss` or `a`. A longer form is
//! masked wherever it appears.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BTreeSet;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Forms shorter than this many characters are masked only where they stand alone.
pub const BOUNDED_BELOW: usize = 8;

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Every written form of every secret, longest first (so a longer form wins over a part of
    /// it), each once. A set, so that adding the thousandth secret costs what the first did.
    forms: BTreeSet<(Reverse<usize>, String)>,
}

/// Whether a match at `start..end` of `text` stands alone: no letter or digit touches it.
fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// `text` with every occurrence of `form` masked (only those standing alone when `bounded`);
/// `None` when nothing matched.
fn replace_form(text: &str, form: &str, bounded: bool) -> Option<String> {
    let mut out = String::new();
    let mut last = 0;
    for (start, _) in text.match_indices(form) {
        let end = start + form.len();
        if start < last || (bounded && !stands_alone(text, start, end)) {
            continue;
        }
        out.push_str(&text[last..start]);
        out.push_str(MASK);
        last = end;
    }
    if last == 0 {
        return None;
    }
    out.push_str(&text[last..]);
    Some(out)
}

impl Redactor {
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let mut redactor = Self::default();
        for secret in secrets {
            redactor.add(secret.as_ref());
        }
        redactor
    }

    /// Adds a secret value (and the forms it takes when encoded).
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut forms = vec![secret.to_string()];
        let json = serde_json::to_string(secret).expect("a string serializes");
        forms.push(json[1..json.len() - 1].to_string());
        forms.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
        forms.push(percent_encode(secret));
        // What the URL parser itself writes for the secret in a path, a query or a fragment.
        if let Ok(url) = url::Url::parse(&format!("http://x/{secret}?{secret}#{secret}")) {
            forms.extend([
                url.path()[1..].to_string(),
                url.query().unwrap_or("").to_string(),
                url.fragment().unwrap_or("").to_string(),
            ]);
        }
        // A secret inside a longer base64 text (e.g. `user:secret` in Basic auth) shows up as one of
        // three encodings depending on its alignment; each is cut to the characters that depend only
        // on the secret.
        for engine in [&STANDARD, &URL_SAFE] {
            for pad in 0..3usize {
                let mut bytes = vec![0u8; pad];
                bytes.extend_from_slice(secret.as_bytes());
                let encoded = engine.encode(&bytes);
                let skip = if pad == 0 { 0 } else { (pad * 4).div_ceil(3) };
                let tail = (bytes.len() % 3 != 0) as usize;
                let end = encoded.trim_end_matches('=').len().saturating_sub(tail);
                if end > skip && end - skip >= 4 {
                    forms.push(encoded[skip..end].to_string());
                }
            }
        }
        for form in forms {
            if !form.is_empty() {
                self.forms.insert((Reverse(form.len()), form));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// The text with every secret form replaced by [`MASK`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for (_, form) in &self.forms {
            let bounded = form.chars().count() < BOUNDED_BELOW;
            if let Some(replaced) = replace_form(&out, form, bounded) {
                out = Cow::Owned(replaced);
            }
        }
        out
    }

    /// A body with its secrets masked: inside the string values of a JSON document (parsed,
    /// so the document's own quotes and numbers are never touched), else as text. The bytes
    /// come back unchanged when nothing was masked.
    pub fn redact_body<'a>(&self, body: &'a [u8]) -> Cow<'a, [u8]> {
        if self.forms.is_empty() {
            return Cow::Borrowed(body);
        }
        let Ok(text) = std::str::from_utf8(body) else {
            return Cow::Borrowed(body);
        };
        if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) {
            return if self.redact_json(&mut value) {
                Cow::Owned(value.to_string().into_bytes())
            } else {
                Cow::Borrowed(body)
            };
        }
        match self.redact(text) {
            Cow::Borrowed(_) => Cow::Borrowed(body),
            Cow::Owned(masked) => Cow::Owned(masked.into_bytes()),
        }
    }

    /// Redacts every string value inside a JSON value (keys, numbers and booleans are the
    /// document's shape, not values a secret fills in). True when anything was masked.
    pub fn redact_json(&self, value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(s) => match self.redact(s) {
                Cow::Owned(r) => {
                    *s = r;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |masked, v| self.redact_json(v) | masked),
            Value::Object(map) => map
                .values_mut()
                .fold(false, |masked, v| self.redact_json(v) | masked),
            _ => false,
        }
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_secret_is_masked_where_it_stands_alone_and_nowhere_else() {
        let r = Redactor::new(["0", "ss", "POST"]);
        assert_eq!(r.redact("Bearer ss"), "Bearer ***");
        assert_eq!(
            r.redact("Server error 503, retrying in 2.0s"),
            "Server error 503, retrying in 2.0s"
        );
        assert_eq!(r.redact("passed"), "passed");
        assert_eq!(r.redact("t=0&u=10"), "t=***&u=10");
        assert_eq!(r.redact("POST request, POSTED"), "*** request, POSTED");
        assert_eq!(r.redact("ss"), "***");
    }

    #[test]
    fn bodies_are_masked_inside_json_string_values_only() {
        let r = Redactor::new(["\"", "1000"]);
        let body = br#"{"token": "\"", "amount": 1000, "note": "1000"}"#;
        assert_eq!(
            r.redact_body(body).as_ref(),
            br#"{"token":"***","amount":1000,"note":"***"}"#
        );
        let untouched = br#"{"amount": 5}"#;
        assert!(matches!(r.redact_body(untouched), Cow::Borrowed(_)));
        assert_eq!(r.redact_body(b"plain \" text").as_ref(), b"plain *** text");
    }

    const SECRET: &str = "s3cr3t-Tok/en+\"42\"";

    #[test]
    fn masks_every_encoded_form() {
        let r = Redactor::new([SECRET]);
        let json = serde_json::to_string(&serde_json::json!({ "token": SECRET })).unwrap();
        let url: String = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
        for text in [
            format!("Bearer {SECRET}"),
            json,
            format!("?t={url}"),
            format!("q={}", percent_encode(SECRET)),
        ] {
            let out = r.redact(&text);
            assert!(!out.contains(SECRET) && !out.contains(&url), "{out}");
            assert!(out.contains(MASK), "{out}");
        }
    }

    #[test]
    fn masks_a_secret_inside_base64_at_any_alignment() {
        let r = Redactor::new([SECRET]);
        for prefix in ["", "u:", "us:", "use:"] {
            for engine in [&STANDARD, &URL_SAFE] {
                let encoded = engine.encode(format!("{prefix}{SECRET}"));
                let out = r.redact(&encoded);
                assert!(out.contains(MASK), "{prefix:?}: {encoded} -> {out}");
                // What is left is the prefix's own characters and a few at the edges: far too
                // little to decode the secret from.
                let left: String = out.replace(MASK, "");
                assert!(left.len() <= (prefix.len() * 4).div_ceil(3) + 4, "{left}");
            }
        }
    }
}
