//! The sandbox's emulation of Infisical's REST API (`reference/infisical-api.md`): universal
//! auth, the v4 and v3 "raw" secrets routes, folders, versions, approvals.
//!
//! A sandbox with `infisical` gives it every path under `/api/v1/`, `/api/v3/` and
//! `/api/v4/`; a route it does not serve (an API version it was told not to serve, among
//! others) answers Infisical's 404 body, never the sandbox's generic `/api/*` acknowledgement.
//! The sandbox decides faults first, as for any route (see `handler`): a fault replaces the
//! emulation's answer and the write is not made — or, for the share `faults-after-write` of
//! the faults drawn for a write, the write is made and then its answer is lost.
//!
//! - `config`: what it serves. `auth`: logins, tokens, lockout. `secrets`: folders, secrets,
//!   versions, and the changes to them. `persistence`: the state file that keeps the changes
//!   across restarts. `api`: the routes. `error`: Infisical's error bodies.
//! - Time: token lifetimes and the lockout run on the sandbox's clock — at time scale F, a
//!   real second counts 1/F seconds (scale 0 counts real time) — so a test can see a 2h
//!   token expire in 72 real seconds at 0.01, or a 10s one in 100 ms.
//! - Seeds (`secret "NAME" "VALUE"`) are written when the emulation starts, for the names its
//!   state does not already hold: a persisted secret, at whatever version, is never
//!   overwritten by a seed.

mod api;
mod auth;
pub mod config;
mod error;
mod persistence;
mod secrets;

pub use config::{InfisicalConfig, Seed};
pub use persistence::STATE_FILE;

pub(crate) use api::Call;

use crate::clock::Clock;
use error::ApiError;
use persistence::StateFile;
use secrets::{Change, Secrets};
use std::path::PathBuf;
use std::sync::Mutex;

/// The route keys the emulation's requests are recorded (and their faults drawn) under.
pub const ROUTE_KEYS: &[&str] = &["/api/v1/*", "/api/v3/*", "/api/v4/*"];

/// Whether a path belongs to the emulation (when the sandbox has one).
pub fn owns(path: &str) -> bool {
    route_key(path).is_some()
}

