//! The routes, one function each: what a request asks for, checked in Infisical's order —
//! the token first, then the request's shape (401 `ValidationFailure`), then the project
//! (403), the environment and folder (404), then the secrets themselves (404 missing, 400
//! already there). A write works out all its changes before any is made: a batch with one bad
//! key changes nothing. In approval mode a write that would succeed answers `{"approval": …}`
//! and changes nothing.

use super::Inner;
use super::config::InfisicalConfig;
use super::error::{ApiError, Issues};
use super::secrets::{Change, Secret, Version, split_folder, trimmed};
use crate::model::{InfisicalApi, folder_path, is_folder_name};
use serde_json::{Map, Value, json};

/// The value a secret shows when the caller asked not to see values.
const HIDDEN_VALUE: &str = "<hidden-by-infisical>";
const SECRET_TYPES: &[&str] = &["shared", "personal"];
const BATCH_MODES: &[&str] = &["failOnNotFound", "ignore", "upsert"];

/// Which API a secrets route belongs to: v4 names the project `projectId`, v3 `workspaceId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    V3,
    V4,
}

impl Api {
    fn project_field(self) -> &'static str {
        match self {
            Api::V3 => "workspaceId",
            Api::V4 => "projectId",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Login,
    Renew,
    CreateFolder,
    List(Api),
    Get(Api, String),
    Create(Api, String),
    Update(Api, String),
    Delete(Api, String),
    BatchCreate(Api),
    BatchUpdate(Api),
    BatchDelete(Api),
}

impl Op {
    fn writes(&self) -> bool {
        matches!(
            self,
            Op::CreateFolder
                | Op::Create(..)
                | Op::Update(..)
                | Op::Delete(..)
                | Op::BatchCreate(_)
                | Op::BatchUpdate(_)
                | Op::BatchDelete(_)
        )
    }
}

/// The route a request takes, if the emulation serves it with these API versions.
fn route(method: &str, path: &str, api: InfisicalApi) -> Option<Op> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let name = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let op = match (method, segments.as_slice()) {
        ("POST", ["api", "v1", "auth", "universal-auth", "login"]) => Op::Login,
        ("POST", ["api", "v1", "auth", "token", "renew"]) => Op::Renew,
        ("POST", ["api", "v1", "folders"]) => Op::CreateFolder,
        (_, ["api", "v4", ..]) if !api.serves_v4() => return None,
        (_, ["api", "v3", ..]) if !api.serves_v3() => return None,
        ("GET", ["api", "v4", "secrets"]) => Op::List(Api::V4),
        ("POST", ["api", "v4", "secrets", "batch"]) => Op::BatchCreate(Api::V4),
        ("PATCH", ["api", "v4", "secrets", "batch"]) => Op::BatchUpdate(Api::V4),
        ("DELETE", ["api", "v4", "secrets", "batch"]) => Op::BatchDelete(Api::V4),
        ("GET", ["api", "v4", "secrets", n]) if !n.is_empty() => Op::Get(Api::V4, name(n)),
        ("POST", ["api", "v4", "secrets", n]) if !n.is_empty() => Op::Create(Api::V4, name(n)),
        ("PATCH", ["api", "v4", "secrets", n]) if !n.is_empty() => Op::Update(Api::V4, name(n)),
        ("DELETE", ["api", "v4", "secrets", n]) if !n.is_empty() => Op::Delete(Api::V4, name(n)),
        ("GET", ["api", "v3", "secrets", "raw"]) => Op::List(Api::V3),
        ("POST", ["api", "v3", "secrets", "batch", "raw"]) => Op::BatchCreate(Api::V3),
        ("PATCH", ["api", "v3", "secrets", "batch", "raw"]) => Op::BatchUpdate(Api::V3),
        ("DELETE", ["api", "v3", "secrets", "batch", "raw"]) => Op::BatchDelete(Api::V3),
        ("GET", ["api", "v3", "secrets", "raw", n]) if !n.is_empty() => Op::Get(Api::V3, name(n)),
        ("POST", ["api", "v3", "secrets", "raw", n]) if !n.is_empty() => {
            Op::Create(Api::V3, name(n))
        }
        ("PATCH", ["api", "v3", "secrets", "raw", n]) if !n.is_empty() => {
            Op::Update(Api::V3, name(n))
        }
        ("DELETE", ["api", "v3", "secrets", "raw", n]) if !n.is_empty() => {
            Op::Delete(Api::V3, name(n))
        }
        _ => return None,
    };
    Some(op)
}

