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

/// The password written in a URL's user info, if any.
pub fn password(url: &str) -> Option<&str> {
    let (start, end) = userinfo(url)?;
    let info = &url[start..end];
    info.split_once(':').map(|(_, p)| p)
}

/// The URL with its password, if any, shown as `***`.
pub fn mask(url: &str) -> String {
    match userinfo(url) {
        Some((start, end)) => match url[start..end].find(':') {
            Some(colon) => format!("{}***{}", &url[..start + colon + 1], &url[end..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
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
