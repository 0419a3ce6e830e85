//! Which secret store a direct command (`hookplan migrate`, `verify`, `status`, …) uses: the
//! project config's `secret-store` named by `--store`, else the config's only one, else
//! Infisical from the `INFISICAL_*` environment variables when `INFISICAL_CLIENT_ID` is set,
//! else the local file store in the state folder. The one-step plan it builds carries the
//! declaration; the run renders its settings like any plan's.

use super::CliError;
use crate::model::{INFISICAL_STORE, LOCAL_STORE, StoreDecl};
use crate::plan::ProjectConfig;

/// The variable whose presence picks the implicit Infisical store over the local file.
const INFISICAL_CLIENT_ID_ENV: &str = "INFISICAL_CLIENT_ID";

pub(super) fn choose(config: &ProjectConfig, name: Option<&str>) -> Result<StoreDecl, CliError> {
    if let Some(name) = name {
        if let Some(store) = config.store(name) {
            return Ok(store.clone());
        }
        return StoreDecl::implicit(name).ok_or_else(|| unknown(config, name));
    }
    match config.stores.as_slice() {
        [one] => Ok(one.clone()),
        [] => {
            let implicit = if std::env::var_os(INFISICAL_CLIENT_ID_ENV).is_some() {
                INFISICAL_STORE
            } else {
                LOCAL_STORE
            };
            Ok(StoreDecl::implicit(implicit).expect("an implicit store"))
        }
        several => {
            let names: Vec<&str> = several.iter().map(|s| s.name.as_str()).collect();
            Err(CliError::usage(format!(
                "the project config declares {} secret stores",
                several.len()
            ))
            .with_help(format!("pick one with --store ({})", names.join(", "))))
        }
    }
}

fn unknown(config: &ProjectConfig, name: &str) -> CliError {
    let mut names: Vec<&str> = config.stores.iter().map(|s| s.name.as_str()).collect();
    names.extend([LOCAL_STORE, INFISICAL_STORE]);
    let message = format!("there is no secret store \"{name}\"");
    match crate::model::suggest::did_you_mean(name, names.iter().copied()) {
        Some(near) => CliError::usage(message).with_help(format!("did you mean \"{near}\"?")),
        None => CliError::usage(message).with_help(format!("use one of: {}", names.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_only_store_of_the_config_else_a_named_one_else_an_implicit_one() {
        let mut config = ProjectConfig::default();
        assert_eq!(choose(&config, Some("local")).unwrap().name, "local");
        assert!(choose(&config, Some("vualt")).is_err());
        let mut vault = StoreDecl::implicit("local").unwrap();
        vault.name = "vault".into();
        config.stores.push(vault.clone());
        assert_eq!(choose(&config, None).unwrap().name, "vault");
        vault.name = "other".into();
        config.stores.push(vault);
        assert!(choose(&config, None).is_err(), "two: --store must pick");
        assert_eq!(choose(&config, Some("other")).unwrap().name, "other");
    }
}
