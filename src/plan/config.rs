//! The project config, `hookplan.kdl`: defaults every plan of the project shares.
//!
//! It lives in the working directory (or wherever `--config FILE` says) — never beside the plans,
//! so that `check plans/*.kdl` never mistakes it for a plan. It holds named retry policies, and
//! the spec's `webhooks.retry` settings, which set the policy named `default`:
//!
//! ```kdl
//! webhooks {
//!     retry {
//!         max_retries 5             // or max-retries
//!         base_delay_seconds 3.0    // or base-delay "3s"
//!     }
//! }
//! retry "patient" { max-retries 8; base-delay "5s" }
//! database "registry" url="${env.DATABASE_URL:-sqlite://registry.db}" { table "def_webhook"; … }
//! ```
//!
//! A `database` here is the registry `hookplan call` and `hookplan webhooks` use, and one
//! that any plan may name; a plan's own `database` of the same name wins.

use super::decode::{alerting, database, mqtt, retry, secret_store};
use super::diagnostic::{Diagnostic, Diagnostics, PlanErrors};
use super::reader::{self, NodeReader, once, unknown_node};
use super::{LoadError, syntax};
use crate::model::{DatabaseDecl, RetryPolicy};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file looked for in the working directory.
pub const CONFIG_FILE: &str = "hookplan.kdl";

/// The name of the policy `webhooks.retry` sets, and that `call` steps use.
pub const DEFAULT_POLICY: &str = "default";

#[derive(Debug, Clone)]
pub struct ProjectConfig {
    /// Where it was read from (`None`: built-in defaults only).
    pub path: Option<PathBuf>,
    /// Named policies every plan may use; a plan's own policy of the same name wins. Always
    /// holds `default` (the spec's: 3 retries, 2 s doubling, unless configured).
    pub retry_policies: Vec<RetryPolicy>,
    /// Registries, in the order written; their `seed-sql` paths are absolute.
    pub databases: Vec<DatabaseDecl>,
    /// `logging { file "PATH" }`: every run and call appends its JSON log lines there
    /// (relative to the config's folder).
    pub log_file: Option<PathBuf>,
    /// `alerting { … }`: every plan of the project evaluates it unless it has its own.
    pub alerting: Option<crate::model::AlertingDecl>,
    /// `mqtt "NAME" url="…" { … }`: the brokers every plan without its own publishes to.
    pub mqtt: Vec<crate::model::MqttDecl>,
    /// `secret-store "NAME" kind="…" { … }`: the stores every plan and direct command may
    /// name; files are read relative to the config's folder.
    pub stores: Vec<crate::model::StoreDecl>,
}

impl Default for ProjectConfig {
    fn default() -> Self {
        Self {
            path: None,
            retry_policies: vec![RetryPolicy {
                name: Some(DEFAULT_POLICY.into()),
                ..RetryPolicy::default()
            }],
            databases: Vec::new(),
            log_file: None,
            alerting: None,
            mqtt: Vec::new(),
            stores: Vec::new(),
        }
    }
}

impl ProjectConfig {
    pub fn database(&self, name: &str) -> Option<&DatabaseDecl> {
        self.databases.iter().find(|d| d.name == name)
    }

    pub fn store(&self, name: &str) -> Option<&crate::model::StoreDecl> {
        self.stores.iter().find(|s| s.name == name)
    }

    pub fn policy(&self, name: &str) -> Option<&RetryPolicy> {
        self.retry_policies
            .iter()
            .find(|p| p.name.as_deref() == Some(name))
    }

    /// `--config FILE` if given (it must exist), else `hookplan.kdl` in `dir` if there is one,
    /// else the built-in defaults.
    pub fn find(explicit: Option<&Path>, dir: &Path) -> Result<Self, LoadError> {
        match explicit {
            Some(path) => Self::read(path),
            None => {
                let path = dir.join(CONFIG_FILE);
                if path.is_file() {
                    Self::read(&path)
                } else {
                    Ok(Self::default())
                }
            }
        }
    }

