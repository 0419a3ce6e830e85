//! Infisical as a [`SecretStore`], speaking the REST API of `reference/infisical-api.md`.
//!
//! Read it top to bottom in this order:
//!
//! - `values`: what Infisical does to a value (it trims it), and which values hookplan refuses.
//! - `routes`: every request, its method, path, query and body keys, for API v4 and v3 "raw".
//! - `answers`: secrets, approvals and error bodies read back (the status decides the class).
//! - `session`: universal-auth login, the access token, its expiry on the run's clock.
//! - `transport`: one call: attempts, the store's retry policy through the clock, one fresh
//!   login after a 401.
//! - `writes`: `set_many` and deletes, which never re-send a write whose answer was lost
//!   without reading back first, and create missing folders.
//!
//! This file holds the configuration, the store and the choice of API version.

mod answers;
mod routes;
mod session;
mod transport;
mod values;
mod writes;

pub use values::{infisical_trimmed, infisical_would_alter};

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::{Clock, Timeline};
use crate::model::RetryPolicy;
use crate::observe::Redactor;
use crate::store::{NewSecret, Secret, SecretStore, SecretValue, StoreError, StoreFuture, Written};

use answers::to_error;
use routes::{Api, Place};
use transport::Sent;

/// Which secrets API the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiVersion {
    /// Probe once with the v4 list; fall back to v3 "raw" only when v4 answers 404 and v3
    /// answers 2xx.
    #[default]
    Auto,
    V4,
    V3,
}

impl ApiVersion {
    pub const NAMES: &'static [&'static str] = &["auto", "v4", "v3"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::V4 => "v4",
            Self::V3 => "v3",
        }
    }
}

impl FromStr for ApiVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Self::Auto),
            "v4" => Ok(Self::V4),
            "v3" => Ok(Self::V3),
            other => Err(format!(
                "unknown Infisical API version `{other}` (expected auto, v4 or v3)"
            )),
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Called with every access token the store obtains, so that the run masks it.
pub type OnSecret = Arc<dyn Fn(&str) + Send + Sync>;

/// How to reach one Infisical project and environment.
#[derive(Clone)]
pub struct InfisicalConfig {
    /// The store's name in the plan.
    pub name: String,
    /// `https://app.infisical.com`, or `http://127.0.0.1:PORT` for a sandbox.
    pub api_url: String,
    /// `projectId` (v4) / `workspaceId` (v3).
    pub project: String,
    /// The environment's slug (`prod`).
    pub environment: String,
    pub client_id: String,
    pub client_secret: SecretValue,
    pub api_version: ApiVersion,
    /// Extra trusted roots (a private CA). Verification is always on.
    pub ca_bundle: Option<PathBuf>,
    /// See [`InfisicalStore::default_retry`].
    pub retry: RetryPolicy,
    /// Every wait goes through it (time scale, virtual time).
    pub clock: Clock,
    /// Jitter draws, like every retry of the crate.
    pub seed: u64,
    /// Real time one request may take ([`InfisicalStore::DEFAULT_ATTEMPT_TIMEOUT`] by default).
    pub attempt_timeout: Duration,
    pub on_secret: Option<OnSecret>,
}

impl fmt::Debug for InfisicalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InfisicalConfig")
            .field("name", &self.name)
            .field("api_url", &self.api_url)
            .field("project", &self.project)
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("api_version", &self.api_version)
            .field("ca_bundle", &self.ca_bundle)
            .field("attempt_timeout", &self.attempt_timeout)
            .finish_non_exhaustive()
    }
}

/// An Infisical project's environment, reached with a machine identity (universal auth).
pub struct InfisicalStore {
    config: InfisicalConfig,
    base: url::Url,
    http: reqwest::Client,
    /// The version `auto` settled on, probed once.
    api: tokio::sync::OnceCell<Api>,
    session: session::Session,
    /// The client secret and every token obtained; each call adds the values it sends.
    redactor: Mutex<Redactor>,
    /// The values the store has sent or read lately, masked in its error texts (a server may
    /// echo them). Kept as they are, not as masking forms: those are made only when an error
    /// is described. At most [`HANDLED_KEPT`]: an operation's own values are always among
    /// them, and a migration of 100,000 webhooks does not hold every value it moved.
    handled: Mutex<Recent>,
    /// The store's own virtual time (token expiry), advanced by its waits.
    timeline: Mutex<Timeline>,
    /// Every wait scheduled between attempts, in order.
    waits: Mutex<Vec<Duration>>,
}

