//! The `mqtt` node: a broker the run publishes its deliveries (and alerts) to.

use super::{Span, Template};
use std::time::Duration;

/// Messages the outbox holds when the node names no `outbox`.
pub const DEFAULT_OUTBOX: usize = 10_000;

/// Real time the end of a run waits for the outbox to empty when the node names no `drain`.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(2);

/// The topic prefix when the node names none: `webhook/requests`, `webhook/responses`.
pub const DEFAULT_TOPIC_PREFIX: &str = "webhook";

/// An `mqtt` connection as a plan or the project config declares it (the plan's win).
#[derive(Debug, Clone, PartialEq)]
pub struct MqttDecl {
    pub name: String,
    pub span: Span,
    /// `mqtt://host:port` or `mqtts://host:port`; may read env, secrets and variables.
    pub url: Template,
    pub topic_prefix: String,
    /// 0 or 1 (at most once, at least once).
    pub qos: u8,
    pub username: Option<String>,
    pub password: Option<Template>,
    /// How many messages may wait for the broker; beyond it the oldest are dropped.
    pub outbox: usize,
    /// How long the end of a run waits for what is still unpublished.
    pub drain: Duration,
}

impl MqttDecl {
    pub fn new(name: String, span: Span, url: Template) -> Self {
        Self {
            name,
            span,
            url,
            topic_prefix: DEFAULT_TOPIC_PREFIX.to_string(),
            qos: 1,
            username: None,
            password: None,
            outbox: DEFAULT_OUTBOX,
            drain: DEFAULT_DRAIN,
        }
    }
}

/// Where a broker is, read from an `mqtt://` or `mqtts://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl BrokerAddress {
    /// Reads `mqtt://host[:port]` (1883) or `mqtts://host[:port]` (8883).
    pub fn parse(url: &str) -> Result<Self, String> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err("an mqtt URL starts with mqtt:// or mqtts://".to_string());
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') || authority.contains('@') || authority.is_empty() {
            return Err(
                "an mqtt URL is mqtt://host:port (credentials go in `username`)".to_string(),
            );
        }
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || port.parse::<u16>().is_ok() => (
                host,
                port.parse::<u16>()
                    .map_err(|_| format!("\"{port}\" is not a port"))?,
            ),
            _ => (authority, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err("the mqtt URL names no host".to_string());
        }
        Ok(Self {
            host: host.to_string(),
            port,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_give_host_port_and_tls() {
        let plain = BrokerAddress::parse("mqtt://127.0.0.1:1884").unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.tls),
            ("127.0.0.1", 1884, false)
        );
        let tls = BrokerAddress::parse("mqtts://broker.example").unwrap();
        assert_eq!((tls.port, tls.tls), (8883, true));
        assert!(BrokerAddress::parse("http://x").is_err());
        assert!(BrokerAddress::parse("mqtt://u:p@x").is_err());
        assert!(BrokerAddress::parse("mqtt://x:port").is_err());
    }
}
