//! Webhook signatures, both schemes hookplan produces and checks: Standard Webhooks and Stripe.
//!
//! Both are HMAC-SHA256 over a timestamp and the raw body, and the two derive their keys
//! differently — Standard Webhooks base64-decodes the secret after `whsec_`, Stripe uses the
//! whole secret string's bytes — so a verifier that mixed them up would never match.
//!
//! Comparison is constant-time (`Mac::verify_slice`). Errors say what is wrong with a request
//! (a header missing, a stale timestamp, no match) and never carry the secret or the expected
//! signature: they end up in reports and the sandbox's console.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::SignatureScheme;

/// How far a timestamp may be from now, either way, in both schemes' reference libraries.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

pub const WEBHOOK_ID: &str = "webhook-id";
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// Lowercase, as HTTP/2 requires and `HeaderName::from_static` accepts; names compare
/// case-insensitively when verifying.
pub const STRIPE_SIGNATURE: &str = "stripe-signature";

const STANDARD_SECRET_PREFIX: &str = "whsec_";

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signing secret is empty")]
    EmptySecret,
    #[error("the signing secret is not a Standard Webhooks key (base64 after `whsec_`)")]
    SecretNotBase64,
    #[error("the `{0}` header is missing")]
    MissingHeader(&'static str),
    #[error("the `{header}` header is malformed: {problem}")]
    MalformedHeader {
        header: &'static str,
        problem: &'static str,
    },
    #[error("the `{0}` header holds no v1 signature")]
    NoV1Signature(&'static str),
    #[error("no signature matches ({checked} v1 signature(s) checked)")]
    Mismatch { checked: usize },
    #[error("the timestamp is {age_secs} s old, beyond the {tolerance_secs} s tolerance")]
    TooOld { age_secs: u64, tolerance_secs: u64 },
    #[error(
        "the timestamp is {ahead_secs} s in the future, beyond the {tolerance_secs} s tolerance"
    )]
    TooNew {
        ahead_secs: u64,
        tolerance_secs: u64,
    },
}

/// The headers that sign `body`, as (name, value) pairs to add to the request.
///
/// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.
/// Stripe: `stripe-signature: t=<timestamp>,v1=<hex>` (Stripe has no message id; `id` is
/// unused). `timestamp` is Unix seconds.
pub fn sign(
    scheme: SignatureScheme,
    secret: &str,
    id: &str,
    timestamp: u64,
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, SignatureError> {
    let key = key(scheme, secret)?;
    let tag = mac(&key, scheme, id, timestamp, body)
        .finalize()
        .into_bytes();
    Ok(match scheme {
        SignatureScheme::StandardWebhooks => vec![
            (WEBHOOK_ID, id.to_string()),
            (WEBHOOK_TIMESTAMP, timestamp.to_string()),
            (WEBHOOK_SIGNATURE, format!("v1,{}", BASE64.encode(tag))),
        ],
        SignatureScheme::Stripe => {
            vec![(
                STRIPE_SIGNATURE,
                format!("t={timestamp},v1={}", hex::encode(tag)),
            )]
        }
    })
}

/// Checks that `body` was signed with `secret` under `scheme`, no more than `tolerance` away
/// from `now` (pass `Duration::MAX` to accept any age, e.g. to check an old recording).
///
/// `headers` are (name, value) pairs in any case; a header sent several times is read as one
/// list. Several signatures (key rotation) are accepted when any one matches; signatures of
/// other versions (`v0`, `v1a`) are ignored. The signature is checked before the timestamp,
/// so a forged request is reported as such rather than as merely stale.
pub fn verify<'h>(
    scheme: SignatureScheme,
    secret: &str,
    headers: impl IntoIterator<Item = (&'h str, &'h str)>,
    body: &[u8],
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let key = key(scheme, secret)?;
    let received = match scheme {
        SignatureScheme::StandardWebhooks => Received::standard(headers)?,
        SignatureScheme::Stripe => Received::stripe(headers)?,
    };
    if received.signatures.is_empty() {
        return Err(SignatureError::NoV1Signature(received.header));
    }
    let expected = mac(&key, scheme, &received.id, received.timestamp, body);
    // Every candidate is checked (no early exit) so timing says nothing about which matched.
    let mut matched = false;
    for candidate in &received.signatures {
        let decoded = match scheme {
            SignatureScheme::StandardWebhooks => BASE64.decode(candidate).ok(),
            SignatureScheme::Stripe => hex::decode(candidate).ok(),
        };
        if let Some(decoded) = decoded {
            matched |= expected.clone().verify_slice(&decoded).is_ok();
        }
    }
    if !matched {
        return Err(SignatureError::Mismatch {
            checked: received.signatures.len(),
        });
    }
    check_age(received.timestamp, now, tolerance)
}

