//! The sandbox's Infisical emulation against `reference/infisical-api.md`: raw HTTP to a
//! sandbox on 127.0.0.1:0, one test per route and per observed behaviour, exact statuses and
//! body shapes. Time passes on the sandbox's clock (a small time scale), never in seconds.

mod support;

use hookplan::clock::Clock;
use hookplan::model::InfisicalApi;
use hookplan::sandbox::infisical::{InfisicalConfig, STATE_FILE, Seed};
use hookplan::sandbox::{
    Answer, ConnectionFault, EndpointConfig, Fault, RecordedRequest, ResponseConfig, Sandbox,
    SandboxConfig, SandboxHandle, SequenceEntry, console,
};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const PROJECT: &str = "demo-project";

struct Emulated {
    handle: SandboxHandle,
    http: reqwest::Client,
}

fn settings() -> InfisicalConfig {
    InfisicalConfig::default()
}

fn sandbox_config(infisical: InfisicalConfig) -> SandboxConfig {
    SandboxConfig {
        name: "vault".into(),
        port: 0,
        infisical: Some(infisical),
        ..SandboxConfig::default()
    }
}

fn spawn_with(config: SandboxConfig, state: &Path, clock: Clock) -> Emulated {
    let handle = SandboxHandle::spawn(Sandbox::new(config, state).with_clock(clock))
        .expect("sandbox starts");
    let http = hookplan::http_client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Emulated { handle, http }
}

fn spawn(infisical: InfisicalConfig, state: &Path) -> Emulated {
    spawn_with(sandbox_config(infisical), state, Clock::new(0.0))
}

