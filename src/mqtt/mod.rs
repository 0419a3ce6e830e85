//! MQTT: every attempt of a `call` or `http` step on `PREFIX/requests`, each final result on
//! `PREFIX/responses`, and alerts on the alerting mqtt channel's topic.
//!
//! One lossy sink per declared connection ([`MqttSink`]); behind it a bounded outbox
//! ([`outbox::Outbox`]) that keeps every message until the broker acknowledged it, and a
//! connection ([`connection::Connection`]) that reconnects with a growing delay and sends
//! again what a lost connection left unacknowledged. A broker that is down, slow or
//! restarting never fails or stalls a delivery: what could not be published is counted.

pub mod connection;
pub mod outbox;
pub mod payload;
mod sink;

pub use connection::Counts;
pub use sink::{MqttSink, Topics};

use crate::exec::values::Values;
use crate::exec::{Finished, Sinks};
use crate::model::{AlertingDecl, BrokerAddress, ChannelDecl, MqttDecl};
use connection::Connection;
use rumqttc::{MqttOptions, QoS, TlsConfiguration, Transport};
use std::collections::BTreeMap;
use std::time::Duration;

/// Why a connection could not be set up; never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot resolve {0}")]
    Unresolved(String),
    #[error("{0}")]
    BadUrl(String),
}

/// Adds a lossy sink per connection; each connection starts connecting at once, on a thread
/// of its own.
pub fn add_sinks(
    mut sinks: Sinks,
    connections: &[MqttDecl],
    alerting: Option<&AlertingDecl>,
    values: &Values,
) -> Sinks {
    if connections.is_empty() {
        return sinks;
    }
    let run_key = run_key();
    for decl in connections {
        let connection = options(decl, values, &run_key)
            .map(|(options, qos)| Connection::spawn(options, qos, decl.outbox))
            .map_err(|e| e.to_string());
        let topics = Topics {
            prefix: decl.topic_prefix.clone(),
            alerts: alerts_topic(decl, connections.len(), alerting),
        };
        sinks = sinks.lossy(MqttSink::new(
            decl.name.clone(),
            connection,
            topics,
            decl.drain,
            run_key.clone(),
        ));
    }
    sinks
}

/// The topic alerts go to on this connection, if the alerting has an mqtt channel for it.
fn alerts_topic(
    decl: &MqttDecl,
    connections: usize,
    alerting: Option<&AlertingDecl>,
) -> Option<String> {
    crate::alerting::active(alerting)?
        .channels
        .iter()
        .find_map(|channel| match channel {
            ChannelDecl::Mqtt {
                connection, topic, ..
            } => {
                let ours = match connection {
                    Some(name) => name.value == decl.name,
                    None => connections == 1,
                };
                ours.then(|| topic.clone())
            }
            _ => None,
        })
}

/// The client's options: where, who, and how patient.
fn options(
    decl: &MqttDecl,
    values: &Values,
    run_key: &str,
) -> Result<(MqttOptions, QoS), SetupError> {
    let url = decl
        .url
        .render(|reference, _| crate::alerting::lookup(values, reference))
        .map_err(|missing| SetupError::Unresolved(missing.join(", ")))?;
    let address = BrokerAddress::parse(&url).map_err(SetupError::BadUrl)?;
    let mut options = MqttOptions::new(format!("hookplan-{run_key}"), address.host, address.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_inflight(connection::WINDOW as u16);
    if let Some(user) = &decl.username {
        let password = match &decl.password {
            Some(password) => password
                .render(|reference, _| crate::alerting::lookup(values, reference))
                .map_err(|missing| SetupError::Unresolved(missing.join(", ")))?,
            None => String::new(),
        };
        options.set_credentials(user.clone(), password);
    }
    if address.tls {
        options.set_transport(Transport::tls_with_config(tls_config()));
    }
    let qos = if decl.qos == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    };
    Ok((options, qos))
}

/// rustls on ring, trusting the platform's roots (certificates that fail to load are skipped).
fn tls_config() -> TlsConfiguration {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConfiguration::Rustls(std::sync::Arc::new(config))
}

/// 16 random hex digits: message ids start with it, so they are unique across runs.
fn run_key() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    hex::encode(bytes)
}

/// What each connection published, dropped and left unpublished, and why a connection could
/// not be set up at all.
pub struct ConnectionReport {
    pub counts: Counts,
    pub setup_error: Option<String>,
}

/// Takes the sinks back after the run.
pub fn take_reports(finished: &mut Finished) -> BTreeMap<String, ConnectionReport> {
    let mut reports = BTreeMap::new();
    while let Some(sink) = finished.take::<MqttSink>() {
        reports.insert(
            sink.connection_name().to_string(),
            ConnectionReport {
                counts: sink.counts(),
                setup_error: sink.setup_error().map(str::to_string),
            },
        );
    }
    reports
}