    pub fn read(path: &Path) -> Result<Self, LoadError> {
        let file = super::read(path)?;
        let mut diags = Diagnostics::default();
        let nodes = match syntax::parse(&file.text) {
            Ok((_, nodes)) => nodes,
            Err(errors) => return Err(PlanErrors::single(file, errors).into()),
        };
        let mut config = Self {
            path: Some(path.to_path_buf()),
            ..Self::default()
        };
        let mut seen = Vec::new();
        for node in &nodes {
            match node.name.as_str() {
                "retry" => {
                    if let Some(policy) = retry::decode(node, true, &mut diags) {
                        config.set(policy);
                    }
                }
                "webhooks" => {
                    if once(&mut seen, node, &mut diags) {
                        webhooks(node, &mut config, &mut diags);
                    }
                }
                "database" => {
                    if let Some(mut db) = database::decode(node, &mut diags) {
                        if let Some(first) = config.database(&db.name) {
                            diags.push(
                                Diagnostic::error(
                                    "hookplan::duplicate-name",
                                    format!("database \"{}\" is declared twice", db.name),
                                    db.span,
                                    "second declaration",
                                )
                                .with_related(first.span, "first declaration"),
                            );
                            continue;
                        }
                        // Seed files are read from the config's folder, whichever plan runs.
                        let dir = path.parent().unwrap_or(Path::new("."));
                        if let Some(seed) = &mut db.seed_sql {
                            seed.value = dir.join(&seed.value);
                            if !seed.value.is_file() {
                                diags.push(
                                    Diagnostic::error(
                                        "hookplan::missing-file",
                                        format!("file \"{}\" not found", seed.value.display()),
                                        seed.span,
                                        "no such file",
                                    )
                                    .with_help(
                                        "paths in the project config are relative to its folder",
                                    ),
                                );
                            }
                        }
                        config.databases.push(db);
                    }
                }
                "alerting" => {
                    if once(&mut seen, node, &mut diags)
                        && let Some(alerting) = alerting::decode(node, true, &mut diags)
                    {
                        config.alerting = Some(alerting);
                    }
                }
                "mqtt" => {
                    if let Some(decl) = mqtt::decode(node, &mut diags) {
                        // The config has no variables: a broker's URL and password read env
                        // and secrets only.
                        for template in mqtt::templates(&decl) {
                            super::validate::check_static_template(
                                template,
                                "an mqtt connection",
                                &[],
                                &mut diags,
                            );
                        }
                        config.mqtt.push(decl);
                    }
                }
                "secret-store" => {
                    if let Some(mut store) = secret_store::decode(node, &mut diags) {
                        if let Some(first) = config.store(&store.name) {
                            diags.push(
                                Diagnostic::error(
                                    "hookplan::duplicate-name",
                                    format!("secret-store \"{}\" is declared twice", store.name),
                                    store.span,
                                    "second declaration",
                                )
                                .with_related(first.span, "first declaration"),
                            );
                            continue;
                        }
                        for template in store.templates() {
                            super::validate::check_static_template(
                                template,
                                "a secret store",
                                &[],
                                &mut diags,
                            );
                        }
                        // Its files are the config's, whichever plan runs.
                        let dir = path.parent().unwrap_or(Path::new("."));
                        store.rebase(dir);
                        config.stores.push(store);
                    }
                }
                "logging" => {
                    if once(&mut seen, node, &mut diags) {
                        let dir = path.parent().unwrap_or(Path::new("."));
                        config.log_file = logging(node, &mut diags).map(|file| dir.join(file));
                    }
                }
                _ => unknown_node(
                    node,
                    "the project config",
                    &[
                        "retry",
                        "webhooks",
                        "database",
                        "secret-store",
                        "logging",
                        "mqtt",
                        "alerting",
                    ],
                    &mut diags,
                ),
            }
        }
        mqtt::check_unique(&config.mqtt, &mut diags);
        if let Some(alerting) = &config.alerting {
            // The config has no variables: a channel reads env and secrets only. Checked once
            // every node is read, so an mqtt channel may name a connection written after it.
            let connections: Vec<&str> = config.mqtt.iter().map(|m| m.name.as_str()).collect();
            super::validate::check_alerting(alerting, &[], &connections, &mut diags);
        }
        if diags.has_errors() {
            return Err(PlanErrors::single(file, diags.into_vec()).into());
        }
        Ok(config)
    }

    fn set(&mut self, policy: RetryPolicy) {
        self.retry_policies.retain(|p| p.name != policy.name);
        self.retry_policies.push(policy);
    }
}

/// `logging { file "logs/hookplan.jsonl" }`: where JSON log lines go.
fn logging(node: &super::raw::RawNode, diags: &mut Diagnostics) -> Option<PathBuf> {
    NodeReader::new(node, diags).finish();
    let mut file = None;
    let mut seen = Vec::new();
    for child in node.children() {
        if child.name != "file" {
            unknown_node(child, "`logging`", &["file"], diags);
            continue;
        }
        if !once(&mut seen, child, diags) {
            continue;
        }
        let mut c = NodeReader::new(child, diags);
        let example = "file \"logs/hookplan.jsonl\"";
        file = c
            .value(example)
            .and_then(|v| reader::string(v, "`file`", example, c.diags))
            .map(|s| PathBuf::from(s.value));
        c.finish();
    }
    file
}

