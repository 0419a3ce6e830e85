//! Credentials in displays: the scheme and at most 8 characters, then `…`.
//!
//! Recordings keep raw values (replay needs them); everything shown to a person — console
//! lines, tables, `show`, `--json` — goes through here first.

use std::borrow::Cow;

// One definition of what a credential is and how it is shown, shared with the plan engine.
pub use crate::observe::credentials::{is_credential_name, mask, mask_named, split_scheme};

/// A JSON document with the string values of credential fields masked, at any depth.
pub fn json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    serde_json::Value::String(text) if is_credential_name(key) => {
                        *text = mask_named(key, text)
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
        Cow::Owned(mask_named(name, value))
    } else {
        Cow::Borrowed(value)
    }
}

/// A query string (or a form body, which has the same shape) with the values of credential
/// parameters masked. Names are compared decoded: `client%5Fsecret` is `client_secret`.
pub fn query(query: &str) -> Cow<'_, str> {
    if !query.split('&').any(|pair| credential_pair(pair).is_some()) {
        return Cow::Borrowed(query);
    }
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match credential_pair(pair) {
            Some((name, value)) => {
                format!("{name}={}", mask_named(&decoded(name), &decoded(value)))
            }
            None => pair.to_string(),
        })
        .collect();
    Cow::Owned(pairs.join("&"))
}

/// `name=value` split in two when the (decoded) name is a credential's.
fn credential_pair(pair: &str) -> Option<(&str, &str)> {
    let (name, value) = pair.split_once('=')?;
    is_credential_name(&decoded(name)).then_some((name, value))
}

/// A form-encoded component decoded (`+` is a space); undecodable bytes are kept lossily.
fn decoded(component: &str) -> String {
    url::form_urlencoded::parse(component.as_bytes())
        .next()
        .map(|(name, value)| {
            if value.is_empty() {
                name.into_owned()
            } else {
                format!("{name}={value}")
            }
        })
        .unwrap_or_default()
}

/// A path with its query, credentials masked.
pub fn path_and_query(path: &str, query_string: Option<&str>) -> String {
    match query_string {
        Some(q) => format!("{path}?{}", query(q)),
        None => path.to_string(),
    }
}

/// Secrets shorter than this are only masked where they stand alone (not inside a longer
/// word), so that the key `0` does not turn `1000` into `1…00`; longer ones everywhere.
const ANYWHERE_FROM: usize = 8;

/// What one request's displays must not show: the credentials it was sent with, wherever
/// they turn up again — a body that echoes the bearer token, another header, the query, the
/// response. Built from the request's credential headers (the part after an
/// `Authorization` scheme, an API key's whole value, credential-named cookies) and its
/// credential query parameters; each occurrence is replaced by [`mask`] of it.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// Longest first, so that a secret holding another is masked whole.
    secrets: Vec<String>,
}

impl Masker {
    /// Masks credential names only (no request to take secrets from).
    pub fn none() -> Self {
        Self::default()
    }

    pub fn for_request(headers: &[(String, String)], query: Option<&str>) -> Self {
        let mut secrets = Vec::new();
        for (name, value) in headers {
            if !is_credential_name(name) {
                continue;
            }
            if name.eq_ignore_ascii_case("cookie") {
                for cookie in value.split(';') {
                    if let Some((name, value)) = cookie.split_once('=')
                        && is_credential_name(name.trim())
                    {
                        secrets.push(value.trim().to_string());
                    }
                }
            } else {
                secrets.push(split_scheme(value).1.to_string());
            }
        }
        for pair in query.unwrap_or("").split('&') {
            if let Some((_, value)) = credential_pair(pair) {
                let plain = decoded(value);
                if plain != value {
                    secrets.push(plain);
                }
                secrets.push(value.to_string());
            }
        }
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Self { secrets }
    }

