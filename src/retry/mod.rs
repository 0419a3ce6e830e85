//! Retry policies as pure, synchronous decisions: no async, no I/O, no clock of their own.
//!
//! The HTTP step runner owns the loop and the waiting; this module only answers its questions,
//! each from values passed in, so every answer is reproducible and testable without time:
//!
//! - [`decide`]: after an attempt, succeed, retry, or stop (and why).
//! - [`Backoff`]: how long to wait before retry *n* — the spec's 2 s, 4 s, 8 s by default — with
//!   the policy's cap, seeded jitter and `Retry-After`.
//! - [`parse_retry_after`]: the `Retry-After` header, seconds or an HTTP date.
//! - [`CircuitBreaker`] / [`Breakers`]: per-target fail-fast, on the run's virtual clock.
//! - [`wording`]: the spec's console lines, word for word.
//!
//! A runner drives them like this (retry numbers are 1-based; `retries_done` counts waits already
//! taken, so the first attempt is decided with 0):
//!
//! ```text
//! log(wording::request_line(method, url, policy.max_retries))
//! loop {
//!     admit at the breaker  -> rejected: outcome = CircuitOpen, nothing is sent
//!     send                  -> outcome; record it at the breaker (emit any transition)
//!     match decide(policy, &outcome, retries_done) {
//!         Retry   => wait = backoff.wait(retries_done + 1, previous, retry_after);
//!                    log(wording::retry_line(..)); sleep(wait.delay); retries_done += 1
//!         Success => log(wording::response_line(200)); stop
//!         NoRetry(reason) => log(response line, wording::no_retry_line(&reason)); stop
//!         GiveUp(_) => log(wording::give_up_summary(&outcomes)); stop
//!     }
//! }
//! ```

mod backoff;
mod breaker;
mod classify;
mod retry_after;
pub mod wording;

pub use backoff::{Backoff, Wait, WaitSource};
pub use breaker::{
    Admission, BreakerState, Breakers, CircuitBreaker, Ticket, Transition, TransitionReason,
    target_of,
};
pub use classify::{AttemptOutcome, Decision, GiveUpReason, NoRetryReason, decide};
pub use retry_after::parse_retry_after;
