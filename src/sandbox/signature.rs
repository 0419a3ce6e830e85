//! The signature an endpoint may require, checked with the crate's one implementation of both
//! schemes (`crate::signature`).

use super::config::SignatureScheme;
use crate::model;
use hyper::HeaderMap;
use std::time::{Duration, SystemTime};

impl From<SignatureScheme> for model::SignatureScheme {
    fn from(scheme: SignatureScheme) -> Self {
        match scheme {
            SignatureScheme::StandardWebhooks => model::SignatureScheme::StandardWebhooks,
            SignatureScheme::Stripe => model::SignatureScheme::Stripe,
        }
    }
}

/// Checks a request's signature. The error says what is wrong, never the secret or the
/// expected signature.
pub fn verify(
    scheme: SignatureScheme,
    secret: &str,
    tolerance: Duration,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), String> {
    let pairs = headers
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v)));
    crate::signature::verify(scheme.into(), secret, pairs, body, now, tolerance)
        .map_err(|e| e.to_string())
}
