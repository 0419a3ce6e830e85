//! What a sandbox does: its address, seed, faults and endpoints. Plans build it from their
//! `sandbox` node ([`SandboxConfig::from_decl`]), the CLI from its flags; `configure-endpoint`
//! adds endpoints to a running one through its folder (see `endpoints`).

use crate::model::{self, BodyDecl, DelaySpec, EndpointDecl, ResponseDecl, SandboxDecl, Template};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

/// The body limit when none is given: 10 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
/// How long a client may take to send a request's headers (and how long an idle keep-alive
/// connection may stay open).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The CLI's sandbox port, as the spec has it.
pub const DEFAULT_PORT: u16 = 8888;
/// The CLI's sandbox name.
pub const DEFAULT_NAME: &str = "default";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// Names the sandbox's folder: `<state>/sandbox/<name>/`.
    pub name: String,
    pub bind: IpAddr,
    /// 0 = any free port.
    pub port: u16,
    /// Fixes every random choice (error injection, delay ranges).
    pub seed: u64,
    /// The chance that a request to a route or endpoint without a `respond` sequence gets
    /// `error_status` instead of its answer.
    pub error_rate: f64,
    pub error_status: u16,
    /// Applies to every routed request whose answer names no delay of its own.
    #[serde(default)]
    pub delay: Option<Delay>,
    pub max_body_bytes: u64,
    #[serde(with = "millis")]
    pub header_read_timeout: Duration,
    #[serde(default)]
    pub endpoints: Vec<EndpointConfig>,
    /// Emulates Infisical's API under `/api/v1/`, `/api/v3/` and `/api/v4/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infisical: Option<super::infisical::InfisicalConfig>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            name: DEFAULT_NAME.into(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            seed: 0,
            error_rate: 0.0,
            error_status: 503,
            delay: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            endpoints: Vec::new(),
            infisical: None,
        }
    }
}

/// A scheduled delay: fixed when `min == max`, otherwise drawn uniformly from the range for
/// each request (keyed like faults, so the same request gets the same delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    #[serde(rename = "min_ms", with = "millis")]
    pub min: Duration,
    #[serde(rename = "max_ms", with = "millis")]
    pub max: Duration,
}

impl Delay {
    pub const fn fixed(delay: Duration) -> Self {
        Self {
            min: delay,
            max: delay,
        }
    }

    pub fn range(min: Duration, max: Duration) -> Result<Self, String> {
        if max < min {
            return Err("the end of a delay range is before its start".into());
        }
        Ok(Self { min, max })
    }

    pub fn is_fixed(&self) -> bool {
        self.min == self.max
    }
}

impl From<DelaySpec> for Delay {
    fn from(spec: DelaySpec) -> Self {
        match spec {
            DelaySpec::Fixed(d) => Self::fixed(d),
            // The decoder guarantees low <= high; order them anyway rather than fail.
            DelaySpec::Range(a, b) => Self {
                min: a.min(b),
                max: a.max(b),
            },
        }
    }
}

/// An endpoint whose answers are configured. It overrides the default routes (and earlier
/// endpoints) for the requests it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// An exact path, or a glob (`/webhook/*`).
    pub path: String,
    /// Upper-case; `None` = any method.
    #[serde(default)]
    pub method: Option<String>,
    /// The answer when no `sequence` entry or `every` applies.
    #[serde(default)]
    pub response: ResponseConfig,
    /// Answers in order, counted per endpoint; each entry answers `times` requests, one
    /// without `times` all the rest. The error rate does not apply to these answers.
    #[serde(default)]
    pub sequence: Vec<SequenceEntry>,
    /// Every n-th request to the endpoint gets this answer instead.
    #[serde(default)]
    pub every: Option<Every>,
    /// Overrides the sandbox's error rate for this endpoint.
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// Requests without a valid signature get 401.
    #[serde(default)]
    pub signature: Option<SignatureConfig>,
}