/// `webhooks { retry { max_retries 5; base_delay_seconds 3.0 } }`: the spec's config.yaml keys.
fn webhooks(node: &super::raw::RawNode, config: &mut ProjectConfig, diags: &mut Diagnostics) {
    NodeReader::new(node, diags).finish();
    for child in node.children() {
        if child.name != "retry" {
            unknown_node(child, "`webhooks`", &["retry"], diags);
            continue;
        }
        NodeReader::new(child, diags).finish();
        let mut policy = config.policy(DEFAULT_POLICY).cloned().unwrap_or_default();
        policy.name = Some(DEFAULT_POLICY.into());
        policy.span = child.name_span;
        let mut seen = Vec::new();
        for setting in child.children() {
            let known = [
                "max_retries",
                "max-retries",
                "base_delay_seconds",
                "base-delay-seconds",
                "base-delay",
            ];
            if !known.contains(&setting.name.as_str()) {
                unknown_node(setting, "`webhooks.retry`", &known, diags);
                continue;
            }
            if !once(&mut seen, setting, diags) {
                continue;
            }
            let mut c = NodeReader::new(setting, diags);
            match setting.name.as_str() {
                "max_retries" | "max-retries" => {
                    if let Some(n) = c.value("max_retries 3").and_then(|v| {
                        reader::integer(v, "`max_retries`", 0, 100, "max_retries 3", c.diags)
                    }) {
                        policy.max_retries = n.value as u32;
                    }
                }
                "base_delay_seconds" | "base-delay-seconds" => {
                    if let Some(s) = c.value("base_delay_seconds 2.0").and_then(|v| {
                        reader::float(
                            v,
                            "`base_delay_seconds`",
                            0.0,
                            86_400.0,
                            "base_delay_seconds 2.0",
                            c.diags,
                        )
                    }) {
                        policy.base_delay = Duration::from_secs_f64(s.value);
                    }
                }
                _ => {
                    if let Some(d) = c
                        .value("base-delay \"2s\"")
                        .and_then(|v| reader::duration(v, "`base-delay`", "\"2s\"", c.diags))
                    {
                        policy.base_delay = d.value;
                    }
                }
            }
            c.finish();
        }
        if seen
            .iter()
            .any(|(n, _)| n.starts_with("base_delay") || n.starts_with("base-delay-"))
            && seen.iter().any(|(n, _)| n == "base-delay")
        {
            diags.push(
                Diagnostic::error(
                    "hookplan::duplicate-node",
                    "the base delay is given twice",
                    child.name_span,
                    "two base delays",
                )
                .with_help("keep either `base_delay_seconds` or `base-delay`"),
            );
        }
        config.set(policy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<ProjectConfig, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("seed.sql"), "SELECT 1;").unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, text).unwrap();
        ProjectConfig::read(&path).map_err(|e| match e {
            LoadError::Plan(errors) => errors
                .files
                .iter()
                .flat_map(|f| f.diagnostics.iter().map(|d| d.message.clone()))
                .collect(),
            LoadError::Source(e) => vec![e.to_string()],
        })
    }

    #[test]
    fn databases_and_the_log_file_are_read_relative_to_the_config() {
        let config = read(
            "database \"legacy\" url=\"sqlite://x.db\" { seed-sql \"seed.sql\"; }\ndatabase \"other\"\nlogging { file \"logs/h.jsonl\"; }\n",
        )
        .unwrap();
        let names: Vec<&str> = config.databases.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["legacy", "other"]);
        let seed = &config
            .database("legacy")
            .unwrap()
            .seed_sql
            .as_ref()
            .unwrap()
            .value;
        assert!(seed.is_absolute() && seed.ends_with("seed.sql"), "{seed:?}");
        let log = config.log_file.unwrap();
        assert!(
            log.is_absolute() && log.ends_with("logs/h.jsonl"),
            "{log:?}"
        );
    }

    #[test]
    fn a_duplicate_database_or_a_missing_seed_is_an_error() {
        let errors = read("database \"a\"\ndatabase \"a\"\n").unwrap_err();
        assert_eq!(errors, ["database \"a\" is declared twice"]);
        let errors = read("database \"a\" { seed-sql \"nope.sql\"; }\n").unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("nope.sql") && errors[0].contains("not found"),
            "{errors:?}"
        );
        let errors = read("logging { fil \"x\"; }\n").unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}