/// The HMAC key each scheme derives from the secret.
fn key(scheme: SignatureScheme, secret: &str) -> Result<Vec<u8>, SignatureError> {
    let key = match scheme {
        SignatureScheme::StandardWebhooks => {
            let encoded = secret
                .strip_prefix(STANDARD_SECRET_PREFIX)
                .unwrap_or(secret);
            BASE64
                .decode(encoded)
                .map_err(|_| SignatureError::SecretNotBase64)?
        }
        SignatureScheme::Stripe => secret.as_bytes().to_vec(),
    };
    // An empty key is almost surely an unset variable, not a deliberate choice.
    if key.is_empty() {
        return Err(SignatureError::EmptySecret);
    }
    Ok(key)
}

/// The MAC over what each scheme signs: `{id}.{timestamp}.{body}` or `{timestamp}.{body}`.
fn mac(key: &[u8], scheme: SignatureScheme, id: &str, timestamp: u64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (long ones are hashed), so no input reaches the `expect`.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    if scheme == SignatureScheme::StandardWebhooks {
        mac.update(id.as_bytes());
        mac.update(b".");
    }
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn check_age(timestamp: u64, now: SystemTime, tolerance: Duration) -> Result<(), SignatureError> {
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let tolerance_secs = tolerance.as_secs();
    if now > timestamp && now - timestamp > tolerance_secs {
        return Err(SignatureError::TooOld {
            age_secs: now - timestamp,
            tolerance_secs,
        });
    }
    if timestamp > now && timestamp - now > tolerance_secs {
        return Err(SignatureError::TooNew {
            ahead_secs: timestamp - now,
            tolerance_secs,
        });
    }
    Ok(())
}

/// What a request claims: the signed id and timestamp, and the candidate signatures (still
/// encoded, v1 only).
struct Received {
    header: &'static str,
    id: String,
    timestamp: u64,
    signatures: Vec<String>,
}

impl Received {
    fn standard<'h>(
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
    ) -> Result<Self, SignatureError> {
        let (mut id, mut timestamp, mut seen, mut signatures) = (None, None, false, Vec::new());
        for (name, value) in headers {
            if name.eq_ignore_ascii_case(WEBHOOK_ID) {
                id.get_or_insert(value);
            } else if name.eq_ignore_ascii_case(WEBHOOK_TIMESTAMP) {
                timestamp.get_or_insert(value);
            } else if name.eq_ignore_ascii_case(WEBHOOK_SIGNATURE) {
                seen = true;
                // `v1,<base64> v1,<base64>`: one entry per key during a rotation.
                for entry in value.split_ascii_whitespace() {
                    if let Some(("v1", signature)) = entry.split_once(',') {
                        signatures.push(signature.to_string());
                    }
                }
            }
        }
        let id = id.ok_or(SignatureError::MissingHeader(WEBHOOK_ID))?;
        let timestamp = timestamp.ok_or(SignatureError::MissingHeader(WEBHOOK_TIMESTAMP))?;
        if !seen {
            return Err(SignatureError::MissingHeader(WEBHOOK_SIGNATURE));
        }
        let timestamp = unix_seconds(timestamp).ok_or(SignatureError::MalformedHeader {
            header: WEBHOOK_TIMESTAMP,
            problem: "not a Unix time in seconds",
        })?;
        Ok(Self {
            header: WEBHOOK_SIGNATURE,
            id: id.to_string(),
            timestamp,
            signatures,
        })
    }

    fn stripe<'h>(
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
    ) -> Result<Self, SignatureError> {
        let (mut seen, mut timestamp, mut signatures) = (false, None, Vec::new());
        for (name, value) in headers {
            if !name.eq_ignore_ascii_case(STRIPE_SIGNATURE) {
                continue;
            }
            seen = true;
            for item in value.split(',') {
                match item.trim().split_once('=') {
                    Some(("t", t)) => _ = timestamp.get_or_insert(t),
                    Some(("v1", signature)) => signatures.push(signature.to_string()),
                    // `v0` (test-mode legacy) and anything unknown are not ours to check.
                    _ => {}
                }
            }
        }
        if !seen {
            return Err(SignatureError::MissingHeader(STRIPE_SIGNATURE));
        }
        let malformed = |problem| SignatureError::MalformedHeader {
            header: STRIPE_SIGNATURE,
            problem,
        };
        let timestamp = timestamp.ok_or(malformed("no `t=` timestamp"))?;
        let timestamp =
            unix_seconds(timestamp).ok_or(malformed("`t=` is not a Unix time in seconds"))?;
        Ok(Self {
            header: STRIPE_SIGNATURE,
            id: String::new(),
            timestamp,
            signatures,
        })
    }
}

