//! The secret stores a run's steps read and write: each opened on first use (its settings
//! rendered from the run's values; the client secret becomes a secret of the run) and shared
//! by every step after that.

use super::sandboxes::Sandboxes;
use crate::exec::RunContext;
use crate::model::{Reference, StoreDecl, StoreKind};
use crate::store::file::FileStore;
use crate::store::infisical::{ApiVersion, InfisicalConfig, InfisicalStore};
use crate::store::{SecretStore, SecretValue};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// The run's stores, by `secret-store` name.
#[derive(Default)]
pub struct Stores {
    // Held across the opening: two steps asking at once open a store once (and log in once).
    opened: Mutex<HashMap<String, Arc<dyn SecretStore>>>,
}

/// A store, with its declaration (its folder and its name pattern).
#[derive(Clone)]
pub struct Opened {
    pub store: Arc<dyn SecretStore>,
    pub decl: StoreDecl,
}

impl Stores {
    /// The store of this name, opened the first time. The error is one line, for people.
    /// A store that lives in one of the plan's sandboxes (`api-url "${sandbox.vault.url}"`)
    /// has that sandbox started first.
    pub async fn get(
        &self,
        ctx: &RunContext,
        sandboxes: &Sandboxes,
        name: &str,
    ) -> Result<Opened, String> {
        let decl = ctx.plan.store(name).cloned().ok_or_else(|| {
            format!(
                "secret store \"{name}\" is not part of this plan; declare `secret-store \"{name}\" kind=\"…\"` in the plan, or name it with `credentials \"{name}\"`"
            )
        })?;
        for template in decl.templates() {
            for (reference, _) in template.references() {
                if let Reference::Sandbox { name, .. } = reference {
                    sandboxes.ensure(ctx, name).await?;
                }
            }
        }
        let mut opened = self.opened.lock().await;
        if let Some(store) = opened.get(name) {
            return Ok(Opened {
                store: store.clone(),
                decl,
            });
        }
        let store = open(ctx, &decl)?;
        opened.insert(name.to_string(), store.clone());
        Ok(Opened { store, decl })
    }
}

fn open(ctx: &RunContext, decl: &StoreDecl) -> Result<Arc<dyn SecretStore>, String> {
    match &decl.kind {
        StoreKind::File { .. } => {
            let path = decl
                .file_path(&ctx.plan.base_dir, &ctx.state_dir)
                .expect("a file store has a file");
            Ok(Arc::new(FileStore::new(&decl.name, path)))
        }
        StoreKind::Infisical(infisical) => {
            let what = |e: String| format!("secret store \"{}\": {e}", decl.name);
            let client_secret = ctx.render(&infisical.client_secret).map_err(what)?;
            // Masked from now on, in whatever the run shows.
            ctx.add_secret(&client_secret);
            let api_version = infisical
                .api_version
                .value
                .parse::<ApiVersion>()
                .map_err(|e| what(e.to_string()))?;
            let config = InfisicalConfig {
                name: decl.name.clone(),
                api_url: ctx.render(&infisical.api_url).map_err(what)?,
                project: ctx.render(&infisical.project).map_err(what)?,
                environment: ctx.render(&infisical.environment).map_err(what)?,
                client_id: ctx.render(&infisical.client_id).map_err(what)?,
                client_secret: SecretValue::new(client_secret),
                api_version,
                ca_bundle: infisical
                    .ca_bundle
                    .as_ref()
                    .map(|ca| ctx.plan.base_dir.join(&ca.value)),
                retry: infisical
                    .retry_policy
                    .clone()
                    .unwrap_or_else(InfisicalStore::default_retry),
                clock: ctx.clock.clone(),
                seed: ctx.plan.seed,
                attempt_timeout: ctx.plan.attempt_timeout,
                on_secret: Some(ctx.secret_sink()),
            };
            let store = InfisicalStore::new(config).map_err(|e| what(e.to_string()))?;
            Ok(Arc::new(store))
        }
    }
}
