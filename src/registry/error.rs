//! What can go wrong with a registry, in one line each: every message names the `database`
//! node and shows its URL with the password masked. No driver's dump reaches the user.

/// A registry error. `db` is the `database` node's name, `url` the masked URL.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("database \"{db}\": {url} is not a database URL: {reason}")]
    BadUrl {
        db: String,
        url: String,
        reason: String,
    },
    #[error("database \"{db}\": cannot reach {url}: {reason}")]
    Unreachable {
        db: String,
        url: String,
        reason: String,
    },
    #[error("database \"{db}\": {url} refused the login: wrong user or password")]
    Login { db: String, url: String },
    #[error("database \"{db}\": table \"{table}\" does not exist in {url}")]
    MissingTable {
        db: String,
        url: String,
        table: String,
    },
    #[error(
        "database \"{db}\": table \"{table}\" has no column \"{column}\" (mapped to `{field}`); its columns: {columns}"
    )]
    MissingColumn {
        db: String,
        table: String,
        column: String,
        field: String,
        columns: String,
    },
    #[error("database \"{db}\": table \"{table}\" needs a `code` column in `columns`")]
    NoCodeColumn { db: String, table: String },
    #[error("database \"{db}\": `{field}` is not mapped in `columns`, so it cannot be written")]
    Unmapped { db: String, field: String },
    #[error(
        "database \"{db}\": webhook \"{code}\" has {field} \"{value}\", expected one of: {expected}"
    )]
    BadValue {
        db: String,
        code: String,
        field: String,
        value: String,
        expected: String,
    },
    #[error("database \"{db}\": no webhook \"{code}\"")]
    NotFound { db: String, code: String },
    #[error("database \"{db}\": webhook \"{code}\" already exists")]
    Duplicate { db: String, code: String },
    #[error("database \"{db}\": seed file {path}: {reason}")]
    Seed {
        db: String,
        path: String,
        reason: String,
    },
    #[error("database \"{db}\": {what} failed: {reason}")]
    Query {
        db: String,
        what: String,
        reason: String,
    },
}

impl RegistryError {
    /// What to do about it, when there is something to say.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            RegistryError::BadUrl { .. } => {
                "write the URL as sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB".into()
            }
            RegistryError::Unreachable { .. } => {
                "check that the server runs and that host and port are right".into()
            }
            RegistryError::Login { .. } => {
                "check the user and the password in the URL (or in DATABASE_URL)".into()
            }
            RegistryError::MissingTable { .. } => {
                "check `table` in the `database` node, or load the table first".into()
            }
            RegistryError::MissingColumn { .. } => {
                "fix the column's name in `columns`; names match case-insensitively".into()
            }
            RegistryError::NoCodeColumn { .. } => {
                "add `columns code=\"Webhookcode\" …` to the `database` node".into()
            }
            RegistryError::Unmapped { field, .. } => {
                format!("map a column to `{field}` in `columns`, or leave `{field}` out")
            }
            RegistryError::NotFound { .. } => "`hookplan webhooks list` shows the codes".into(),
            RegistryError::Duplicate { code, .. } => format!(
                "pick another code, or point the existing one elsewhere with `hookplan webhooks set-url {code} URL`"
            ),
            _ => return None,
        })
    }
}

/// A driver error's own short text: the server's message for a database error, else the
/// error's display, on one line, with `secret` (the URL's password) masked.
pub(crate) fn reason(error: &sqlx::Error, secret: Option<&str>) -> String {
    let text = match error {
        sqlx::Error::Database(e) => e.message().to_string(),
        sqlx::Error::Io(e) => e.to_string(),
        sqlx::Error::PoolTimedOut => "timed out".to_string(),
        other => other.to_string(),
    };
    let line = text.lines().next().unwrap_or("").trim().to_string();
    // Masked like every secret of a run: a short password (`1`) only where it stands alone, so
    // "os error 111" stays readable; the percent-decoded form too (`p%40ss` is sent as `p@ss`).
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return line;
    };
    let mut forms = vec![secret.to_string()];
    if let Ok(decoded) = percent_encoding::percent_decode_str(secret).decode_utf8() {
        forms.push(decoded.into_owned());
    }
    crate::observe::Redactor::new(forms)
        .redact(&line)
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_password_is_masked_only_where_it_stands_alone() {
        let error = sqlx::Error::Protocol("password 1 refused (os error 111)".into());
        assert_eq!(
            reason(&error, Some("1")),
            "encountered unexpected or invalid data: password *** refused (os error 111)"
        );
        let error = sqlx::Error::Protocol("login p@ss failed".into());
        assert_eq!(
            reason(&error, Some("p%40ss")),
            "encountered unexpected or invalid data: login *** failed"
        );
    }
}