impl EndpointConfig {
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            method: None,
            response: ResponseConfig::default(),
            sequence: Vec::new(),
            every: None,
            error_rate: None,
            signature: None,
        }
    }

    /// The key random draws and counters use: method (or `*`) and path.
    pub fn key(&self) -> String {
        format!("{} {}", self.method.as_deref().unwrap_or("*"), self.path)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceEntry {
    /// `None` = this entry answers every remaining request.
    #[serde(default)]
    pub times: Option<u32>,
    pub response: ResponseConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Every {
    /// At least 2.
    pub n: u32,
    pub response: ResponseConfig,
}

/// One answer. Unset parts fall back: status 200, the JSON acknowledgement body, the sandbox's
/// delay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseConfig {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: Option<BodyConfig>,
    #[serde(default)]
    pub delay: Option<Delay>,
    #[serde(default)]
    pub fault: Option<ConnectionFault>,
}

/// A response body, kept as text when it is UTF-8 and as base64 otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyConfig {
    pub content_type: String,
    pub data: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base64: bool,
}

impl BodyConfig {
    pub fn text(content_type: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            content_type: content_type.into(),
            data: text.into(),
            base64: false,
        }
    }

    pub fn from_bytes(content_type: impl Into<String>, bytes: Vec<u8>) -> Self {
        let (data, base64) = super::recording::encode_body(&bytes);
        Self {
            content_type: content_type.into(),
            data,
            base64,
        }
    }

    /// Reads a response file; the content type follows the extension (JSON also by content).
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| {
            format!(
                "cannot read response file {}: {}",
                path.display(),
                crate::io_error::describe(&e)
            )
        })?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let content_type = match extension.as_str() {
            "json" => "application/json",
            "xml" => "application/xml",
            "html" | "htm" => "text/html; charset=utf-8",
            "txt" | "text" => "text/plain; charset=utf-8",
            _ if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() => {
                "application/json"
            }
            _ if std::str::from_utf8(&bytes).is_ok() => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        };
        Ok(Self::from_bytes(content_type, bytes))
    }

    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        super::recording::decode_body(&self.data, self.base64)
            .map_err(|_| "a response body marked base64 is not valid base64".to_string())
    }
}

/// A fault on the connection instead of (or while sending) an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionFault {
    /// The connection is reset (RST) without a response.
    Reset,
    /// The connection is closed without a response.
    Close,
    /// No response is ever sent; ends when the client gives up or the sandbox stops.
    Hang,
    /// The headers go out at once, then the body trickles out in pieces.
    SlowBody,
}

impl ConnectionFault {
    pub fn as_str(self) -> &'static str {
        model::ConnectionFault::from(self).as_str()
    }

    pub fn parse(text: &str) -> Option<Self> {
        model::ConnectionFault::parse(text).map(Self::from)
    }
}

impl From<model::ConnectionFault> for ConnectionFault {
    fn from(fault: model::ConnectionFault) -> Self {
        match fault {
            model::ConnectionFault::Reset => Self::Reset,
            model::ConnectionFault::Close => Self::Close,
            model::ConnectionFault::Hang => Self::Hang,
            model::ConnectionFault::SlowBody => Self::SlowBody,
        }
    }
}

