//! Deciding a request's answer and the faults injected into it. Pure: no I/O, no clock.
//!
//! Random choices are keyed, never drawn from a stream: the error-rate draw and the delay
//! draw hash (seed, decision point, endpoint, request fingerprint, occurrence), where the
//! fingerprint covers method, path and body and the occurrence counts identical requests
//! that arrived before. The same seed and the same requests therefore get the same faults
//! in any arrival order, and a retry (the next occurrence) draws anew and can succeed.
//! Sequences and every-n-th answers are counted per endpoint in arrival order, as written.

use super::config::{ConnectionFault, Delay};
use super::recording::{Answer, Fault};
use super::routes::{CompiledResponse, Route};
use crate::random::KeyedRandom;
use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::{HeaderName, HeaderValue};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The sandbox-wide settings an answer falls back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Defaults {
    pub error_rate: f64,
    pub error_status: StatusCode,
    pub delay: Option<Delay>,
}

/// What identifies a request for the random draws.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DrawKey<'a> {
    pub endpoint: &'a str,
    pub fingerprint: &'a [u8; 32],
    pub occurrence: u64,
}

/// sha256 over method, path and body, each length-prefixed so that no two requests share
/// their input.
pub(crate) fn fingerprint(method: &str, path: &str, body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in [method.as_bytes(), path.as_bytes(), body] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

pub(crate) struct Decision {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `None`: the standard body for the status (an acknowledgement or an error).
    pub body: Option<(Bytes, HeaderValue)>,
    /// Scheduled; zero when none was injected.
    pub delay: Duration,
    pub connection: Option<ConnectionFault>,
    pub fault: Option<Fault>,
    pub answer: Answer,
    /// The answer names a status or a body of its own (an emulated API's answer gives way to
    /// it); false for an answer that only delays.
    pub scripted: bool,
}

/// Decides the answer to a request that `route` matched. `nth` is the request's number at
/// its endpoint (from 1); it matters only for sequences and every-n-th answers.
pub(crate) fn decide(
    route: &Route,
    nth: u64,
    defaults: &Defaults,
    random: KeyedRandom,
    key: &DrawKey,
) -> Decision {
    let (answer, response, error_rate) = match route {
        Route::NotFound => {
            return Decision {
                status: StatusCode::NOT_FOUND,
                headers: Vec::new(),
                body: None,
                delay: Duration::ZERO,
                connection: None,
                fault: None,
                answer: Answer::NotFound,
                scripted: false,
            };
        }
        Route::Default(_) => (Answer::Route, None, defaults.error_rate),
        Route::Endpoint(endpoint) => {
            if let Some((entry, response)) = sequence_entry(&endpoint.sequence, nth) {
                // A scripted answer: the error rate would make the script lie.
                (
                    Answer::Sequence {
                        entry: entry as u32 + 1,
                    },
                    Some(response),
                    0.0,
                )
            } else if let Some((n, response)) = endpoint
                .every
                .as_ref()
                .filter(|(n, _)| nth.is_multiple_of(u64::from(*n)))
            {
                (Answer::Every { n: *n }, Some(response), 0.0)
            } else {
                (
                    Answer::Endpoint,
                    Some(&endpoint.response),
                    endpoint.error_rate.unwrap_or(defaults.error_rate),
                )
            }
        }
    };
    let occurrence = key.occurrence.to_le_bytes();
    let parts: [&[u8]; 3] = [key.endpoint.as_bytes(), key.fingerprint, &occurrence];
    let delay = match response.and_then(|r| r.delay).or(defaults.delay) {
        Some(delay) if delay.is_fixed() => delay.min,
        Some(delay) => delay.min + (delay.max - delay.min).mul_f64(random.unit("delay", &parts)),
        None => Duration::ZERO,
    };
    if random.chance(error_rate, "fault", &parts) {
        return Decision {
            status: defaults.error_status,
            headers: Vec::new(),
            body: None,
            delay,
            connection: None,
            fault: Some(Fault::ErrorRate),
            answer,
            scripted: false,
        };
    }
    let connection = response.and_then(|r| r.fault);
    Decision {
        status: response.and_then(|r| r.status).unwrap_or(StatusCode::OK),
        headers: response.map(|r| r.headers.clone()).unwrap_or_default(),
        body: response.and_then(|r| r.body.clone()),
        delay,
        connection,
        fault: connection.map(Fault::from),
        answer,
        scripted: response.is_some_and(|r| r.status.is_some() || r.body.is_some()),
    }
}

/// The sequence entry answering the `nth` request (from 1), with its index.
fn sequence_entry(
    sequence: &[(Option<u32>, CompiledResponse)],
    nth: u64,
) -> Option<(usize, &CompiledResponse)> {
    let mut answered_before = 0u64;
    for (index, (times, response)) in sequence.iter().enumerate() {
        match times {
            None => return Some((index, response)),
            Some(times) => {
                answered_before += u64::from(*times);
                if nth <= answered_before {
                    return Some((index, response));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::config::{EndpointConfig, Every, ResponseConfig, SequenceEntry};
    use crate::sandbox::routes::Routes;
    use hyper::Method;

    fn defaults(rate: f64) -> Defaults {
        Defaults {
            error_rate: rate,
            error_status: StatusCode::SERVICE_UNAVAILABLE,
            delay: None,
        }
    }

    fn status(code: u16) -> ResponseConfig {
        ResponseConfig {
            status: Some(code),
            ..Default::default()
        }
    }

    fn key(fp: &[u8; 32], occurrence: u64) -> DrawKey<'_> {
        DrawKey {
            endpoint: "/webhook/*",
            fingerprint: fp,
            occurrence,
        }
    }

    #[test]
    fn error_faults_depend_on_the_request_and_its_occurrence_not_on_arrival_order() {
        let routes = Routes::compile(&[]).unwrap();
        let route = routes.find(&Method::POST, "/webhook/a");
        let random = KeyedRandom::new(42);
        let bodies: Vec<[u8; 32]> = (0..50)
            .map(|i| fingerprint("POST", "/webhook/a", format!("{{\"n\":{i}}}").as_bytes()))
            .collect();
        let forward: Vec<bool> = bodies
            .iter()
            .map(|fp| {
                decide(&route, 0, &defaults(0.5), random, &key(fp, 0))
                    .fault
                    .is_some()
            })
            .collect();
        let backward: Vec<bool> = bodies
            .iter()
            .rev()
            .map(|fp| {
                decide(&route, 0, &defaults(0.5), random, &key(fp, 0))
                    .fault
                    .is_some()
            })
            .collect();
        assert_eq!(forward, backward.into_iter().rev().collect::<Vec<_>>());
        let hits = forward.iter().filter(|f| **f).count();
        assert!((10..40).contains(&hits), "{hits} of 50 at rate 0.5");
        // A retry is a new occurrence: some request that failed succeeds on a later try.
        let failed = bodies
            .iter()
            .find(|fp| {
                decide(&route, 0, &defaults(0.5), random, &key(fp, 0))
                    .fault
                    .is_some()
            })
            .unwrap();
        assert!((1..20).any(|occurrence| {
            decide(&route, 0, &defaults(0.5), random, &key(failed, occurrence))
                .fault
                .is_none()
        }));
        // Another seed draws differently.
        let other: Vec<bool> = bodies
            .iter()
            .map(|fp| {
                decide(&route, 0, &defaults(0.5), KeyedRandom::new(43), &key(fp, 0))
                    .fault
                    .is_some()
            })
            .collect();
        assert_ne!(forward, other);
    }

    #[test]
    fn an_injected_error_uses_the_error_status() {
        let routes = Routes::compile(&[]).unwrap();
        let route = routes.find(&Method::POST, "/test");
        let fp = fingerprint("POST", "/test", b"");
        let decision = decide(
            &route,
            0,
            &Defaults {
                error_status: StatusCode::BAD_GATEWAY,
                ..defaults(1.0)
            },
            KeyedRandom::new(0),
            &key(&fp, 0),
        );
        assert_eq!(decision.status, StatusCode::BAD_GATEWAY);
        assert_eq!(decision.fault, Some(Fault::ErrorRate));
        let decision = decide(&route, 0, &defaults(0.0), KeyedRandom::new(0), &key(&fp, 0));
        assert_eq!((decision.status, decision.fault), (StatusCode::OK, None));
    }

    #[test]
    fn sequences_answer_in_order_without_the_error_rate_then_fall_back() {
        let mut endpoint = EndpointConfig::new("/webhook/flaky");
        endpoint.sequence = vec![
            SequenceEntry {
                times: Some(2),
                response: status(503),
            },
            SequenceEntry {
                times: Some(1),
                response: status(202),
            },
        ];
        endpoint.response = status(200);
        let routes = Routes::compile(&[endpoint]).unwrap();
        let route = routes.find(&Method::POST, "/webhook/flaky");
        let fp = fingerprint("POST", "/webhook/flaky", b"");
        let answers: Vec<(u16, Answer)> = (1..=4)
            .map(|nth| {
                let d = decide(
                    &route,
                    nth,
                    &defaults(1.0),
                    KeyedRandom::new(1),
                    &key(&fp, nth),
                );
                (d.status.as_u16(), d.answer)
            })
            .collect();
        assert_eq!(answers[0], (503, Answer::Sequence { entry: 1 }));
        assert_eq!(answers[1], (503, Answer::Sequence { entry: 1 }));
        assert_eq!(answers[2], (202, Answer::Sequence { entry: 2 }));
        // Past the sequence, the endpoint's own answer, where the error rate applies again.
        assert_eq!(answers[3], (503, Answer::Endpoint));
    }

    #[test]
    fn every_nth_request_gets_its_answer() {
        let mut endpoint = EndpointConfig::new("/webhook/x");
        endpoint.every = Some(Every {
            n: 3,
            response: ResponseConfig {
                status: Some(500),
                fault: Some(ConnectionFault::Reset),
                ..Default::default()
            },
        });
        let routes = Routes::compile(&[endpoint]).unwrap();
        let route = routes.find(&Method::GET, "/webhook/x");
        let fp = fingerprint("GET", "/webhook/x", b"");
        let faults: Vec<Option<Fault>> = (1..=6)
            .map(|nth| {
                decide(
                    &route,
                    nth,
                    &defaults(0.0),
                    KeyedRandom::new(1),
                    &key(&fp, 0),
                )
                .fault
            })
            .collect();
        assert_eq!(
            faults,
            vec![
                None,
                None,
                Some(Fault::Reset),
                None,
                None,
                Some(Fault::Reset)
            ]
        );
    }

    #[test]
    fn delay_ranges_are_drawn_per_request_and_stay_in_range() {
        let routes = Routes::compile(&[]).unwrap();
        let route = routes.find(&Method::POST, "/test");
        let range = Delay::range(Duration::from_millis(100), Duration::from_millis(300)).unwrap();
        let d = Defaults {
            delay: Some(range),
            ..defaults(0.0)
        };
        let delays: Vec<Duration> = (0..20u64)
            .map(|i| {
                let fp = fingerprint("POST", "/test", &i.to_le_bytes());
                decide(&route, 0, &d, KeyedRandom::new(5), &key(&fp, 0)).delay
            })
            .collect();
        assert!(
            delays
                .iter()
                .all(|d| (Duration::from_millis(100)..=Duration::from_millis(300)).contains(d))
        );
        assert!(
            delays.iter().any(|x| *x != delays[0]),
            "a range gives different delays"
        );
        let fp = fingerprint("POST", "/test", b"same");
        assert_eq!(
            decide(&route, 0, &d, KeyedRandom::new(5), &key(&fp, 0)).delay,
            decide(&route, 9, &d, KeyedRandom::new(5), &key(&fp, 0)).delay
        );
    }

    #[test]
    fn not_found_gets_no_faults() {
        let routes = Routes::compile(&[]).unwrap();
        let fp = fingerprint("GET", "/nope", b"");
        let d = decide(
            &routes.find(&Method::GET, "/nope"),
            0,
            &defaults(1.0),
            KeyedRandom::new(0),
            &key(&fp, 0),
        );
        assert_eq!(
            (d.status, d.fault, d.answer),
            (StatusCode::NOT_FOUND, None, Answer::NotFound)
        );
    }

    #[test]
    fn fingerprints_cover_method_path_and_body() {
        let a = fingerprint("POST", "/a", b"x");
        assert_eq!(a, fingerprint("POST", "/a", b"x"));
        assert_ne!(a, fingerprint("PUT", "/a", b"x"));
        assert_ne!(a, fingerprint("POST", "/ax", b""));
        assert_ne!(a, fingerprint("POST", "/a", b"y"));
    }
}
