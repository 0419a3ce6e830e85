//! Credentials in displays: which names hold one, and how a value is shown — the scheme and at
//! most 8 characters, then `…`. The sandbox's console and tables and the run's reports use the
//! same rule.

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

/// Names that hold one of the words but never a credential: where Infisical keeps a secret and
/// whether to answer with its value. (Not `secretKey`: elsewhere that is a key itself.)
const NOT_CREDENTIAL_NAMES: &[&str] = &["secretpath", "viewsecretvalue"];

/// Whether a header, query parameter or JSON field of this name holds a credential.
pub fn is_credential_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if NOT_CREDENTIAL_NAMES.contains(&name.as_str()) {
        return false;
    }
    CREDENTIAL_NAMES.contains(&name.as_str())
        || CREDENTIAL_WORDS.iter().any(|word| name.contains(word))
        // `x-auth`, `basic_auth`, but not `author`.
        || name.split(['-', '_']).any(|part| part == "auth")
}

/// An `Authorization`-style value split into its scheme, if it has one, and the credential:
/// `Bearer sk_…` → (`Bearer`, `sk_…`); `sk_…` → (none, `sk_…`).
pub fn split_scheme(value: &str) -> (Option<&str>, &str) {
    let value = value.trim();
    match value.split_once(' ') {
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
    }
}

/// Words that make a credential's name a password's or a shared secret's: a value that is
/// shown not at all, since even its first characters narrow a guess.
const UNSHOWN_WORDS: &[&str] = &["password", "passwd", "secret", "private"];
const UNSHOWN_NAMES: &[&str] = &["pass", "pwd"];

/// A credential named `name` as it may be shown: a password or secret as `***`; any other
/// (a token, a key, an `Authorization` value) by [`mask`]'s scheme and short prefix, which
/// tells one key from another.
pub fn mask_named(name: &str, value: &str) -> String {
    let name = name.to_ascii_lowercase();
    let unshown = UNSHOWN_NAMES.contains(&name.as_str())
        || UNSHOWN_WORDS.iter().any(|word| name.contains(word));
    if unshown {
        super::MASK.to_string()
    } else {
        mask(value)
    }
}

/// `Bearer sk_test_0123456789abcdef` → `Bearer sk_test_…`. Short values show less (a quarter
/// at most), so that a short secret is never shown whole.
pub fn mask(value: &str) -> String {
    let (scheme, secret) = split_scheme(value);
    // A Basic token is base64 of `user:password`: its first characters decode to the user and,
    // when the user is short, to the start of the password. Nothing of it is shown.
    if let Some(scheme) = scheme.filter(|s| s.eq_ignore_ascii_case("basic")) {
        return format!("{scheme} {}", super::MASK);
    }
    let length = secret.chars().count();
    let shown: String = secret.chars().take((length / 4).min(8)).collect();
    match scheme {
        Some(scheme) => format!("{scheme} {shown}…"),
        None => format!("{shown}…"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infisicals_folder_and_view_flag_are_not_credentials_but_its_keys_are() {
        assert!(!is_credential_name("secretPath"));
        assert!(!is_credential_name("viewSecretValue"));
        assert!(is_credential_name("secretValue"));
        assert!(
            is_credential_name("secretKey"),
            "an AWS-style secret key stays masked"
        );
        assert!(is_credential_name("clientSecret"));
    }

    #[test]
    fn passwords_and_secrets_are_not_shown_at_all() {
        assert_eq!(mask_named("password", "hunter2"), "***");
        assert_eq!(mask_named("client_secret", "cs_live_0123456789"), "***");
        assert_eq!(mask_named("X-Webhook-Secret", "whsec_abc"), "***");
        assert_eq!(mask_named("pwd", "x"), "***");
        assert_eq!(mask_named("api_key", "sk_live_0123456789abcdef"), "sk_liv…");
        assert_eq!(
            mask_named("authorization", "Bearer sk_test_0123456789abcdef"),
            "Bearer sk_tes…"
        );
    }

    #[test]
    fn authorization_shows_the_scheme_and_at_most_eight_characters() {
        assert_eq!(
            mask("Bearer sk_test_0123456789abcdefghijklmn"),
            "Bearer sk_test_…"
        );
        assert_eq!(mask("Basic dXNlcjpwYXNzd29yZA=="), "Basic ***");
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
}
