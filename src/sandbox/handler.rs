//! One request, from arrival to answer: read the body (within the limit), decide the answer
//! and its faults, wait the scheduled delay, write the record, then answer.
//!
//! The record is written to the OS *before* the response goes out, so every request a client
//! got an answer to survives a `kill -9` of the sandbox. It is written straight from the
//! request's parts and the answer (a [`json_line::Entry`] borrows them): building a
//! [`recording::RecordedRequest`] first took some thirty allocations per request.

use super::faults::{self, Decision, Defaults, DrawKey};
use super::infisical::{self, Emulation};
use super::journal::Journal;
use super::json_line::{self, Entry, EntryResponse, Headers};
use super::recording::{self, Answer, Fault};
use super::routes::{Route, Routes};
use super::timestamp::Timestamp;
use super::{Observer, config::ConnectionFault, endpoints::LiveRoutes, request_id, signature};
use crate::clock::Clock;
use crate::random::KeyedRandom;
use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::body::{Body, Frame};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Request, Response, StatusCode};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// Tells people how much scheduled delay the sandbox injected (a sandbox outside any run). A
/// plan's sandbox sends [`crate::run_link::SIGNED_DELAY_HEADER`] instead, the only one a run
/// believes.
pub const SCHEDULED_DELAY_HEADER: &str = "x-hookplan-scheduled-delay-ms";
/// A slow body trickles out over this much scheduled time unless the answer names a delay.
pub const SLOW_BODY_DEFAULT: Duration = Duration::from_secs(4);
/// A slow body goes out in at most this many pieces.
const SLOW_BODY_PIECES: usize = 8;

pub(crate) type ResponseBody = Either<Full<Bytes>, Trickle>;

/// A body whose pieces arrive over time (a slow-body fault).
pub(crate) struct Trickle(tokio::sync::mpsc::Receiver<Bytes>);

impl Body for Trickle {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|piece| piece.map(|bytes| Ok(Frame::data(bytes))))
    }
}

/// What every request of a session shares.
pub(crate) struct Shared {
    pub session: String,
    pub defaults: Defaults,
    pub max_body_bytes: u64,
    pub random: KeyedRandom,
    pub clock: Clock,
    pub journal: Journal,
    pub routes: Arc<LiveRoutes>,
    pub counts: Mutex<Counts>,
    pub arrivals: AtomicU64,
    pub observer: Option<Observer>,
    pub link: Option<crate::run_link::RunLink>,
    /// Answers the paths under `/api/v1/`, `/api/v3/` and `/api/v4/` when set.
    pub infisical: Option<Emulation>,
    pub shutdown: CancellationToken,
}

/// Arrival counts: per request fingerprint (the occurrence) and per endpoint (for sequences).
#[derive(Default)]
pub(crate) struct Counts {
    fingerprints: HashMap<[u8; 32], u64>,
    endpoints: HashMap<Arc<str>, u64>,
}

/// Set by a `reset` fault; the connection then closes with an RST instead of a FIN.
#[derive(Clone, Default)]
pub(crate) struct ResetSwitch(Arc<AtomicBool>);