/// Whether a request to this route changes state (when it succeeds).
pub(super) fn is_write(method: &str, path: &str) -> bool {
    route(method, path, InfisicalApi::Both).is_some_and(|op| op.writes())
}

/// One request, as the emulation sees it.
pub(crate) struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub authorization: Option<&'a str>,
    pub body: &'a [u8],
}

/// What a call did: its answer (status 200 unless an error), and whether it changed state.
pub(super) struct Done {
    pub body: Value,
    pub wrote: bool,
}

/// What the handlers share: the settings, the time now on the emulation's clock (seconds)
/// and on the wall (for `createdAt`).
pub(super) struct Context<'a> {
    pub config: &'a InfisicalConfig,
    pub now: f64,
    pub wall: String,
}

pub(super) fn answer(cx: &Context, inner: &mut Inner, call: &Call) -> Result<Done, ApiError> {
    let Some(op) = route(call.method, call.path, cx.config.api) else {
        let shown = match call.query {
            Some(q) => format!("{}?{q}", call.path),
            None => call.path.to_string(),
        };
        return Err(ApiError::no_route(call.method, &shown));
    };
    match &op {
        Op::Login => return login(cx, inner, call),
        Op::Renew => return renew(cx, inner, call),
        _ => {}
    }
    inner.auth.check(call.authorization, cx.now)?;
    match op {
        Op::Login | Op::Renew => unreachable!("answered above"),
        Op::CreateFolder => create_folder(cx, inner, call),
        Op::List(api) => list(cx, inner, api, call),
        Op::Get(api, name) => get(cx, inner, api, &name, call),
        Op::Create(api, name) => create(cx, inner, api, &name, call),
        Op::Update(api, name) => update(cx, inner, api, &name, call),
        Op::Delete(api, name) => delete(cx, inner, api, &name, call),
        Op::BatchCreate(api) => batch_create(cx, inner, api, call),
        Op::BatchUpdate(api) => batch_update(cx, inner, api, call),
        Op::BatchDelete(api) => batch_delete(cx, inner, api, call),
    }
}

// ------------------------------------------------------------------ auth

fn login(cx: &Context, inner: &mut Inner, call: &Call) -> Result<Done, ApiError> {
    let body = json_body(call.body)?;
    let mut issues = Issues::default();
    let client_id = required_string(&body, "clientId", &mut issues);
    let client_secret = required_string(&body, "clientSecret", &mut issues);
    issues.finish()?;
    let (client_id, client_secret) = (
        client_id.unwrap_or_default(),
        client_secret.unwrap_or_default(),
    );
    let granted = inner
        .auth
        .login(cx.config, client_id.trim(), &client_secret, cx.now)?;
    Ok(Done {
        body: granted.body(),
        wrote: false,
    })
}

fn renew(cx: &Context, inner: &mut Inner, call: &Call) -> Result<Done, ApiError> {
    let body = json_body(call.body)?;
    let mut issues = Issues::default();
    let token = required_string(&body, "accessToken", &mut issues);
    issues.finish()?;
    let granted = inner
        .auth
        .renew(cx.config, token.unwrap_or_default().trim(), cx.now)?;
    Ok(Done {
        body: granted.body(),
        wrote: false,
    })
}

// ------------------------------------------------------------------ reading requests

/// A request's JSON body, which must be an object; a missing body is zod's "Required".
fn json_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        let mut issues = Issues::default();
        issues.wrong_type(&[], "object", None);
        issues.finish()?;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => {
            let mut issues = Issues::default();
            issues.wrong_type(&[], "object", Some(&other));
            Err(issues.finish().unwrap_err())
        }
        Err(_) => Err(ApiError::new(
            400,
            "Bad Request",
            "Body is not valid JSON but content-type is set to 'application/json'",
        )),
    }
}

/// The query string as an object of strings (the last of a repeated name wins).
fn query_fields(query: Option<&str>) -> Map<String, Value> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

fn required_string(fields: &Map<String, Value>, name: &str, issues: &mut Issues) -> Option<String> {
    match fields.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        found => {
            issues.wrong_type(&[json!(name)], "string", found);
            None
        }
    }
}

