//! Webhook signatures an endpoint may require: Standard Webhooks and Stripe's scheme.
//! Both are HMAC-SHA256 over a timestamp and the body; a timestamp too far from now is
//! refused so that a captured request cannot be replayed forever.

use super::config::SignatureScheme;
use base64::Engine;
use hmac::{Hmac, Mac};
use hyper::HeaderMap;
use sha2::Sha256;
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

/// Checks a request's signature. The error says what is wrong, never the secret or the
/// expected signature.
pub fn verify(
    scheme: SignatureScheme,
    secret: &str,
    tolerance: Duration,
    headers: &HeaderMap,
    body: &[u8],
    now_unix: i64,
) -> Result<(), String> {
    match scheme {
        SignatureScheme::StandardWebhooks => {
            verify_standard_webhooks(secret, tolerance, headers, body, now_unix)
        }
        SignatureScheme::Stripe => verify_stripe(secret, tolerance, headers, body, now_unix),
    }
}

/// The `webhook-signature` value for a message (`v1,<base64>`).
pub fn sign_standard_webhooks(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = standard_webhooks_mac(secret, id, timestamp, body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// The `Stripe-Signature` value for a payload (`t=…,v1=<hex>`).
pub fn sign_stripe(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(stripe_mac(secret, timestamp, body).finalize().into_bytes())
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, String> {
    headers
        .get(name)
        .ok_or_else(|| format!("no {name} header"))?
        .to_str()
        .map_err(|_| format!("the {name} header is not text"))
}

fn check_time(timestamp: i64, tolerance: Duration, now_unix: i64) -> Result<(), String> {
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now_unix.abs_diff(timestamp) > tolerance.unsigned_abs() {
        return Err(format!(
            "the signed timestamp is more than {}s from now",
            tolerance
        ));
    }
    Ok(())
}

fn standard_webhooks_key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| secret.as_bytes().to_vec())
}

fn standard_webhooks_mac(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(&standard_webhooks_key(secret))
        .expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    mac
}

fn stripe_mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    mac
}

fn verify_standard_webhooks(
    secret: &str,
    tolerance: Duration,
    headers: &HeaderMap,
    body: &[u8],
    now_unix: i64,
) -> Result<(), String> {
    let id = header(headers, "webhook-id")?;
    let timestamp: i64 = header(headers, "webhook-timestamp")?
        .trim()
        .parse()
        .map_err(|_| "the webhook-timestamp header is not a number".to_string())?;
    let signatures = header(headers, "webhook-signature")?;
    check_time(timestamp, tolerance, now_unix)?;
    let expected = standard_webhooks_mac(secret, id, timestamp, body);
    let valid = signatures
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .any(|given| expected.clone().verify_slice(&given).is_ok());
    if valid {
        Ok(())
    } else {
        Err("no webhook-signature matches".into())
    }
}

fn verify_stripe(
    secret: &str,
    tolerance: Duration,
    headers: &HeaderMap,
    body: &[u8],
    now_unix: i64,
) -> Result<(), String> {
    let value = header(headers, "stripe-signature")?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or("the stripe-signature header has no t=")?;
    check_time(timestamp, tolerance, now_unix)?;
    let expected = stripe_mac(secret, timestamp, body);
    if signatures
        .iter()
        .any(|given| expected.clone().verify_slice(given).is_ok())
    {
        Ok(())
    } else {
        Err("no v1 signature matches".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    #[test]
    fn standard_webhooks_signatures_verify_and_forgeries_do_not() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"type":"payment.succeeded"}"#;
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_static("msg_1"));
        headers.insert("webhook-timestamp", HeaderValue::from_static("1700000000"));
        let signature = sign_standard_webhooks(secret, "msg_1", 1_700_000_000, body);
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(&format!("v1,bogus {signature}")).unwrap(),
        );
        assert_eq!(
            verify(
                SignatureScheme::StandardWebhooks,
                secret,
                FIVE_MINUTES,
                &headers,
                body,
                1_700_000_100
            ),
            Ok(())
        );
        assert!(
            verify(
                SignatureScheme::StandardWebhooks,
                secret,
                FIVE_MINUTES,
                &headers,
                b"{}",
                1_700_000_100
            )
            .is_err()
        );
        let late = verify(
            SignatureScheme::StandardWebhooks,
            secret,
            FIVE_MINUTES,
            &headers,
            body,
            1_700_001_000,
        )
        .unwrap_err();
        assert!(late.contains("timestamp"), "{late}");
        headers.remove("webhook-id");
        assert_eq!(
            verify(
                SignatureScheme::StandardWebhooks,
                secret,
                FIVE_MINUTES,
                &headers,
                body,
                1_700_000_000
            ),
            Err("no webhook-id header".into())
        );
    }

    #[test]
    fn stripe_signatures_verify_and_forgeries_do_not() {
        let secret = "whsec_test_secret";
        let body = br#"{"id":"evt_1"}"#;
        let mut headers = HeaderMap::new();
        headers.insert(
            "stripe-signature",
            HeaderValue::from_str(&sign_stripe(secret, 1_700_000_000, body)).unwrap(),
        );
        assert_eq!(
            verify(
                SignatureScheme::Stripe,
                secret,
                FIVE_MINUTES,
                &headers,
                body,
                1_700_000_000
            ),
            Ok(())
        );
        let error = verify(
            SignatureScheme::Stripe,
            "whsec_other",
            FIVE_MINUTES,
            &headers,
            body,
            1_700_000_000,
        )
        .unwrap_err();
        assert!(!error.contains("whsec"), "{error}");
    }
}