impl fmt::Debug for InfisicalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InfisicalStore")
            .field("config", &self.config)
            .field("api", &self.api.get())
            .finish_non_exhaustive()
    }
}

/// Where a store never waits longer than this between attempts, whatever a server asks.
const MAX_WAIT: Duration = Duration::from_secs(60);

impl InfisicalStore {
    /// The per-request timeout unless the configuration says otherwise (the plan's default).
    pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

    /// The spec's schedule (3 retries, 2 s doubling, on 5xx, timeouts, connection errors and
    /// resets) plus 429, honouring `Retry-After`, each wait capped at 60 s.
    pub fn default_retry() -> RetryPolicy {
        let mut policy = RetryPolicy {
            name: Some("store".to_string()),
            max_delay: Some(MAX_WAIT),
            respect_retry_after: true,
            ..RetryPolicy::default()
        };
        policy.retry_on.add("429");
        policy
    }

    pub fn new(mut config: InfisicalConfig) -> Result<Self, StoreError> {
        let invalid = |message: String| StoreError::Invalid { message };
        let base = url::Url::parse(&config.api_url).map_err(|e| {
            invalid(format!(
                "store `{}`: api-url is not a URL ({e})",
                config.name
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            return Err(invalid(format!(
                "store `{}`: api-url must be an http:// or https:// URL with a host",
                config.name
            )));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(invalid(format!(
                "store `{}`: api-url must not hold credentials; use client-id and client-secret",
                config.name
            )));
        }
        for (field, value) in [
            ("project", &config.project),
            ("environment", &config.environment),
            ("client-id", &config.client_id),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(format!(
                    "store `{}`: {field} is empty",
                    config.name
                )));
            }
        }
        // A server must not stall a run: every wait is capped.
        config.retry.max_delay = Some(config.retry.max_delay.map_or(MAX_WAIT, |d| d.min(MAX_WAIT)));
        if config.attempt_timeout.is_zero() {
            config.attempt_timeout = Self::DEFAULT_ATTEMPT_TIMEOUT;
        }
        let mut builder = crate::http_client::builder()
            .connect_timeout(config.attempt_timeout)
            .https_only(base.scheme() == "https");
        if let Some(bundle) = &config.ca_bundle {
            builder = crate::http_client::with_ca_bundle(builder, bundle)
                .map_err(|e| invalid(format!("store `{}`: {e}", config.name)))?;
        }
        let http = builder.build().map_err(|e| {
            invalid(format!(
                "store `{}`: cannot build its HTTP client: {}",
                config.name,
                crate::http_client::innermost_cause(&e)
            ))
        })?;
        let redactor = Mutex::new(Redactor::new([config.client_secret.expose()]));
        let timeline = Mutex::new(config.clock.timeline(Duration::ZERO));
        Ok(Self {
            base,
            http,
            api: tokio::sync::OnceCell::new(),
            session: session::Session::default(),
            redactor,
            handled: Mutex::new(Recent::default()),
            timeline,
            waits: Mutex::new(Vec::new()),
            config,
        })
    }

    /// The waits scheduled between attempts so far, in order (virtual time, as reports carry).
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().expect("waits lock").clone()
    }

    /// The API version in use: the pinned one, or what `auto` found (`None` before the probe).
    pub fn api_version(&self) -> Option<ApiVersion> {
        match self.config.api_version {
            ApiVersion::Auto => self.api.get().map(|api| match api {
                Api::V4 => ApiVersion::V4,
                Api::V3 => ApiVersion::V3,
            }),
            pinned => Some(pinned),
        }
    }

    fn place<'a>(&'a self, path: &'a str) -> Place<'a> {
        Place {
            project: &self.config.project,
            environment: &self.config.environment,
            path,
        }
    }

