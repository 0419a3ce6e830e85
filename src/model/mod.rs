//! The validated plan: what a plan file means, with no KDL in it.
//!
//! The model knows nothing of execution. Spans stay on the values a run-time error may need to
//! point back at (templates, names), so `run` can report a missing variable at its place.

mod action;
mod alerting;
mod backup;
mod call;
mod database;
mod duration;
mod expect_alerts;
mod expect_secrets;
mod http;
mod migrate;
mod mqtt;
mod replay;
mod requests;
mod rollback;
mod span;
mod status;
mod store;
pub mod suggest;
mod template;
mod verify;

pub use action::{Action, ActionSpec, Resource, Undecoded};
pub use alerting::{
    AlertKind, AlertState, AlertingDecl, CHANNELS, ChannelDecl, DEFAULT_ALERT_TOPIC,
    DEFAULT_SLACK_URL,
};
pub use backup::{BackupAction, SelectionSpec};
pub use call::CallAction;
pub use database::{DATABASE_URL_ENV, DEFAULT_DATABASE, DatabaseDecl};
pub use duration::{DurationError, HumanDuration, parse_duration};
pub use expect_alerts::ExpectAlerts;
pub use expect_secrets::{ExpectSecrets, SecretCheck};
pub use http::{Body, HttpAction, SignSpec};
pub use migrate::{DEFAULT_MIGRATE_CONCURRENCY, MigrateAction};
pub use mqtt::{BrokerAddress, DEFAULT_DRAIN, DEFAULT_OUTBOX, DEFAULT_TOPIC_PREFIX, MqttDecl};
pub use replay::ReplayAction;
pub use requests::{CountExpectation, ExpectRequests, RequestCheck};
pub use rollback::RollbackAction;
pub use span::{Span, Spanned};
pub use status::StatusAction;
pub use store::{
    API_VERSIONS, CredentialLocation, DEFAULT_NAME_PATTERN, DEFAULT_STORE_PATH, INFISICAL_STORE,
    InfisicalStoreDecl, LOCAL_STORE, LOCAL_STORE_FILE, STORE_KINDS, StoreDecl, StoreKind,
    check_pattern, field_name, secret_name,
};
pub use template::{
    NAMESPACES, Part, Reference, SANDBOX_FIELDS, Template, TemplateError, TextOrigin,
};
pub use verify::VerifyAction;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

/// The per-attempt network timeout when a plan names none.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub description: Option<String>,
    /// Fixes every random choice (error injection, jitter).
    pub seed: u64,
    /// Steps that may run at once; `None` = number of CPUs.
    pub jobs: Option<usize>,
    /// The whole run's limit, on the virtual clock.
    pub timeout: Option<Duration>,
    pub attempt_timeout: Duration,
    pub vars: Vec<Var>,
    pub retry_policies: Vec<RetryPolicy>,
    pub sandboxes: Vec<SandboxDecl>,
    /// Webhook registries, by name (`check` connects to none of them).
    pub databases: Vec<DatabaseDecl>,
    /// Secret stores, by name: the plan's own, then those of the project config or the
    /// implicit ones (`local`, `infisical`) that its steps name.
    pub stores: Vec<StoreDecl>,
    pub steps: Vec<Step>,
    /// The plan's `alerting`, else the project config's; `None` when neither declares it.
    pub alerting: Option<AlertingDecl>,
    /// The plan's `mqtt` connections, else the project config's.
    pub mqtt: Vec<MqttDecl>,
    /// The plan file, and the folder its relative paths are read from.
    pub path: PathBuf,
    pub base_dir: PathBuf,
    /// sha256 over the plan's canonical form (no comments, no layout).
    pub canonical_hash: String,
}

impl Plan {
    /// A plan of one step, as a direct command builds it (`hookplan sandbox replay`, …): no
    /// variables, policies or sandboxes of its own, seed 0, relative paths from `base_dir`.
    pub fn one_step(name: &str, step: Step, base_dir: PathBuf) -> Self {
        Self {
            name: name.to_string(),
            description: None,
            seed: 0,
            jobs: Some(1),
            timeout: None,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            vars: Vec::new(),
            retry_policies: Vec::new(),
            sandboxes: Vec::new(),
            databases: Vec::new(),
            stores: Vec::new(),
            steps: vec![step],
            alerting: None,
            mqtt: Vec::new(),
            path: PathBuf::from(format!("({name})")),
            base_dir,
            canonical_hash: String::new(),
        }
    }

    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    pub fn database(&self, name: &str) -> Option<&DatabaseDecl> {
        self.databases.iter().find(|d| d.name == name)
    }

