//! Which registry a direct command (`hookplan call`, `hookplan webhooks`) uses: the project
//! config's `database` named by `--database`, else the config's first one, else the implicit
//! registry (`DATABASE_URL` when set, else the embedded SQLite file in the state folder).

use super::CliError;
use crate::exec::values::{ProcessEnvironment, render_env};
use crate::model::{DEFAULT_DATABASE, DatabaseDecl};
use crate::plan::ProjectConfig;
use crate::registry::{Registry, RegistryConfig};
use std::path::Path;

/// The registry's declaration (as a one-step plan carries it) and its resolved configuration.
pub(super) struct Chosen {
    pub decl: DatabaseDecl,
    pub config: RegistryConfig,
    /// Secret values its URL read: masked in whatever the command shows.
    pub secrets: Vec<String>,
}

pub(super) fn choose(
    config: &ProjectConfig,
    name: Option<&str>,
    state_dir: &Path,
) -> Result<Chosen, CliError> {
    let decl = match name {
        Some(name) => match config.database(name) {
            Some(db) => db.clone(),
            None if name == DEFAULT_DATABASE => DatabaseDecl::implicit(),
            None => return Err(unknown(config, name)),
        },
        None => config
            .databases
            .first()
            .cloned()
            .unwrap_or_else(DatabaseDecl::implicit),
    };
    let (url, secrets) = match &decl.url {
        Some(template) => {
            let (url, secrets) = render_env(template, &ProcessEnvironment).map_err(|missing| {
                CliError::usage(format!(
                    "database \"{}\": its URL reads {}, which is not set",
                    decl.name, missing.reference
                ))
                .with_help(format!("set {} or give it a default", missing.name))
            })?;
            (Some(url), secrets)
        }
        None => (None, Vec::new()),
    };
    let registry = decl.config(url.as_deref(), state_dir);
    Ok(Chosen {
        config: registry,
        decl,
        secrets,
    })
}

/// Opens the chosen registry; connecting creates nothing.
pub(super) async fn open(chosen: &Chosen) -> Result<Registry, CliError> {
    Registry::open(chosen.config.clone())
        .await
        .map_err(registry_error)
}

/// A registry error as the command line shows it: one line, with what to do when known.
pub(super) fn registry_error(error: crate::registry::RegistryError) -> CliError {
    let help = error.help();
    let e = CliError::failed(error.to_string());
    match help {
        Some(help) => e.with_help(help),
        None => e,
    }
}

fn unknown(config: &ProjectConfig, name: &str) -> CliError {
    let mut names: Vec<&str> = config.databases.iter().map(|d| d.name.as_str()).collect();
    names.push(DEFAULT_DATABASE);
    let hint = crate::model::suggest::did_you_mean(name, names.iter().copied());
    let message = match hint {
        Some(near) => {
            format!("no database \"{name}\" in the project config; did you mean \"{near}\"?")
        }
        None => format!("no database \"{name}\" in the project config"),
    };
    CliError::usage(message).with_help(format!(
        "declare it in hookplan.kdl: `database \"{name}\" url=\"postgres://…\"`; known: {}",
        names.join(", ")
    ))
}
