//! A scripted Infisical server for client tests, answering as `reference/infisical-api.md` says
//! (and as a real server was seen to answer), on 127.0.0.1:0. It records every request —
//! method, path, decoded query, Authorization, JSON body — so tests can assert exactly what a
//! client sent, and it takes faults: an answer instead of the real one, or a fault injected
//! after a write was applied (its answer lost, the write not).
//!
//! It is a test double, not the sandbox's emulation: small, in memory, one project.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

/// Which secrets API the server serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serves {
    V4,
    V3,
    Both,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub serves: Serves,
    pub project: String,
    pub environment: String,
    pub client_id: String,
    pub client_secret: String,
    pub expires_in: u64,
    /// Writes answer `{"approval": …}` and are not applied.
    pub approvals: bool,
    /// Tokens handed out by the first logins, in order (then `tok-N-…`).
    pub tokens: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            serves: Serves::Both,
            project: "proj-1".into(),
            environment: "prod".into(),
            client_id: "client-1".into(),
            client_secret: "client-secret-1".into(),
            expires_in: 7200,
            approvals: false,
            tokens: Vec::new(),
        }
    }
}

/// What a fault does to the next request it matches.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer this (status, headers, body) without applying anything.
    Answer(u16, Vec<(String, String)>, String),
    /// Close the connection without applying anything.
    ResetBefore,
    /// Apply the request, then close the connection without an answer.
    ResetAfter,
    /// Apply the request, then answer this status with an error body.
    StatusAfter(u16),
    /// Apply the request, then never answer.
    HangAfter,
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub body: Value,
}

impl Seen {
    pub fn query_keys(&self) -> Vec<&str> {
        self.query.iter().map(|(k, _)| k.as_str()).collect()
    }

    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The body's keys, in the order sent.
    pub fn body_keys(&self) -> Vec<&str> {
        self.body
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }
}

#[derive(Clone, Debug)]
struct Stored {
    versions: Vec<String>,
}

#[derive(Default)]
struct State {
    options: Options,
    folders: BTreeSet<String>,
    /// (folder, key) → every version's value, oldest first.
    secrets: BTreeMap<(String, String), Stored>,
    tokens: Vec<(String, bool)>,
    logins: usize,
    faults: VecDeque<(String, String, Fault)>,
    requests: Vec<Seen>,
    next_id: usize,
}

pub struct FakeInfisical {
    pub url: String,
    state: Arc<Mutex<State>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl FakeInfisical {
    pub fn start(options: Options) -> Self {
        let mut folders = BTreeSet::new();
        folders.insert("/".to_string());
        let state = Arc::new(Mutex::new(State {
            options,
            folders,
            ..State::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let state = shared.clone();
                            tokio::spawn(async move {
                                let service = service_fn(move |req| serve(state.clone(), req));
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                        _ = &mut rx => break,
                    }
                }
            });
        });
        Self {
            url,
            state,
            _shutdown: tx,
        }
    }

    /// The next request with this method and path gets `fault` (faults queue in order).
    pub fn fault(&self, method: &str, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push_back((method.into(), path.into(), fault));
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Requests other than logins.
    pub fn calls(&self) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|r| !r.path.starts_with("/api/v1/auth/"))
            .collect()
    }

    pub fn logins(&self) -> usize {
        self.state.lock().unwrap().logins
    }

    pub fn add_folder(&self, path: &str) {
        let mut state = self.state.lock().unwrap();
        let mut current = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            current = format!("{current}/{part}");
            state.folders.insert(current.clone());
        }
    }

    pub fn folders(&self) -> Vec<String> {
        self.state.lock().unwrap().folders.iter().cloned().collect()
    }

    /// Stores a secret directly (version 1, or one more).
    pub fn put(&self, folder: &str, key: &str, value: &str) {
        self.add_folder(folder);
        let mut state = self.state.lock().unwrap();
        state
            .secrets
            .entry((folder.into(), key.into()))
            .or_insert(Stored {
                versions: Vec::new(),
            })
            .versions
            .push(value.into());
    }

    /// (value, version) of a secret.
    pub fn secret(&self, folder: &str, key: &str) -> Option<(String, u64)> {
        let state = self.state.lock().unwrap();
        state
            .secrets
            .get(&(folder.to_string(), key.to_string()))
            .map(|s| (s.versions.last().unwrap().clone(), s.versions.len() as u64))
    }

    /// Every token handed out so far stops working (401), as after a deletion on renew.
    pub fn revoke_tokens(&self) {
        for token in &mut self.state.lock().unwrap().tokens {
            token.1 = false;
        }
    }
}