    /// The masking of error texts, with `values` remembered first (an error body may echo
    /// any value the store has handled).
    fn mask<'v>(&'v self, values: impl IntoIterator<Item = &'v SecretValue>) -> Mask<'v> {
        self.remember(values);
        Mask { store: self }
    }

    fn remember<'v>(&self, values: impl IntoIterator<Item = &'v SecretValue>) {
        let mut handled = self.handled.lock().expect("handled lock");
        for value in values {
            handled.insert(value.expose());
        }
    }

    /// The version to speak, probing once under `auto` with the root folder's list, which is
    /// handed back in `probed` when the caller asked for that very list.
    async fn api(
        &self,
        path: &str,
        probed: &mut Option<(Api, answers::Reply)>,
    ) -> Result<Api, StoreError> {
        match self.config.api_version {
            ApiVersion::V4 => Ok(Api::V4),
            ApiVersion::V3 => Ok(Api::V3),
            ApiVersion::Auto => self
                .api
                .get_or_try_init(|| async {
                    // The root folder: it exists in every environment, so a 404 from v3 can
                    // only mean a missing route or environment, never a folder not made yet.
                    let (api, reply) = self.probe("/").await?;
                    if super::normalize_path(path) == "/" {
                        *probed = reply.map(|r| (api, r));
                    }
                    Ok(api)
                })
                .await
                .copied(),
        }
    }

    /// v4 list; on 404, v3 list, chosen only when it answers 2xx. Errors are not cached.
    async fn probe(&self, path: &str) -> Result<(Api, Option<answers::Reply>), StoreError> {
        let mask = self.mask([]);
        let what = format!("list of {path} (API v4)");
        let v4 = match self
            .call(&routes::list(Api::V4, self.place(path)), true)
            .await?
        {
            Sent::Answered(reply) => reply,
            Sent::Lost { text, .. } => return Err(mask.unavailable(&what, &text)),
        };
        if v4.is_success() {
            return Ok((Api::V4, Some(v4)));
        }
        if v4.status != 404 {
            return Err(mask.error(&v4, &what));
        }
        let what = format!("list of {path} (API v3)");
        match self
            .call(&routes::list(Api::V3, self.place(path)), true)
            .await?
        {
            Sent::Answered(v3) if v3.is_success() => {
                tracing::info!(store = %self.config.name, "the server does not serve API v4: using v3");
                Ok((Api::V3, Some(v3)))
            }
            Sent::Answered(v3) if (400..500).contains(&v3.status) => Ok((Api::V4, Some(v4))),
            Sent::Answered(v3) => Err(mask.error(&v3, &what)),
            Sent::Lost { text, .. } => Err(mask.unavailable(&what, &text)),
        }
    }

    async fn list_secrets(&self, path: &str) -> Result<Vec<Secret>, StoreError> {
        let path = crate::store::normalize_path(path);
        let mut probed = None;
        let api = self.api(&path, &mut probed).await?;
        let reply = match probed {
            Some((probed_api, reply)) if probed_api == api => reply,
            _ => match self
                .call(&routes::list(api, self.place(&path)), true)
                .await?
            {
                Sent::Answered(reply) => reply,
                Sent::Lost { text, .. } => {
                    return Err(self.mask([]).unavailable(&format!("list of {path}"), &text));
                }
            },
        };
        self.read_list(&path, reply, &self.mask([]))
    }

    /// A list's answer: its secrets; a missing folder (404) is empty.
    fn read_list(
        &self,
        path: &str,
        reply: answers::Reply,
        mask: &Mask<'_>,
    ) -> Result<Vec<Secret>, StoreError> {
        let what = format!("list of {path}");
        if reply.status == 404 {
            return Ok(Vec::new());
        }
        if !reply.is_success() {
            return Err(mask.error(&reply, &what));
        }
        let secrets = reply.secrets().ok_or_else(|| StoreError::Unavailable {
            message: format!("{what} answered {} without a list of secrets", reply.status),
        })?;
        self.remember(secrets.iter().map(|s| &s.value));
        Ok(secrets)
    }

    async fn get_secret(&self, path: &str, name: &str) -> Result<Secret, StoreError> {
        let path = crate::store::normalize_path(path);
        check_name(name)?;
        let api = self.api(&path, &mut None).await?;
        let mask = self.mask([]);
        let what = format!("read of {name} in {path}");
        match self
            .call(&routes::get(api, self.place(&path), name), true)
            .await?
        {
            Sent::Answered(reply) if reply.is_success() => {
                let secret = reply.secret();
                self.remember(secret.iter().map(|s| &s.value));
                secret.ok_or_else(|| StoreError::Unavailable {
                    message: mask.text(&format!(
                        "{what} answered {} without the secret",
                        reply.status
                    )),
                })
            }
            // The common answer to a read (a name not there yet) is told without masking
            // anything: `what` holds names only, and building the mask of every value
            // handled lately for each of thousands of absent names is what made a resumed
            // migration slow.
            Sent::Answered(reply) if reply.status == 404 => Err(StoreError::NotFound {
                what: format!("{what} answered 404"),
            }),
            Sent::Answered(reply) => Err(mask.error(&reply, &what)),
            Sent::Lost { text, .. } => Err(mask.unavailable(&what, &text)),
        }
    }
}

