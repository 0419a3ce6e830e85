//! A webhook as the registry holds it, whatever table it is read from.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Get,
    Put,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic,
    Bearer,
    Header,
}

macro_rules! text_enum {
    ($ty:ty, $names:expr, $($variant:path => $text:literal),+) => {
        impl $ty {
            pub const NAMES: &'static [&'static str] = $names;

            /// Parses the stored text, ignoring case and surrounding blanks.
            pub fn parse(text: &str) -> Option<Self> {
                let t = text.trim();
                $(if t.eq_ignore_ascii_case($text) { return Some($variant); })+
                None
            }

            pub fn as_str(self) -> &'static str {
                match self { $($variant => $text),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(Direction, &["IN", "OUT"], Direction::In => "IN", Direction::Out => "OUT");
text_enum!(Method, &["POST", "GET", "PUT"], Method::Post => "POST", Method::Get => "GET", Method::Put => "PUT");
text_enum!(Auth, &["none", "basic", "bearer", "header"], Auth::None => "none", Auth::Basic => "basic", Auth::Bearer => "bearer", Auth::Header => "header");

/// One webhook. Fields a legacy table does not map are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub code: String,
    pub direction: Option<Direction>,
    pub url: Option<String>,
    pub method: Option<Method>,
    /// Stored, or derived from the credentials when the table has no auth column.
    pub auth: Auth,
    pub user: Option<String>,
    pub key: Option<String>,
    pub password: Option<String>,
    pub signing_secret: Option<String>,
    pub enabled: Option<bool>,
}

impl Webhook {
    /// A webhook with only a code and a URL: the rest absent, auth none.
    pub fn new(code: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            direction: None,
            url: Some(url.into()),
            method: None,
            auth: Auth::None,
            user: None,
            key: None,
            password: None,
            signing_secret: None,
            enabled: None,
        }
    }

    /// The method to call with: `POST` unless one is stored.
    pub fn method_or_default(&self) -> Method {
        self.method.unwrap_or(Method::Post)
    }

    /// Whether the webhook may be called: yes unless stored as disabled.
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

/// The auth of a table without an auth column: basic when a user and a password are set,
/// else bearer when a key is set, else none.
pub fn derive_auth(user: Option<&str>, key: Option<&str>, password: Option<&str>) -> Auth {
    let set = |v: Option<&str>| v.is_some_and(|s| !s.trim().is_empty());
    if set(user) && set(password) {
        Auth::Basic
    } else if set(key) {
        Auth::Bearer
    } else {
        Auth::None
    }
}

/// A stored flag read as text: `1`, `true`, `t`, `yes`, `y`, `on` (any case) are true;
/// `0`, `false`, `f`, `no`, `n`, `off` false.
pub fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Some(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_is_derived_from_the_credentials() {
        assert_eq!(derive_auth(Some("u"), Some("k"), Some("p")), Auth::Basic);
        assert_eq!(derive_auth(Some("u"), Some("k"), None), Auth::Bearer);
        assert_eq!(derive_auth(Some("u"), None, Some(" ")), Auth::None);
        assert_eq!(derive_auth(None, Some("k"), Some("p")), Auth::Bearer);
        assert_eq!(derive_auth(None, None, None), Auth::None);
    }

    #[test]
    fn stored_text_is_parsed_ignoring_case() {
        assert_eq!(Direction::parse(" out"), Some(Direction::Out));
        assert_eq!(Method::parse("put"), Some(Method::Put));
        assert_eq!(Auth::parse("Bearer"), Some(Auth::Bearer));
        assert_eq!(Method::parse("PATCH"), None);
        assert_eq!(parse_flag("t"), Some(true));
        assert_eq!(parse_flag("0"), Some(false));
        assert_eq!(parse_flag("maybe"), None);
    }
}