    pub fn store(&self, name: &str) -> Option<&StoreDecl> {
        self.stores.iter().find(|s| s.name == name)
    }

    pub fn sandbox(&self, name: &str) -> Option<&SandboxDecl> {
        self.sandboxes.iter().find(|s| s.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct Var {
    pub name: String,
    pub value: Template,
    pub span: Span,
}

// ---------------------------------------------------------------- retry

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// `None` for a policy written inline on a step.
    pub name: Option<String>,
    pub max_retries: u32,
    pub base_delay: Duration,
    pub multiplier: f64,
    pub max_delay: Option<Duration>,
    pub jitter: Jitter,
    pub retry_on: RetryOn,
    pub respect_retry_after: bool,
    pub circuit_breaker: Option<CircuitBreakerPolicy>,
    pub span: Span,
}

impl Default for RetryPolicy {
    /// The spec's policy: 3 retries, 2 s doubling, on 5xx, timeouts and connection errors.
    fn default() -> Self {
        Self {
            name: None,
            max_retries: 3,
            base_delay: Duration::from_secs(2),
            multiplier: 2.0,
            max_delay: None,
            jitter: Jitter::None,
            retry_on: RetryOn::default(),
            respect_retry_after: false,
            circuit_breaker: None,
            span: Span::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    None,
    Full,
    Equal,
    Decorrelated,
}

impl Jitter {
    pub const NAMES: &'static [&'static str] = &["none", "full", "equal", "decorrelated"];

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "none" => Jitter::None,
            "full" => Jitter::Full,
            "equal" => Jitter::Equal,
            "decorrelated" => Jitter::Decorrelated,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Decorrelated => "decorrelated",
        }
    }
}

/// What a policy retries on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryOn {
    pub server_errors: bool,
    pub timeout: bool,
    pub connect: bool,
    pub reset: bool,
    /// Client-error statuses retried by choice (only 408 and 429 may be named).
    pub statuses: BTreeSet<u16>,
}

impl Default for RetryOn {
    fn default() -> Self {
        Self {
            server_errors: true,
            timeout: true,
            connect: true,
            reset: true,
            statuses: BTreeSet::new(),
        }
    }
}

impl RetryOn {
    pub const CLASSES: &'static [&'static str] =
        &["5xx", "timeout", "connect", "reset", "408", "429"];

    pub fn none() -> Self {
        Self {
            server_errors: false,
            timeout: false,
            connect: false,
            reset: false,
            statuses: BTreeSet::new(),
        }
    }

    /// Adds one class by its plan name; false when the name is not a class.
    pub fn add(&mut self, class: &str) -> bool {
        match class {
            "5xx" => self.server_errors = true,
            "timeout" => self.timeout = true,
            "connect" => self.connect = true,
            "reset" => self.reset = true,
            "408" => _ = self.statuses.insert(408),
            "429" => _ = self.statuses.insert(429),
            _ => return false,
        }
        true
    }

    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.server_errors {
            names.push("5xx".to_string());
        }
        for (on, name) in [
            (self.timeout, "timeout"),
            (self.connect, "connect"),
            (self.reset, "reset"),
        ] {
            if on {
                names.push(name.to_string());
            }
        }
        names.extend(self.statuses.iter().map(|s| s.to_string()));
        names
    }
}

/// A per-target circuit breaker: opens after consecutive failures or a failure ratio.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreakerPolicy {
    pub consecutive_failures: Option<u32>,
    /// Failure ratio over the last `window` requests (only once `window` requests were seen).
    pub failure_ratio: Option<f64>,
    pub window: u32,
    pub open_for: Duration,
    /// Requests let through while half-open; all must succeed to close.
    pub probes: u32,
}

impl Default for CircuitBreakerPolicy {
    fn default() -> Self {
        Self {
            consecutive_failures: None,
            failure_ratio: None,
            window: 20,
            open_for: Duration::from_secs(30),
            probes: 1,
        }
    }
}

// ---------------------------------------------------------------- sandbox

/// A sandbox a plan starts for its steps.
#[derive(Debug, Clone)]
pub struct SandboxDecl {
    pub name: String,
    pub span: Span,
    /// 0 = any free port.
    pub port: u16,
    pub bind: String,
    pub error_rate: f64,
    pub error_status: u16,
    pub delay: Option<DelaySpec>,
    /// Where the delay was written (warnings point at it).
    pub delay_span: Option<Span>,
    pub endpoints: Vec<EndpointDecl>,
    /// `infisical { … }`: the sandbox also emulates Infisical's API.
    pub infisical: Option<InfisicalDecl>,
}