/// Values handled lately, kept in arrival order.
const HANDLED_KEPT: usize = 10_000;

#[derive(Default)]
struct Recent {
    set: HashSet<String>,
    order: std::collections::VecDeque<String>,
}

impl Recent {
    /// Keeps `value`, letting the oldest go past [`HANDLED_KEPT`].
    fn insert(&mut self, value: &str) {
        if self.set.contains(value) {
            return;
        }
        self.set.insert(value.to_string());
        self.order.push_back(value.to_string());
        if self.order.len() > HANDLED_KEPT
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
    }
}

/// A name Infisical could hold: not empty, and with no `/` (it would change the path).
fn check_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.contains('/') || name.trim() != name {
        return Err(StoreError::Invalid {
            message: format!("`{name}` is not a secret name Infisical can hold"),
        });
    }
    Ok(())
}

/// The masking of error texts: the client secret, every token obtained and every value the
/// store has sent or read, as they are when the error is made (a login may have happened
/// since the operation began).
struct Mask<'a> {
    store: &'a InfisicalStore,
}

impl Mask<'_> {
    /// The client secret, every token and every value handled, as masking forms.
    fn now(&self) -> Redactor {
        let mut redactor = self.store.redactor.lock().expect("redactor lock").clone();
        for value in self
            .store
            .handled
            .lock()
            .expect("handled lock")
            .order
            .iter()
        {
            redactor.add(value);
        }
        redactor
    }

    /// `text` masked and cut.
    fn text(&self, text: &str) -> String {
        answers::masked(&self.now(), text)
    }

    /// The error a failed answer to `what` stands for.
    fn error(&self, reply: &answers::Reply, what: &str) -> StoreError {
        to_error(reply, what, &self.now())
    }

    /// The store could not be reached for `what`, after its retries.
    fn unavailable(&self, what: &str, cause: &str) -> StoreError {
        StoreError::Unavailable {
            message: self.text(&format!("{what}: {cause}")),
        }
    }
}