    /// Text with every occurrence of the request's secrets masked.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // A secret is whole UTF-8 and so is its mask: what is left is UTF-8 too.
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// Bytes with every occurrence of the request's secrets masked.
    pub fn bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut out = Cow::Borrowed(bytes);
        for secret in &self.secrets {
            if let Some(masked) = replace(&out, secret) {
                out = Cow::Owned(masked);
            }
        }
        out
    }

    /// A header value as it may be displayed: masked whole for a credential header, its
    /// secrets masked otherwise.
    pub fn header_value<'a>(&self, name: &str, value: &'a str) -> Cow<'a, str> {
        if is_credential_name(name) {
            Cow::Owned(mask_named(name, value))
        } else {
            self.text(value)
        }
    }

    /// A query string: credential parameters and the request's secrets masked.
    pub fn query(&self, text: &str) -> String {
        self.text(&query(text)).into_owned()
    }

    /// A path with its query, credentials and the request's secrets masked.
    pub fn path_and_query(&self, path: &str, query_string: Option<&str>) -> String {
        let path = self.text(path);
        match query_string {
            Some(q) => format!("{path}?{}", self.query(q)),
            None => path.into_owned(),
        }
    }

    /// A JSON document: credential fields masked (at any depth), and the request's secrets
    /// wherever they are, in strings, keys, or as a number or `true` that equals one.
    pub fn json(&self, value: &mut serde_json::Value) {
        json(value);
        if !self.secrets.is_empty() {
            self.json_secrets(value);
        }
    }

    fn json_secrets(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) => {
                if let Cow::Owned(masked) = self.text(text) {
                    *text = masked;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.json_secrets(v)),
            Value::Object(map) => {
                if map
                    .keys()
                    .any(|key| matches!(self.text(key), Cow::Owned(_)))
                {
                    let entries = std::mem::take(map);
                    for (key, value) in entries {
                        map.insert(self.text(&key).into_owned(), value);
                    }
                }
                map.values_mut().for_each(|v| self.json_secrets(v));
            }
            Value::Number(_) | Value::Bool(_) | Value::Null => {
                let text = value.to_string();
                if let Cow::Owned(masked) = self.text(&text) {
                    *value = Value::String(masked);
                }
            }
        }
    }

    /// A request or response body as it may be displayed, apart from JSON (see [`json`]):
    /// form fields and multipart parts with credential names masked, then the secrets.
    pub fn body<'a>(&self, bytes: &'a [u8], content_type: Option<&str>) -> Cow<'a, [u8]> {
        let fields: Cow<'a, [u8]> =
            if let Some(boundary) = content_type.and_then(multipart_boundary) {
                multipart(bytes, &boundary).map_or(Cow::Borrowed(bytes), Cow::Owned)
            } else if let Ok(text) = std::str::from_utf8(bytes)
                && is_form(text, content_type)
            {
                match query(text) {
                    Cow::Borrowed(_) => Cow::Borrowed(bytes),
                    Cow::Owned(masked) => Cow::Owned(masked.into_bytes()),
                }
            } else {
                Cow::Borrowed(bytes)
            };
        match fields {
            Cow::Borrowed(bytes) => self.bytes(bytes),
            Cow::Owned(owned) => Cow::Owned(self.bytes(&owned).into_owned()),
        }
    }
}

/// Every occurrence of `secret` in `haystack` replaced by its mask; `None` if there is none.
fn replace(haystack: &[u8], secret: &str) -> Option<Vec<u8>> {
    let needle = secret.as_bytes();
    let anywhere = needle.len() >= ANYWHERE_FROM;
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let mut out: Option<Vec<u8>> = None;
    let (mut copied, mut at) = (0, 0);
    while at + needle.len() <= haystack.len() {
        let Some(found) = haystack[at..]
            .windows(needle.len())
            .position(|window| window == needle)
        else {
            break;
        };
        let start = at + found;
        let end = start + needle.len();
        let alone = anywhere
            || ((start == 0 || !word(haystack[start - 1]))
                && (end == haystack.len() || !word(haystack[end])));
        if alone {
            let out = out.get_or_insert_with(|| Vec::with_capacity(haystack.len()));
            out.extend_from_slice(&haystack[copied..start]);
            out.extend_from_slice(mask(secret).as_bytes());
            copied = end;
            at = end;
        } else {
            at = start + 1;
        }
    }
    let mut out = out?;
    out.extend_from_slice(&haystack[copied..]);
    Some(out)
}