impl From<ConnectionFault> for model::ConnectionFault {
    fn from(fault: ConnectionFault) -> Self {
        match fault {
            ConnectionFault::Reset => Self::Reset,
            ConnectionFault::Close => Self::Close,
            ConnectionFault::Hang => Self::Hang,
            ConnectionFault::SlowBody => Self::SlowBody,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureScheme {
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`; a `whsec_` secret.
    StandardWebhooks,
    /// `Stripe-Signature: t=…,v1=<hex>`.
    Stripe,
}

impl From<model::SignatureScheme> for SignatureScheme {
    fn from(scheme: model::SignatureScheme) -> Self {
        match scheme {
            model::SignatureScheme::StandardWebhooks => Self::StandardWebhooks,
            model::SignatureScheme::Stripe => Self::Stripe,
        }
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureConfig {
    pub scheme: SignatureScheme,
    /// Never written out: a configuration that is saved or printed must not hold it.
    #[serde(default, skip_serializing)]
    pub secret: String,
    /// How far the signed timestamp may be from now.
    #[serde(rename = "tolerance_ms", with = "millis")]
    pub tolerance: Duration,
}

impl std::fmt::Debug for SignatureConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureConfig")
            .field("scheme", &self.scheme)
            .field("secret", &"…")
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl SandboxConfig {
    /// The configuration a plan's `sandbox` node declares. Body files are read relative to
    /// `base_dir` (the plan's folder). A signature secret must be a literal here; a plan run
    /// that resolves templates uses [`SandboxConfig::from_decl_with`].
    pub fn from_decl(decl: &SandboxDecl, base_dir: &Path, seed: u64) -> Result<Self, String> {
        Self::from_decl_with(decl, base_dir, seed, &mut |template: &Template| {
            template.as_literal().ok_or_else(|| {
                format!("the signature secret {template} must be resolved by the plan run")
            })
        })
    }

    /// As [`SandboxConfig::from_decl`], with `resolve` turning the templates a sandbox holds
    /// (signature secrets, the Infisical client secret) into their values.
    pub fn from_decl_with(
        decl: &SandboxDecl,
        base_dir: &Path,
        seed: u64,
        resolve: &mut dyn FnMut(&Template) -> Result<String, String>,
    ) -> Result<Self, String> {
        let bind: IpAddr = decl.bind.parse().map_err(|_| {
            format!(
                "sandbox \"{}\": \"{}\" is not an IP address",
                decl.name, decl.bind
            )
        })?;
        let mut endpoints = Vec::with_capacity(decl.endpoints.len());
        for endpoint in &decl.endpoints {
            endpoints.push(
                endpoint_from_decl(endpoint, base_dir, resolve).map_err(|e| {
                    format!(
                        "sandbox \"{}\", endpoint \"{}\": {e}",
                        decl.name, endpoint.path
                    )
                })?,
            );
        }
        let infisical = match &decl.infisical {
            Some(infisical) => Some(
                super::infisical::InfisicalConfig::from_decl(infisical, resolve)
                    .map_err(|e| format!("sandbox \"{}\", infisical: {e}", decl.name))?,
            ),
            None => None,
        };
        let config = Self {
            name: decl.name.clone(),
            bind,
            port: decl.port,
            seed,
            error_rate: decl.error_rate,
            error_status: decl.error_status,
            delay: decl.delay.map(Delay::from),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            endpoints,
            infisical,
        };
        config
            .validate()
            .map_err(|e| format!("sandbox \"{}\": {e}", decl.name))?;
        Ok(config)
    }

    /// Checks what serde cannot: ranges, names, paths, header syntax.
    pub fn validate(&self) -> Result<(), String> {
        validate_name(&self.name)?;
        check_rate(self.error_rate, "the error rate")?;
        check_status(self.error_status, "the error status")?;
        if self.max_body_bytes == 0 {
            return Err("the body limit must be at least 1 byte".into());
        }
        if let Some(delay) = &self.delay {
            check_delay(delay)?;
        }
        for endpoint in &self.endpoints {
            endpoint
                .validate()
                .map_err(|e| format!("endpoint \"{}\": {e}", endpoint.path))?;
        }
        if let Some(infisical) = &self.infisical {
            infisical.validate()?;
        }
        Ok(())
    }
}

impl EndpointConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !self.path.starts_with('/') {
            return Err("the path must start with `/`".into());
        }
        if self.path.contains(['*', '?', '[']) {
            glob::Pattern::new(&self.path)
                .map_err(|e| format!("not a valid path pattern: {}", e.msg))?;
        }
        if let Some(method) = &self.method {
            hyper::http::Method::from_bytes(method.as_bytes())
                .map_err(|_| format!("\"{method}\" is not an HTTP method"))?;
        }
        if let Some(rate) = self.error_rate {
            check_rate(rate, "the error rate")?;
        }
        self.response.validate()?;
        for entry in &self.sequence {
            if entry.times == Some(0) {
                return Err("a sequence entry must answer at least one request (times ≥ 1)".into());
            }
            entry.response.validate()?;
        }
        if let Some(every) = &self.every {
            if every.n < 2 {
                return Err("`every` needs n ≥ 2".into());
            }
            every.response.validate()?;
        }
        Ok(())
    }
}

impl ResponseConfig {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(status) = self.status {
            check_status(status, "a status")?;
        }
        for (name, value) in &self.headers {
            hyper::http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("\"{name}\" is not a valid header name"))?;
            hyper::http::HeaderValue::from_str(value).map_err(|_| {
                format!("the value of header \"{name}\" has characters a header cannot hold")
            })?;
        }
        if let Some(body) = &self.body {
            body.bytes()?;
            hyper::http::HeaderValue::from_str(&body.content_type)
                .map_err(|_| format!("\"{}\" is not a valid content type", body.content_type))?;
        }
        if let Some(delay) = &self.delay {
            check_delay(delay)?;
        }
        Ok(())
    }
}

/// Sandbox names become folder names: keep them to letters, digits, `-`, `_` and `.`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a sandbox name: use letters, digits, `-`, `_` and `.` (at most 64)"
        ))
    }
}

fn check_rate(rate: f64, what: &str) -> Result<(), String> {
    if (0.0..=1.0).contains(&rate) {
        Ok(())
    } else {
        Err(format!("{what} must be between 0 and 1, not {rate}"))
    }
}

fn check_status(status: u16, what: &str) -> Result<(), String> {
    if (100..=599).contains(&status) {
        Ok(())
    } else {
        Err(format!(
            "{what} must be an HTTP status (100–599), not {status}"
        ))
    }
}

fn check_delay(delay: &Delay) -> Result<(), String> {
    if delay.max < delay.min {
        return Err("the end of a delay range is before its start".into());
    }
    // A day is far beyond any client timeout; larger values are typos.
    if delay.max > Duration::from_secs(86_400) {
        return Err("a delay must be at most 24h".into());
    }
    Ok(())
}

fn endpoint_from_decl(
    decl: &EndpointDecl,
    base_dir: &Path,
    resolve: &mut dyn FnMut(&Template) -> Result<String, String>,
) -> Result<EndpointConfig, String> {
    let signature = match &decl.signature {
        Some(check) => Some(SignatureConfig {
            scheme: check.scheme.into(),
            secret: resolve(&check.secret)?,
            tolerance: check.tolerance,
        }),
        None => None,
    };
    let sequence = decl
        .sequence
        .iter()
        .map(|entry| {
            Ok(SequenceEntry {
                times: entry.times,
                response: response_from_decl(&entry.response, base_dir)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let every = match &decl.every {
        Some((n, response)) => Some(Every {
            n: *n,
            response: response_from_decl(response, base_dir)?,
        }),
        None => None,
    };
    Ok(EndpointConfig {
        path: decl.path.clone(),
        method: decl.method.as_ref().map(|m| m.to_ascii_uppercase()),
        response: response_from_decl(&decl.response, base_dir)?,
        sequence,
        every,
        error_rate: decl.error_rate,
        signature,
    })
}

fn response_from_decl(decl: &ResponseDecl, base_dir: &Path) -> Result<ResponseConfig, String> {
    let body = match &decl.body {
        None => None,
        Some(BodyDecl::Text(text)) => {
            Some(BodyConfig::text("text/plain; charset=utf-8", text.clone()))
        }
        Some(BodyDecl::Json(text)) => Some(BodyConfig::text("application/json", text.clone())),
        Some(BodyDecl::File(path)) => Some(BodyConfig::from_file(&base_dir.join(path))?),
    };
    Ok(ResponseConfig {
        status: decl.status,
        headers: decl.headers.clone(),
        body,
        delay: decl.delay.map(Delay::from),
        fault: decl.fault.map(ConnectionFault::from),
    })
}

/// Durations as whole milliseconds in JSON.
pub(crate) mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RespondDecl, Span};

    fn decl() -> SandboxDecl {
        SandboxDecl {
            name: "hooks".into(),
            span: Span::default(),
            port: 0,
            bind: "127.0.0.1".into(),
            error_rate: 0.2,
            error_status: 502,
            delay: Some(DelaySpec::Range(
                Duration::from_millis(100),
                Duration::from_millis(300),
            )),
            delay_span: None,
            endpoints: vec![
                EndpointDecl {
                    path: "/webhook/payment".into(),
                    method: Some("post".into()),
                    span: Span::default(),
                    response: ResponseDecl {
                        status: Some(201),
                        body: Some(BodyDecl::File("charge.json".into())),
                        ..Default::default()
                    },
                    sequence: Vec::new(),
                    every: None,
                    error_rate: None,
                    signature: None,
                },
                EndpointDecl {
                    path: "/webhook/flaky".into(),
                    method: None,
                    span: Span::default(),
                    response: ResponseDecl::default(),
                    sequence: vec![
                        RespondDecl {
                            times: Some(2),
                            response: ResponseDecl {
                                status: Some(503),
                                ..Default::default()
                            },
                        },
                        RespondDecl {
                            times: None,
                            response: ResponseDecl {
                                status: Some(200),
                                fault: Some(model::ConnectionFault::SlowBody),
                                ..Default::default()
                            },
                        },
                    ],
                    every: Some((
                        3,
                        ResponseDecl {
                            status: Some(500),
                            ..Default::default()
                        },
                    )),
                    error_rate: Some(0.0),
                    signature: None,
                },
            ],
            infisical: None,
        }
    }

    #[test]
    fn a_declared_sandbox_becomes_a_config_with_body_files_read_from_the_plan_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("charge.json"), br#"{"id": "ch_1"}"#).unwrap();
        let config = SandboxConfig::from_decl(&decl(), dir.path(), 42).unwrap();
        assert_eq!(config.seed, 42);
        assert_eq!(config.port, 0);
        assert_eq!(config.error_status, 502);
        assert_eq!(
            config.delay,
            Some(Delay {
                min: Duration::from_millis(100),
                max: Duration::from_millis(300)
            })
        );
        let payment = &config.endpoints[0];
        assert_eq!(payment.method.as_deref(), Some("POST"));
        assert_eq!(payment.response.status, Some(201));
        let body = payment.response.body.as_ref().unwrap();
        assert_eq!(body.content_type, "application/json");
        assert_eq!(body.bytes().unwrap(), br#"{"id": "ch_1"}"#);
        let flaky = &config.endpoints[1];
        assert_eq!(flaky.sequence.len(), 2);
        assert_eq!(
            flaky.sequence[1].response.fault,
            Some(ConnectionFault::SlowBody)
        );
        assert_eq!(flaky.every.as_ref().unwrap().n, 3);
        // It survives a trip through JSON.
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<SandboxConfig>(&json).unwrap(),
            config
        );
    }

    #[test]
    fn a_missing_body_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = SandboxConfig::from_decl(&decl(), dir.path(), 0).unwrap_err();
        assert!(error.contains("charge.json"), "{error}");
        assert!(error.contains("/webhook/payment"), "{error}");
    }

    #[test]
    fn signature_secrets_are_never_serialized() {
        let mut endpoint = EndpointConfig::new("/webhook/signed");
        endpoint.signature = Some(SignatureConfig {
            scheme: SignatureScheme::Stripe,
            secret: "whsec_canary".into(),
            tolerance: Duration::from_secs(300),
        });
        let json = serde_json::to_string(&endpoint).unwrap();
        assert!(!json.contains("canary"), "{json}");
        assert!(!format!("{endpoint:?}").contains("canary"));
    }

    #[test]
    fn validation_names_the_problem() {
        let mut config = SandboxConfig {
            error_rate: 1.5,
            ..Default::default()
        };
        assert!(config.validate().unwrap_err().contains("error rate"));
        config.error_rate = 0.1;
        config.name = "../x".into();
        assert!(config.validate().unwrap_err().contains("sandbox name"));
        config.name = "ok".into();
        config.endpoints.push(EndpointConfig::new("webhook"));
        assert!(config.validate().unwrap_err().contains("start with `/`"));
    }
}