impl SecretStore for InfisicalStore {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn get<'a>(&'a self, path: &'a str, name: &'a str) -> StoreFuture<'a, Secret> {
        Box::pin(self.get_secret(path, name))
    }

    fn list<'a>(&'a self, path: &'a str) -> StoreFuture<'a, Vec<Secret>> {
        Box::pin(self.list_secrets(path))
    }

    fn set<'a>(&'a self, path: &'a str, secret: NewSecret) -> StoreFuture<'a, Written> {
        Box::pin(async move {
            let mut written = self
                .write(path, vec![secret], writes::Reading::One, None)
                .await?;
            written.pop().ok_or_else(|| StoreError::Invalid {
                message: "the store answered a write without the secret written".into(),
            })
        })
    }

    fn set_many<'a>(
        &'a self,
        path: &'a str,
        secrets: Vec<NewSecret>,
    ) -> StoreFuture<'a, Vec<Written>> {
        Box::pin(self.write(path, secrets, writes::Reading::Folder, None))
    }

    fn set_known<'a>(
        &'a self,
        path: &'a str,
        secrets: Vec<NewSecret>,
        known: std::collections::HashMap<String, Secret>,
    ) -> StoreFuture<'a, Vec<Written>> {
        Box::pin(self.write(path, secrets, writes::Reading::Names, Some(known)))
    }

    fn delete<'a>(&'a self, path: &'a str, name: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(self.delete_one(path, name))
    }

    fn delete_many<'a>(&'a self, path: &'a str, names: Vec<String>) -> StoreFuture<'a, ()> {
        Box::pin(self.delete_names(path, names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> InfisicalConfig {
        InfisicalConfig {
            name: "infisical".into(),
            api_url: "http://127.0.0.1:9".into(),
            project: "p".into(),
            environment: "prod".into(),
            client_id: "id".into(),
            client_secret: SecretValue::new("client-secret-canary"),
            api_version: ApiVersion::Auto,
            ca_bundle: None,
            retry: InfisicalStore::default_retry(),
            clock: Clock::new(0.0),
            seed: 0,
            attempt_timeout: InfisicalStore::DEFAULT_ATTEMPT_TIMEOUT,
            on_secret: None,
        }
    }

    #[test]
    fn the_values_handled_are_kept_up_to_a_bound_oldest_first_out() {
        let mut recent = Recent::default();
        for i in 0..HANDLED_KEPT + 5 {
            recent.insert(&format!("value-{i}"));
        }
        recent.insert("value-9000");
        assert_eq!(recent.set.len(), HANDLED_KEPT);
        assert_eq!(recent.order.len(), HANDLED_KEPT);
        assert!(!recent.set.contains("value-4"));
        assert!(recent.set.contains("value-5"));
        assert!(recent.set.contains(&format!("value-{}", HANDLED_KEPT + 4)));
    }

    #[test]
    fn versions_parse_and_print() {
        for name in ApiVersion::NAMES {
            assert_eq!(name.parse::<ApiVersion>().unwrap().as_str(), *name);
        }
        assert!("v5".parse::<ApiVersion>().unwrap_err().contains("v5"));
    }

    #[test]
    fn the_default_policy_is_the_spec_plus_429_and_retry_after_capped() {
        let policy = InfisicalStore::default_retry();
        assert_eq!(policy.max_retries, 3);
        assert_eq!(policy.base_delay, Duration::from_secs(2));
        assert_eq!(policy.max_delay, Some(Duration::from_secs(60)));
        assert!(policy.respect_retry_after);
        assert!(policy.retry_on.statuses.contains(&429));
        assert!(!policy.retry_on.statuses.contains(&408));
        assert!(policy.retry_on.server_errors && policy.retry_on.timeout);
        assert!(policy.retry_on.connect && policy.retry_on.reset);
    }

    #[test]
    fn bad_configurations_are_refused_without_showing_the_secret() {
        let cases = [
            InfisicalConfig {
                api_url: "not a url".into(),
                ..config()
            },
            InfisicalConfig {
                api_url: "ftp://host".into(),
                ..config()
            },
            InfisicalConfig {
                api_url: "https://user:pw@host".into(),
                ..config()
            },
            InfisicalConfig {
                project: " ".into(),
                ..config()
            },
            InfisicalConfig {
                ca_bundle: Some("/nonexistent/ca.pem".into()),
                ..config()
            },
        ];
        for case in cases {
            let error = InfisicalStore::new(case).unwrap_err();
            assert_eq!(error.class(), "invalid", "{error}");
            assert!(!error.to_string().contains("client-secret-canary"));
        }
        let store = InfisicalStore::new(config()).unwrap();
        let shown = format!("{store:?}");
        assert!(!shown.contains("client-secret-canary"), "{shown}");
    }

    #[test]
    fn a_ca_bundle_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let error = InfisicalStore::new(InfisicalConfig {
            ca_bundle: Some(path),
            ..config()
        })
        .unwrap_err();
        assert!(error.to_string().contains("ca.pem"), "{error}");
    }

    #[test]
    fn names_that_would_change_the_path_are_refused() {
        for name in ["", "A/B", " A"] {
            assert!(check_name(name).is_err(), "{name:?}");
        }
        assert!(check_name("WEBHOOK_OUT_X_KEY").is_ok());
    }
}