impl Emulated {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (status, text) = self.send_raw(method, path, token, body).await;
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
        (status, value)
    }

    async fn send_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut request = self.http.request(
            method.parse().unwrap(),
            format!("{}{path}", self.handle.url()),
        );
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    async fn login_with(&self, id: &str, secret: &str) -> (u16, Value) {
        self.send(
            "POST",
            "/api/v1/auth/universal-auth/login",
            None,
            Some(json!({"clientId": id, "clientSecret": secret})),
        )
        .await
    }

    async fn login(&self) -> String {
        let (status, body) = self.login_with("demo-client", "demo-secret").await;
        assert_eq!(status, 200, "{body}");
        body["accessToken"].as_str().unwrap().to_string()
    }

    /// v4 create at the root.
    async fn create(&self, token: &str, key: &str, value: &str) -> (u16, Value) {
        self.send(
            "POST",
            &format!("/api/v4/secrets/{key}"),
            Some(token),
            Some(json!({"projectId": PROJECT, "environment": "prod", "secretPath": "/", "secretValue": value, "secretComment": "", "type": "shared"})),
        )
        .await
    }

    async fn get(&self, token: &str, key: &str) -> (u16, Value) {
        self.send(
            "GET",
            &format!("/api/v4/secrets/{key}?projectId={PROJECT}&environment=prod&secretPath=/&type=shared"),
            Some(token),
            None,
        )
        .await
    }

    async fn list(&self, token: &str) -> Vec<Value> {
        let (status, body) = self
            .send(
                "GET",
                &format!("/api/v4/secrets?projectId={PROJECT}&environment=prod&secretPath=/&viewSecretValue=true&recursive=false&include_imports=false"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["secrets"].as_array().unwrap().clone()
    }

    async fn names(&self, token: &str) -> Vec<(String, String, u64)> {
        self.list(token)
            .await
            .iter()
            .map(|s| {
                (
                    s["secretKey"].as_str().unwrap().to_string(),
                    s["secretValue"].as_str().unwrap().to_string(),
                    s["version"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    fn recordings(&self) -> Vec<RecordedRequest> {
        self.handle.recordings().unwrap()
    }
}

fn scope() -> Value {
    json!({"projectId": PROJECT, "environment": "prod", "secretPath": "/"})
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

/// An Infisical error body: `{"reqId", "statusCode", "message", "error"}`.
fn assert_error(status: u16, body: &Value, expected: u16, error: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["statusCode"], expected, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["reqId"].as_str().is_some_and(|r| !r.is_empty()),
        "{body}"
    );
    assert!(body.get("message").is_some(), "{body}");
}

const SECRET_FIELDS: &[&str] = &[
    "id",
    "_id",
    "workspace",
    "environment",
    "version",
    "type",
    "secretKey",
    "secretValue",
    "secretComment",
    "skipMultilineEncoding",
    "createdAt",
    "updatedAt",
];

fn assert_secret(secret: &Value, key: &str, value: &str, version: u64) {
    let fields: Vec<&str> = secret
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, SECRET_FIELDS, "{secret}");
    assert_eq!(secret["secretKey"], key, "{secret}");
    assert_eq!(secret["secretValue"], value, "{secret}");
    assert_eq!(secret["version"], version, "{secret}");
    assert_eq!(secret["workspace"], PROJECT);
    assert_eq!(secret["environment"], "prod");
    assert_eq!(secret["type"], "shared");
    assert_eq!(secret["id"], secret["_id"]);
}

// ------------------------------------------------------------------ universal auth

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_answers_the_token_shape() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let (status, body) = emulated.login_with("demo-client", "demo-secret").await;
    assert_eq!(status, 200);
    let fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        ["accessToken", "expiresIn", "accessTokenMaxTTL", "tokenType"]
    );
    assert_eq!(body["expiresIn"], 7200);
    assert_eq!(body["accessTokenMaxTTL"], 7200);
    assert_eq!(body["tokenType"], "Bearer");
    let token = body["accessToken"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT's shape: {token}");
    // Unknown identity, wrong secret: 401.
    let (status, body) = emulated.login_with("someone", "demo-secret").await;
    assert_error(status, &body, 401, "UnauthorizedError");
    let (status, body) = emulated.login_with("demo-client", "wrong").await;
    assert_error(status, &body, 401, "UnauthorizedError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_bad_client_secrets_lock_the_identity_out_for_300_seconds() {
    let state = tempfile::tempdir().unwrap();
    // 300 s on the sandbox's clock take 300 ms here.
    let emulated = spawn_with(sandbox_config(settings()), state.path(), Clock::new(0.001));
    for _ in 0..3 {
        let (status, _) = emulated.login_with("demo-client", "wrong").await;
        assert_eq!(status, 401);
    }
    let (status, body) = emulated.login_with("demo-client", "demo-secret").await;
    assert_error(status, &body, 401, "UnauthorizedError");
    assert!(
        body["message"].as_str().unwrap().contains("too many"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(320)).await;
    let (status, body) = emulated.login_with("demo-client", "demo-secret").await;
    assert_eq!(status, 200, "the lockout ends after 300 s: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewing_a_token_whose_ttl_equals_its_max_ttl_is_a_401_and_deletes_it() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    assert_eq!(emulated.list(&token).await.len(), 0);
    let (status, body) = emulated
        .send(
            "POST",
            "/api/v1/auth/token/renew",
            None,
            Some(json!({"accessToken": token})),
        )
        .await;
    assert_error(status, &body, 401, "UnauthorizedError");
    // The token is gone.
    let (status, body) = emulated.get(&token, "ANY").await;
    assert_error(status, &body, 401, "UnauthorizedError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_renews_within_its_max_ttl_and_expires_on_the_sandbox_clock() {
    let state = tempfile::tempdir().unwrap();
    let infisical = InfisicalConfig {
        token_ttl: Duration::from_secs(120),
        token_max_ttl: Duration::from_secs(1200),
        ..settings()
    };
    // 120 s on the sandbox's clock take 600 ms here.
    let emulated = spawn_with(sandbox_config(infisical), state.path(), Clock::new(0.005));
    let token = emulated.login().await;
    let (status, body) = emulated
        .send(
            "POST",
            "/api/v1/auth/token/renew",
            None,
            Some(json!({"accessToken": token})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accessToken"], token.as_str());
    assert_eq!(body["expiresIn"], 120);
    assert_eq!(body["accessTokenMaxTTL"], 1200);
    assert_eq!(body["tokenType"], "Bearer");
    let (status, _) = emulated.get(&token, "ANY").await;
    assert_eq!(status, 404, "the token still works");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (status, body) = emulated.get(&token, "ANY").await;
    assert_error(status, &body, 401, "TokenError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_is_401_a_malformed_one_403_an_unknown_one_401() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    let list = format!("/api/v4/secrets?projectId={PROJECT}&environment=prod");
    let (status, body) = emulated.send("GET", &list, None, None).await;
    assert_error(status, &body, 401, "UnauthorizedError");
    let (status, body) = emulated.send("GET", &list, Some("not-a-token"), None).await;
    assert_error(status, &body, 403, "TokenError");
    // The right shape, but never issued (or issued before a restart).
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[2] = "c2lnbmF0dXJl";
    let forged = parts.join(".");
    let (status, body) = emulated.send("GET", &list, Some(&forged), None).await;
    assert_error(status, &body, 401, "UnauthorizedError");
    let (status, _) = emulated.send("GET", &list, Some(&token), None).await;
    assert_eq!(status, 200);
}

// ------------------------------------------------------------------ project, environment

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_project_is_403_and_an_unknown_environment_404() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    let (status, body) = emulated
        .send(
            "GET",
            "/api/v4/secrets?projectId=other&environment=prod",
            Some(&token),
            None,
        )
        .await;
    assert_error(status, &body, 403, "PermissionDenied");
    let (status, body) = emulated
        .send(
            "GET",
            &format!("/api/v4/secrets?projectId={PROJECT}&environment=staging"),
            Some(&token),
            None,
        )
        .await;
    assert_error(status, &body, 404, "NotFound");
    let (status, body) = emulated
        .send(
            "POST",
            "/api/v4/secrets/KEY",
            Some(&token),
            Some(json!({"projectId": "other", "environment": "prod", "secretValue": "v"})),
        )
        .await;
    assert_error(status, &body, 403, "PermissionDenied");
}

// ------------------------------------------------------------------ v4, one by one

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_create_get_and_list_answer_the_secret_object() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    let (status, body) = emulated.create(&token, "WEBHOOK_OUT_A_KEY", "sk_1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    assert_secret(&body["secret"], "WEBHOOK_OUT_A_KEY", "sk_1", 1);
    let (status, body) = emulated.get(&token, "WEBHOOK_OUT_A_KEY").await;
    assert_eq!(status, 200);
    assert_secret(&body["secret"], "WEBHOOK_OUT_A_KEY", "sk_1", 1);
    let (status, body) = emulated
        .send("GET", &format!("/api/v4/secrets?projectId={PROJECT}&environment=prod&secretPath=/&viewSecretValue=true&recursive=false&include_imports=false"), Some(&token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["imports"], json!([]));
    assert_eq!(body["secrets"].as_array().unwrap().len(), 1);
    assert_secret(&body["secrets"][0], "WEBHOOK_OUT_A_KEY", "sk_1", 1);
    // `secretPath` defaults to `/`.
    let (_, body) = emulated
        .send(
            "GET",
            &format!("/api/v4/secrets?projectId={PROJECT}&environment=prod&viewSecretValue=false"),
            Some(&token),
            None,
        )
        .await;
    assert_ne!(
        body["secrets"][0]["secretValue"], "sk_1",
        "viewSecretValue=false hides it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_is_404_and_creating_one_that_exists_400() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    let (status, body) = emulated.get(&token, "MISSING").await;
    assert_error(status, &body, 404, "NotFound");
    emulated.create(&token, "KEY", "one").await;
    let (status, body) = emulated.create(&token, "KEY", "two").await;
    assert_error(status, &body, 400, "BadRequest");
    assert_eq!(
        emulated.names(&token).await,
        [("KEY".into(), "one".into(), 1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_update_adds_a_version_and_get_reads_an_old_one() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    emulated.create(&token, "KEY", "v1").await;
    for (n, value) in [(2, "v2"), (3, "v2")] {
        let (status, body) = emulated
            .send(
                "PATCH",
                "/api/v4/secrets/KEY",
                Some(&token),
                Some(with(
                    scope(),
                    json!({"secretValue": value, "type": "shared"}),
                )),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_secret(&body["secret"], "KEY", value, n);
    }
    let (status, body) = emulated
        .send("GET", &format!("/api/v4/secrets/KEY?projectId={PROJECT}&environment=prod&secretPath=/&type=shared&version=1"), Some(&token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_secret(&body["secret"], "KEY", "v1", 1);
    let (status, body) = emulated.get(&token, "KEY").await;
    assert_eq!((status, body["secret"]["version"].as_u64()), (200, Some(3)));
    // Updating a secret that does not exist: 404.
    let (status, body) = emulated
        .send(
            "PATCH",
            "/api/v4/secrets/NOPE",
            Some(&token),
            Some(with(scope(), json!({"secretValue": "x"}))),
        )
        .await;
    assert_error(status, &body, 404, "NotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_delete_takes_a_json_body_and_answers_the_secret() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    emulated.create(&token, "KEY", "value").await;
    let (status, body) = emulated
        .send(
            "DELETE",
            "/api/v4/secrets/KEY",
            Some(&token),
            Some(with(scope(), json!({"type": "shared"}))),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_secret(&body["secret"], "KEY", "value", 1);
    let (status, _) = emulated.get(&token, "KEY").await;
    assert_eq!(status, 404);
    let (status, body) = emulated
        .send("DELETE", "/api/v4/secrets/KEY", Some(&token), Some(scope()))
        .await;
    assert_error(status, &body, 404, "NotFound");
}

// ------------------------------------------------------------------ v4 batches

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_create_is_all_or_nothing() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    let (status, body) = emulated
        .send(
            "POST",
            "/api/v4/secrets/batch",
            Some(&token),
            Some(with(
                scope(),
                json!({"secrets": [
                    {"secretKey": "A", "secretValue": "a"},
                    {"secretKey": "B", "secretValue": "b", "secretComment": "note"},
                ]}),
            )),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let secrets = body["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 2);
    assert_secret(&secrets[0], "A", "a", 1);
    assert_eq!(secrets[1]["secretComment"], "note");
    // One key exists: the whole call fails and C is not made.
    let (status, body) = emulated
        .send(
            "POST",
            "/api/v4/secrets/batch",
            Some(&token),
            Some(with(
                scope(),
                json!({"secrets": [
                    {"secretKey": "C", "secretValue": "c"},
                    {"secretKey": "A", "secretValue": "again"},
                ]}),
            )),
        )
        .await;
    assert_error(status, &body, 400, "BadRequest");
    // One bad key: an invalid request, nothing made.
    let (status, body) = emulated
        .send(
            "POST",
            "/api/v4/secrets/batch",
            Some(&token),
            Some(with(
                scope(),
                json!({"secrets": [
                    {"secretKey": "D", "secretValue": "d"},
                    {"secretKey": "", "secretValue": "e"},
                ]}),
            )),
        )
        .await;
    assert_error(status, &body, 401, "ValidationFailure");
    // At least one secret.
    let (status, body) = emulated
        .send(
            "POST",
            "/api/v4/secrets/batch",
            Some(&token),
            Some(with(scope(), json!({"secrets": []}))),
        )
        .await;
    assert_error(status, &body, 401, "ValidationFailure");
    let names: Vec<String> = emulated
        .names(&token)
        .await
        .into_iter()
        .map(|n| n.0)
        .collect();
    assert_eq!(names, ["A", "B"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_update_modes_fail_on_not_found_ignore_and_upsert() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    emulated.create(&token, "A", "a1").await;
    let batch = |mode: Option<&str>| {
        let mut body = with(
            scope(),
            json!({"secrets": [
                {"secretKey": "A", "secretValue": "a2"},
                {"secretKey": "NEW", "secretValue": "n1"},
            ]}),
        );
        if let Some(mode) = mode {
            body["mode"] = json!(mode);
        }
        body
    };
    // failOnNotFound (the default): NEW is missing, nothing changes.
    for mode in [None, Some("failOnNotFound")] {
        let (status, body) = emulated
            .send(
                "PATCH",
                "/api/v4/secrets/batch",
                Some(&token),
                Some(batch(mode)),
            )
            .await;
        assert_error(status, &body, 404, "NotFound");
    }
    assert_eq!(emulated.names(&token).await, [("A".into(), "a1".into(), 1)]);
    let (status, body) = emulated
        .send(
            "PATCH",
            "/api/v4/secrets/batch",
            Some(&token),
            Some(batch(Some("ignore"))),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["secrets"].as_array().unwrap().len(), 1);
    assert_secret(&body["secrets"][0], "A", "a2", 2);
    let (status, body) = emulated
        .send(
            "PATCH",
            "/api/v4/secrets/batch",
            Some(&token),
            Some(batch(Some("upsert"))),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_secret(&body["secrets"][0], "A", "a2", 3);
    // `version: 1` means newly created.
    assert_secret(&body["secrets"][1], "NEW", "n1", 1);
    let (status, body) = emulated
        .send(
            "PATCH",
            "/api/v4/secrets/batch",
            Some(&token),
            Some(batch(Some("merge"))),
        )
        .await;
    assert_error(status, &body, 401, "ValidationFailure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_delete_is_all_or_nothing() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    emulated.create(&token, "A", "a").await;
    emulated.create(&token, "B", "b").await;
    let (status, body) = emulated
        .send(
            "DELETE",
            "/api/v4/secrets/batch",
            Some(&token),
            Some(with(scope(), json!({"secrets": [{"secretKey": "A", "type": "shared"}, {"secretKey": "MISSING", "type": "shared"}]}))),
        )
        .await;
    assert_error(status, &body, 404, "NotFound");
    assert_eq!(emulated.names(&token).await.len(), 2, "nothing was deleted");
    let (status, body) = emulated
        .send(
            "DELETE",
            "/api/v4/secrets/batch",
            Some(&token),
            Some(with(scope(), json!({"secrets": [{"secretKey": "A", "type": "shared"}, {"secretKey": "B", "type": "shared"}]}))),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_secret(&body["secrets"][1], "B", "b", 1);
    assert!(emulated.names(&token).await.is_empty());
}

// ------------------------------------------------------------------ v3 raw

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_raw_serves_the_same_operations_with_workspace_id() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(
        InfisicalConfig {
            api: InfisicalApi::V3,
            ..settings()
        },
        state.path(),
    );
    let token = emulated.login().await;
    let body = |extra: Value| {
        with(
            json!({"workspaceId": PROJECT, "environment": "prod", "secretPath": "/"}),
            extra,
        )
    };
    let query = format!("workspaceId={PROJECT}&environment=prod&secretPath=/");
    let (status, created) = emulated
        .send(
            "POST",
            "/api/v3/secrets/raw/KEY",
            Some(&token),
            Some(body(json!({"secretValue": "v1", "type": "shared"}))),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_secret(&created["secret"], "KEY", "v1", 1);
    // v3 names the project workspaceId: projectId is not it.
    let (status, answer) = emulated
        .send(
            "POST",
            "/api/v3/secrets/raw/OTHER",
            Some(&token),
            Some(with(scope(), json!({"secretValue": "x"}))),
        )
        .await;
    assert_error(status, &answer, 401, "ValidationFailure");
    let (status, updated) = emulated
        .send(
            "PATCH",
            "/api/v3/secrets/raw/KEY",
            Some(&token),
            Some(body(json!({"secretValue": "v2"}))),
        )
        .await;
    assert_eq!(status, 200);
    assert_secret(&updated["secret"], "KEY", "v2", 2);
    let (status, got) = emulated
        .send(
            "GET",
            &format!("/api/v3/secrets/raw/KEY?{query}&version=1"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_secret(&got["secret"], "KEY", "v1", 1);
    let (status, batch) = emulated
        .send(
            "POST",
            "/api/v3/secrets/batch/raw",
            Some(&token),
            Some(body(
                json!({"secrets": [{"secretKey": "B", "secretValue": "b"}]}),
            )),
        )
        .await;
    assert_eq!(status, 200, "{batch}");
    let (status, batch) = emulated
        .send("PATCH", "/api/v3/secrets/batch/raw", Some(&token), Some(body(json!({"mode": "upsert", "secrets": [{"secretKey": "B", "secretValue": "b2"}, {"secretKey": "C", "secretValue": "c"}]}))))
        .await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["secrets"][0]["version"], 2);
    assert_eq!(batch["secrets"][1]["version"], 1);
    let (status, listed) = emulated
        .send(
            "GET",
            &format!("/api/v3/secrets/raw?{query}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["secrets"].as_array().unwrap().len(), 3);
    assert_eq!(listed["imports"], json!([]));
    let (status, _) = emulated
        .send(
            "DELETE",
            "/api/v3/secrets/batch/raw",
            Some(&token),
            Some(body(
                json!({"secrets": [{"secretKey": "B"}, {"secretKey": "C"}]}),
            )),
        )
        .await;
    assert_eq!(status, 200);
    let (status, deleted) = emulated
        .send(
            "DELETE",
            "/api/v3/secrets/raw/KEY",
            Some(&token),
            Some(body(json!({}))),
        )
        .await;
    assert_eq!(status, 200);
    assert_secret(&deleted["secret"], "KEY", "v2", 2);
    let (status, missing) = emulated
        .send(
            "GET",
            &format!("/api/v3/secrets/raw/KEY?{query}"),
            Some(&token),
            None,
        )
        .await;
    assert_error(status, &missing, 404, "NotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_version_not_served_answers_infisicals_404_not_the_sandbox_acknowledgement() {
    let state = tempfile::tempdir().unwrap();
    for (api, unserved) in [
        (
            InfisicalApi::V3,
            format!("/api/v4/secrets?projectId={PROJECT}&environment=prod"),
        ),
        (
            InfisicalApi::V4,
            format!("/api/v3/secrets/raw?workspaceId={PROJECT}&environment=prod"),
        ),
    ] {
        let emulated = spawn(InfisicalConfig { api, ..settings() }, state.path());
        let token = emulated.login().await;
        let (status, body) = emulated.send("GET", &unserved, Some(&token), None).await;
        assert_error(status, &body, 404, "NotFound");
        assert!(
            body["message"].as_str().unwrap().starts_with("Route GET:"),
            "{body}"
        );
        assert!(
            body.get("request_id").is_none(),
            "not the sandbox's own 404: {body}"
        );
        // Any other path under the emulation's prefixes too.
        for path in ["/api/v1/nothing", "/api/v4", "/api/v3/"] {
            let (status, body) = emulated.send("POST", path, Some(&token), None).await;
            assert_error(status, &body, 404, "NotFound");
        }
        // The rest of /api/* is still the sandbox's.
        let (status, body) = emulated.send("POST", "/api/status", None, None).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("received")));
        emulated.handle.shutdown().await.unwrap();
    }
}

// ------------------------------------------------------------------ folders, trimming

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_cannot_be_created_in_a_folder_that_does_not_exist() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    let in_folder = json!({"projectId": PROJECT, "environment": "prod", "secretPath": "/webhooks", "secretValue": "v"});
    let (status, body) = emulated
        .send(
            "POST",
            "/api/v4/secrets/KEY",
            Some(&token),
            Some(in_folder.clone()),
        )
        .await;
    assert_error(status, &body, 404, "NotFound");
    let (status, body) = emulated
        .send(
            "POST",
            "/api/v1/folders",
            Some(&token),
            Some(json!({"workspaceId": PROJECT, "environment": "prod", "name": "webhooks", "path": "/"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["folder"]["name"], "webhooks");
    let (status, body) = emulated
        .send("POST", "/api/v4/secrets/KEY", Some(&token), Some(in_folder))
        .await;
    assert_eq!(status, 200, "{body}");
    // Listed in its folder, not at the root (unless recursive).
    assert!(emulated.names(&token).await.is_empty());
    let (_, body) = emulated
        .send(
            "GET",
            &format!(
                "/api/v4/secrets?projectId={PROJECT}&environment=prod&secretPath=/&recursive=true"
            ),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(body["secrets"][0]["secretKey"], "KEY");
    let (_, body) = emulated
        .send(
            "GET",
            &format!("/api/v4/secrets?projectId={PROJECT}&environment=prod&secretPath=/webhooks"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(body["secrets"].as_array().unwrap().len(), 1);
    // A folder call needs a token too.
    let (status, _) = emulated
        .send(
            "POST",
            "/api/v1/folders",
            None,
            Some(json!({"workspaceId": PROJECT, "environment": "prod", "name": "x"})),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_lose_surrounding_whitespace_unless_they_end_with_a_newline_and_names_keep_their_case()
 {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    for (key, sent, kept) in [
        ("Mixed_Case", "  padded\t", "padded"),
        ("lower", "line\n", "line\n"),
        ("UPPER", "  both \n\n", "both\n"),
    ] {
        let (status, body) = emulated.create(&token, key, sent).await;
        assert_eq!(status, 200);
        assert_eq!(body["secret"]["secretValue"], kept, "{key}");
        let (_, body) = emulated.get(&token, key).await;
        assert_eq!(body["secret"]["secretKey"], key);
        assert_eq!(body["secret"]["secretValue"], kept);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_body_is_a_401_validation_failure_whose_message_is_an_array() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    let (status, body) = emulated
        .send(
            "POST",
            "/api/v4/secrets/KEY",
            Some(&token),
            Some(json!({"projectId": PROJECT, "environment": "prod", "secretValue": 42})),
        )
        .await;
    assert_error(status, &body, 401, "ValidationFailure");
    let issues = body["message"].as_array().expect("an array of issues");
    assert_eq!(issues[0]["path"], json!(["secretValue"]), "{body}");
    let (status, body) = emulated
        .send(
            "POST",
            "/api/v1/auth/universal-auth/login",
            None,
            Some(json!({"clientId": "demo-client"})),
        )
        .await;
    assert_error(status, &body, 401, "ValidationFailure");
    assert!(body["message"].is_array());
    // Not a bad secret: it does not count towards the lockout.
    for _ in 0..4 {
        emulated
            .send(
                "POST",
                "/api/v1/auth/universal-auth/login",
                None,
                Some(json!({})),
            )
            .await;
    }
    emulated.login().await;
}

// ------------------------------------------------------------------ approvals, seeds, state

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_approvals_required_writes_answer_an_approval_and_change_nothing() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(
        InfisicalConfig {
            approval_required: true,
            seeds: vec![Seed {
                path: "/".into(),
                name: "SEEDED".into(),
                value: "s".into(),
            }],
            ..settings()
        },
        state.path(),
    );
    let token = emulated.login().await;
    let (status, body) = emulated.create(&token, "KEY", "v").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("secret").is_none(), "{body}");
    assert_eq!(body["approval"]["status"], "open");
    let writes = [
        (
            "PATCH",
            "/api/v4/secrets/SEEDED",
            with(scope(), json!({"secretValue": "changed"})),
        ),
        ("DELETE", "/api/v4/secrets/SEEDED", scope()),
        (
            "POST",
            "/api/v4/secrets/batch",
            with(
                scope(),
                json!({"secrets": [{"secretKey": "B", "secretValue": "b"}]}),
            ),
        ),
        (
            "PATCH",
            "/api/v4/secrets/batch",
            with(
                scope(),
                json!({"mode": "upsert", "secrets": [{"secretKey": "SEEDED", "secretValue": "c"}]}),
            ),
        ),
        (
            "DELETE",
            "/api/v4/secrets/batch",
            with(scope(), json!({"secrets": [{"secretKey": "SEEDED"}]})),
        ),
    ];
    for (method, path, body) in writes {
        let (status, answer) = emulated.send(method, path, Some(&token), Some(body)).await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
        assert!(answer["approval"].is_object(), "{method} {path}: {answer}");
    }
    assert_eq!(
        emulated.names(&token).await,
        [("SEEDED".into(), "s".into(), 1)]
    );
    // A write that would fail still fails.
    let (status, _) = emulated.create(&token, "SEEDED", "again").await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_and_versions_survive_a_restart_and_seeds_never_overwrite_them() {
    let state = tempfile::tempdir().unwrap();
    let infisical = InfisicalConfig {
        state: Some("vault".into()),
        seeds: vec![Seed {
            path: "/".into(),
            name: "SEEDED".into(),
            value: "seed".into(),
        }],
        ..settings()
    };
    let emulated = spawn(infisical.clone(), state.path());
    let token = emulated.login().await;
    emulated
        .send(
            "PATCH",
            "/api/v4/secrets/SEEDED",
            Some(&token),
            Some(with(scope(), json!({"secretValue": "mine"}))),
        )
        .await;
    emulated.create(&token, "OTHER", "o").await;
    emulated.handle.shutdown().await.unwrap();
    assert!(
        state
            .path()
            .join("sandbox/vault")
            .join(STATE_FILE)
            .is_file()
    );

    let emulated = spawn(infisical, state.path());
    // Tokens do not survive a restart: a client logs in again.
    let (status, _) = emulated.get(&token, "SEEDED").await;
    assert_eq!(status, 401);
    let token = emulated.login().await;
    assert_eq!(
        emulated.names(&token).await,
        [
            ("OTHER".into(), "o".into(), 1),
            ("SEEDED".into(), "mine".into(), 2)
        ]
    );
    let (_, old) = emulated
        .send(
            "GET",
            &format!("/api/v4/secrets/SEEDED?projectId={PROJECT}&environment=prod&version=1"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(old["secret"]["secretValue"], "seed");
    // Without `state`, nothing is kept.
    let emulated = spawn(settings(), state.path());
    let token = emulated.login().await;
    assert!(emulated.names(&token).await.is_empty());
}

// ------------------------------------------------------------------ faults

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_apply_to_the_emulation_and_a_fault_before_the_write_keeps_nothing() {
    let state = tempfile::tempdir().unwrap();
    let mut config = sandbox_config(settings());
    let mut limited = EndpointConfig::new("/api/v4/secrets/batch");
    limited.method = Some("POST".into());
    limited.sequence = vec![SequenceEntry {
        times: Some(1),
        response: ResponseConfig {
            status: Some(429),
            headers: vec![("Retry-After".into(), "2".into())],
            ..Default::default()
        },
    }];
    let mut broken = EndpointConfig::new("/api/v4/secrets/*");
    broken.method = Some("PATCH".into());
    broken.error_rate = Some(1.0);
    config.endpoints = vec![limited, broken];
    let emulated = spawn_with(config, state.path(), Clock::new(0.0));
    let token = emulated.login().await;
    let batch = with(
        scope(),
        json!({"secrets": [{"secretKey": "A", "secretValue": "a"}]}),
    );
    let response = emulated
        .http
        .post(format!("{}/api/v4/secrets/batch", emulated.handle.url()))
        .header("authorization", format!("Bearer {token}"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    assert!(
        emulated.names(&token).await.is_empty(),
        "a 429 applies nothing"
    );
    // After the script, the emulation answers.
    let (status, body) = emulated
        .send("POST", "/api/v4/secrets/batch", Some(&token), Some(batch))
        .await;
    assert_eq!(status, 200, "{body}");
    // An injected 503 on updates: the update is not made.
    let (status, _) = emulated
        .send(
            "PATCH",
            "/api/v4/secrets/A",
            Some(&token),
            Some(with(scope(), json!({"secretValue": "b"}))),
        )
        .await;
    assert_eq!(status, 503);
    assert_eq!(emulated.names(&token).await, [("A".into(), "a".into(), 1)]);
    let recorded = emulated.recordings();
    let injected = recorded.iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(injected.fault, Some(Fault::ErrorRate));
    assert_eq!(
        injected.endpoint.as_deref(),
        Some("PATCH /api/v4/secrets/*")
    );
    let answered = recorded
        .iter()
        .find(|r| {
            r.response.as_ref().is_some_and(|a| a.status == 200)
                && r.method == "POST"
                && r.path.ends_with("/batch")
        })
        .unwrap();
    assert_eq!(
        answered.answered_by,
        Answer::Infisical {
            wrote: true,
            fault_after_write: false
        }
    );
    assert_eq!(
        answered.endpoint.as_deref(),
        Some("POST /api/v4/secrets/batch")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_after_the_write_loses_the_answer_and_keeps_the_write() {
    for (after_write, kept) in [(1.0, true), (0.0, false)] {
        let state = tempfile::tempdir().unwrap();
        let mut config = sandbox_config(InfisicalConfig {
            faults_after_write: after_write,
            ..settings()
        });
        let mut lossy = EndpointConfig::new("/api/v4/secrets/batch");
        lossy.method = Some("POST".into());
        lossy.sequence = vec![SequenceEntry {
            times: Some(1),
            response: ResponseConfig {
                fault: Some(ConnectionFault::Reset),
                ..Default::default()
            },
        }];
        let mut unavailable = EndpointConfig::new("/api/v4/secrets/*");
        unavailable.method = Some("PATCH".into());
        unavailable.sequence = vec![SequenceEntry {
            times: Some(1),
            response: ResponseConfig {
                status: Some(503),
                ..Default::default()
            },
        }];
        config.endpoints = vec![lossy, unavailable];
        let emulated = spawn_with(config, state.path(), Clock::new(0.0));
        let token = emulated.login().await;
        let sent = emulated
            .http
            .post(format!("{}/api/v4/secrets/batch", emulated.handle.url()))
            .header("authorization", format!("Bearer {token}"))
            .json(&with(
                scope(),
                json!({"secrets": [{"secretKey": "A", "secretValue": "a"}]}),
            ))
            .send()
            .await;
        assert!(sent.is_err(), "the answer is lost to a reset");
        let names = emulated.names(&token).await;
        assert_eq!(
            !names.is_empty(),
            kept,
            "after-write {after_write}: {names:?}"
        );
        if !kept {
            emulated.create(&token, "A", "a").await;
        }
        let (status, _) = emulated
            .send(
                "PATCH",
                "/api/v4/secrets/A",
                Some(&token),
                Some(with(scope(), json!({"secretValue": "b"}))),
            )
            .await;
        assert_eq!(status, 503);
        let (_, body) = emulated.get(&token, "A").await;
        let expected = if kept { (2, "b") } else { (1, "a") };
        assert_eq!(
            (
                body["secret"]["version"].as_u64().unwrap(),
                body["secret"]["secretValue"].as_str().unwrap()
            ),
            expected
        );
        let recorded = emulated.recordings();
        let reset = recorded
            .iter()
            .find(|r| r.path == "/api/v4/secrets/batch")
            .unwrap();
        assert_eq!(reset.fault, Some(Fault::Reset));
        assert!(reset.response.is_none());
        if kept {
            assert_eq!(
                reset.answered_by,
                Answer::Infisical {
                    wrote: true,
                    fault_after_write: true
                }
            );
        } else {
            assert_eq!(reset.answered_by, Answer::Sequence { entry: 1 });
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_draws_and_fingerprints_depend_on_secret_names_never_on_values() {
    let run = |values: [&'static str; 2]| async move {
        let state = tempfile::tempdir().unwrap();
        let mut config = sandbox_config(settings());
        config.seed = 7;
        config.error_rate = 0.5;
        // Logins are not drawn against: every test needs a token.
        let mut login = EndpointConfig::new("/api/v1/auth/*");
        login.error_rate = Some(0.0);
        config.endpoints = vec![login];
        let emulated = spawn_with(config, state.path(), Clock::new(0.0));
        let token = emulated.login().await;
        let mut statuses = Vec::new();
        for n in 0..24 {
            let (status, _) = emulated
                .create(&token, &format!("KEY_{n}"), values[n % 2])
                .await;
            statuses.push(status);
        }
        let prints: Vec<(String, u64)> = emulated
            .recordings()
            .iter()
            .filter(|r| r.path.starts_with("/api/v4/"))
            .map(|r| (r.fingerprint.clone().unwrap(), r.occurrence.unwrap()))
            .collect();
        (statuses, prints)
    };
    let (first, first_prints) = run(["value-one", "0"]).await;
    let (second, second_prints) = run(["a different value", "ss"]).await;
    assert_eq!(first, second, "the same names draw the same faults");
    assert_eq!(first_prints, second_prints);
    assert!(first.contains(&503) && first.contains(&200), "{first:?}");
}

// ------------------------------------------------------------------ masking

/// What a display of recordings shows: console blocks, details, the table, the JSON.
fn displays(records: &[RecordedRequest]) -> String {
    let mut out = console::requests_table(records);
    for record in records {
        out.push_str(&console::request_block(record));
        out.push_str(&console::details(record));
        out.push_str(&console::masked_json(record).to_string());
    }
    out
}

fn assert_hidden(text: &str, secrets: &[&str]) {
    for secret in secrets {
        if secret.len() >= 8 {
            assert!(!text.contains(secret), "{secret:?} shows in:\n{text}");
        } else {
            // A short value (`0`, `POST`) is a word any display holds: look for it where a
            // value would stand, in a pretty, a compact or an escaped (recorded body) JSON.
            for form in [
                format!("secretValue\": \"{secret}\""),
                format!("secretValue\":\"{secret}\""),
                format!("secretValue\\\":\\\"{secret}\\\""),
            ] {
                assert!(
                    !text.contains(&form),
                    "{secret:?} shows as {form:?} in:\n{text}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_display_shows_a_token_a_client_secret_or_a_value() {
    let state = tempfile::tempdir().unwrap();
    let emulated = spawn(
        InfisicalConfig {
            client_secret: "cs-canary-5ecret".into(),
            ..settings()
        },
        state.path(),
    );
    let token = emulated
        .login_with("demo-client", "cs-canary-5ecret")
        .await
        .1["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let values = ["0", "ss", "true", "POST", "value-canary-42"];
    for (n, value) in values.iter().enumerate() {
        emulated.create(&token, &format!("K{n}"), value).await;
    }
    emulated
        .send(
            "POST",
            "/api/v4/secrets/batch",
            Some(&token),
            Some(with(
                scope(),
                json!({"secrets": [{"secretKey": "B", "secretValue": "batch-canary-77"}]}),
            )),
        )
        .await;
    emulated.list(&token).await;
    emulated.get(&token, "K4").await;
    emulated
        .send(
            "POST",
            "/api/v1/auth/token/renew",
            None,
            Some(json!({"accessToken": token})),
        )
        .await;
    let shown = displays(&emulated.recordings());
    let mut hidden = vec![token.as_str(), "cs-canary-5ecret", "batch-canary-77"];
    hidden.extend(values);
    assert_hidden(&shown, &hidden);
    // The token's signature part (what makes it a secret) shows nowhere, not even cut short.
    let signature = token.rsplit('.').next().unwrap();
    assert!(!shown.contains(&signature[..12]), "{shown}");
    // The recording itself keeps raw values (replay needs them), in a private file.
    let raw = std::fs::read_to_string(
        std::fs::read_dir(emulated.handle.dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.to_string_lossy().ends_with(".jsonl")
                    && p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("requests-")
            })
            .unwrap(),
    )
    .unwrap();
    assert!(raw.contains("value-canary-42"));
}

// ------------------------------------------------------------------ the CLI

struct Running {
    child: Child,
    port: u16,
    console: Arc<(Mutex<String>, Condvar)>,
}

impl Running {
    fn start(state: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookplan"))
            .env("NO_COLOR", "1")
            .env_remove("HOOKPLAN_STATE_DIR")
            .args(["sandbox", "start", "--port", "0", "--state-dir"])
            .arg(state)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("hookplan runs");
        let console = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let stdout = child.stdout.take().unwrap();
        let shared = console.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let (text, changed) = &*shared;
                let mut text = text.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
                changed.notify_all();
            }
        });
        let mut running = Self {
            child,
            port: 0,
            console,
        };
        let banner = running.wait_for("Press Ctrl+C to stop");
        running.port = banner
            .lines()
            .find_map(|l| l.strip_prefix("Server: http://localhost:"))
            .expect("the banner names the server")
            .trim()
            .parse()
            .unwrap();
        running
    }

    fn wait_for(&mut self, text: &str) -> String {
        let (console, changed) = &*self.console;
        let started = Instant::now();
        let mut shown = console.lock().unwrap();
        while !shown.contains(text) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no {text:?} in:\n{shown}"
            );
            shown = changed
                .wait_timeout(shown, Duration::from_millis(100))
                .unwrap()
                .0;
        }
        shown.clone()
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_cli_sandbox_keeps_its_state_through_kill_dash_9_and_masks_its_console() {
    let state = tempfile::tempdir().unwrap();
    let args = [
        "--infisical",
        "--infisical-project",
        "p-1",
        "--infisical-client-secret",
        "cli-canary-secret",
    ];
    let mut sandbox = Running::start(state.path(), &args);
    let banner = sandbox.wait_for("Press Ctrl+C");
    assert!(
        banner.contains("Project: p-1  Environment: prod"),
        "{banner}"
    );
    assert!(
        banner.contains("client-id demo-client  client-secret ***"),
        "{banner}"
    );
    assert!(!banner.contains("cli-canary-secret"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = hookplan::http_client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let send = |method: &str, url: String, token: Option<&str>, body: Value| {
        let mut request = http.request(method.parse().unwrap(), url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        runtime.block_on(async {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        })
    };
    let login = |url: String| {
        send(
            "POST",
            format!("{url}/api/v1/auth/universal-auth/login"),
            None,
            json!({"clientId": "demo-client", "clientSecret": "cli-canary-secret"}),
        )
    };
    let (status, body) = login(sandbox.url());
    assert_eq!(status, 200, "{body}");
    let token = body["accessToken"].as_str().unwrap().to_string();
    let scope = json!({"projectId": "p-1", "environment": "prod", "secretPath": "/"});
    let (status, body) = send(
        "POST",
        format!("{}/api/v4/secrets/batch", sandbox.url()),
        Some(&token),
        with(
            scope.clone(),
            json!({"secrets": [{"secretKey": "A", "secretValue": "cli-value-canary"}, {"secretKey": "B", "secretValue": "ss"}]}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    // The console shows each block off the request's path: let it show this one.
    sandbox.wait_for("POST /api/v4/secrets/batch");
    let (console, changed) = &*sandbox.console;
    let started = Instant::now();
    let mut shown = console.lock().unwrap();
    while shown.matches("Response: 200 OK").count() < 2
        && started.elapsed() < Duration::from_secs(10)
    {
        shown = changed
            .wait_timeout(shown, Duration::from_millis(50))
            .unwrap()
            .0;
    }
    drop(shown);
    // Killed without a chance to flush anything: the answered write must be in the OS.
    let _ = sandbox.child.kill();
    let _ = sandbox.child.wait();
    let console = sandbox.console.0.lock().unwrap().clone();
    assert_hidden(
        &console,
        &[&token, "cli-canary-secret", "cli-value-canary", "ss"],
    );
    assert!(console.contains("POST /api/v4/secrets/batch"), "{console}");

    let restarted = Running::start(state.path(), &args);
    let (status, body) = login(restarted.url());
    assert_eq!(status, 200);
    let token = body["accessToken"].as_str().unwrap().to_string();
    let (status, body) = send(
        "GET",
        format!(
            "{}/api/v4/secrets?projectId=p-1&environment=prod",
            restarted.url()
        ),
        Some(&token),
        json!({}),
    );
    assert_eq!(status, 200);
    let kept: Vec<(&str, &str)> = body["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["secretKey"].as_str().unwrap(),
                s["secretValue"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(kept, [("A", "cli-value-canary"), ("B", "ss")]);
    drop(restarted);
    // The recordings' displays mask too.
    for args in [
        vec!["sandbox", "list-requests", "--all", "--json"],
        vec!["sandbox", "list-requests", "--all"],
    ] {
        let out = support::hookplan()
            .args(&args)
            .arg("--state-dir")
            .arg(state.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("/api/v4/secrets"), "{text}");
        assert_hidden(&text, &["cli-canary-secret", "cli-value-canary", "ss"]);
    }
}

// ------------------------------------------------------------------ plans

#[test]
fn a_plan_declares_the_emulation_with_diagnostics_for_its_mistakes() {
    let scratch = support::Scratch::new();
    scratch.write(
        "plan.kdl",
        r#"plan "bad"
sandbox "vault" {
    infisical {
        project "demo-project"
        enviroment "prod"
        api "v5"
        identity client-id="demo-client"
        token-ttl "0s"
        faults-after-write 2.0
    }
}
step "s" { http "GET" "${sandbox.vault.url}/test" }
"#,
    );
    let out = scratch.run(&["check", "plan.kdl"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    for expected in [
        "unknown node `enviroment`",
        "did you mean `environment`?",
        "unknown API version \"v5\"",
        "`identity` needs `client-secret=`",
        "token-ttl",
        "faults-after-write",
        "plan.kdl:5:",
    ] {
        assert!(
            out.stderr.contains(expected),
            "no {expected:?} in:\n{}",
            out.stderr
        );
    }
}

#[test]
fn a_plan_runs_against_its_emulation_and_its_secrets_never_show() {
    let scratch = support::Scratch::new();
    scratch.write(
        "plan.kdl",
        r##"plan "vault" { seed 1; }
sandbox "vault" {
    infisical {
        identity client-id="demo-client" client-secret="${secret.DEMO_CLIENT_SECRET:-demo-secret}"
        state "vault"
        secret "WEBHOOK_OUT_DEMO_KEY" "seeded-canary-value" path="/webhooks"
    }
}
step "login" {
    http "POST" "${sandbox.vault.url}/api/v1/auth/universal-auth/login" {
        json #"{"clientId": "demo-client", "clientSecret": "${secret.DEMO_CLIENT_SECRET:-demo-secret}"}"#
    }
    capture "token" json="/accessToken" secret=#true
}
step "read" {
    needs "login"
    http "GET" "${sandbox.vault.url}/api/v4/secrets/WEBHOOK_OUT_DEMO_KEY?projectId=demo-project&environment=prod&secretPath=/webhooks" {
        header "Authorization" "Bearer ${steps.login.token}"
    }
    expect {
        status 200
        json "/secret/version" 1
    }
}
"##,
    );
    let out = scratch.run_plan(&[("DEMO_CLIENT_SECRET", "plan-client-canary")]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        scratch
            .path()
            .join(".hookplan/sandbox/vault")
            .join(STATE_FILE)
            .is_file()
    );
    for (path, text) in scratch.all_files() {
        let name = path.to_string_lossy();
        if name.contains("/out/") {
            assert!(!text.contains("plan-client-canary"), "{name}");
            assert!(!text.contains("seeded-canary-value"), "{name}");
        }
    }
    assert!(
        !out.stdout.contains("seeded-canary-value") && !out.stderr.contains("seeded-canary-value")
    );
    assert!(
        !out.stdout.contains("plan-client-canary") && !out.stderr.contains("plan-client-canary")
    );
}
