//! What ties a plan's sandboxes to the run that started them, and to nothing else.
//!
//! - **Scheduled delays.** A sandbox running at a time scale tells its client how much delay
//!   it injected, so the run's virtual clock can count the full amount. Only the run's own
//!   sandboxes may do that: each report is signed with a key drawn for the run, which never
//!   leaves the process, so a server that sends the header itself changes nothing.
//! - **Fingerprints.** Fault draws and the recordings in the digest use a fingerprint of each
//!   request, taken with the run's secrets masked (inside the string values of a JSON body),
//!   so that neither depends on a secret's value.

use crate::observe::Redactor;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// `MS;MAC`: the scheduled delay in milliseconds, signed with the run's key.
pub const SIGNED_DELAY_HEADER: &str = "x-hookplan-scheduled-delay";

#[derive(Clone)]
pub struct RunLink {
    /// Every secret of the run (it grows when a step captures one).
    pub secrets: Arc<RwLock<Redactor>>,
    key: Arc<[u8; 32]>,
}

impl std::fmt::Debug for RunLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunLink { .. }")
    }
}

impl RunLink {
    /// A link with a fresh random key.
    pub fn new(secrets: Arc<RwLock<Redactor>>) -> Result<Self, String> {
        let mut key = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .map_err(|_| "cannot draw a random key from the operating system".to_string())?;
        Ok(Self {
            secrets,
            key: Arc::new(key),
        })
    }

    fn mac(&self, millis: u64, request_id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&*self.key).expect("any key length");
        mac.update(format!("{millis}:{request_id}").as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// The header value a sandbox of this run sends for a delay it injected.
    pub fn sign_delay(&self, delay: Duration, request_id: &str) -> String {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        format!("{millis};{}", self.mac(millis, request_id))
    }

    /// The scheduled delay a response reports, if one of this run's sandboxes signed it.
    pub fn verified_delay(&self, headers: &[(String, String)]) -> Option<Duration> {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let (millis, mac) = header(SIGNED_DELAY_HEADER)?.split_once(';')?;
        let millis: u64 = millis.parse().ok()?;
        let request_id = header("x-request-id")?;
        let expected = self.mac(millis, request_id);
        // Compared in constant time: the MAC is the whole of the trust.
        let same = expected.len() == mac.len()
            && expected
                .bytes()
                .zip(mac.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        same.then(|| Duration::from_millis(millis))
    }

    /// The request's path and body as fingerprints see them: the run's secrets masked.
    pub fn masked<'a>(
        &self,
        path: &'a str,
        body: &'a [u8],
    ) -> (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, [u8]>) {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        if secrets.is_empty() {
            return (path.into(), body.into());
        }
        let path = match secrets.redact(path) {
            std::borrow::Cow::Borrowed(_) => std::borrow::Cow::Borrowed(path),
            std::borrow::Cow::Owned(p) => std::borrow::Cow::Owned(p),
        };
        let body = match secrets.redact_body(body) {
            std::borrow::Cow::Borrowed(_) => std::borrow::Cow::Borrowed(body),
            std::borrow::Cow::Owned(b) => std::borrow::Cow::Owned(b),
        };
        (path, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> RunLink {
        RunLink::new(Arc::new(RwLock::new(Redactor::new(["ss"])))).unwrap()
    }

    fn headers(delay: &str, id: &str) -> Vec<(String, String)> {
        vec![
            (SIGNED_DELAY_HEADER.to_string(), delay.to_string()),
            ("x-request-id".to_string(), id.to_string()),
        ]
    }

    #[test]
    fn only_a_delay_signed_with_the_runs_key_counts() {
        let ours = link();
        let signed = ours.sign_delay(Duration::from_millis(1500), "POST_1");
        assert_eq!(
            ours.verified_delay(&headers(&signed, "POST_1")),
            Some(Duration::from_millis(1500))
        );
        // Another run's key, another request, a changed amount, no MAC at all.
        assert_eq!(link().verified_delay(&headers(&signed, "POST_1")), None);
        assert_eq!(ours.verified_delay(&headers(&signed, "POST_2")), None);
        let forged = signed.replacen("1500", "86400000", 1);
        assert_eq!(ours.verified_delay(&headers(&forged, "POST_1")), None);
        assert_eq!(ours.verified_delay(&headers("86400000", "POST_1")), None);
    }

    #[test]
    fn fingerprints_see_the_runs_secrets_masked() {
        let (path, body) = link().masked("/hooks/ss", br#"{"token": "ss", "n": 1}"#);
        assert_eq!(path, "/hooks/***");
        assert_eq!(body.as_ref(), br#"{"token":"***","n":1}"#);
    }
}
