//! Which rule answers a request: a configured endpoint, a default route (`/webhook/*`,
//! `/test`, `/api/*`), or none (404).
//!
//! Endpoints are compiled once per configuration change (header values checked, bodies
//! decoded) so that a request only looks things up.

use super::config::{ConnectionFault, Delay, EndpointConfig, ResponseConfig, SignatureConfig};
use bytes::Bytes;
use hyper::Method;
use hyper::StatusCode;
use hyper::header::{HeaderName, HeaderValue};
use std::sync::Arc;

/// The routes every sandbox serves, as the spec lists them.
pub const DEFAULT_ROUTES: &[(&str, &str)] = &[
    ("/webhook/*", "Any webhook path"),
    ("/test", "Test endpoint"),
    ("/api/*", "API simulation"),
];

pub(crate) struct Routes {
    endpoints: Vec<CompiledEndpoint>,
}

pub(crate) enum Route<'a> {
    Endpoint(&'a CompiledEndpoint),
    /// A default route, by its key (`/webhook/*`).
    Default(&'static str),
    NotFound,
}

impl Route<'_> {
    /// The name recordings and random draws use.
    pub fn key(&self) -> Option<&str> {
        match self {
            Route::Endpoint(e) => Some(&e.key),
            Route::Default(key) => Some(key),
            Route::NotFound => None,
        }
    }
}

pub(crate) struct CompiledEndpoint {
    /// `POST /webhook/payment` or `* /webhook/payment`.
    pub key: Arc<str>,
    /// Counts requests for sequences and every-n-th answers: the key and a digest of the
    /// configuration, so that a reconfigured endpoint starts its sequence again while an
    /// unchanged one (through a reload for another endpoint) keeps counting.
    pub counter: Arc<str>,
    path: PathMatch,
    method: Option<Method>,
    pub response: CompiledResponse,
    pub sequence: Vec<(Option<u32>, CompiledResponse)>,
    pub every: Option<(u32, CompiledResponse)>,
    pub error_rate: Option<f64>,
    pub signature: Option<SignatureConfig>,
}

enum PathMatch {
    Exact(String),
    Glob(glob::Pattern),
}

#[derive(Clone)]
pub(crate) struct CompiledResponse {
    pub status: Option<StatusCode>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body and its content type.
    pub body: Option<(Bytes, HeaderValue)>,
    pub delay: Option<Delay>,
    pub fault: Option<ConnectionFault>,
}

impl Routes {
    /// Later endpoints win over earlier ones that match the same requests equally well, so
    /// endpoints configured at run time override declared ones.
    pub fn compile(endpoints: &[EndpointConfig]) -> Result<Self, String> {
        let endpoints = endpoints
            .iter()
            .map(|e| {
                compile_endpoint(e).map_err(|error| format!("endpoint \"{}\": {error}", e.path))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { endpoints })
    }

    pub fn find(&self, method: &Method, path: &str) -> Route<'_> {
        let mut best: Option<(u8, &CompiledEndpoint)> = None;
        for endpoint in &self.endpoints {
            let Some(score) = endpoint.score(method, path) else {
                continue;
            };
            if best.is_none_or(|(b, _)| score >= b) {
                best = Some((score, endpoint));
            }
        }
        if let Some((_, endpoint)) = best {
            return Route::Endpoint(endpoint);
        }
        default_route(path).map_or(Route::NotFound, Route::Default)
    }
}

impl CompiledEndpoint {
    /// How well it matches: an exact path beats a pattern, a named method beats any method.
    fn score(&self, method: &Method, path: &str) -> Option<u8> {
        let path_score = match &self.path {
            PathMatch::Exact(p) if p == path => 2,
            PathMatch::Glob(g) if g.matches(path) => 0,
            _ => return None,
        };
        let method_score = match &self.method {
            Some(m) if m == method => 1,
            Some(_) => return None,
            None => 0,
        };
        Some(path_score + method_score)
    }
}

fn default_route(path: &str) -> Option<&'static str> {
    if path
        .strip_prefix("/webhook/")
        .is_some_and(|rest| !rest.is_empty())
    {
        Some("/webhook/*")
    } else if path == "/test" {
        Some("/test")
    } else if path
        .strip_prefix("/api/")
        .is_some_and(|rest| !rest.is_empty())
    {
        Some("/api/*")
    } else {
        None
    }
}