/// A form body: declared as one, or undeclared text shaped like one (`a=1&b=2`, no spaces).
fn is_form(text: &str, content_type: Option<&str>) -> bool {
    let declared = content_type.map(|c| c.to_ascii_lowercase());
    match declared.as_deref() {
        Some(c) if c.contains("x-www-form-urlencoded") => true,
        Some(c) if !c.starts_with("text/plain") => false,
        _ => {
            text.contains('=')
                && !text.starts_with(['{', '['])
                && !text.bytes().any(|b| b.is_ascii_whitespace())
        }
    }
}

/// The boundary of a `multipart/form-data` body.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// A multipart body with the values of parts named like credentials masked; `None` when
/// there is none (or the body is not the multipart it claims to be).
fn multipart(body: &[u8], boundary: &str) -> Option<Vec<u8>> {
    let delimiter = format!("--{boundary}").into_bytes();
    let find = |from: usize| -> Option<usize> {
        body.get(from..)?
            .windows(delimiter.len())
            .position(|w| w == delimiter.as_slice())
            .map(|at| from + at)
    };
    let mut out = Vec::with_capacity(body.len());
    let mut copied = 0;
    let mut masked_any = false;
    let mut next = find(0);
    while let Some(at) = next {
        let part_start = at + delimiter.len();
        if body[part_start..].starts_with(b"--") {
            break;
        }
        next = find(part_start);
        let part_end = next.unwrap_or(body.len());
        let part = &body[part_start..part_end];
        let Some((head_end, content_start)) = find_blank_line(part) else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..head_end]);
        let Some(name) = part_name(&head).filter(|name| is_credential_name(name)) else {
            continue;
        };
        // The line break before the next delimiter belongs to the delimiter.
        let mut content_end = part.len();
        if part[..content_end].ends_with(b"\r\n") {
            content_end -= 2;
        } else if part[..content_end].ends_with(b"\n") {
            content_end -= 1;
        }
        let content_end = content_end.max(content_start);
        out.extend_from_slice(&body[copied..part_start + content_start]);
        let value = String::from_utf8_lossy(&part[content_start..content_end]);
        out.extend_from_slice(mask_named(&name, &value).as_bytes());
        copied = part_start + content_end;
        masked_any = true;
    }
    if !masked_any {
        return None;
    }
    out.extend_from_slice(&body[copied..]);
    Some(out)
}

/// Where a part's headers end and its content starts.
fn find_blank_line(part: &[u8]) -> Option<(usize, usize)> {
    let crlf = part.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = part.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(c), Some(l)) if l < c => Some((l, l + 2)),
        (Some(c), _) => Some((c, c + 4)),
        (None, Some(l)) => Some((l, l + 2)),
        (None, None) => None,
    }
}