/// A sandbox's Infisical emulation, as declared.
#[derive(Debug, Clone)]
pub struct InfisicalDecl {
    pub span: Span,
    pub project: String,
    pub environment: String,
    pub client_id: String,
    /// May read `${secret.…}`; never shown.
    pub client_secret: Template,
    pub api: InfisicalApi,
    pub approval_required: bool,
    /// Keeps the emulation's secrets in `STATE_DIR/sandbox/NAME/` across runs.
    pub state: Option<String>,
    pub token_ttl: Duration,
    /// Default: the token TTL (a renewal then fails, as on a real server with those settings).
    pub token_max_ttl: Option<Duration>,
    /// The share of the faults drawn for a write that strike after the write was applied.
    pub faults_after_write: f64,
    pub secrets: Vec<InfisicalSeedDecl>,
}

/// `secret "NAME" "VALUE" path="/"`: a value the emulation starts with.
#[derive(Debug, Clone)]
pub struct InfisicalSeedDecl {
    pub name: String,
    /// May read env, secrets and vars (`"${secret.DEMO_KEY:-sk_demo}"`).
    pub value: Template,
    pub path: String,
    pub span: Span,
}

/// An Infisical folder path in its one spelling (`/`, `/webhooks/out`: no trailing `/`), or
/// `None` when it is not one. Folder names use letters, digits, `-` and `_`, as Infisical's do.
pub fn folder_path(text: &str) -> Option<String> {
    if !text.starts_with('/') {
        return None;
    }
    let mut path = String::new();
    for name in text.split('/').filter(|n| !n.is_empty()) {
        if !is_folder_name(name) {
            return None;
        }
        path.push('/');
        path.push_str(name);
    }
    if path.is_empty() {
        path.push('/');
    }
    Some(path)
}

/// A folder name as Infisical accepts it: letters, digits, `-` and `_`.
pub fn is_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Which secrets API versions an emulation serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InfisicalApi {
    /// Only `/api/v3/secrets/raw…`, like older self-hosted servers.
    V3,
    /// Only `/api/v4/secrets…`.
    V4,
    #[default]
    Both,
}

impl InfisicalApi {
    pub const NAMES: &'static [&'static str] = &["v3", "v4", "both"];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "v3" => Some(Self::V3),
            "v4" => Some(Self::V4),
            "both" => Some(Self::Both),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V3 => "v3",
            Self::V4 => "v4",
            Self::Both => "both",
        }
    }

    pub fn serves_v3(self) -> bool {
        matches!(self, Self::V3 | Self::Both)
    }

    pub fn serves_v4(self) -> bool {
        matches!(self, Self::V4 | Self::Both)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DelaySpec {
    Fixed(Duration),
    /// Drawn uniformly from the range for each request.
    Range(Duration, Duration),
}

#[derive(Debug, Clone)]
pub struct EndpointDecl {
    pub path: String,
    pub method: Option<String>,
    pub span: Span,
    /// The answer when no `respond` sequence entry applies.
    pub response: ResponseDecl,
    /// Answers in order; each entry answers `times` requests (the last one: all the rest).
    pub sequence: Vec<RespondDecl>,
    /// Every n-th request gets this answer instead.
    pub every: Option<(u32, ResponseDecl)>,
    /// Overrides the sandbox's error rate for this endpoint.
    pub error_rate: Option<f64>,
    pub signature: Option<SignatureCheckDecl>,
}

#[derive(Debug, Clone, Default)]
pub struct ResponseDecl {
    pub status: Option<u16>,
    pub body: Option<BodyDecl>,
    pub headers: Vec<(String, String)>,
    pub delay: Option<DelaySpec>,
    /// Where the delay was written (warnings point at it).
    pub delay_span: Option<Span>,
    pub fault: Option<ConnectionFault>,
}

#[derive(Debug, Clone)]
pub struct RespondDecl {
    pub times: Option<u32>,
    pub response: ResponseDecl,
}

#[derive(Debug, Clone)]
pub enum BodyDecl {
    Text(String),
    Json(String),
    /// Relative to the plan's folder.
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionFault {
    /// The connection is reset (RST) before any response.
    Reset,
    /// The connection is closed without a response.
    Close,
    /// No response is ever sent; the client's timeout ends it.
    Hang,
    /// Headers are sent, then the body trickles out.
    SlowBody,
}

impl ConnectionFault {
    pub const NAMES: &'static [&'static str] = &["reset", "close", "hang", "slow-body"];

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "reset" => Self::Reset,
            "close" => Self::Close,
            "hang" => Self::Hang,
            "slow-body" => Self::SlowBody,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Close => "close",
            Self::Hang => "hang",
            Self::SlowBody => "slow-body",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    StandardWebhooks,
    Stripe,
}

impl SignatureScheme {
    pub const NAMES: &'static [&'static str] = &["standard-webhooks", "stripe"];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "standard-webhooks" => Some(Self::StandardWebhooks),
            "stripe" => Some(Self::Stripe),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StandardWebhooks => "standard-webhooks",
            Self::Stripe => "stripe",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SignatureCheckDecl {
    pub scheme: SignatureScheme,
    pub secret: Template,
    pub tolerance: Duration,
}

// ---------------------------------------------------------------- steps

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    /// The step's name as written.
    pub span: Span,
    pub description: Option<String>,
    pub needs: Vec<Spanned<String>>,
    pub action: Action,
    pub retry: Option<RetryPolicy>,
    /// Covers all attempts and retry waits, on the virtual clock.
    pub timeout: Option<Duration>,
    pub attempt_timeout: Option<Duration>,
    pub expect: Expectations,
    pub captures: Vec<Capture>,
    pub continue_on_error: bool,
    pub always: bool,
    pub tags: Vec<String>,
}