fn compile_endpoint(config: &EndpointConfig) -> Result<CompiledEndpoint, String> {
    config.validate()?;
    let path = if config.path.contains(['*', '?', '[']) {
        PathMatch::Glob(glob::Pattern::new(&config.path).map_err(|e| e.msg.to_string())?)
    } else {
        PathMatch::Exact(config.path.clone())
    };
    let method = match &config.method {
        Some(m) => Some(
            Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("\"{m}\" is not an HTTP method"))?,
        ),
        None => None,
    };
    Ok(CompiledEndpoint {
        key: config.key().into(),
        counter: counter(config).into(),
        path,
        method,
        response: compile_response(&config.response)?,
        sequence: config
            .sequence
            .iter()
            .map(|entry| Ok((entry.times, compile_response(&entry.response)?)))
            .collect::<Result<_, String>>()?,
        every: match &config.every {
            Some(every) => Some((every.n, compile_response(&every.response)?)),
            None => None,
        },
        error_rate: config.error_rate,
        signature: config.signature.clone(),
    })
}

fn counter(config: &EndpointConfig) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(serde_json::to_vec(config).unwrap_or_default());
    format!("{}#{}", config.key(), hex::encode(&digest[..8]))
}

fn compile_response(config: &ResponseConfig) -> Result<CompiledResponse, String> {
    let status = match config.status {
        Some(s) => Some(StatusCode::from_u16(s).map_err(|_| format!("{s} is not an HTTP status"))?),
        None => None,
    };
    let headers = config
        .headers
        .iter()
        .map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("\"{name}\" is not a valid header name"))?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                format!("the value of header \"{name}\" has characters a header cannot hold")
            })?;
            Ok((name, value))
        })
        .collect::<Result<_, String>>()?;
    let body = match &config.body {
        Some(body) => {
            let content_type = HeaderValue::from_str(&body.content_type)
                .map_err(|_| format!("\"{}\" is not a valid content type", body.content_type))?;
            Some((Bytes::from(body.bytes()?), content_type))
        }
        None => None,
    };
    Ok(CompiledResponse {
        status,
        headers,
        body,
        delay: config.delay,
        fault: config.fault,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(path: &str, method: Option<&str>, status: u16) -> EndpointConfig {
        let mut e = EndpointConfig::new(path);
        e.method = method.map(str::to_string);
        e.response.status = Some(status);
        e
    }

    fn status(routes: &Routes, method: Method, path: &str) -> Option<u16> {
        match routes.find(&method, path) {
            Route::Endpoint(e) => e.response.status.map(|s| s.as_u16()),
            _ => None,
        }
    }

    #[test]
    fn default_routes_are_the_specs() {
        let routes = Routes::compile(&[]).unwrap();
        assert_eq!(
            routes.find(&Method::POST, "/webhook/payment").key(),
            Some("/webhook/*")
        );
        assert_eq!(
            routes.find(&Method::GET, "/webhook/a/b").key(),
            Some("/webhook/*")
        );
        assert_eq!(routes.find(&Method::PUT, "/test").key(), Some("/test"));
        assert_eq!(
            routes.find(&Method::DELETE, "/api/status").key(),
            Some("/api/*")
        );
        for path in ["/", "/webhook", "/webhook/", "/testing", "/api", "/other"] {
            assert!(
                matches!(routes.find(&Method::POST, path), Route::NotFound),
                "{path}"
            );
        }
    }

    #[test]
    fn the_most_specific_and_then_the_latest_endpoint_wins() {
        let routes = Routes::compile(&[
            endpoint("/webhook/*", None, 500),
            endpoint("/webhook/pay", None, 201),
            endpoint("/webhook/pay", Some("post"), 202),
            endpoint("/custom", None, 203),
            endpoint("/custom", None, 204),
        ])
        .unwrap();
        assert_eq!(status(&routes, Method::POST, "/webhook/pay"), Some(202));
        assert_eq!(status(&routes, Method::GET, "/webhook/pay"), Some(201));
        assert_eq!(status(&routes, Method::GET, "/webhook/other"), Some(500));
        assert_eq!(status(&routes, Method::GET, "/custom"), Some(204));
    }

    #[test]
    fn bad_headers_are_refused_when_compiling() {
        let mut e = endpoint("/x", None, 200);
        e.response.headers.push(("bad header".into(), "v".into()));
        assert!(Routes::compile(&[e]).is_err());
    }
}