type Answer = Result<Response<Full<Bytes>>, std::io::Error>;

fn respond(status: u16, headers: &[(String, String)], body: Value) -> Answer {
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8");
    for (k, v) in headers {
        response = response.header(k, v);
    }
    Ok(response
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap())
}

/// Infisical's error body.
fn error(status: u16, message: Value, name: &str) -> (u16, Value) {
    (
        status,
        json!({"reqId": "req-fake", "statusCode": status, "message": message, "error": name}),
    )
}

/// What a body that fails validation answers: 401 with an array of issues.
fn invalid(path: &str, message: &str) -> (u16, Value) {
    error(
        401,
        json!([{"code": "invalid_type", "path": [path], "message": message}]),
        "ValidationFailure",
    )
}

fn reset() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fault: reset")
}

async fn serve(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Answer {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let raw = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let seen = Seen {
        method,
        path,
        query,
        authorization,
        body,
    };
    let fault = {
        let mut s = state.lock().unwrap();
        s.requests.push(seen.clone());
        let at = s
            .faults
            .iter()
            .position(|(m, p, _)| *m == seen.method && *p == seen.path);
        at.and_then(|i| s.faults.remove(i)).map(|(_, _, f)| f)
    };
    match &fault {
        Some(Fault::Answer(status, headers, body)) => {
            let body = serde_json::from_str(body).unwrap_or(Value::String(body.clone()));
            return respond(*status, headers, body);
        }
        Some(Fault::ResetBefore) => return Err(reset()),
        _ => {}
    }
    let (status, body) = handle(&mut state.lock().unwrap(), &seen);
    match fault {
        Some(Fault::ResetAfter) => Err(reset()),
        Some(Fault::StatusAfter(status)) => {
            let (status, body) = error(status, json!("Service unavailable"), "Unavailable");
            respond(status, &[], body)
        }
        Some(Fault::HangAfter) => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        _ => respond(status, &[], body),
    }
}

/// Which API a path belongs to, and what is under it.
enum Route<'a> {
    List,
    One(String),
    Batch,
    Unknown(&'a str),
}

fn route<'a>(path: &'a str, serves: Serves) -> (Option<&'static str>, Route<'a>) {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    if let Some(rest) = path.strip_prefix("/api/v4/secrets") {
        if serves == Serves::V3 {
            return (None, Route::Unknown(path));
        }
        return (
            Some("projectId"),
            match rest {
                "" => Route::List,
                "/batch" => Route::Batch,
                name => Route::One(decode(&name[1..])),
            },
        );
    }
    if path.starts_with("/api/v3/secrets") && serves == Serves::V4 {
        return (None, Route::Unknown(path));
    }
    if path == "/api/v3/secrets/raw" {
        return (Some("workspaceId"), Route::List);
    }
    if path == "/api/v3/secrets/batch/raw" {
        return (Some("workspaceId"), Route::Batch);
    }
    if let Some(name) = path.strip_prefix("/api/v3/secrets/raw/") {
        return (Some("workspaceId"), Route::One(decode(name)));
    }
    (None, Route::Unknown(path))
}

/// What the server stores when sent `value` (its schema's transform).
fn stored_form(value: &str) -> String {
    let trimmed = value.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if value.ends_with('\n') {
        format!("{trimmed}\n")
    } else {
        trimmed.to_string()
    }
}

fn secret_json(state: &State, folder: &str, key: &str, version: usize) -> Value {
    let stored = &state.secrets[&(folder.to_string(), key.to_string())];
    json!({
        "id": format!("id-{key}"), "_id": format!("id-{key}"), "workspace": state.options.project,
        "environment": state.options.environment, "version": version, "type": "shared",
        "secretKey": key, "secretValue": stored.versions[version - 1], "secretComment": "",
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z",
    })
}

fn latest(state: &State, folder: &str, key: &str) -> Value {
    let n = state.secrets[&(folder.to_string(), key.to_string())]
        .versions
        .len();
    secret_json(state, folder, key, n)
}

