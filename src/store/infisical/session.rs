//! Universal-auth login and the access token it gives.
//!
//! The token is kept until `expiresIn` has passed on the store's virtual clock (the run's time
//! scale applies, so a scenario at `--time-scale 0` sees its tokens expire too), then the next
//! request logs in again first. hookplan never uses `/auth/token/renew`: renewing a token whose
//! TTL equals its max TTL fails with 401 and deletes it, so renewing in a loop is a trap. A 401
//! during use gets one fresh login instead (see `transport`).
//!
//! A 401 from the login itself is never retried: repeated bad client secrets lock the identity
//! out.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::InfisicalStore;
use super::routes;
use super::transport::Sent;
use crate::store::{SecretValue, StoreError};

/// A token obtained by a login.
#[derive(Clone)]
pub struct Token {
    pub value: SecretValue,
    /// Virtual time (on the store's clock) after which it is not used again.
    pub renew_at: Option<Duration>,
    /// Counts logins: a 401 answered to token `n` triggers a login only while `n` is current.
    pub generation: u64,
}

#[derive(Default)]
pub struct Session {
    /// Held across a login, so that concurrent calls wait for one login instead of each
    /// making their own.
    token: tokio::sync::Mutex<Option<Token>>,
}

/// How long before its expiry a token is replaced: a tenth of its life, at most a minute.
fn margin(expires_in: Duration) -> Duration {
    (expires_in / 10).min(Duration::from_secs(60))
}

impl InfisicalStore {
    /// Virtual time since the store was made.
    pub(super) fn now(&self) -> Duration {
        self.timeline.lock().expect("timeline lock").elapsed()
    }

    /// Waits a scheduled delay through the run's clock and counts it on the store's timeline.
    pub(super) async fn wait(&self, scheduled: Duration) {
        self.waits.lock().expect("waits lock").push(scheduled);
        let before = Instant::now();
        self.config.clock.sleep(scheduled).await;
        let really = before.elapsed();
        self.timeline
            .lock()
            .expect("timeline lock")
            .credit(scheduled, really);
    }

    /// A token to send: the current one, or a fresh login's when there is none or it expired.
    pub(super) async fn token(&self) -> Result<Token, StoreError> {
        let mut current = self.session.token.lock().await;
        if let Some(token) = current.as_ref()
            && token.renew_at.is_none_or(|at| self.now() < at)
        {
            return Ok(token.clone());
        }
        let generation = current.as_ref().map_or(1, |t| t.generation + 1);
        let token = self.login(generation).await?;
        *current = Some(token.clone());
        Ok(token)
    }

    /// After a 401 answered to token `generation`: one fresh login, unless another call has
    /// already replaced that token (then its token is used).
    pub(super) async fn relogin(&self, generation: u64) -> Result<Token, StoreError> {
        let mut current = self.session.token.lock().await;
        if let Some(token) = current.as_ref()
            && token.generation != generation
        {
            return Ok(token.clone());
        }
        *current = None;
        let token = self.login(generation + 1).await?;
        *current = Some(token.clone());
        Ok(token)
    }

    /// `POST /api/v1/auth/universal-auth/login`. Boxed: a call logs in, and a login is a call.
    fn login(
        &self,
        generation: u64,
    ) -> Pin<Box<dyn Future<Output = Result<Token, StoreError>> + Send + '_>> {
        Box::pin(async move {
            let mask = self.mask([]);
            let what = "login (universal auth)";
            let route = routes::login(&self.config.client_id, &self.config.client_secret);
            let reply = match self.exchange(&route, None, true).await? {
                Sent::Answered(reply) => reply,
                Sent::Lost { text, .. } => {
                    return Err(mask.unavailable(what, &text));
                }
            };
            if !reply.is_success() {
                return Err(mask.error(&reply, what));
            }
            let json: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            let Some(access) = json
                .get("accessToken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            else {
                return Err(StoreError::Unavailable {
                    message: format!("{what} answered {} without an accessToken", reply.status),
                });
            };
            self.redactor.lock().expect("redactor lock").add(access);
            if let Some(on_secret) = &self.config.on_secret {
                on_secret(access);
            }
            let renew_at = json.get("expiresIn").and_then(Value::as_u64).map(|secs| {
                let life = Duration::from_secs(secs);
                self.now() + life - margin(life)
            });
            tracing::debug!(store = %self.config.name, generation, "logged in");
            Ok(Token {
                value: SecretValue::new(access),
                renew_at,
                generation,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_replaced_a_little_before_they_expire() {
        assert_eq!(margin(Duration::from_secs(7200)), Duration::from_secs(60));
        assert_eq!(margin(Duration::from_secs(100)), Duration::from_secs(10));
        assert_eq!(margin(Duration::ZERO), Duration::ZERO);
    }
}
