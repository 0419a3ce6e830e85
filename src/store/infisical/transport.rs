//! One call to the server: its attempts under the store's retry policy, and one fresh login
//! after a 401.
//!
//! The decisions are the crate's (`retry::decide`, `retry::Backoff`, `retry::parse_retry_after`);
//! this file only runs them, waiting through the run's clock. Reads are retried on 429, 5xx,
//! timeouts, connection errors and resets. A write is retried here only where it cannot have
//! been applied — a 429, a connection that was never made —; a write whose answer was lost
//! (timeout, reset, 5xx) comes back as [`Sent::Lost`] for `writes` to read back before sending
//! anything again.

use super::InfisicalStore;
use super::answers::Reply;
use super::routes::Route;
use crate::retry::{AttemptOutcome, Backoff, Decision, decide, parse_retry_after, wording};
use crate::store::StoreError;

/// How a call ended.
pub enum Sent {
    /// An answer arrived (any status: the caller reads it).
    Answered(Reply),
    /// No answer (or a 5xx to a write): the request may or may not have been applied.
    Lost {
        outcome: AttemptOutcome,
        text: String,
    },
}

impl Sent {
    fn outcome(&self) -> AttemptOutcome {
        match self {
            Self::Answered(reply) => AttemptOutcome::Status(reply.status),
            Self::Lost { outcome, .. } => outcome.clone(),
        }
    }
}

/// Whether a write that ended so may have been applied by the server.
pub fn may_have_applied(outcome: &AttemptOutcome) -> bool {
    !matches!(
        outcome,
        AttemptOutcome::Connect | AttemptOutcome::CircuitOpen | AttemptOutcome::Status(100..=499)
    )
}

impl InfisicalStore {
    /// The backoff of this store: jitter keyed by its name, like a step's by its name.
    pub(super) fn backoff(&self) -> Backoff<'_> {
        Backoff::new(&self.config.retry, self.config.seed, &self.config.name)
    }

    /// Sends `route` with a token (when it needs one), retrying as the policy says.
    /// `idempotent`: whether sending it twice is harmless (reads, the login, folder creation).
    /// The generation of the token last sent is written to `used`.
    pub(super) async fn exchange(
        &self,
        route: &Route,
        mut used: Option<&mut u64>,
        idempotent: bool,
    ) -> Result<Sent, StoreError> {
        let policy = &self.config.retry;
        let backoff = self.backoff();
        let mut retries_done = 0u32;
        let mut previous = None;
        loop {
            let token = if route.authenticated {
                let token = self.token().await?;
                if let Some(used) = used.as_deref_mut() {
                    *used = token.generation;
                }
                Some(token)
            } else {
                None
            };
            let sent = self
                .attempt(route, token.as_ref().map(|t| t.value.expose()))
                .await;
            let outcome = sent.outcome();
            if !idempotent && may_have_applied(&outcome) && !outcome.is_success() {
                return Ok(match sent {
                    Sent::Answered(reply) => Sent::Lost {
                        outcome,
                        text: format!("answered {} after the write was sent", reply.status),
                    },
                    lost => lost,
                });
            }
            if decide(policy, &outcome, retries_done) != Decision::Retry {
                return Ok(sent);
            }
            let retry_after = match &sent {
                Sent::Answered(reply) => reply.retry_after,
                Sent::Lost { .. } => None,
            };
            retries_done += 1;
            let wait = backoff.wait(retries_done, previous, retry_after);
            tracing::warn!(
                store = %self.config.name,
                "{}",
                wording::retry_line(&outcome, wait.delay, retries_done, policy.max_retries)
            );
            self.wait(wait.delay).await;
            previous = Some(wait.delay);
        }
    }

    /// [`exchange`](Self::exchange), with one fresh login and one repeat after a 401 that is
    /// not a validation failure.
    pub(super) async fn call(&self, route: &Route, idempotent: bool) -> Result<Sent, StoreError> {
        let mut used = 0;
        let sent = self.exchange(route, Some(&mut used), idempotent).await?;
        match &sent {
            Sent::Answered(reply)
                if reply.status == 401 && route.authenticated && !reply.is_validation_failure() =>
            {
                tracing::info!(store = %self.config.name, "the token was refused: logging in again once");
                self.relogin(used).await?;
                self.exchange(route, None, idempotent).await
            }
            _ => Ok(sent),
        }
    }

    /// One request, one answer (or the failure that stood in for it).
    async fn attempt(&self, route: &Route, token: Option<&str>) -> Sent {
        let mut request = self
            .http
            .request(route.method.clone(), route.url(&self.base))
            .timeout(self.config.attempt_timeout);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = &route.body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return failure(&error),
        };
        let status = response.status().as_u16();
        let retry_after = if self.config.retry.respect_retry_after {
            response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, self.config.clock.wall_now()))
        } else {
            None
        };
        match response.bytes().await {
            Ok(body) => Sent::Answered(Reply {
                status,
                retry_after,
                body,
            }),
            Err(error) => failure(&error),
        }
    }
}

/// A request failure, classified like every runner's: timeout, connect, reset, or other. The
/// text is the innermost cause (reqwest's own text names the URL).
fn failure(error: &reqwest::Error) -> Sent {
    let outcome = if error.is_timeout() {
        AttemptOutcome::Timeout
    } else {
        match AttemptOutcome::from_error_chain(error) {
            AttemptOutcome::Other(_) if error.is_connect() => AttemptOutcome::Connect,
            outcome => outcome,
        }
    };
    let text = match &outcome {
        AttemptOutcome::Timeout => "no answer in time".to_string(),
        AttemptOutcome::Connect => "could not connect".to_string(),
        AttemptOutcome::Reset => "the connection was reset".to_string(),
        _ => crate::http_client::innermost_cause(error),
    };
    Sent::Lost { outcome, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_write_that_never_reached_the_server_or_was_refused_is_known_unapplied() {
        for outcome in [
            AttemptOutcome::Timeout,
            AttemptOutcome::Reset,
            AttemptOutcome::Status(500),
            AttemptOutcome::Status(503),
            AttemptOutcome::Other("x".into()),
        ] {
            assert!(may_have_applied(&outcome), "{outcome:?}");
        }
        for outcome in [
            AttemptOutcome::Connect,
            AttemptOutcome::Status(429),
            AttemptOutcome::Status(404),
            AttemptOutcome::Status(200),
        ] {
            assert!(!may_have_applied(&outcome), "{outcome:?}");
        }
    }
}