fn handle(state: &mut State, seen: &Seen) -> (u16, Value) {
    state.next_id += 1;
    if seen.path == "/api/v1/auth/universal-auth/login" {
        return login(state, seen);
    }
    // Every other route needs a token.
    let Some(token) = seen
        .authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
    else {
        return error(401, json!("Token missing"), "UnauthorizedError");
    };
    match state.tokens.iter().find(|(t, _)| t == token) {
        None => return error(403, json!("Invalid token"), "TokenError"),
        Some((_, false)) => return error(401, json!("Token expired"), "UnauthorizedError"),
        Some(_) => {}
    }
    if seen.path == "/api/v1/folders" && seen.method == "POST" {
        return create_folder(state, seen);
    }
    let (project_key, route) = route(&seen.path, state.options.serves);
    let Some(project_key) = project_key else {
        let Route::Unknown(path) = route else {
            unreachable!()
        };
        return error(
            404,
            json!(format!("Route {}:{path} not found", seen.method)),
            "Not Found",
        );
    };
    // Reads take the place in the query, writes in the body.
    let read = seen.method == "GET";
    let field = |key: &str| -> Option<String> {
        if read {
            seen.query(key).map(str::to_string)
        } else {
            seen.body
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
        }
    };
    let Some(project) = field(project_key) else {
        return invalid(project_key, "Required");
    };
    let Some(environment) = field("environment") else {
        return invalid("environment", "Required");
    };
    if project != state.options.project {
        return error(
            403,
            json!("You are not allowed to access this project"),
            "PermissionDenied",
        );
    }
    if environment != state.options.environment {
        return error(
            404,
            json!(format!("Environment with slug '{environment}' not found")),
            "NotFound",
        );
    }
    let folder = field("secretPath").unwrap_or_else(|| "/".into());
    let folder_exists = state.folders.contains(&folder);
    let approvals = state.options.approvals;
    match (seen.method.as_str(), route) {
        ("GET", Route::List) => {
            if !folder_exists {
                return (200, json!({"secrets": [], "imports": []}));
            }
            let keys: Vec<String> = state
                .secrets
                .keys()
                .filter(|(f, _)| *f == folder)
                .map(|(_, k)| k.clone())
                .collect();
            let secrets: Vec<Value> = keys.iter().map(|k| latest(state, &folder, k)).collect();
            (200, json!({"secrets": secrets, "imports": []}))
        }
        ("GET", Route::One(key)) => {
            let Some(stored) = state.secrets.get(&(folder.clone(), key.clone())) else {
                return error(
                    404,
                    json!(format!("Secret with name '{key}' not found")),
                    "NotFound",
                );
            };
            let n = stored.versions.len();
            let version = seen
                .query("version")
                .and_then(|v| v.parse().ok())
                .unwrap_or(n);
            if version == 0 || version > n {
                return error(404, json!("Secret version not found"), "NotFound");
            }
            (
                200,
                json!({"secret": secret_json(state, &folder, &key, version)}),
            )
        }
        ("POST", Route::One(key)) => {
            let Some(value) = seen.body.get("secretValue").and_then(Value::as_str) else {
                return invalid("secretValue", "Required");
            };
            if !folder_exists {
                return error(
                    404,
                    json!(format!("Folder with path '{folder}' not found")),
                    "NotFound",
                );
            }
            if state.secrets.contains_key(&(folder.clone(), key.clone())) {
                return error(400, json!("Secret already exist"), "BadRequest");
            }
            if approvals {
                return (
                    200,
                    json!({"approval": {"id": "approval-1", "status": "open"}}),
                );
            }
            let value = stored_form(value);
            state.secrets.insert(
                (folder.clone(), key.clone()),
                Stored {
                    versions: vec![value],
                },
            );
            (200, json!({"secret": latest(state, &folder, &key)}))
        }
        ("PATCH", Route::One(key)) => {
            let Some(value) = seen.body.get("secretValue").and_then(Value::as_str) else {
                return invalid("secretValue", "Required");
            };
            if !state.secrets.contains_key(&(folder.clone(), key.clone())) {
                return error(
                    404,
                    json!(format!("Secret with name '{key}' not found")),
                    "NotFound",
                );
            }
            if approvals {
                return (
                    200,
                    json!({"approval": {"id": "approval-1", "status": "open"}}),
                );
            }
            let value = stored_form(value);
            state
                .secrets
                .get_mut(&(folder.clone(), key.clone()))
                .unwrap()
                .versions
                .push(value);
            (200, json!({"secret": latest(state, &folder, &key)}))
        }
        ("DELETE", Route::One(key)) => {
            if !state.secrets.contains_key(&(folder.clone(), key.clone())) {
                return error(
                    404,
                    json!(format!("Secret with name '{key}' not found")),
                    "NotFound",
                );
            }
            if approvals {
                return (
                    200,
                    json!({"approval": {"id": "approval-1", "status": "open"}}),
                );
            }
            let gone = latest(state, &folder, &key);
            state.secrets.remove(&(folder, key));
            (200, json!({"secret": gone}))
        }
        (method @ ("POST" | "PATCH" | "DELETE"), Route::Batch) => {
            batch(state, seen, method, &folder, folder_exists, approvals)
        }
        (method, _) => error(
            404,
            json!(format!("Route {method}:{} not found", seen.path)),
            "Not Found",
        ),
    }
}