fn optional_string(fields: &Map<String, Value>, name: &str, issues: &mut Issues) -> Option<String> {
    match fields.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        found => {
            issues.wrong_type(&[json!(name)], "string", found);
            None
        }
    }
}

/// A boolean in a query (`true`/`false`) or a body.
fn optional_bool(fields: &Map<String, Value>, name: &str, issues: &mut Issues) -> Option<bool> {
    match fields.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s == "true" => Some(true),
        Some(Value::String(s)) if s == "false" => Some(false),
        found => {
            issues.wrong_type(&[json!(name)], "boolean", found);
            None
        }
    }
}

/// The secret type: `shared` (the default) or `personal`.
fn secret_type(fields: &Map<String, Value>, issues: &mut Issues) -> String {
    match optional_string(fields, "type", issues) {
        None => "shared".into(),
        Some(t) if SECRET_TYPES.contains(&t.as_str()) => t,
        Some(t) => {
            issues.invalid_enum(&[json!("type")], SECRET_TYPES, &t);
            "shared".into()
        }
    }
}

/// A secret's name: trimmed, not empty, no spaces; its case kept.
fn secret_name(name: &str, path: &[Value], issues: &mut Issues) -> String {
    let name = name.trim();
    if name.is_empty() {
        issues.too_small(path, 1, "string");
    } else if name.contains(char::is_whitespace) {
        issues.custom(path, "Secret name cannot contain spaces.");
    }
    name.to_string()
}

/// Where a call works: its project, environment and folder.
struct Scope {
    project: String,
    environment: String,
    path: String,
}

fn scope(fields: &Map<String, Value>, project_field: &str, issues: &mut Issues) -> Scope {
    let project = required_string(fields, project_field, issues).unwrap_or_default();
    let environment = required_string(fields, "environment", issues).unwrap_or_default();
    let path = match optional_string(fields, "secretPath", issues) {
        None => "/".to_string(),
        Some(p) => folder_path(p.trim()).unwrap_or_else(|| {
            issues.custom(&[json!("secretPath")], "Invalid secret path");
            "/".to_string()
        }),
    };
    Scope {
        project: project.trim().to_string(),
        environment: environment.trim().to_string(),
        path,
    }
}

/// The project (403), the environment (404) and the folder (404) of a scope.
fn check_scope(cx: &Context, inner: &Inner, scope: &Scope) -> Result<String, ApiError> {
    if scope.project != cx.config.project {
        return Err(ApiError::forbidden(format!(
            "You are not allowed to access project with ID '{}'",
            scope.project
        )));
    }
    if !inner.secrets.has_environment(&scope.environment) {
        return Err(ApiError::not_found(format!(
            "Environment with slug '{}' in project with ID '{}' not found",
            scope.environment, scope.project
        )));
    }
    match inner.secrets.folder(&scope.environment, &scope.path) {
        Some(folder) => Ok(folder.id.clone()),
        None => Err(ApiError::not_found(format!(
            "Folder with path '{}' in environment with slug '{}' not found",
            scope.path, scope.environment
        ))),
    }
}

