//! One request, from arrival to answer: read the body (within the limit), decide the answer
//! and its faults, wait the scheduled delay, write the record, then answer.
//!
//! The record is written to the OS *before* the response goes out, so every request a client
//! got an answer to survives a `kill -9` of the sandbox.

use super::faults::{self, Decision, Defaults, DrawKey};
use super::journal::Journal;
use super::recording::{self, Answer, Fault, RecordedRequest, RecordedResponse};
use super::routes::{Route, Routes};
use super::{Observer, config::ConnectionFault, endpoints::LiveRoutes, request_id, signature};
use crate::clock::Clock;
use crate::random::KeyedRandom;
use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::body::{Body, Frame};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
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
    let mut record = RecordedRequest {
        id: request_id::next(parts.method.as_str(), unix_millis),
        session: shared.session.clone(),
        seq,
        timestamp: timestamp(arrived),
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::new(),
        body_base64: false,
        body_size: 0,
        endpoint: None,
        fingerprint: None,
        occurrence: None,
        answered_by: Answer::Route,
        fault: None,
        scheduled_delay_ms: 0,
        response: None,
    };

    let body = match read_body(body, &parts.headers, shared.max_body_bytes).await? {
        Ok(body) => body,
        Err(size) => {
            record.body_size = size;
            let reason = format!("body over the {}-byte limit", shared.max_body_bytes);
            let error = serde_json::json!({"error": "Payload too large", "limit_bytes": shared.max_body_bytes, "request_id": record.id});
            record.answered_by = Answer::Rejected { reason };
            // The rest of the body is not read: the connection cannot carry another request.
            let extra = [(header::CONNECTION, HeaderValue::from_static("close"))];
            return finish(
                &shared,
                record,
                StatusCode::PAYLOAD_TOO_LARGE,
                &extra,
                json_body(&error),
                Duration::ZERO,
            )
            .await;
        }
    };
    record.body_size = body.len() as u64;
    (record.body, record.body_base64) = recording::encode_body(&body);

    let routes: Arc<Routes> = shared.routes.current();
    let route = routes.find(&parts.method, parts.uri.path());
    record.endpoint = route.key().map(str::to_string);

    if let Route::Endpoint(endpoint) = &route
        && let Some(check) = &endpoint.signature
    {
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_millis);
        if let Err(reason) = signature::verify(
            check.scheme,
            &check.secret,
            check.tolerance,
            &parts.headers,
            &body,
            now,
        ) {
            let error = serde_json::json!({"error": "Invalid signature", "request_id": record.id});
            record.answered_by = Answer::Rejected {
                reason: format!("signature: {reason}"),
            };
            return finish(
                &shared,
                record,
                StatusCode::UNAUTHORIZED,
                &[],
                json_body(&error),
                Duration::ZERO,
            )
            .await;
        }
    }

    let fingerprint = match &shared.link {
        Some(link) => {
            let (path, body) = link.masked(parts.uri.path(), &body);
            faults::fingerprint(parts.method.as_str(), &path, &body)
        }
        None => faults::fingerprint(parts.method.as_str(), parts.uri.path(), &body),
    };
    // The record holds copies. Held across the waits below, the body and the parsed head
    // (whose headers are slices of it) would pin hyper's read buffer and make it allocate a
    // new one for every request.
    drop(body);
    drop(parts);
    let (occurrence, nth) = shared.count(&fingerprint, &route);
    record.fingerprint = Some(lower_hex(&fingerprint));
    record.occurrence = Some(occurrence);
    let key = DrawKey {
        endpoint: route.key().unwrap_or(""),
        fingerprint: &fingerprint,
        occurrence,
    };
    let decision = faults::decide(&route, nth, &shared.defaults, shared.random, &key);
    record.answered_by = decision.answer.clone();
    record.fault = decision.fault;
    respond(shared, reset, record, decision).await
}

