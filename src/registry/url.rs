//! Database URLs: which backend, where a SQLite file lives, and the URL as it may be shown
//! (password masked).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend a URL names, or why it names none.
pub fn backend(url: &str) -> Result<Backend, String> {
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("sqlite") => Ok(Backend::Sqlite),
        Some("postgres" | "postgresql") => Ok(Backend::Postgres),
        Some(other) if !other.is_empty() && !other.contains('/') => Err(format!(
            "the scheme \"{other}\" is not supported (use sqlite:// or postgres://)"
        )),
        _ => Err("expected sqlite://PATH or postgres://USER@HOST/DB".to_string()),
    }
}

/// The password written in a URL: in its user info, else in a `password=` query parameter
/// (sqlx's PostgreSQL driver takes both).
pub fn password(url: &str) -> Option<&str> {
    if let Some((start, end)) = userinfo(url)
        && let Some((_, p)) = url[start..end].split_once(':')
    {
        return Some(p);
    }
    let (start, end) = query_password(url)?;
    Some(&url[start..end])
}

/// The URL with its password, if any, shown as `***`.
pub fn mask(url: &str) -> String {
    let mut shown = url.to_string();
    // The query comes after the user info: masked first, its byte range is still right.
    if let Some((start, end)) = query_password(url) {
        shown.replace_range(start..end, "***");
    }
    if let Some((start, end)) = userinfo(url)
        && let Some(colon) = url[start..end].find(':')
    {
        shown.replace_range(start + colon + 1..end, "***");
    }
    shown
}

/// The byte range of the value of a `password=` query parameter.
fn query_password(url: &str) -> Option<(usize, usize)> {
    let query_start = url.find('?')? + 1;
    let query_end = url[query_start..]
        .find('#')
        .map_or(url.len(), |i| query_start + i);
    let mut offset = query_start;
    for pair in url[query_start..query_end].split('&') {
        if let Some(value) = pair.strip_prefix("password=") {
            let start = offset + "password=".len();
            return (!value.is_empty()).then_some((start, start + value.len()));
        }
        offset += pair.len() + 1;
    }
    None
}

/// The byte range of `user:password` between `://` and the last `@` of the authority.
fn userinfo(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    Some((start, start + at))
}

/// The file a SQLite URL names (`None` for an in-memory database).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// The embedded default: `STATE_DIR/registry.db`.
pub fn embedded(state_dir: &Path) -> String {
    format!("sqlite://{}", state_dir.join("registry.db").display())
}

/// A SQLite URL that creates its file when missing.
pub fn creating(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_password_only() {
        assert_eq!(
            mask("postgres://app:s3cr@t@db:5432/hooks"),
            "postgres://app:***@db:5432/hooks"
        );
        assert_eq!(password("postgres://app:s3cr@t@db/h"), Some("s3cr@t"));
        assert_eq!(mask("postgres://app@db/hooks"), "postgres://app@db/hooks");
        assert_eq!(mask("sqlite://registry.db"), "sqlite://registry.db");
        assert_eq!(password("postgres://db/x?user=a@b"), None);
        assert_eq!(
            mask("postgres://app@db/hooks?sslmode=disable&password=s3cr&x=1"),
            "postgres://app@db/hooks?sslmode=disable&password=***&x=1"
        );
        assert_eq!(
            password("postgres://app@db/hooks?password=s3cr#f"),
            Some("s3cr")
        );
        assert_eq!(
            mask("postgres://app:a@db/h?password=b"),
            "postgres://app:***@db/h?password=***"
        );
        assert_eq!(password("postgres://db/x?mypassword=a"), None);
    }

    #[test]
    fn backends_and_paths() {
        assert_eq!(backend("sqlite://r.db"), Ok(Backend::Sqlite));
        assert_eq!(backend("postgresql://h/d"), Ok(Backend::Postgres));
        assert!(backend("mysql://h/d").unwrap_err().contains("\"mysql\""));
        assert!(backend("registry.db").is_err());
        assert_eq!(sqlite_path("sqlite://r.db?mode=ro"), Some("r.db".into()));
        assert_eq!(sqlite_path("sqlite:///abs/r.db"), Some("/abs/r.db".into()));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(creating("sqlite://r.db"), "sqlite://r.db?mode=rwc");
        assert_eq!(
            embedded(Path::new("/s")),
            "sqlite:///s/registry.db".to_string()
        );
    }
}