fn personal_not_served(kind: &str) -> Result<(), ApiError> {
    if kind == "personal" {
        return Err(ApiError::bad_request(
            "Personal secrets are not served by this emulation; use type \"shared\"",
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------ answers

fn secret_json(
    cx: &Context,
    environment: &str,
    key: &str,
    secret: &Secret,
    number: u64,
    version: &Version,
    view_value: bool,
) -> Value {
    json!({
        "id": secret.id,
        "_id": secret.id,
        "workspace": cx.config.project,
        "environment": environment,
        "version": number,
        "type": "shared",
        "secretKey": key,
        "secretValue": if view_value { version.value.as_str() } else { HIDDEN_VALUE },
        "secretComment": version.comment,
        "skipMultilineEncoding": false,
        "createdAt": secret.created_at,
        "updatedAt": version.updated_at,
    })
}

/// The JSON of a secret as a change leaves it (a `Put`), without reading the state back.
fn put_json(cx: &Context, change: &Change) -> Value {
    let Change::Put {
        environment,
        key,
        id,
        version,
        value,
        comment,
        created_at,
        updated_at,
        ..
    } = change
    else {
        unreachable!("only puts become secrets")
    };
    let secret = Secret {
        id: id.clone(),
        created_at: created_at.clone(),
        versions: Vec::new(),
    };
    let current = Version {
        value: value.clone(),
        comment: comment.clone(),
        updated_at: updated_at.clone(),
    };
    secret_json(cx, environment, key, &secret, *version, &current, true)
}

fn current_json(cx: &Context, environment: &str, key: &str, secret: &Secret) -> Value {
    secret_json(
        cx,
        environment,
        key,
        secret,
        secret.version(),
        secret.current(),
        true,
    )
}

/// What a write answers in approval mode: a change request, open, with nothing applied.
fn approval(cx: &Context, folder_id: &str) -> Value {
    json!({
        "approval": {
            "id": super::new_id(),
            "policyId": super::stable_id(&format!("policy:{}:{}", cx.config.project, cx.config.environment)),
            "hasMerged": false,
            "status": "open",
            "slug": hex::encode(super::random_bytes::<5>()),
            "folderId": folder_id,
            "isReplicated": false,
            "createdAt": cx.wall,
            "updatedAt": cx.wall,
        }
    })
}

/// Keeps the changes (the state file first), then applies them; or, in approval mode,
/// answers the approval and keeps nothing.
fn commit(
    cx: &Context,
    inner: &mut Inner,
    folder_id: &str,
    changes: Vec<Change>,
    body: Value,
) -> Result<Done, ApiError> {
    if cx.config.approval_required {
        return Ok(Done {
            body: approval(cx, folder_id),
            wrote: false,
        });
    }
    inner.keep(&changes)?;
    Ok(Done {
        body,
        wrote: !changes.is_empty(),
    })
}

fn new_put(cx: &Context, scope: &Scope, key: &str, value: &str, comment: &str) -> Change {
    Change::Put {
        environment: scope.environment.clone(),
        path: scope.path.clone(),
        key: key.to_string(),
        id: super::new_id(),
        version: 1,
        value: trimmed(value),
        comment: comment.to_string(),
        created_at: cx.wall.clone(),
        updated_at: cx.wall.clone(),
    }
}

fn next_put(
    cx: &Context,
    scope: &Scope,
    key: &str,
    secret: &Secret,
    value: Option<&str>,
    comment: Option<&str>,
) -> Change {
    let current = secret.current();
    Change::Put {
        environment: scope.environment.clone(),
        path: scope.path.clone(),
        key: key.to_string(),
        id: secret.id.clone(),
        version: secret.version() + 1,
        value: value.map_or_else(|| current.value.clone(), trimmed),
        comment: comment.map_or_else(|| current.comment.clone(), str::to_string),
        created_at: secret.created_at.clone(),
        updated_at: cx.wall.clone(),
    }
}

// ------------------------------------------------------------------ folders

fn create_folder(cx: &Context, inner: &mut Inner, call: &Call) -> Result<Done, ApiError> {
    let body = json_body(call.body)?;
    let mut issues = Issues::default();
    let field = if body.contains_key("projectId") && !body.contains_key("workspaceId") {
        "projectId"
    } else {
        "workspaceId"
    };
    let project = required_string(&body, field, &mut issues).unwrap_or_default();
    let environment = required_string(&body, "environment", &mut issues).unwrap_or_default();
    let name = required_string(&body, "name", &mut issues).unwrap_or_default();
    let parent = match optional_string(&body, "path", &mut issues) {
        None => "/".to_string(),
        Some(p) => folder_path(p.trim()).unwrap_or_else(|| {
            issues.custom(&[json!("path")], "Invalid folder path");
            "/".to_string()
        }),
    };
    let name = name.trim().to_string();
    if issues.is_empty() && !is_folder_name(&name) {
        issues.custom(
            &[json!("name")],
            "Folder name can only contain alphanumeric, dash and underscore characters",
        );
    }
    issues.finish()?;
    let root = Scope {
        project: project.trim().to_string(),
        environment: environment.trim().to_string(),
        path: "/".into(),
    };
    check_scope(cx, inner, &root)?;
    let path = if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    };
    if let Some(folder) = inner.secrets.folder(&root.environment, &path) {
        let body = folder_json(
            &root.environment,
            &path,
            &folder.id,
            &folder.created_at,
            inner,
        );
        return Ok(Done { body, wrote: false });
    }
    // Missing parents are made along the way, outermost first.
    let mut missing = Vec::new();
    let mut at = path.as_str();
    while at != "/" && inner.secrets.folder(&root.environment, at).is_none() {
        missing.push(at.to_string());
        at = split_folder(at).map_or("/", |(p, _)| p);
    }
    let changes: Vec<Change> = missing
        .iter()
        .rev()
        .map(|p| Change::Folder {
            environment: root.environment.clone(),
            path: p.clone(),
            id: super::new_id(),
            created_at: cx.wall.clone(),
        })
        .collect();
    inner.keep(&changes)?;
    let folder = inner
        .secrets
        .folder(&root.environment, &path)
        .expect("just made")
        .clone();
    let body = folder_json(
        &root.environment,
        &path,
        &folder.id,
        &folder.created_at,
        inner,
    );
    Ok(Done { body, wrote: true })
}

fn folder_json(environment: &str, path: &str, id: &str, created_at: &str, inner: &Inner) -> Value {
    let (parent, name) = split_folder(path).unwrap_or(("/", ""));
    let parent_id = inner
        .secrets
        .folder(environment, parent)
        .map(|f| f.id.clone());
    json!({
        "folder": {
            "id": id,
            "name": name,
            "version": 1,
            "parentId": parent_id,
            "envId": super::stable_id(&format!("env:{environment}")),
            "createdAt": created_at,
            "updatedAt": created_at,
        }
    })
}

// ------------------------------------------------------------------ reads

fn list(cx: &Context, inner: &mut Inner, api: Api, call: &Call) -> Result<Done, ApiError> {
    let query = query_fields(call.query);
    let mut issues = Issues::default();
    let scope = scope(&query, api.project_field(), &mut issues);
    let view = optional_bool(&query, "viewSecretValue", &mut issues).unwrap_or(true);
    let recursive = optional_bool(&query, "recursive", &mut issues).unwrap_or(false);
    optional_bool(&query, "include_imports", &mut issues);
    issues.finish()?;
    check_scope(cx, inner, &scope)?;
    let secrets: Vec<Value> = inner
        .secrets
        .list(&scope.environment, &scope.path, recursive)
        .into_iter()
        .map(|(_, key, secret)| {
            secret_json(
                cx,
                &scope.environment,
                key,
                secret,
                secret.version(),
                secret.current(),
                view,
            )
        })
        .collect();
    Ok(Done {
        body: json!({"secrets": secrets, "imports": []}),
        wrote: false,
    })
}

fn get(
    cx: &Context,
    inner: &mut Inner,
    api: Api,
    name: &str,
    call: &Call,
) -> Result<Done, ApiError> {
    let query = query_fields(call.query);
    let mut issues = Issues::default();
    let name = secret_name(name, &[json!("secretName")], &mut issues);
    let scope = scope(&query, api.project_field(), &mut issues);
    let kind = secret_type(&query, &mut issues);
    let view = optional_bool(&query, "viewSecretValue", &mut issues).unwrap_or(true);
    let version = match query.get("version").and_then(Value::as_str) {
        None => None,
        Some(text) => match text.trim().parse::<u64>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                issues.custom(&[json!("version")], "Expected a positive integer");
                None
            }
        },
    };
    issues.finish()?;
    check_scope(cx, inner, &scope)?;
    let missing = || ApiError::not_found(format!("Secret with name '{name}' not found"));
    if kind == "personal" {
        return Err(missing());
    }
    let secret = inner
        .secrets
        .get(&scope.environment, &scope.path, &name)
        .ok_or_else(missing)?;
    let number = version.unwrap_or(secret.version());
    let shown = secret.versions.get(number as usize - 1).ok_or_else(|| {
        ApiError::not_found(format!("Secret version {number} of '{name}' not found"))
    })?;
    Ok(Done {
        body: json!({"secret": secret_json(cx, &scope.environment, &name, secret, number, shown, view)}),
        wrote: false,
    })
}

// ------------------------------------------------------------------ one secret

fn create(
    cx: &Context,
    inner: &mut Inner,
    api: Api,
    name: &str,
    call: &Call,
) -> Result<Done, ApiError> {
    let body = json_body(call.body)?;
    let mut issues = Issues::default();
    let name = secret_name(name, &[json!("secretName")], &mut issues);
    let scope = scope(&body, api.project_field(), &mut issues);
    let value = required_string(&body, "secretValue", &mut issues);
    let comment = optional_string(&body, "secretComment", &mut issues).unwrap_or_default();
    let kind = secret_type(&body, &mut issues);
    optional_bool(&body, "skipMultilineEncoding", &mut issues);
    issues.finish()?;
    let folder_id = check_scope(cx, inner, &scope)?;
    personal_not_served(&kind)?;
    if inner
        .secrets
        .get(&scope.environment, &scope.path, &name)
        .is_some()
    {
        return Err(ApiError::bad_request("Secret already exist"));
    }
    let change = new_put(cx, &scope, &name, &value.unwrap_or_default(), &comment);
    let body = json!({"secret": put_json(cx, &change)});
    commit(cx, inner, &folder_id, vec![change], body)
}

fn update(
    cx: &Context,
    inner: &mut Inner,
    api: Api,
    name: &str,
    call: &Call,
) -> Result<Done, ApiError> {
    let body = json_body(call.body)?;
    let mut issues = Issues::default();
    let name = secret_name(name, &[json!("secretName")], &mut issues);
    let scope = scope(&body, api.project_field(), &mut issues);
    let value = optional_string(&body, "secretValue", &mut issues);
    let comment = optional_string(&body, "secretComment", &mut issues);
    let kind = secret_type(&body, &mut issues);
    optional_bool(&body, "skipMultilineEncoding", &mut issues);
    issues.finish()?;
    let folder_id = check_scope(cx, inner, &scope)?;
    personal_not_served(&kind)?;
    let secret = inner
        .secrets
        .get(&scope.environment, &scope.path, &name)
        .ok_or_else(|| ApiError::not_found(format!("Secret named '{name}' not found")))?;
    let change = next_put(
        cx,
        &scope,
        &name,
        secret,
        value.as_deref(),
        comment.as_deref(),
    );
    let body = json!({"secret": put_json(cx, &change)});
    commit(cx, inner, &folder_id, vec![change], body)
}

fn delete(
    cx: &Context,
    inner: &mut Inner,
    api: Api,
    name: &str,
    call: &Call,
) -> Result<Done, ApiError> {
    let body = json_body(call.body)?;
    let mut issues = Issues::default();
    let name = secret_name(name, &[json!("secretName")], &mut issues);
    let scope = scope(&body, api.project_field(), &mut issues);
    let kind = secret_type(&body, &mut issues);
    issues.finish()?;
    let folder_id = check_scope(cx, inner, &scope)?;
    personal_not_served(&kind)?;
    let secret = inner
        .secrets
        .get(&scope.environment, &scope.path, &name)
        .ok_or_else(|| ApiError::not_found(format!("Secret named '{name}' not found")))?;
    let body = json!({"secret": current_json(cx, &scope.environment, &name, secret)});
    let change = Change::Delete {
        environment: scope.environment.clone(),
        path: scope.path.clone(),
        key: name,
    };
    commit(cx, inner, &folder_id, vec![change], body)
}

// ------------------------------------------------------------------ batches

/// One entry of a batch's `secrets`.
struct Entry {
    key: String,
    value: Option<String>,
    comment: Option<String>,
}

/// The `secrets` array of a batch: at least one entry, each with a `secretKey` (and a
/// `secretValue` when `value_required`), no key twice.
fn entries(body: &Map<String, Value>, value_required: bool, issues: &mut Issues) -> Vec<Entry> {
    let items = match body.get("secrets") {
        Some(Value::Array(items)) => items,
        found => {
            issues.wrong_type(&[json!("secrets")], "array", found);
            return Vec::new();
        }
    };
    if items.is_empty() {
        issues.too_small(&[json!("secrets")], 1, "array");
    }
    let mut entries = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = |field: &str| vec![json!("secrets"), json!(i), json!(field)];
        let Value::Object(fields) = item else {
            issues.wrong_type(&[json!("secrets"), json!(i)], "object", Some(item));
            continue;
        };
        let key = match fields.get("secretKey") {
            Some(Value::String(k)) => secret_name(k, &at("secretKey"), issues),
            found => {
                issues.wrong_type(&at("secretKey"), "string", found);
                continue;
            }
        };
        let value = match fields.get("secretValue") {
            Some(Value::String(v)) => Some(v.clone()),
            None | Some(Value::Null) if !value_required => None,
            found => {
                issues.wrong_type(&at("secretValue"), "string", found);
                None
            }
        };
        let comment = match fields.get("secretComment") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) => Some(c.clone()),
            found => {
                issues.wrong_type(&at("secretComment"), "string", found);
                None
            }
        };
        if let Some(Value::String(t)) = fields.get("type")
            && !SECRET_TYPES.contains(&t.as_str())
        {
            issues.invalid_enum(&at("type"), SECRET_TYPES, t);
        }
        entries.push(Entry {
            key,
            value,
            comment,
        });
    }
    entries
}