fn login(state: &mut State, seen: &Seen) -> (u16, Value) {
    let id = seen.body.get("clientId").and_then(Value::as_str);
    let secret = seen.body.get("clientSecret").and_then(Value::as_str);
    let (Some(id), Some(secret)) = (id, secret) else {
        return invalid("clientSecret", "Required");
    };
    if id != state.options.client_id || secret != state.options.client_secret {
        return error(401, json!("Invalid credentials"), "UnauthorizedError");
    }
    state.logins += 1;
    let token = state
        .options
        .tokens
        .get(state.logins - 1)
        .cloned()
        .unwrap_or_else(|| format!("tok-{}-fake-access-token", state.logins));
    state.tokens.push((token.clone(), true));
    let ttl = state.options.expires_in;
    (
        200,
        json!({"accessToken": token, "expiresIn": ttl, "accessTokenMaxTTL": ttl, "tokenType": "Bearer"}),
    )
}

fn create_folder(state: &mut State, seen: &Seen) -> (u16, Value) {
    let field = |k: &str| seen.body.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(project), Some(environment), Some(name), Some(parent)) = (
        field("workspaceId"),
        field("environment"),
        field("name"),
        field("path"),
    ) else {
        return invalid("workspaceId", "Required");
    };
    if project != state.options.project {
        return error(
            403,
            json!("You are not allowed to access this project"),
            "PermissionDenied",
        );
    }
    if environment != state.options.environment {
        return error(404, json!("Environment not found"), "NotFound");
    }
    if !state.folders.contains(&parent) {
        return error(
            404,
            json!(format!("Folder with path '{parent}' not found")),
            "NotFound",
        );
    }
    let full = if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    };
    if !state.folders.insert(full) {
        return error(
            400,
            json!("Folder with this name already exists"),
            "BadRequest",
        );
    }
    (
        200,
        json!({"folder": {"id": format!("folder-{name}"), "name": name}}),
    )
}

fn batch(
    state: &mut State,
    seen: &Seen,
    method: &str,
    folder: &str,
    folder_exists: bool,
    approvals: bool,
) -> (u16, Value) {
    let Some(items) = seen
        .body
        .get("secrets")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
    else {
        return invalid("secrets", "Array must contain at least 1 element(s)");
    };
    let mut pairs = Vec::new();
    for item in items {
        let Some(key) = item.get("secretKey").and_then(Value::as_str) else {
            return invalid("secretKey", "Required");
        };
        let value = item.get("secretValue").and_then(Value::as_str);
        if method != "DELETE" && value.is_none() {
            return invalid("secretValue", "Required");
        }
        pairs.push((key.to_string(), value.map(stored_form)));
    }
    if !folder_exists {
        return error(
            404,
            json!(format!("Folder with path '{folder}' not found")),
            "NotFound",
        );
    }
    let exists = |state: &State, key: &str| {
        state
            .secrets
            .contains_key(&(folder.to_string(), key.to_string()))
    };
    let mode = seen
        .body
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("failOnNotFound");
    // All or nothing: check every item before changing anything.
    for (key, _) in &pairs {
        match method {
            "POST" if exists(state, key) => {
                return error(
                    400,
                    json!(format!("Secret already exist: {key}")),
                    "BadRequest",
                );
            }
            "PATCH" | "DELETE" if mode == "failOnNotFound" && !exists(state, key) => {
                return error(404, json!(format!("Secret not found: {key}")), "NotFound");
            }
            _ => {}
        }
    }
    if approvals {
        return (
            200,
            json!({"approval": {"id": "approval-1", "status": "open"}}),
        );
    }
    let mut answered = Vec::new();
    for (key, value) in pairs {
        let at = (folder.to_string(), key.clone());
        match method {
            "DELETE" => {
                answered.push(latest(state, folder, &key));
                state.secrets.remove(&at);
            }
            _ if !exists(state, &key) && (method == "POST" || mode == "upsert") => {
                state.secrets.insert(
                    at,
                    Stored {
                        versions: vec![value.unwrap()],
                    },
                );
                answered.push(latest(state, folder, &key));
            }
            _ if exists(state, &key) => {
                state
                    .secrets
                    .get_mut(&at)
                    .unwrap()
                    .versions
                    .push(value.unwrap());
                answered.push(latest(state, folder, &key));
            }
            _ => {}
        }
    }
    (200, json!({"secrets": answered}))
}