impl ResetSwitch {
    pub fn trip(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_tripped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why no response was sent; hyper then drops the connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Dropped {
    #[error("connection reset (injected fault)")]
    Reset,
    #[error("connection closed without a response (injected fault)")]
    Close,
    #[error("the sandbox is stopping")]
    Shutdown,
    #[error("the client went away while sending its body")]
    ClientGone,
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    reset: ResetSwitch,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Dropped> {
    let arrived = shared.clock.wall_now();
    let unix_millis = arrived
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let seq = shared.arrivals.fetch_add(1, Ordering::Relaxed) + 1;
    let (parts, body) = request.into_parts();
    let arrival = Arrival {
        id: request_id::next(parts.method.as_str(), unix_millis),
        seq,
        timestamp: Timestamp::of(arrived),
        unix_millis,
    };
    let body = read_body(body, &parts.headers, shared.max_body_bytes).await?;
    // The request's head and body go into `settle` and no further: held across a wait, they
    // would pin hyper's read buffer and make it allocate a new one for the next request.
    match settle(&shared, &arrival, parts, body)? {
        Settled::Answered(response) => Ok(response),
        Settled::Waiting(waiting) => waiting.finish(&shared, reset).await,
    }
}

/// What a request brings besides its head and body.
struct Arrival {
    id: String,
    seq: u64,
    timestamp: Timestamp,
    unix_millis: u64,
}

/// A decided request: answered, or waiting to be.
enum Settled {
    /// Recorded, and this is the answer (a 500 if it could not be recorded).
    Answered(Response<ResponseBody>),
    Waiting(Waiting),
}

/// A request whose record is written, and which is answered or dropped, after a delay.
struct Waiting {
    delay: Duration,
    /// Its record, complete.
    line: Vec<u8>,
    then: Then,
}

enum Then {
    Answer(Response<ResponseBody>),
    /// A reset, a close, or a hang.
    Drop(ConnectionFault),
}

impl Waiting {
    async fn finish(
        self,
        shared: &Shared,
        reset: ResetSwitch,
    ) -> Result<Response<ResponseBody>, Dropped> {
        if !self.delay.is_zero() {
            sleep_unless_stopping(shared, self.delay).await?;
        }
        let recorded = record(shared, &self.line);
        match self.then {
            Then::Answer(response) => Ok(match recorded {
                Ok(()) => response,
                Err(error) => unrecorded(error),
            }),
            Then::Drop(fault) => {
                recorded.map_err(|_| Dropped::Close)?;
                match fault {
                    ConnectionFault::Reset => {
                        reset.trip();
                        Err(Dropped::Reset)
                    }
                    ConnectionFault::Close => Err(Dropped::Close),
                    _ => {
                        // Hyper drops this future when the client disconnects.
                        shared.shutdown.cancelled().await;
                        Err(Dropped::Shutdown)
                    }
                }
            }
        }
    }
}

/// Decides the answer and records the request, or, when the answer waits, makes its record
/// ready. The record borrows the request's parts rather than copy them; nothing here waits.
fn settle(
    shared: &Shared,
    arrival: &Arrival,
    parts: Parts,
    body: Result<Bytes, u64>,
) -> Result<Settled, Dropped> {
    let mut entry = Entry {
        id: &arrival.id,
        session: &shared.session,
        seq: arrival.seq,
        timestamp: arrival.timestamp.as_str(),
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: Headers::Map(&parts.headers),
        body: "",
        body_base64: false,
        body_size: 0,
        endpoint: None,
        fingerprint: None,
        occurrence: None,
        answered_by: &Answer::Route,
        fault: None,
        scheduled_delay_ms: 0,
        response: None,
    };
    let body = match body {
        Ok(body) => body,
        Err(size) => {
            entry.body_size = size;
            let answer = Answer::Rejected {
                reason: format!("body over the {}-byte limit", shared.max_body_bytes),
            };
            entry.answered_by = &answer;
            let error = serde_json::json!({"error": "Payload too large", "limit_bytes": shared.max_body_bytes, "request_id": arrival.id});
            // The rest of the body is not read: the connection cannot carry another request.
            let extra = [(header::CONNECTION, HeaderValue::from_static("close"))];
            let body = json_body(&error);
            return Ok(Settled::Answered(answer_now(
                shared,
                entry,
                StatusCode::PAYLOAD_TOO_LARGE,
                &extra,
                body,
            )));
        }
    };
    entry.body_size = body.len() as u64;
    let (text, base64) = recording::body_text(&body);
    (entry.body, entry.body_base64) = (&text, base64);

    let routes: Arc<Routes> = shared.routes.current();
    // The Infisical emulation takes its paths from the default routes; an endpoint configured
    // on one of them still answers (or faults) first.
    let emulation = shared
        .infisical
        .as_ref()
        .and_then(|e| infisical::route_key(parts.uri.path()).map(|key| (e, key)));
    let route = match (routes.find(&parts.method, parts.uri.path()), emulation) {
        (Route::Endpoint(endpoint), _) => Route::Endpoint(endpoint),
        (_, Some((_, key))) => Route::Default(key),
        (route, None) => route,
    };
    entry.endpoint = route.key();

    if let Route::Endpoint(endpoint) = &route
        && let Some(check) = &endpoint.signature
    {
        let now = UNIX_EPOCH + Duration::from_millis(arrival.unix_millis);
        if let Err(reason) = signature::verify(
            check.scheme,
            &check.secret,
            check.tolerance,
            &parts.headers,
            &body,
            now,
        ) {
            let error = serde_json::json!({"error": "Invalid signature", "request_id": arrival.id});
            let answer = Answer::Rejected {
                reason: format!("signature: {reason}"),
            };
            entry.answered_by = &answer;
            let body = json_body(&error);
            return Ok(Settled::Answered(answer_now(
                shared,
                entry,
                StatusCode::UNAUTHORIZED,
                &[],
                body,
            )));
        }
    }

    // The emulation's requests are told apart by the names they carry, never by a value.
    let names;
    let drawn: &[u8] = match emulation {
        Some(_) => {
            names = infisical::fingerprint_input(parts.uri.path(), parts.uri.query(), &body);
            &names
        }
        None => &body,
    };
    let fingerprint = match &shared.link {
        Some(link) => {
            let (path, drawn) = link.masked(parts.uri.path(), drawn);
            faults::fingerprint(parts.method.as_str(), &path, &drawn)
        }
        None => faults::fingerprint(parts.method.as_str(), parts.uri.path(), drawn),
    };
    let (occurrence, nth) = shared.count(&fingerprint, &route);
    let hex = lower_hex(&fingerprint);
    entry.fingerprint = Some(std::str::from_utf8(&hex).expect("hex digits"));
    entry.occurrence = Some(occurrence);
    let key = DrawKey {
        endpoint: route.key().unwrap_or(""),
        fingerprint: &fingerprint,
        occurrence,
    };
    let mut decision = faults::decide(&route, nth, &shared.defaults, shared.random, &key);
    if let Some((emulation, _)) = emulation {
        let call = infisical::Call {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            authorization: parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
            body: &body,
        };
        decision = emulated(shared, emulation, &call, arrival, decision, &key);
    }
    entry.answered_by = &decision.answer;
    entry.fault = decision.fault;
    respond(shared, entry, &decision)
}

/// The answer to a request on the Infisical emulation's paths. A fault or a scripted answer
/// replaces the emulation's (the write is not made), except that a share of the faults drawn
/// for writes — `faults-after-write`, keyed like every draw — strike after the write: it is
/// made and kept, and its answer is lost to the fault. Only faults that could lose an answer
/// that way do: a dropped connection or a 5xx.
fn emulated(
    shared: &Shared,
    emulation: &Emulation,
    call: &infisical::Call,
    arrival: &Arrival,
    decision: Decision,
    key: &DrawKey,
) -> Decision {
    let replaced = decision.fault.is_some() || decision.scripted;
    if !replaced {
        let reply = emulation.answer(call, &arrival.id);
        return Decision {
            status: StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: Vec::new(),
            body: Some(json_body(&reply.body)),
            delay: decision.delay,
            connection: None,
            fault: None,
            answer: Answer::Infisical {
                wrote: reply.wrote,
                fault_after_write: false,
            },
            scripted: false,
        };
    }
    let loses_an_answer = decision.connection.is_some() || decision.status.is_server_error();
    let occurrence = key.occurrence.to_le_bytes();
    let parts: [&[u8]; 3] = [key.endpoint.as_bytes(), key.fingerprint, &occurrence];
    let after_write = loses_an_answer
        && infisical::is_write(call.method, call.path)
        && shared.random.chance(
            emulation.config().faults_after_write,
            "fault-after-write",
            &parts,
        );
    if !after_write {
        return decision;
    }
    let reply = emulation.answer(call, &arrival.id);
    Decision {
        answer: Answer::Infisical {
            wrote: reply.wrote,
            fault_after_write: true,
        },
        ..decision
    }
}

/// Records and answers as decided, or gets ready to after the delay.
fn respond(shared: &Shared, mut entry: Entry, decision: &Decision) -> Result<Settled, Dropped> {
    let delay = decision.delay;
    match decision.connection {
        Some(ConnectionFault::SlowBody) => {
            return slow_body(shared, entry, decision).map(Settled::Answered);
        }
        Some(fault) => {
            entry.scheduled_delay_ms = millis(delay);
            return Ok(Settled::Waiting(Waiting {
                delay,
                line: line_of(&entry),
                then: Then::Drop(fault),
            }));
        }
        None => {}
    }
    let body = decision
        .body
        .clone()
        .unwrap_or_else(|| standard_body(decision.status, &entry));
    if delay.is_zero() {
        return Ok(Settled::Answered(answer_now(
            shared,
            entry,
            decision.status,
            &decision.headers,
            body,
        )));
    }
    entry.scheduled_delay_ms = millis(delay);
    let reply = Reply::new(
        shared,
        entry.id,
        decision.status,
        &decision.headers,
        body,
        delay,
    );
    let (text, base64) = recording::body_text(&reply.body);
    let entry = Entry {
        response: Some(reply.recorded(&text, base64)),
        ..entry
    };
    let line = line_of(&entry);
    let body = Either::Left(Full::new(reply.body.clone()));
    Ok(Settled::Waiting(Waiting {
        delay,
        line,
        then: Then::Answer(reply.into_response(body)),
    }))
}

/// Records the request with its response, then returns the response.
fn answer_now(
    shared: &Shared,
    entry: Entry,
    status: StatusCode,
    extra: &[(HeaderName, HeaderValue)],
    body: (Bytes, HeaderValue),
) -> Response<ResponseBody> {
    let reply = Reply::new(shared, entry.id, status, extra, body, Duration::ZERO);
    let (text, base64) = recording::body_text(&reply.body);
    let entry = Entry {
        response: Some(reply.recorded(&text, base64)),
        ..entry
    };
    match record_now(shared, &entry) {
        Ok(()) => {
            let body = Either::Left(Full::new(reply.body.clone()));
            reply.into_response(body)
        }
        Err(error) => unrecorded(error),
    }
}

/// The answer to a request that could not be recorded.
fn unrecorded(error: std::io::Error) -> Response<ResponseBody> {
    tracing::error!(%error, "could not record a request; answering 500");
    let mut response = Response::new(Either::Left(Full::new(Bytes::from_static(
        b"{\"error\":\"the sandbox could not record this request\"}",
    ))));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Headers at once, then the body in pieces spread over the scheduled delay.
fn slow_body(
    shared: &Shared,
    mut entry: Entry,
    decision: &Decision,
) -> Result<Response<ResponseBody>, Dropped> {
    let total = if decision.delay.is_zero() {
        SLOW_BODY_DEFAULT
    } else {
        decision.delay
    };
    let body = decision
        .body
        .clone()
        .unwrap_or_else(|| standard_body(decision.status, &entry));
    entry.scheduled_delay_ms = millis(total);
    let reply = Reply::new(
        shared,
        entry.id,
        decision.status,
        &decision.headers,
        body,
        total,
    );
    let (text, base64) = recording::body_text(&reply.body);
    let entry = Entry {
        response: Some(reply.recorded(&text, base64)),
        ..entry
    };
    record_now(shared, &entry).map_err(|_| Dropped::Close)?;

    let bytes = reply.body.clone();
    let pieces = bytes.len().clamp(1, SLOW_BODY_PIECES);
    let gap = total / pieces as u32;
    let (sender, pieces_out) = tokio::sync::mpsc::channel(1);
    let clock = shared.clock.clone();
    let stopping = shared.shutdown.clone();
    tokio::spawn(async move {
        let piece = bytes.len().div_ceil(pieces).max(1);
        let mut offset = 0;
        while offset < bytes.len() || (bytes.is_empty() && offset == 0) {
            tokio::select! {
                _ = clock.sleep(gap) => {}
                _ = stopping.cancelled() => return,
            }
            let end = (offset + piece).min(bytes.len());
            if sender.send(bytes.slice(offset..end)).await.is_err() {
                return;
            }
            offset = end.max(offset + 1);
        }
    });
    Ok(reply.into_response(Either::Right(Trickle(pieces_out))))
}

/// A response as recorded and as sent.
struct Reply {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl Reply {
    /// The headers: the content type (unless the answer names its own), the answer's
    /// headers, the request id, and the scheduled delay if any.
    fn new(
        shared: &Shared,
        id: &str,
        status: StatusCode,
        extra: &[(HeaderName, HeaderValue)],
        body: (Bytes, HeaderValue),
        delay: Duration,
    ) -> Self {
        let (body, content_type) = body;
        let mut headers = Vec::with_capacity(extra.len() + 3);
        if !extra.iter().any(|(n, _)| n == header::CONTENT_TYPE) {
            headers.push((header::CONTENT_TYPE, content_type));
        }
        headers.extend(extra.iter().cloned());
        if let Ok(id) = HeaderValue::from_str(id) {
            headers.push((HeaderName::from_static("x-request-id"), id));
        }
        if !delay.is_zero() {
            match &shared.link {
                Some(link) => {
                    if let Ok(value) = HeaderValue::from_str(&link.sign_delay(delay, id)) {
                        headers.push((
                            HeaderName::from_static(crate::run_link::SIGNED_DELAY_HEADER),
                            value,
                        ));
                    }
                }
                None => headers.push((
                    HeaderName::from_static(SCHEDULED_DELAY_HEADER),
                    HeaderValue::from(millis(delay)),
                )),
            }
        }
        Self {
            status,
            headers,
            body,
        }
    }

    /// The response's part of the record; `text` is the body as [`recording::body_text`]
    /// makes it.
    fn recorded<'a>(&'a self, text: &'a str, base64: bool) -> EntryResponse<'a> {
        EntryResponse {
            status: self.status.as_u16(),
            headers: Headers::Pairs(&self.headers),
            body: text,
            body_base64: base64,
        }
    }

    fn into_response(self, body: ResponseBody) -> Response<ResponseBody> {
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.reserve(self.headers.len());
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

thread_local! {
    /// Space for the record of the request being answered on this thread (reused: no await
    /// while it is in use).
    static LINE: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(8192));
}

/// Writes the entry's line to the session file, then shows it to the observer.
fn record_now(shared: &Shared, entry: &Entry) -> std::io::Result<()> {
    LINE.with(|line| {
        let mut line = line.borrow_mut();
        line.clear();
        json_line::write_entry(&mut line, entry);
        let recorded = record(shared, &line);
        // Keep the space, but not a huge one left by a rare huge record.
        if line.capacity() > 1 << 20 {
            *line = Vec::with_capacity(8192);
        }
        recorded
    })
}

/// The entry's line, to be written later.
fn line_of(entry: &Entry) -> Vec<u8> {
    let mut line = Vec::with_capacity(4096);
    json_line::write_entry(&mut line, entry);
    line
}

/// Appends a record's line to the session file, then tells the observer.
fn record(shared: &Shared, line: &[u8]) -> std::io::Result<()> {
    shared.journal.append(line)?;
    if let Some(observer) = &shared.observer {
        observer(line);
    }
    Ok(())
}

impl Shared {
    /// This request's occurrence (identical requests before it) and its number at its endpoint.
    fn count(&self, fingerprint: &[u8; 32], route: &Route) -> (u64, u64) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let seen = counts.fingerprints.entry(*fingerprint).or_insert(0);
        let occurrence = *seen;
        *seen += 1;
        let nth = match route {
            Route::Endpoint(endpoint)
                if !endpoint.sequence.is_empty() || endpoint.every.is_some() =>
            {
                let n = counts
                    .endpoints
                    .entry(endpoint.counter.clone())
                    .or_insert(0);
                *n += 1;
                *n
            }
            _ => 0,
        };
        (occurrence, nth)
    }
}

/// The body within the limit; `Ok(Err(size))` when it is over (the announced size, or the
/// bytes received until it went over).
async fn read_body(
    mut body: Incoming,
    headers: &hyper::HeaderMap,
    limit: u64,
) -> Result<Result<Bytes, u64>, Dropped> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(size) = announced.filter(|size| *size > limit) {
        discard_rest(body, headers);
        return Ok(Err(size));
    }
    // Most bodies arrive in one piece: keep it without copying.
    let mut first: Option<Bytes> = None;
    let mut more: Option<bytes::BytesMut> = None;
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| Dropped::ClientGone)?.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if received > limit {
            discard_rest(body, headers);
            return Ok(Err(received));
        }
        match (&mut first, &mut more) {
            (None, _) => first = Some(data),
            (Some(head), None) => {
                let mut joined = bytes::BytesMut::with_capacity(head.len() + data.len());
                joined.extend_from_slice(head);
                joined.extend_from_slice(&data);
                more = Some(joined);
            }
            (Some(_), Some(joined)) => joined.extend_from_slice(&data),
        }
    }
    Ok(Ok(match (first, more) {
        (_, Some(joined)) => joined.freeze(),
        (Some(only), None) => only,
        (None, None) => Bytes::new(),
    }))
}

/// Reads and drops the rest of a refused body in the background, so that the client — still
/// sending — reads the 413 instead of a reset (closing with unread data sends an RST). A
/// client that waits for `100 Continue` has sent nothing more; bounded in bytes and time.
fn discard_rest(mut body: Incoming, headers: &hyper::HeaderMap) {
    const MAX_DISCARD: u64 = 256 * 1024 * 1024;
    const MAX_DISCARD_TIME: Duration = Duration::from_secs(10);
    if headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
    {
        return;
    }
    tokio::spawn(async move {
        let _ = tokio::time::timeout(MAX_DISCARD_TIME, async {
            let mut discarded = 0u64;
            while let Some(Ok(frame)) = body.frame().await {
                discarded += frame.data_ref().map_or(0, |d| d.len() as u64);
                if discarded > MAX_DISCARD {
                    break;
                }
            }
        })
        .await;
    });
}

async fn sleep_unless_stopping(shared: &Shared, delay: Duration) -> Result<(), Dropped> {
    tokio::select! {
        _ = shared.clock.sleep(delay) => Ok(()),
        _ = shared.shutdown.cancelled() => Err(Dropped::Shutdown),
    }
}

/// The body of an answer that names none: an acknowledgement for a success, an error
/// otherwise, nothing for statuses that carry no body.
fn standard_body(status: StatusCode, record: &Entry) -> (Bytes, HeaderValue) {
    let json = HeaderValue::from_static("application/json");
    if status.is_informational() || matches!(status.as_u16(), 204 | 205 | 304) {
        return (Bytes::new(), json);
    }
    // Written by hand: this runs for every request. Ids and reasons need no escaping.
    let text = if status.is_success() {
        const HEAD: &str = r#"{"status":"received","request_id":""#;
        let mut text = String::with_capacity(HEAD.len() + record.id.len() + 2);
        text.push_str(HEAD);
        text.push_str(record.id);
        text.push_str(r#""}"#);
        text
    } else if status == StatusCode::NOT_FOUND && record.endpoint.is_none() {
        let path = serde_json::Value::from(record.path);
        format!(
            r#"{{"error":"Not found","path":{path},"request_id":"{}"}}"#,
            record.id
        )
    } else if record.fault == Some(Fault::ErrorRate) {
        format!(
            r#"{{"error":"Injected error","status":{},"request_id":"{}"}}"#,
            status.as_u16(),
            record.id
        )
    } else {
        let reason = status.canonical_reason().unwrap_or("Error");
        format!(
            r#"{{"error":"{reason}","status":{},"request_id":"{}"}}"#,
            status.as_u16(),
            record.id
        )
    };
    (Bytes::from(text), json)
}

fn json_body(value: &serde_json::Value) -> (Bytes, HeaderValue) {
    (
        Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        HeaderValue::from_static("application/json"),
    )
}

/// Hex without the per-character iterator of `hex::encode` (this runs for every request).
fn lower_hex(bytes: &[u8; 32]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0; 64];
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    out
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
