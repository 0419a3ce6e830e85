//! A `secret-store` node: where webhook credentials are read from (and, with `migrate`,
//! written to), and how a webhook's credential is named there.

use super::{Part, Reference, Span, Spanned, Template};
use crate::registry::{Direction, Field};
use std::path::{Path, PathBuf};

/// How a webhook's credential is named in a store when the node names no `name`.
pub const DEFAULT_NAME_PATTERN: &str = "WEBHOOK_{direction}_{code}_{field}";

/// The folder credentials live in when the node names no `path`.
pub const DEFAULT_STORE_PATH: &str = "/webhooks";

/// The store a step names as `local` when nobody declared it: a JSON file in the state folder.
pub const LOCAL_STORE: &str = "local";

/// The store a step names as `infisical` when nobody declared it: Infisical, from the
/// `INFISICAL_*` environment variables (the spec's tool's).
pub const INFISICAL_STORE: &str = "infisical";

/// The embedded default's file, in the state folder.
pub const LOCAL_STORE_FILE: &str = "secrets.json";

#[derive(Debug, Clone)]
pub struct StoreDecl {
    pub name: String,
    pub span: Span,
    /// The folder credentials live in (`/webhooks`).
    pub path: String,
    /// `WEBHOOK_{direction}_{code}_{field}`: the name of one credential.
    pub name_pattern: Spanned<String>,
    pub kind: StoreKind,
}

#[derive(Debug, Clone)]
pub enum StoreKind {
    /// A JSON file, 0600; `None`: `STATE_DIR/secrets.json`. Relative to the plan's folder.
    File {
        file: Option<Spanned<PathBuf>>,
    },
    Infisical(Box<InfisicalStoreDecl>),
}

#[derive(Debug, Clone)]
pub struct InfisicalStoreDecl {
    pub api_url: Template,
    pub project: Template,
    pub environment: Template,
    pub client_id: Template,
    pub client_secret: Template,
    /// `auto`, `v4` or `v3`.
    pub api_version: Spanned<String>,
    /// PEM roots to trust besides the system's, relative to the plan's folder.
    pub ca_bundle: Option<Spanned<PathBuf>>,
    /// A retry policy's name; `None`: the store's own (the spec's schedule plus 429).
    pub retry: Option<Spanned<String>>,
    /// The policy `retry` names, found when the plan is checked (the plan's or the project
    /// config's); `None`: the store's own.
    pub retry_policy: Option<super::RetryPolicy>,
}

impl StoreKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            StoreKind::File { .. } => "file",
            StoreKind::Infisical(_) => "infisical",
        }
    }
}

/// The kinds a `secret-store` may be.
pub const STORE_KINDS: &[&str] = &["file", "infisical"];

/// The Infisical API versions a store may pin.
pub const API_VERSIONS: &[&str] = &["auto", "v4", "v3"];

impl StoreDecl {
    /// The store a step names but nobody declared, if the name is one of the implicit ones.
    pub fn implicit(name: &str) -> Option<Self> {
        let kind = match name {
            LOCAL_STORE => StoreKind::File { file: None },
            INFISICAL_STORE => StoreKind::Infisical(Box::new(InfisicalStoreDecl {
                api_url: env_template("INFISICAL_API_URL", Some("https://app.infisical.com")),
                project: env_template("INFISICAL_PROJECT_ID", None),
                environment: env_template("INFISICAL_ENVIRONMENT", Some("prod")),
                client_id: env_template("INFISICAL_CLIENT_ID", None),
                client_secret: reference_template(Reference::Secret {
                    name: "INFISICAL_CLIENT_SECRET".to_string(),
                    default: None,
                }),
                api_version: Spanned::new("auto".to_string(), Span::default()),
                ca_bundle: None,
                retry: None,
                retry_policy: None,
            })),
            _ => return None,
        };
        Some(Self {
            name: name.to_string(),
            span: Span::default(),
            path: DEFAULT_STORE_PATH.to_string(),
            name_pattern: Spanned::new(DEFAULT_NAME_PATTERN.to_string(), Span::default()),
            kind,
        })
    }

    /// The file of a `file` store: its own (relative to the plan's folder), else the
    /// embedded default in the state folder.
    pub fn file_path(&self, base_dir: &Path, state_dir: &Path) -> Option<PathBuf> {
        match &self.kind {
            StoreKind::File { file: Some(file) } => Some(base_dir.join(&file.value)),
            StoreKind::File { file: None } => Some(state_dir.join(LOCAL_STORE_FILE)),
            StoreKind::Infisical(_) => None,
        }
    }

    /// Reads its relative files from `dir` (a project config's folder) from now on.
    pub fn rebase(&mut self, dir: &Path) {
        let files = match &mut self.kind {
            StoreKind::File { file } => file.as_mut(),
            StoreKind::Infisical(i) => i.ca_bundle.as_mut(),
        };
        if let Some(file) = files {
            file.value = dir.join(&file.value);
        }
    }

    /// Every template the node holds.
    pub fn templates(&self) -> Vec<&Template> {
        match &self.kind {
            StoreKind::File { .. } => Vec::new(),
            StoreKind::Infisical(i) => vec![
                &i.api_url,
                &i.project,
                &i.environment,
                &i.client_id,
                &i.client_secret,
            ],
        }
    }

