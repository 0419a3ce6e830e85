//! The one redaction every sink uses: secret values — raw, JSON-escaped, URL-encoded or
//! base64 — never reach console output, logs, reports or error text.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use std::borrow::Cow;

/// What a secret is replaced with.
pub const MASK: &str = "***";

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Every written form of every secret, longest first (so a longer form wins over a part of it).
    forms: Vec<String>,
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
            if !form.is_empty() && !self.forms.contains(&form) {
                self.forms.push(form);
            }
        }
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// The text with every secret form replaced by [`MASK`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = Cow::Owned(out.replace(form.as_str(), MASK));
            }
        }
        out
    }

    /// Redacts every string inside a JSON value.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                if let Cow::Owned(r) = self.redact(s) {
                    *s = r;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.redact_json(v)),
            _ => {}
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