/// `/api/v4/*` for `/api/v4/secrets/KEY`; `None` outside the emulation's paths.
pub fn route_key(path: &str) -> Option<&'static str> {
    ROUTE_KEYS.iter().copied().find(|key| {
        let prefix = &key[..key.len() - 2];
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Whether the request would change the emulation's state if it succeeded.
pub fn is_write(method: &str, path: &str) -> bool {
    api::is_write(method, path)
}

/// The part of a request its fault draws and fingerprint see besides method and path: the
/// secret names, folder and environment it names — never a value, a token or a secret.
pub fn fingerprint_input(path: &str, query: Option<&str>, body: &[u8]) -> Vec<u8> {
    api::names_of(path, query, body)
}

/// An emulation's answer to one request.
pub(crate) struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
    /// It changed the state.
    pub wrote: bool,
}

pub(crate) struct Emulation {
    config: InfisicalConfig,
    clock: Clock,
    inner: Mutex<Inner>,
}

struct Inner {
    auth: auth::Auth,
    secrets: Secrets,
    state: Option<StateFile>,
}

impl Inner {
    /// Keeps the changes in the state file (when there is one), then applies them.
    fn keep(&mut self, changes: &[Change]) -> Result<(), ApiError> {
        if changes.is_empty() {
            return Ok(());
        }
        if let Some(state) = &mut self.state {
            state.append(changes).map_err(|e| {
                tracing::error!(error = %e, "could not keep a change of the Infisical state");
                ApiError::internal("The sandbox could not keep this change")
            })?;
        }
        for change in changes {
            self.secrets.apply(change);
        }
        Ok(())
    }
}

impl Emulation {
    /// Opens the state in `state_dir` (in memory when `None`), makes the environment's root
    /// folder and writes the seeds it lacks.
    pub fn open(
        config: InfisicalConfig,
        state_dir: Option<PathBuf>,
        clock: Clock,
    ) -> Result<Self, String> {
        config.validate()?;
        let (state, secrets) = match &state_dir {
            Some(dir) => {
                let (state, secrets) = StateFile::open(dir)?;
                (Some(state), secrets)
            }
            None => (None, Secrets::default()),
        };
        let mut inner = Inner {
            auth: auth::Auth::default(),
            secrets,
            state,
        };
        let wall = wall_now(&clock);
        let mut changes = Vec::new();
        let environment = config.environment.clone();
        let mut folders: Vec<String> = vec!["/".into()];
        for seed in &config.seeds {
            let mut at = seed.path.as_str();
            while at != "/" {
                folders.push(at.to_string());
                at = secrets::split_folder(at).map_or("/", |(p, _)| p);
            }
        }
        folders.sort_by_key(|p| if p == "/" { 0 } else { p.matches('/').count() });
        folders.dedup();
        for path in folders {
            if inner.secrets.folder(&environment, &path).is_none()
                && !changes
                    .iter()
                    .any(|c| matches!(c, Change::Folder { path: p, .. } if *p == path))
            {
                changes.push(Change::Folder {
                    environment: environment.clone(),
                    path,
                    id: new_id(),
                    created_at: wall.clone(),
                });
            }
        }
        for seed in &config.seeds {
            if inner
                .secrets
                .get(&environment, &seed.path, &seed.name)
                .is_none()
            {
                changes.push(Change::Put {
                    environment: environment.clone(),
                    path: seed.path.clone(),
                    key: seed.name.clone(),
                    id: new_id(),
                    version: 1,
                    value: secrets::trimmed(&seed.value),
                    comment: String::new(),
                    created_at: wall.clone(),
                    updated_at: wall.clone(),
                });
            }
        }
        inner.keep(&changes).map_err(|e| e.message_text())?;
        Ok(Self {
            config,
            clock,
            inner: Mutex::new(inner),
        })
    }

    pub fn config(&self) -> &InfisicalConfig {
        &self.config
    }

    /// Seconds on the emulation's clock: real time divided by the time scale.
    fn now(&self) -> f64 {
        let real = self.clock.real_elapsed().as_secs_f64();
        match self.clock.scale() {
            scale if scale > 0.0 => real / scale,
            _ => real,
        }
    }

    /// Answers a request. A change it makes is in the state file when this returns.
    pub fn answer(&self, call: &Call, request_id: &str) -> Reply {
        let cx = api::Context {
            config: &self.config,
            now: self.now(),
            wall: wall_now(&self.clock),
        };
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let req_id = format!("req-{request_id}");
        match api::answer(&cx, &mut inner, call) {
            Ok(done) => Reply {
                status: 200,
                body: done.body,
                wrote: done.wrote,
            },
            Err(error) => Reply {
                status: error.status,
                body: error.body(&req_id),
                wrote: false,
            },
        }
    }
}

/// `2026-02-08T14:30:00.123Z`, as Infisical writes its timestamps.
fn wall_now(clock: &Clock) -> String {
    chrono::DateTime::<chrono::Utc>::from(clock.wall_now())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Random bytes from the operating system.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("the operating system gives random bytes");
    bytes
}

/// A random id in a UUID's shape (version 4).
fn new_id() -> String {
    let mut bytes = random_bytes::<16>();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid_text(&bytes)
}

/// A UUID-shaped id derived from a name (the same name, the same id).
fn stable_id(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid_text(&bytes)
}

fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulation_owns_the_three_api_prefixes_only() {
        assert_eq!(route_key("/api/v4/secrets"), Some("/api/v4/*"));
        assert_eq!(
            route_key("/api/v1/auth/universal-auth/login"),
            Some("/api/v1/*")
        );
        assert_eq!(route_key("/api/v3"), Some("/api/v3/*"));
        assert_eq!(route_key("/api/v2/x"), None);
        assert_eq!(route_key("/api/status"), None);
        assert_eq!(route_key("/api/v40/x"), None);
    }

    #[test]
    fn seeds_do_not_overwrite_a_kept_secret() {
        let dir = tempfile::tempdir().unwrap();
        let config = InfisicalConfig {
            seeds: vec![Seed {
                path: "/webhooks/out".into(),
                name: "KEY".into(),
                value: "  seeded ".into(),
            }],
            ..InfisicalConfig::default()
        };
        let open =
            || Emulation::open(config.clone(), Some(dir.path().into()), Clock::new(0.0)).unwrap();
        let emulation = open();
        {
            let mut inner = emulation.inner.lock().unwrap();
            let secret = inner
                .secrets
                .get("prod", "/webhooks/out", "KEY")
                .unwrap()
                .clone();
            assert_eq!(secret.current().value, "seeded");
            assert!(inner.secrets.folder("prod", "/webhooks").is_some());
            let change = Change::Put {
                environment: "prod".into(),
                path: "/webhooks/out".into(),
                key: "KEY".into(),
                id: secret.id.clone(),
                version: 2,
                value: "changed".into(),
                comment: String::new(),
                created_at: secret.created_at.clone(),
                updated_at: "t".into(),
            };
            inner.keep(&[change]).unwrap();
        }
        drop(emulation);
        let emulation = open();
        let inner = emulation.inner.lock().unwrap();
        let secret = inner.secrets.get("prod", "/webhooks/out", "KEY").unwrap();
        assert_eq!(
            (secret.version(), secret.current().value.as_str()),
            (2, "changed")
        );
    }
}