    /// The name of one credential of a webhook in this store.
    pub fn secret_name(&self, direction: Direction, code: &str, field: Field) -> String {
        secret_name(&self.name_pattern.value, direction, code, field)
    }
}

/// A credential's name in the store: the pattern with `{direction}`, `{code}` and `{field}`
/// (`USER`, `KEY`, `PASSWORD`, `SIGNING_SECRET`) filled in.
pub fn secret_name(pattern: &str, direction: Direction, code: &str, field: Field) -> String {
    pattern
        .replace("{direction}", direction.as_str())
        .replace("{code}", code)
        .replace("{field}", &field_name(field))
}

/// A credential field as store names spell it: `SIGNING_SECRET`.
pub fn field_name(field: Field) -> String {
    field.name().replace('-', "_").to_ascii_uppercase()
}

/// The placeholders a name pattern may hold; it must hold `{code}` and `{field}`.
pub const PATTERN_PLACEHOLDERS: &[&str] = &["{direction}", "{code}", "{field}"];

/// Why a name pattern cannot name every credential apart, if it cannot.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    for needed in ["{code}", "{field}"] {
        if !pattern.contains(needed) {
            return Err(format!(
                "the name pattern \"{pattern}\" has no {needed}, so two credentials would share a name"
            ));
        }
    }
    let mut rest = pattern.to_string();
    for known in PATTERN_PLACEHOLDERS {
        rest = rest.replace(known, "");
    }
    if let Some(start) = rest.find('{') {
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        return Err(format!(
            "`{}` is not a placeholder of a name pattern (there are {{direction}}, {{code}} and {{field}})",
            &rest[start..end]
        ));
    }
    Ok(())
}

fn env_template(name: &str, default: Option<&str>) -> Template {
    reference_template(Reference::Env {
        name: name.to_string(),
        default: default.map(str::to_string),
    })
}

fn reference_template(reference: Reference) -> Template {
    Template {
        parts: vec![Part::Ref {
            reference,
            span: Span::default(),
        }],
        span: Span::default(),
    }
}

/// Where a credential lives, as hookplan's tables record it: `db`, or `STORE:PATH/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialLocation {
    Registry,
    Store {
        store: String,
        path: String,
        name: String,
    },
}

impl CredentialLocation {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "db" {
            return Ok(Self::Registry);
        }
        let bad =
            || format!("\"{text}\" is not a credential location (`db` or `STORE:/PATH/NAME`)");
        let (store, rest) = text.split_once(':').ok_or_else(bad)?;
        let (path, name) = rest.rsplit_once('/').ok_or_else(bad)?;
        if store.is_empty() || name.is_empty() {
            return Err(bad());
        }
        Ok(Self::Store {
            store: store.to_string(),
            path: crate::store::normalize_path(path),
            name: name.to_string(),
        })
    }

    pub fn store(store: &str, path: &str, name: &str) -> String {
        let path = crate::store::normalize_path(path);
        if path == "/" {
            format!("{store}:/{name}")
        } else {
            format!("{store}:{path}/{name}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_is_named_by_the_pattern() {
        let name = secret_name(
            DEFAULT_NAME_PATTERN,
            Direction::Out,
            "STRIPE_PAYMENT",
            Field::SigningSecret,
        );
        assert_eq!(name, "WEBHOOK_OUT_STRIPE_PAYMENT_SIGNING_SECRET");
        assert_eq!(
            secret_name("{code}__{field}", Direction::In, "GH", Field::Key),
            "GH__KEY"
        );
    }

    #[test]
    fn a_pattern_must_name_credentials_apart() {
        assert!(check_pattern(DEFAULT_NAME_PATTERN).is_ok());
        assert!(
            check_pattern("WEBHOOK_{code}")
                .unwrap_err()
                .contains("{field}")
        );
        assert!(check_pattern("{field}").unwrap_err().contains("{code}"));
        assert!(
            check_pattern("{code}_{field}_{env}")
                .unwrap_err()
                .contains("`{env}`")
        );
    }

    #[test]
    fn locations_read_back_as_written() {
        let text = CredentialLocation::store("infisical", "/webhooks/", "WEBHOOK_OUT_A_KEY");
        assert_eq!(text, "infisical:/webhooks/WEBHOOK_OUT_A_KEY");
        assert_eq!(
            CredentialLocation::parse(&text).unwrap(),
            CredentialLocation::Store {
                store: "infisical".into(),
                path: "/webhooks".into(),
                name: "WEBHOOK_OUT_A_KEY".into()
            }
        );
        assert_eq!(
            CredentialLocation::parse(&CredentialLocation::store("local", "/", "K")).unwrap(),
            CredentialLocation::Store {
                store: "local".into(),
                path: "/".into(),
                name: "K".into()
            }
        );
        assert_eq!(
            CredentialLocation::parse("db").unwrap(),
            CredentialLocation::Registry
        );
        assert!(CredentialLocation::parse("vault").is_err());
        assert!(CredentialLocation::parse(":/x/K").is_err());
    }
}