/// Waits, records and answers as decided.
async fn respond(
    shared: Arc<Shared>,
    reset: ResetSwitch,
    mut record: RecordedRequest,
    decision: Decision,
) -> Result<Response<ResponseBody>, Dropped> {
    let Decision {
        status,
        headers,
        body,
        delay,
        connection,
        ..
    } = decision;
    if connection == Some(ConnectionFault::SlowBody) {
        return slow_body(shared, record, status, headers, body, delay).await;
    }
    if !delay.is_zero() {
        sleep_unless_stopping(&shared, delay).await?;
        record.scheduled_delay_ms = millis(delay);
    }
    match connection {
        Some(fault @ (ConnectionFault::Reset | ConnectionFault::Close | ConnectionFault::Hang)) => {
            write(&shared, &record).await.map_err(|_| Dropped::Close)?;
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
        _ => {
            let body = body.unwrap_or_else(|| standard_body(status, &record));
            finish(&shared, record, status, &headers, body, delay).await
        }
    }
}

/// Headers at once, then the body in pieces spread over the scheduled delay.
async fn slow_body(
    shared: Arc<Shared>,
    mut record: RecordedRequest,
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<(Bytes, HeaderValue)>,
    delay: Duration,
) -> Result<Response<ResponseBody>, Dropped> {
    let total = if delay.is_zero() {
        SLOW_BODY_DEFAULT
    } else {
        delay
    };
    let (bytes, content_type) = body.unwrap_or_else(|| standard_body(status, &record));
    record.scheduled_delay_ms = millis(total);
    let response_headers = response_headers(&shared, &record, content_type, &headers, total);
    record.response = Some(recorded_response(status, &response_headers, &bytes));
    write(&shared, &record).await.map_err(|_| Dropped::Close)?;

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
    let mut response = Response::new(Either::Right(Trickle(pieces_out)));
    *response.status_mut() = status;
    for (name, value) in response_headers {
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

/// Records the response, then returns it.
async fn finish(
    shared: &Shared,
    mut record: RecordedRequest,
    status: StatusCode,
    extra: &[(HeaderName, HeaderValue)],
    body: (Bytes, HeaderValue),
    delay: Duration,
) -> Result<Response<ResponseBody>, Dropped> {
    let (bytes, content_type) = body;
    let response_headers = response_headers(shared, &record, content_type, extra, delay);
    record.response = Some(recorded_response(status, &response_headers, &bytes));
    if let Err(error) = write(shared, &record).await {
        tracing::error!(%error, "could not record a request; answering 500");
        let mut response = Response::new(Either::Left(Full::new(Bytes::from_static(
            b"{\"error\":\"the sandbox could not record this request\"}",
        ))));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(response);
    }
    let mut response = Response::new(Either::Left(Full::new(bytes)));
    *response.status_mut() = status;
    for (name, value) in response_headers {
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

/// The headers sent: the content type (unless the answer names its own), the answer's
/// headers, the request id, and the scheduled delay if any.
fn response_headers(
    shared: &Shared,
    record: &RecordedRequest,
    content_type: HeaderValue,
    extra: &[(HeaderName, HeaderValue)],
    delay: Duration,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::with_capacity(extra.len() + 3);
    if !extra.iter().any(|(n, _)| n == header::CONTENT_TYPE) {
        headers.push((header::CONTENT_TYPE, content_type));
    }
    headers.extend(extra.iter().cloned());
    if let Ok(id) = HeaderValue::from_str(&record.id) {
        headers.push((HeaderName::from_static("x-request-id"), id));
    }
    if !delay.is_zero() {
        match &shared.link {
            Some(link) => {
                if let Ok(value) = HeaderValue::from_str(&link.sign_delay(delay, &record.id)) {
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
    headers
}

fn recorded_response(
    status: StatusCode,
    headers: &[(HeaderName, HeaderValue)],
    body: &[u8],
) -> RecordedResponse {
    let (body, body_base64) = recording::encode_body(body);
    RecordedResponse {
        status: status.as_u16(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        body_base64,
    }
}

/// Appends the record to the session file, then tells the observer.
async fn write(shared: &Shared, record: &RecordedRequest) -> std::io::Result<()> {
    thread_local! {
        /// Serialization space reused by every request on this thread (no await while in use).
        static LINE: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(8192));
    }
    LINE.with(|line| {
        let mut line = line.borrow_mut();
        line.clear();
        super::json_line::write(&mut line, record);
        let written = shared.journal.append(&line);
        // Keep the space, but not a huge one left by a rare huge record.
        if line.capacity() > 1 << 20 {
            *line = Vec::with_capacity(8192);
        }
        written
    })?;
    if let Some(observer) = &shared.observer {
        observer(record);
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
fn standard_body(status: StatusCode, record: &RecordedRequest) -> (Bytes, HeaderValue) {
    let json = HeaderValue::from_static("application/json");
    if status.is_informational() || matches!(status.as_u16(), 204 | 205 | 304) {
        return (Bytes::new(), json);
    }
    // Written by hand: this runs for every request. Ids and reasons need no escaping.
    let text = if status.is_success() {
        format!(r#"{{"status":"received","request_id":"{}"}}"#, record.id)
    } else if status == StatusCode::NOT_FOUND && record.endpoint.is_none() {
        let path = serde_json::Value::from(record.path.as_str());
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

fn timestamp(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Hex without the per-character iterator of `hex::encode` (this runs for every request).
fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    out
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
