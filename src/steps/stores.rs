//! The secret stores a run's steps read and write: each opened on first use (its settings
//! rendered from the run's values; the client secret becomes a secret of the run) and shared
//! by every step after that.

use super::sandboxes::Sandboxes;
use crate::exec::RunContext;
use crate::model::{Reference, StoreDecl, StoreKind};
use crate::store::SecretStore;
use crate::store::file::FileStore;
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
        StoreKind::Infisical(_) => Err(format!(
            "secret store \"{}\": Infisical stores are not available in this build",
            decl.name
        )),
    }
}