/// 400 when a key stands twice in one batch.
fn no_duplicates(entries: &[Entry]) -> Result<(), ApiError> {
    let mut seen = std::collections::BTreeSet::new();
    let twice: Vec<&str> = entries
        .iter()
        .filter(|e| !seen.insert(e.key.as_str()))
        .map(|e| e.key.as_str())
        .collect();
    if twice.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Duplicate secret keys in the request: {}",
            twice.join(", ")
        )))
    }
}

fn batch_create(cx: &Context, inner: &mut Inner, api: Api, call: &Call) -> Result<Done, ApiError> {
    let body = json_body(call.body)?;
    let mut issues = Issues::default();
    let scope = scope(&body, api.project_field(), &mut issues);
    let entries = entries(&body, true, &mut issues);
    issues.finish()?;
    let folder_id = check_scope(cx, inner, &scope)?;
    no_duplicates(&entries)?;
    let existing: Vec<&str> = entries
        .iter()
        .filter(|e| {
            inner
                .secrets
                .get(&scope.environment, &scope.path, &e.key)
                .is_some()
        })
        .map(|e| e.key.as_str())
        .collect();
    if !existing.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Secret already exist: {}",
            existing.join(",")
        )));
    }
    let changes: Vec<Change> = entries
        .iter()
        .map(|e| {
            new_put(
                cx,
                &scope,
                &e.key,
                e.value.as_deref().unwrap_or_default(),
                e.comment.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    let secrets: Vec<Value> = changes.iter().map(|c| put_json(cx, c)).collect();
    commit(cx, inner, &folder_id, changes, json!({"secrets": secrets}))
}

fn batch_update(cx: &Context, inner: &mut Inner, api: Api, call: &Call) -> Result<Done, ApiError> {
    let body = json_body(call.body)?;
    let mut issues = Issues::default();
    let scope = scope(&body, api.project_field(), &mut issues);
    let mode = match optional_string(&body, "mode", &mut issues) {
        None => "failOnNotFound".to_string(),
        Some(m) if BATCH_MODES.contains(&m.as_str()) => m,
        Some(m) => {
            issues.invalid_enum(&[json!("mode")], BATCH_MODES, &m);
            String::new()
        }
    };
    let entries = entries(&body, false, &mut issues);
    issues.finish()?;
    let folder_id = check_scope(cx, inner, &scope)?;
    no_duplicates(&entries)?;
    let missing: Vec<&str> = entries
        .iter()
        .filter(|e| {
            inner
                .secrets
                .get(&scope.environment, &scope.path, &e.key)
                .is_none()
        })
        .map(|e| e.key.as_str())
        .collect();
    if mode == "failOnNotFound" && !missing.is_empty() {
        return Err(ApiError::not_found(format!(
            "Secret does not exist: {}",
            missing.join(", ")
        )));
    }
    let mut changes = Vec::with_capacity(entries.len());
    for entry in &entries {
        match inner
            .secrets
            .get(&scope.environment, &scope.path, &entry.key)
        {
            Some(secret) => changes.push(next_put(
                cx,
                &scope,
                &entry.key,
                secret,
                entry.value.as_deref(),
                entry.comment.as_deref(),
            )),
            None if mode == "upsert" => changes.push(new_put(
                cx,
                &scope,
                &entry.key,
                entry.value.as_deref().unwrap_or_default(),
                entry.comment.as_deref().unwrap_or_default(),
            )),
            None => {}
        }
    }
    let secrets: Vec<Value> = changes.iter().map(|c| put_json(cx, c)).collect();
    commit(cx, inner, &folder_id, changes, json!({"secrets": secrets}))
}

fn batch_delete(cx: &Context, inner: &mut Inner, api: Api, call: &Call) -> Result<Done, ApiError> {
    let body = json_body(call.body)?;
    let mut issues = Issues::default();
    let scope = scope(&body, api.project_field(), &mut issues);
    let entries = entries(&body, false, &mut issues);
    issues.finish()?;
    let folder_id = check_scope(cx, inner, &scope)?;
    no_duplicates(&entries)?;
    let mut deleted = Vec::with_capacity(entries.len());
    let mut missing = Vec::new();
    for entry in &entries {
        match inner
            .secrets
            .get(&scope.environment, &scope.path, &entry.key)
        {
            Some(secret) => deleted.push(current_json(cx, &scope.environment, &entry.key, secret)),
            None => missing.push(entry.key.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::not_found(format!(
            "One or more secrets does not exist: {}",
            missing.join(", ")
        )));
    }
    let changes = entries
        .iter()
        .map(|e| Change::Delete {
            environment: scope.environment.clone(),
            path: scope.path.clone(),
            key: e.key.clone(),
        })
        .collect();
    commit(cx, inner, &folder_id, changes, json!({"secrets": deleted}))
}

/// What a request's fault draws see: its secret names, folder and environment, never a
/// value or a credential. Login and renewal bodies hold nothing else, so they count as empty.
pub(super) fn names_of(path: &str, query: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut fields = query_fields(query);
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        fields.extend(map);
    }
    if path.starts_with("/api/v1/auth/") {
        return Vec::new();
    }
    let mut seen = Map::new();
    for name in [
        "environment",
        "secretPath",
        "path",
        "name",
        "mode",
        "version",
    ] {
        if let Some(Value::String(v)) = fields.get(name) {
            seen.insert(name.to_string(), Value::String(v.clone()));
        }
    }
    if let Some(Value::Array(items)) = fields.get("secrets") {
        let keys: Vec<Value> = items
            .iter()
            .map(|item| item.get("secretKey").cloned().unwrap_or(Value::Null))
            .collect();
        seen.insert("secretKeys".into(), Value::Array(keys));
    }
    serde_json::to_vec(&seen).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_served_versions_and_batch_is_not_a_name_for_writes() {
        assert_eq!(
            route("GET", "/api/v4/secrets", InfisicalApi::Both),
            Some(Op::List(Api::V4))
        );
        assert_eq!(route("GET", "/api/v4/secrets", InfisicalApi::V3), None);
        assert_eq!(route("GET", "/api/v3/secrets/raw", InfisicalApi::V4), None);
        assert_eq!(
            route("POST", "/api/v4/secrets/batch", InfisicalApi::Both),
            Some(Op::BatchCreate(Api::V4))
        );
        assert_eq!(
            route("GET", "/api/v4/secrets/batch", InfisicalApi::Both),
            Some(Op::Get(Api::V4, "batch".into()))
        );
        assert_eq!(
            route("PATCH", "/api/v3/secrets/raw/My%20Key", InfisicalApi::V3),
            Some(Op::Update(Api::V3, "My Key".into()))
        );
        assert_eq!(route("PUT", "/api/v4/secrets/A", InfisicalApi::Both), None);
        assert_eq!(
            route("POST", "/api/v1/folders", InfisicalApi::V3),
            Some(Op::CreateFolder)
        );
        assert!(is_write("DELETE", "/api/v3/secrets/batch/raw"));
        assert!(!is_write("GET", "/api/v4/secrets/A"));
        assert!(!is_write("POST", "/api/v1/auth/universal-auth/login"));
    }

    #[test]
    fn fault_draws_see_names_never_values() {
        let a = names_of(
            "/api/v4/secrets/batch",
            None,
            br#"{"projectId":"p","environment":"prod","secrets":[{"secretKey":"A","secretValue":"one"}]}"#,
        );
        let b = names_of(
            "/api/v4/secrets/batch",
            None,
            br#"{"projectId":"p","environment":"prod","secrets":[{"secretKey":"A","secretValue":"two"}]}"#,
        );
        assert_eq!(a, b);
        assert!(String::from_utf8(a).unwrap().contains("\"A\""));
        assert!(
            names_of(
                "/api/v1/auth/universal-auth/login",
                None,
                br#"{"clientSecret":"x"}"#
            )
            .is_empty()
        );
    }
}
