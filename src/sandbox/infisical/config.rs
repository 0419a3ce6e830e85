//! What an emulation serves: one project with one environment, one machine identity, the API
//! versions, approvals, token lifetimes, where its secrets are kept and what they start as.

use crate::model::{InfisicalApi, InfisicalDecl, Template};
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const DEFAULT_PROJECT: &str = "demo-project";
pub const DEFAULT_ENVIRONMENT: &str = "prod";
pub const DEFAULT_CLIENT_ID: &str = "demo-client";
pub const DEFAULT_CLIENT_SECRET: &str = "demo-secret";
/// Infisical's default access token TTL (and max TTL) for a universal-auth identity.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(7200);

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfisicalConfig {
    /// The project id (`projectId`, or `workspaceId` in v3 and folder calls).
    pub project: String,
    /// The environment slug; any other answers 404.
    pub environment: String,
    pub client_id: String,
    /// Never written out: a configuration that is saved or printed must not hold it.
    #[serde(default, skip_serializing)]
    pub client_secret: String,
    #[serde(default)]
    pub api: InfisicalApi,
    /// Writes answer `{"approval": …}` and change nothing.
    #[serde(default)]
    pub approval_required: bool,
    /// Keeps the secrets in `<state dir>/sandbox/<state>/` across restarts; `None`: in memory.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(rename = "token_ttl_s", with = "seconds")]
    pub token_ttl: Duration,
    #[serde(rename = "token_max_ttl_s", with = "seconds")]
    pub token_max_ttl: Duration,
    /// The share of the faults drawn for a write (a 5xx or a dropped connection) that strike
    /// after the write was applied: its answer is lost, the write is kept.
    #[serde(default)]
    pub faults_after_write: f64,
    /// Values to start with; never written out (they are secrets).
    #[serde(default, skip_serializing)]
    pub seeds: Vec<Seed>,
}

/// A secret the emulation starts with, unless its state already holds that name.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Seed {
    pub path: String,
    pub name: String,
    pub value: String,
}

impl Default for InfisicalConfig {
    fn default() -> Self {
        Self {
            project: DEFAULT_PROJECT.into(),
            environment: DEFAULT_ENVIRONMENT.into(),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            api: InfisicalApi::Both,
            approval_required: false,
            state: None,
            token_ttl: DEFAULT_TOKEN_TTL,
            token_max_ttl: DEFAULT_TOKEN_TTL,
            faults_after_write: 0.0,
            seeds: Vec::new(),
        }
    }
}

impl std::fmt::Debug for InfisicalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfisicalConfig")
            .field("project", &self.project)
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("client_secret", &"…")
            .field("api", &self.api)
            .field("approval_required", &self.approval_required)
            .field("state", &self.state)
            .field("token_ttl", &self.token_ttl)
            .field("token_max_ttl", &self.token_max_ttl)
            .field("faults_after_write", &self.faults_after_write)
            .field(
                "seeds",
                &self
                    .seeds
                    .iter()
                    .map(|s| (&s.path, &s.name))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl InfisicalConfig {
    /// The emulation a plan declares; `resolve` renders the client secret's template.
    pub fn from_decl(
        decl: &InfisicalDecl,
        resolve: &mut dyn FnMut(&Template) -> Result<String, String>,
    ) -> Result<Self, String> {
        let mut seeds = Vec::with_capacity(decl.secrets.len());
        for s in &decl.secrets {
            seeds.push(Seed {
                path: s.path.clone(),
                name: s.name.clone(),
                value: resolve(&s.value)?,
            });
        }
        let config = Self {
            project: decl.project.clone(),
            environment: decl.environment.clone(),
            client_id: decl.client_id.clone(),
            client_secret: resolve(&decl.client_secret)?,
            api: decl.api,
            approval_required: decl.approval_required,
            state: decl.state.clone(),
            token_ttl: decl.token_ttl,
            token_max_ttl: decl.token_max_ttl.unwrap_or(decl.token_ttl),
            faults_after_write: decl.faults_after_write,
            seeds,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        for (what, value) in [
            ("project", &self.project),
            ("environment", &self.environment),
            ("client id", &self.client_id),
        ] {
            if value.is_empty() || value.contains(char::is_whitespace) {
                return Err(format!(
                    "the Infisical {what} must be a non-empty word without spaces"
                ));
            }
        }
        if self.client_secret.is_empty() {
            return Err("the Infisical client secret is empty".into());
        }
        if let Some(state) = &self.state {
            super::super::config::validate_name(state)
                .map_err(|e| format!("the Infisical state: {e}"))?;
        }
        if self.token_ttl < Duration::from_secs(1) {
            return Err("the Infisical token TTL must be at least 1s".into());
        }
        if self.token_max_ttl < self.token_ttl {
            return Err("the Infisical token max TTL is shorter than its TTL".into());
        }
        if !(0.0..=1.0).contains(&self.faults_after_write) {
            return Err(format!(
                "faults-after-write must be between 0 and 1, not {}",
                self.faults_after_write
            ));
        }
        for seed in &self.seeds {
            if crate::model::folder_path(&seed.path).as_deref() != Some(seed.path.as_str()) {
                return Err(format!("\"{}\" is not a folder path", seed.path));
            }
            if seed.name.is_empty() || seed.name.contains(char::is_whitespace) {
                return Err(format!("\"{}\" is not a secret name", seed.name));
            }
        }
        Ok(())
    }

    /// Every value that must never show: the client secret and the seeded values.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.client_secret.as_str())
            .chain(self.seeds.iter().map(|s| s.value.as_str()))
    }
}

/// Durations as whole seconds in JSON, as Infisical counts them.
mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(duration.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_secret_and_seeded_values_are_never_serialized_or_debugged() {
        let config = InfisicalConfig {
            client_secret: "cs-canary".into(),
            seeds: vec![Seed {
                path: "/".into(),
                name: "KEY".into(),
                value: "value-canary".into(),
            }],
            ..InfisicalConfig::default()
        };
        let json = serde_json::to_string(&config).unwrap();
        let debug = format!("{config:?}");
        for text in [&json, &debug] {
            assert!(!text.contains("canary"), "{text}");
        }
        assert!(debug.contains("KEY"));
        let back: InfisicalConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.token_ttl, DEFAULT_TOKEN_TTL);
        assert!(back.client_secret.is_empty());
    }

    #[test]
    fn validation_names_the_problem() {
        let mut config = InfisicalConfig::default();
        config.validate().unwrap();
        config.token_max_ttl = Duration::from_secs(60);
        assert!(config.validate().unwrap_err().contains("max TTL"));
        config.token_max_ttl = DEFAULT_TOKEN_TTL;
        config.faults_after_write = 1.5;
        assert!(
            config
                .validate()
                .unwrap_err()
                .contains("faults-after-write")
        );
        config.faults_after_write = 0.5;
        config.environment = "pr od".into();
        assert!(config.validate().unwrap_err().contains("environment"));
    }
}
