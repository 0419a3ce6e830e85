//! The registries a run's steps read: each opened on first use (its URL rendered from the
//! run's values, the embedded file when it has none), seeded once when it names a `seed-sql`
//! file and is empty, and shared by every step after that.

use crate::exec::RunContext;
use crate::registry::Registry;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// The run's registries, by `database` name.
#[derive(Default)]
pub struct Registries {
    // Held across the connect: two steps asking at once open the registry once.
    opened: Mutex<HashMap<String, Arc<Registry>>>,
}

/// A registry, and whether this call seeded it.
pub struct Opened {
    pub registry: Arc<Registry>,
    pub seeded_from: Option<String>,
}

impl Registries {
    /// The registry of this name, opened (and seeded) the first time. The error is one line,
    /// with the URL's password masked.
    pub async fn get(&self, ctx: &RunContext, name: &str) -> Result<Opened, String> {
        let mut opened = self.opened.lock().await;
        if let Some(registry) = opened.get(name) {
            return Ok(Opened {
                registry: registry.clone(),
                seeded_from: None,
            });
        }
        let decl = ctx.plan.database(name).ok_or_else(|| {
            format!("database \"{name}\" is not declared (this is a bug in hookplan)")
        })?;
        let url = match &decl.url {
            Some(template) => Some(ctx.render(template)?),
            None => None,
        };
        let config = decl.config(url.as_deref(), &ctx.state_dir);
        // The URL's password is a secret of the run from now on, in whatever form it appears.
        if let Some(password) = crate::registry::url_password(&config.url) {
            ctx.add_secret(password);
            // Written `p%40ss`, it is sent (and may be echoed) as `p@ss`.
            if let Ok(decoded) = percent_encoding::percent_decode_str(password).decode_utf8() {
                ctx.add_secret(&decoded);
            }
        }
        let registry = Arc::new(Registry::open(config).await.map_err(|e| e.to_string())?);
        let mut seeded_from = None;
        if let Some(seed) = &decl.seed_sql {
            let path = ctx.plan.base_dir.join(&seed.value);
            if registry.seed(&path).await.map_err(|e| e.to_string())? {
                seeded_from = Some(seed.value.display().to_string());
            }
        }
        opened.insert(name.to_string(), registry.clone());
        Ok(Opened {
            registry,
            seeded_from,
        })
    }
}
