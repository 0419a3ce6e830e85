//! Universal auth: logging in with the identity's client id and secret, access tokens that
//! expire and can be renewed up to their max TTL, and the lockout after repeated bad secrets.
//!
//! Times are seconds on the emulation's clock (see [`super::Emulation::now`]). Tokens live in
//! memory: after a restart every earlier token is unknown (401), and a client logs in again.

use super::config::InfisicalConfig;
use super::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;

/// Bad client secrets in a row that lock the identity out (Infisical's default).
pub const LOCKOUT_THRESHOLD: u32 = 3;
/// How long a lockout lasts, in seconds.
pub const LOCKOUT_SECONDS: f64 = 300.0;
/// Failures further apart than this (seconds) start the count again.
pub const LOCKOUT_WINDOW_SECONDS: f64 = 30.0;
/// Tokens kept at most; expired ones are dropped first.
const MAX_TOKENS: usize = 100_000;

struct Token {
    created: f64,
    expires: f64,
}

#[derive(Default)]
struct Failures {
    count: u32,
    last: f64,
    locked_until: Option<f64>,
}

#[derive(Default)]
pub struct Auth {
    tokens: HashMap<String, Token>,
    failures: Failures,
}

/// What a login or a renewal answers.
pub struct Granted {
    pub token: String,
    pub ttl: u64,
    pub max_ttl: u64,
}

impl Granted {
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "accessToken": self.token,
            "expiresIn": self.ttl,
            "accessTokenMaxTTL": self.max_ttl,
            "tokenType": "Bearer",
        })
    }
}

/// Whose the request is, once its token checked out.
pub enum Caller {
    Identity,
}

impl Auth {
    pub fn login(
        &mut self,
        config: &InfisicalConfig,
        client_id: &str,
        client_secret: &str,
        now: f64,
    ) -> Result<Granted, ApiError> {
        if client_id != config.client_id {
            return Err(invalid_credentials());
        }
        let failures = &mut self.failures;
        if let Some(until) = failures.locked_until {
            if now < until {
                let minutes = ((until - now) / 60.0).ceil().max(1.0);
                return Err(ApiError::unauthorized(format!(
                    "Failed to authenticate identity credentials due to too many failed login attempts. Please try again in {minutes} minute(s)."
                )));
            }
            *failures = Failures::default();
        }
        if !same(client_secret.as_bytes(), config.client_secret.as_bytes()) {
            if now - failures.last > LOCKOUT_WINDOW_SECONDS {
                failures.count = 0;
            }
            failures.count += 1;
            failures.last = now;
            if failures.count >= LOCKOUT_THRESHOLD {
                failures.locked_until = Some(now + LOCKOUT_SECONDS);
            }
            return Err(invalid_credentials());
        }
        self.failures = Failures::default();
        let ttl = config.token_ttl.as_secs();
        let token = new_token(&config.client_id);
        if self.tokens.len() >= MAX_TOKENS {
            self.tokens.retain(|_, t| t.expires > now);
            if self.tokens.len() >= MAX_TOKENS
                && let Some(oldest) = self
                    .tokens
                    .iter()
                    .min_by(|a, b| a.1.created.total_cmp(&b.1.created))
                    .map(|(k, _)| k.clone())
            {
                self.tokens.remove(&oldest);
            }
        }
        self.tokens.insert(
            token.clone(),
            Token {
                created: now,
                expires: now + ttl as f64,
            },
        );
        Ok(Granted {
            token,
            ttl,
            max_ttl: config.token_max_ttl.as_secs(),
        })
    }

    /// Extends a token by its TTL, within its max TTL. A token that cannot be extended (its
    /// TTL equals its max TTL, or the max TTL would be passed) is deleted: 401.
    pub fn renew(
        &mut self,
        config: &InfisicalConfig,
        token: &str,
        now: f64,
    ) -> Result<Granted, ApiError> {
        if !well_formed(token) {
            return Err(malformed());
        }
        let Some(record) = self.tokens.get_mut(token) else {
            return Err(ApiError::unauthorized("No identity access token found"));
        };
        if now >= record.expires {
            self.tokens.remove(token);
            return Err(expired());
        }
        let ttl = config.token_ttl.as_secs_f64();
        let max_ttl = config.token_max_ttl.as_secs_f64();
        if ttl >= max_ttl {
            self.tokens.remove(token);
            return Err(ApiError::unauthorized(
                "Failed to renew MI access token due to TTL = max TTL",
            ));
        }
        if now + ttl > record.created + max_ttl {
            self.tokens.remove(token);
            return Err(ApiError::unauthorized(
                "Failed to renew MI access token due to Max TTL expired",
            ));
        }
        record.expires = now + ttl;
        Ok(Granted {
            token: token.to_string(),
            ttl: config.token_ttl.as_secs(),
            max_ttl: config.token_max_ttl.as_secs(),
        })
    }