impl Step {
    /// A step that does `action` with every setting at its default.
    pub fn new(name: &str, action: Action) -> Self {
        Self {
            name: name.to_string(),
            span: Span::default(),
            description: None,
            needs: Vec::new(),
            action,
            retry: None,
            timeout: None,
            attempt_timeout: None,
            expect: Expectations::default(),
            captures: Vec::new(),
            continue_on_error: false,
            always: false,
            tags: Vec::new(),
        }
    }

    /// Sandboxes this step uses, directly or through templates: it depends on them implicitly.
    pub fn sandboxes_used(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for template in self.templates() {
            for (reference, _) in template.references() {
                if let Reference::Sandbox { name, .. } = reference {
                    names.insert(name.clone());
                }
            }
        }
        for (resource, name) in self.action.spec().resources() {
            if resource == Resource::Sandbox {
                names.insert(name.value.clone());
            }
        }
        names
    }

    /// Every template the step holds, for checking and resolution.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = self.action.spec().templates();
        for header in &self.expect.headers {
            if let Some(value) = &header.value {
                out.push(value);
            }
        }
        for json in &self.expect.json {
            if let ExpectedJson::Text(t) = &json.value {
                out.push(t);
            }
        }
        out
    }
}

// ---------------------------------------------------------------- expectations

#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// Alternatives; `None` = any 2xx.
    pub status: Option<Vec<StatusPattern>>,
    /// Requests sent (1 + retries).
    pub attempts: Option<u32>,
    pub headers: Vec<HeaderExpectation>,
    pub json: Vec<JsonExpectation>,
    pub body_contains: Vec<String>,
    pub duration_below: Option<Duration>,
    /// The waits scheduled before each retry, in order (`delays "2s" "4s"`).
    pub delays: Option<Vec<Duration>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    Code(u16),
    /// `"3xx"` = 300–399.
    Class(u16),
}

impl StatusPattern {
    pub fn matches(self, status: u16) -> bool {
        match self {
            Self::Code(code) => code == status,
            Self::Class(class) => status / 100 == class,
        }
    }
}

impl std::fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Code(code) => write!(f, "{code}"),
            Self::Class(class) => write!(f, "{class}xx"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HeaderExpectation {
    pub name: String,
    /// `None` = the header is present.
    pub value: Option<Template>,
}

#[derive(Debug, Clone)]
pub struct JsonExpectation {
    /// A JSON Pointer (RFC 6901).
    pub pointer: String,
    pub value: ExpectedJson,
}

#[derive(Debug, Clone)]
pub enum ExpectedJson {
    /// A number, boolean or null, compared by JSON value.
    Literal(serde_json::Value),
    /// A string, possibly with templates.
    Text(Template),
}

#[derive(Debug, Clone)]
pub struct Capture {
    pub name: Spanned<String>,
    pub source: CaptureSource,
    /// The value is masked everywhere from then on (a token, a password).
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureSource {
    Json(String),
    Header(String),
    Status,
    Body,
}