/// The `name` of a part, from its `Content-Disposition: form-data; name="…"` header.
fn part_name(head: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (header, value) = line.split_once(':')?;
        if !header.trim().eq_ignore_ascii_case("content-disposition") {
            return None;
        }
        value.split(';').skip(1).find_map(|param| {
            let (key, value) = param.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("name")
                .then(|| value.trim().trim_matches('"').to_string())
        })
    })
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
            serde_json::json!({"amount": 1, "auth": {"api_key": "ak_0…"}, "items": [{"password": "***"}]})
        );
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn form_fields_named_like_credentials_are_masked() {
        let masker = Masker::none();
        let form = "user=ann&password=hunter2&client_secret=cs_0123456789abcdef&client%5Fsecret=x&grant_type=client_credentials";
        let shown = masker.body(form.as_bytes(), Some("application/x-www-form-urlencoded"));
        assert_eq!(
            std::str::from_utf8(&shown).unwrap(),
            "user=ann&password=***&client_secret=***&client%5Fsecret=***&grant_type=client_credentials"
        );
        // Undeclared, but shaped like a form.
        let shown = masker.body(b"password=hunter2", None);
        assert_eq!(&*shown, "password=***".as_bytes());
        // Short values are never shown whole.
        let shown = masker.body(
            b"password=0&token=true&client_secret=ss",
            Some("application/x-www-form-urlencoded; charset=utf-8"),
        );
        assert_eq!(
            &*shown,
            "password=***&token=t…&client_secret=***".as_bytes()
        );
        // Text that merely contains `=` is left alone.
        assert_eq!(&*masker.body(b"a = b", Some("text/plain")), b"a = b");
    }

    #[test]
    fn multipart_parts_named_like_credentials_are_masked() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nann\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nhunter2hunter2\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"api_key\"\r\nContent-Type: text/plain\r\n\r\nss\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n\
                    --XyZ--\r\n";
        let shown = Masker::none().body(
            body.as_bytes(),
            Some("multipart/form-data; boundary=\"XyZ\""),
        );
        let shown = std::str::from_utf8(&shown).unwrap();
        assert_eq!(
            shown,
            body.replace("hunter2hunter2", "***")
                .replace("\r\n\r\nss\r\n", "\r\n\r\n…\r\n")
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        // Without the credential parts nothing changes.
        let plain = "--b\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nann\r\n--b--\r\n";
        assert!(matches!(
            Masker::none().body(plain.as_bytes(), Some("multipart/form-data; boundary=b")),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn the_requests_own_credentials_are_masked_wherever_they_turn_up() {
        let masker = Masker::for_request(
            &headers(&[
                ("authorization", "Bearer sk_test_0123456789abcdef"),
                ("x-api-key", "ak_9876543210"),
                ("cookie", "theme=dark; session=sess_abcdefgh1234"),
                ("content-type", "text/plain"),
            ]),
            Some("a=1&token=tq_55555555"),
        );
        let echoed = "got sk_test_0123456789abcdef and ak_9876543210, cookie sess_abcdefgh1234, q tq_55555555; theme dark";
        assert_eq!(
            masker.text(echoed),
            "got sk_tes… and ak_…, cookie sess…, q tq…; theme dark"
        );
        // Inside another word too, for a long secret.
        assert_eq!(masker.text("xsk_test_0123456789abcdefx"), "xsk_tes…x");
        assert_eq!(
            masker.header_value("x-echo", "Bearer sk_test_0123456789abcdef"),
            "Bearer sk_tes…"
        );
        assert_eq!(
            masker.path_and_query(
                "/webhook/ak_9876543210",
                Some("token=tq_55555555&b=ak_9876543210")
            ),
            "/webhook/ak_…?token=tq…&b=ak_…"
        );
        let mut body =
            serde_json::json!({"echo": "Bearer sk_test_0123456789abcdef", "ak_9876543210": 1});
        masker.json(&mut body);
        assert_eq!(
            body,
            serde_json::json!({"echo": "Bearer sk_tes…", "ak_…": 1})
        );
    }

    #[test]
    fn short_credentials_are_masked_where_they_stand_alone() {
        for secret in ["ss", "0", "true"] {
            let masker = Masker::for_request(
                &headers(&[
                    ("x-api-key", secret),
                    ("authorization", &format!("Bearer {secret}")),
                ]),
                None,
            );
            let shown = mask(secret);
            assert_eq!(
                masker.text(&format!("key={secret}&n=1000&class=x&words: {secret}.")),
                format!("key={shown}&n=1000&class=x&words: {shown}.")
            );
            assert_eq!(masker.header_value("x-echo", secret), shown);
            let mut body = serde_json::json!({"echo": secret, "n": 1000, "word": "classes"});
            masker.json(&mut body);
            assert_eq!(
                body,
                serde_json::json!({"echo": shown, "n": 1000, "word": "classes"})
            );
        }
        // As JSON values: a number or a boolean equal to the key.
        let masker = Masker::for_request(&headers(&[("x-api-key", "0")]), None);
        let mut body = serde_json::json!({"count": 0, "amount": 10, "ok": true});
        masker.json(&mut body);
        assert_eq!(
            body,
            serde_json::json!({"count": "…", "amount": 10, "ok": true})
        );
        let masker = Masker::for_request(&headers(&[("x-api-key", "true")]), None);
        let mut body = serde_json::json!({"ok": true, "flag": "untrue"});
        masker.json(&mut body);
        assert_eq!(body, serde_json::json!({"ok": "t…", "flag": "untrue"}));
    }

    #[test]
    fn a_request_without_credentials_masks_nothing_extra() {
        let masker = Masker::for_request(&headers(&[("content-type", "text/plain")]), Some("a=1"));
        assert!(matches!(masker.text("anything at all"), Cow::Borrowed(_)));
        assert!(matches!(masker.body(b"\xff\x00", None), Cow::Borrowed(_)));
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