fn unix_seconds(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TIMESTAMP: u64 = 1_649_367_553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const VECTOR_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    /// HMAC-SHA256 of `1649367553.{BODY}` keyed with the whole `SECRET` string, computed
    /// independently (Python's hmac module) to pin Stripe's key derivation.
    const STRIPE_HEX: &str = "996637d7f89ef8f7b59f7faaf5341457472e823d8ca666d16b7bbd1dc831721d";

    use SignatureScheme::{StandardWebhooks as Standard, Stripe};

    fn at(unix: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(unix)
    }

    fn standard_headers(signature: &str) -> Vec<(&'static str, String)> {
        vec![
            (WEBHOOK_ID, ID.to_string()),
            (WEBHOOK_TIMESTAMP, TIMESTAMP.to_string()),
            (WEBHOOK_SIGNATURE, signature.to_string()),
        ]
    }

    fn check(
        scheme: SignatureScheme,
        secret: &str,
        headers: &[(&str, String)],
        body: &[u8],
        now: u64,
    ) -> Result<(), SignatureError> {
        let pairs = headers.iter().map(|(k, v)| (*k, v.as_str()));
        verify(scheme, secret, pairs, body, at(now), DEFAULT_TOLERANCE)
    }

    #[test]
    fn standard_webhooks_reference_vector_signs_and_verifies() {
        let headers = sign(Standard, SECRET, ID, TIMESTAMP, BODY).unwrap();
        assert_eq!(headers, standard_headers(VECTOR_SIGNATURE));
        assert_eq!(check(Standard, SECRET, &headers, BODY, TIMESTAMP), Ok(()));
    }

    #[test]
    fn stripe_keys_with_the_whole_secret_string() {
        let headers = sign(Stripe, SECRET, "ignored", TIMESTAMP, BODY).unwrap();
        assert_eq!(
            headers,
            vec![(STRIPE_SIGNATURE, format!("t={TIMESTAMP},v1={STRIPE_HEX}"))]
        );
        assert_eq!(
            check(Stripe, SECRET, &headers, BODY, TIMESTAMP + 10),
            Ok(())
        );
    }

    #[test]
    fn the_schemes_do_not_verify_each_other() {
        let stripe = sign(Stripe, SECRET, ID, TIMESTAMP, BODY).unwrap();
        let tag = stripe[0].1.split("v1=").nth(1).unwrap();
        let as_standard = BASE64.encode(hex::decode(tag).unwrap());
        let headers = standard_headers(&format!("v1,{as_standard}"));
        assert_eq!(
            check(Standard, SECRET, &headers, BODY, TIMESTAMP),
            Err(SignatureError::Mismatch { checked: 1 })
        );
    }

    #[test]
    fn a_changed_body_id_or_timestamp_does_not_verify() {
        let headers = standard_headers(VECTOR_SIGNATURE);
        let mismatch = Err(SignatureError::Mismatch { checked: 1 });
        assert_eq!(
            check(Standard, SECRET, &headers, b"{}", TIMESTAMP),
            mismatch
        );
        let mut other_id = headers.clone();
        other_id[0].1 = "msg_other".into();
        assert_eq!(
            check(Standard, SECRET, &other_id, BODY, TIMESTAMP),
            mismatch
        );
        let mut other_time = headers.clone();
        other_time[1].1 = (TIMESTAMP + 1).to_string();
        assert_eq!(
            check(Standard, SECRET, &other_time, BODY, TIMESTAMP),
            mismatch
        );
        let other_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert_eq!(
            check(Standard, other_secret, &headers, BODY, TIMESTAMP),
            mismatch
        );
        let stripe = vec![(STRIPE_SIGNATURE, format!("t={TIMESTAMP},v1={STRIPE_HEX}"))];
        assert_eq!(check(Stripe, SECRET, &stripe, b"{} ", TIMESTAMP), mismatch);
    }

    #[test]
    fn stale_and_future_timestamps_are_rejected() {
        let headers = standard_headers(VECTOR_SIGNATURE);
        assert_eq!(
            check(Standard, SECRET, &headers, BODY, TIMESTAMP + 300),
            Ok(())
        );
        assert_eq!(
            check(Standard, SECRET, &headers, BODY, TIMESTAMP - 300),
            Ok(())
        );
        assert_eq!(
            check(Standard, SECRET, &headers, BODY, TIMESTAMP + 301),
            Err(SignatureError::TooOld {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
        assert_eq!(
            check(Standard, SECRET, &headers, BODY, TIMESTAMP - 301),
            Err(SignatureError::TooNew {
                ahead_secs: 301,
                tolerance_secs: 300
            })
        );
        let stripe = sign(Stripe, SECRET, "", TIMESTAMP, BODY).unwrap();
        assert!(matches!(
            check(Stripe, SECRET, &stripe, BODY, TIMESTAMP + 3_600),
            Err(SignatureError::TooOld {
                age_secs: 3_600,
                ..
            })
        ));
        assert!(matches!(
            check(Stripe, SECRET, &stripe, BODY, TIMESTAMP - 3_600),
            Err(SignatureError::TooNew { .. })
        ));
        let pairs = stripe.iter().map(|(k, v)| (*k, v.as_str()));
        assert_eq!(
            verify(Stripe, SECRET, pairs, BODY, at(0), Duration::MAX),
            Ok(())
        );
    }

    #[test]
    fn any_matching_signature_is_accepted_and_other_versions_ignored() {
        let rotated = format!("v1,bm90IHRoaXMgb25l v1a,ignored {VECTOR_SIGNATURE} v2,x");
        let headers = standard_headers(&rotated);
        assert_eq!(check(Standard, SECRET, &headers, BODY, TIMESTAMP), Ok(()));

        let stripe = format!("t={TIMESTAMP}, v1=00ff, v0=abcdef, v1={STRIPE_HEX}, x=1");
        let headers = vec![("Stripe-Signature", stripe)];
        assert_eq!(check(Stripe, SECRET, &headers, BODY, TIMESTAMP), Ok(()));
    }

    #[test]
    fn only_other_versions_means_no_v1_signature() {
        let headers = standard_headers("v1a,abc v0,def");
        assert_eq!(
            check(Standard, SECRET, &headers, BODY, TIMESTAMP),
            Err(SignatureError::NoV1Signature(WEBHOOK_SIGNATURE))
        );
        let headers = vec![(STRIPE_SIGNATURE, format!("t={TIMESTAMP},v0=abcdef"))];
        assert_eq!(
            check(Stripe, SECRET, &headers, BODY, TIMESTAMP),
            Err(SignatureError::NoV1Signature(STRIPE_SIGNATURE))
        );
    }

    #[test]
    fn header_names_are_case_insensitive_and_repeated_headers_combine() {
        let headers = vec![
            ("Webhook-Id", ID.to_string()),
            ("WEBHOOK-TIMESTAMP", TIMESTAMP.to_string()),
            ("webhook-signature", "v1,AAAA".to_string()),
            ("Webhook-Signature", VECTOR_SIGNATURE.to_string()),
        ];
        assert_eq!(check(Standard, SECRET, &headers, BODY, TIMESTAMP), Ok(()));
    }

    #[test]
    fn missing_and_malformed_headers_are_named() {
        let mut headers = standard_headers(VECTOR_SIGNATURE);
        for (i, name) in [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE]
            .into_iter()
            .enumerate()
        {
            let mut without = headers.clone();
            without.remove(i);
            assert_eq!(
                check(Standard, SECRET, &without, BODY, TIMESTAMP),
                Err(SignatureError::MissingHeader(name))
            );
        }
        headers[1].1 = "-1649367553".into();
        assert!(matches!(
            check(Standard, SECRET, &headers, BODY, TIMESTAMP),
            Err(SignatureError::MalformedHeader {
                header: WEBHOOK_TIMESTAMP,
                ..
            })
        ));
        assert_eq!(
            check(Stripe, SECRET, &[], BODY, TIMESTAMP),
            Err(SignatureError::MissingHeader(STRIPE_SIGNATURE))
        );
        for malformed in [
            format!("v1={STRIPE_HEX}"),
            format!("t=soon,v1={STRIPE_HEX}"),
            String::new(),
        ] {
            let headers = vec![(STRIPE_SIGNATURE, malformed.clone())];
            assert!(
                matches!(
                    check(Stripe, SECRET, &headers, BODY, TIMESTAMP),
                    Err(SignatureError::MalformedHeader {
                        header: STRIPE_SIGNATURE,
                        ..
                    })
                ),
                "{malformed:?}"
            );
        }
        let undecodable = standard_headers("v1,@@@not-base64@@@ v1,");
        assert_eq!(
            check(Standard, SECRET, &undecodable, BODY, TIMESTAMP),
            Err(SignatureError::Mismatch { checked: 2 })
        );
    }

    #[test]
    fn bad_secrets_are_refused_without_being_shown() {
        assert_eq!(
            sign(Standard, "whsec_not base64!", ID, TIMESTAMP, BODY),
            Err(SignatureError::SecretNotBase64)
        );
        assert_eq!(
            sign(Standard, "whsec_", ID, TIMESTAMP, BODY),
            Err(SignatureError::EmptySecret)
        );
        assert_eq!(
            sign(Stripe, "", ID, TIMESTAMP, BODY),
            Err(SignatureError::EmptySecret)
        );
        // The prefix is optional for Standard Webhooks, as in its reference libraries.
        let bare = SECRET.trim_start_matches(STANDARD_SECRET_PREFIX);
        assert_eq!(
            sign(Standard, bare, ID, TIMESTAMP, BODY),
            Ok(standard_headers(VECTOR_SIGNATURE))
        );
        let error = sign(Standard, "whsec_s3cr3t!!", ID, TIMESTAMP, BODY).unwrap_err();
        assert!(!error.to_string().contains("s3cr3t"));
    }

    #[test]
    fn errors_never_show_the_secret_or_the_expected_signature() {
        let wrong = standard_headers("v1,AAAA");
        let stale = standard_headers(VECTOR_SIGNATURE);
        for error in [
            check(Standard, SECRET, &wrong, BODY, TIMESTAMP).unwrap_err(),
            check(Standard, SECRET, &stale, BODY, TIMESTAMP + 1_000).unwrap_err(),
        ] {
            let text = error.to_string();
            assert!(!text.contains("C2FVsBQIhrscChlQIMV"), "{text}");
            assert!(!text.contains("tZ1I4"), "{text}");
        }
    }

    #[test]
    fn odd_inputs_never_panic() {
        let huge = "9".repeat(100);
        let headers = vec![
            (WEBHOOK_ID, String::new()),
            (WEBHOOK_TIMESTAMP, huge.clone()),
            (WEBHOOK_SIGNATURE, "v1, ,,, v1".to_string()),
        ];
        let _ = check(Standard, SECRET, &headers, &[], 0);
        let stripe = vec![(STRIPE_SIGNATURE, format!("t={huge},t=,v1==,=,,"))];
        let _ = check(Stripe, SECRET, &stripe, &[], u64::MAX / 2);
        let long_key = "k".repeat(10_000);
        let signed = sign(Stripe, &long_key, "", u64::MAX, BODY).unwrap();
        let pairs = signed.iter().map(|(k, v)| (*k, v.as_str()));
        assert_eq!(
            verify(Stripe, &long_key, pairs, BODY, at(0), Duration::MAX),
            Ok(())
        );
    }
}