    /// Checks a request's `Authorization` header: none → 401, not a token's shape → 403,
    /// unknown or expired → 401.
    pub fn check(&mut self, authorization: Option<&str>, now: f64) -> Result<Caller, ApiError> {
        let Some(value) = authorization.map(str::trim).filter(|v| !v.is_empty()) else {
            return Err(ApiError::new(
                401,
                "UnauthorizedError",
                "Missing Authorization Header in the request header.",
            ));
        };
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(malformed()),
        };
        if !well_formed(token) {
            return Err(malformed());
        }
        match self.tokens.get(token) {
            None => Err(ApiError::unauthorized(
                "Failed to authenticate identity access token",
            )),
            Some(t) if now >= t.expires => {
                self.tokens.remove(token);
                Err(expired())
            }
            Some(_) => Ok(Caller::Identity),
        }
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("Invalid credentials")
}

fn malformed() -> ApiError {
    ApiError::new(
        403,
        "TokenError",
        "The provided access token is malformed. Please use a valid token or generate a new one and try again.",
    )
}

fn expired() -> ApiError {
    ApiError::new(
        401,
        "TokenError",
        "Your token has expired. Please re-authenticate.",
    )
}

/// Compared in constant time.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A JWT's shape, as Infisical's tokens have: `header.payload.signature`, the first two
/// base64url JSON objects. What it says is not trusted: the token itself is looked up.
fn well_formed(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts[2].is_empty() {
        return false;
    }
    parts[..2].iter().all(|part| {
        URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .is_some_and(|v| v.is_object())
    })
}

/// A new token: a JWT-shaped string whose payload names the identity and whose last part is
/// 32 random bytes (what makes it unguessable).
fn new_token(client_id: &str) -> String {
    let issued = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = serde_json::json!({
        "identityId": client_id,
        "authTokenType": "identityAccessToken",
        "iat": issued,
    });
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap_or_default());
    format!(
        "{header}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(super::random_bytes::<32>())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config() -> InfisicalConfig {
        InfisicalConfig {
            token_ttl: Duration::from_secs(60),
            token_max_ttl: Duration::from_secs(150),
            ..InfisicalConfig::default()
        }
    }

    #[test]
    fn three_bad_secrets_lock_the_identity_out_for_five_minutes() {
        let config = config();
        let mut auth = Auth::default();
        for _ in 0..3 {
            assert_eq!(
                auth.login(&config, "demo-client", "bad", 1.0)
                    .err()
                    .unwrap()
                    .status,
                401
            );
        }
        let locked = auth
            .login(&config, "demo-client", "demo-secret", 2.0)
            .err()
            .unwrap();
        assert!(
            locked.message_text().contains("too many"),
            "{}",
            locked.message_text()
        );
        assert!(
            auth.login(&config, "demo-client", "demo-secret", 300.0)
                .is_err()
        );
        assert!(
            auth.login(&config, "demo-client", "demo-secret", 302.0)
                .is_ok()
        );
    }

    #[test]
    fn failures_far_apart_do_not_lock() {
        let config = config();
        let mut auth = Auth::default();
        for at in [0.0, 40.0, 80.0, 120.0] {
            assert!(auth.login(&config, "demo-client", "bad", at).is_err());
        }
        assert!(
            auth.login(&config, "demo-client", "demo-secret", 121.0)
                .is_ok()
        );
    }

    #[test]
    fn tokens_expire_and_renew_within_their_max_ttl() {
        let config = config();
        let mut auth = Auth::default();
        let token = auth
            .login(&config, "demo-client", "demo-secret", 0.0)
            .unwrap()
            .token;
        let header = format!("Bearer {token}");
        assert!(auth.check(Some(&header), 59.0).is_ok());
        assert!(auth.renew(&config, &token, 50.0).is_ok());
        assert!(auth.check(Some(&header), 100.0).is_ok());
        // 100 + 60 > 0 + 150: past the max TTL; the token is gone.
        assert_eq!(
            auth.renew(&config, &token, 100.0).err().unwrap().status,
            401
        );
        assert_eq!(auth.check(Some(&header), 101.0).err().unwrap().status, 401);
        assert_eq!(
            auth.check(Some("Bearer nope"), 0.0).err().unwrap().status,
            403
        );
        assert_eq!(auth.check(None, 0.0).err().unwrap().status, 401);
    }
}
