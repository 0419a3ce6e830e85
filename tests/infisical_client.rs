//! The Infisical client against a scripted server that answers as `reference/infisical-api.md`
//! says: the exact requests it sends (method, path, query keys, body keys), and how it behaves
//! on the answers a real server was seen to give. Every wait runs on a clock at scale 0 and is
//! asserted as scheduled; nothing leaves 127.0.0.1.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookplan::clock::Clock;
use hookplan::store::infisical::{ApiVersion, InfisicalConfig, InfisicalStore};
use hookplan::store::{NewSecret, SecretStore, SecretValue, StoreError};
use serde_json::json;
use support::infisical::{FakeInfisical, Fault, Options, Serves};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn config(fake: &FakeInfisical, options: &Options) -> InfisicalConfig {
    InfisicalConfig {
        name: "infisical".into(),
        api_url: fake.url.clone(),
        project: options.project.clone(),
        environment: options.environment.clone(),
        client_id: options.client_id.clone(),
        client_secret: SecretValue::new(options.client_secret.as_str()),
        api_version: ApiVersion::Auto,
        ca_bundle: None,
        retry: InfisicalStore::default_retry(),
        clock: Clock::new(0.0),
        seed: 7,
        attempt_timeout: Duration::from_millis(300),
        on_secret: None,
    }
}

/// A server with `options` and a store for it, configured further by `adjust`.
fn start(
    options: Options,
    adjust: impl FnOnce(&mut InfisicalConfig),
) -> (FakeInfisical, InfisicalStore) {
    let fake = FakeInfisical::start(options.clone());
    let mut config = config(&fake, &options);
    adjust(&mut config);
    let store = InfisicalStore::new(config).expect("a valid configuration");
    (fake, store)
}

fn serving(serves: Serves) -> Options {
    Options {
        serves,
        ..Options::default()
    }
}

fn pinned(version: ApiVersion) -> impl FnOnce(&mut InfisicalConfig) {
    move |c| c.api_version = version
}

fn error_json(status: u16, message: serde_json::Value, error: &str) -> String {
    json!({"reqId": "r", "statusCode": status, "message": message, "error": error}).to_string()
}

fn answer(status: u16, message: &str) -> Fault {
    Fault::Answer(
        status,
        Vec::new(),
        error_json(status, json!(message), "Error"),
    )
}

/// (method, path) of every call but the logins.
fn calls(fake: &FakeInfisical) -> Vec<(String, String)> {
    fake.calls()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect()
}

fn call(method: &str, path: &str) -> (String, String) {
    (method.to_string(), path.to_string())
}

// ------------------------------------------------------------------ login and token

#[tokio::test]
async fn login_sends_the_identity_once_and_every_call_carries_its_token() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let record = seen.clone();
    let (fake, store) = start(Options::default(), |c| {
        c.on_secret = Some(Arc::new(move |t: &str| {
            record.lock().unwrap().push(t.to_string())
        }));
    });
    fake.put("/webhooks", "A", "1");
    store.list("/webhooks").await.unwrap();
    store.get("/webhooks", "A").await.unwrap();
    let requests = fake.requests();
    let login = &requests[0];
    assert!(login.is("POST", "/api/v1/auth/universal-auth/login"));
    assert_eq!(
        login.body,
        json!({"clientId": "client-1", "clientSecret": "client-secret-1"})
    );
    assert_eq!(login.authorization, None);
    assert_eq!(fake.logins(), 1);
    let token = seen.lock().unwrap().clone();
    assert_eq!(token, ["tok-1-fake-access-token"]);
    for request in &requests[1..] {
        assert_eq!(
            request.authorization.as_deref(),
            Some("Bearer tok-1-fake-access-token")
        );
    }
    assert!(requests.iter().all(|r| !r.path.contains("renew")));
}

#[tokio::test]
async fn a_401_from_login_is_never_retried() {
    let (fake, store) = start(Options::default(), |c| {
        c.client_secret = SecretValue::new("wrong")
    });
    let error = store.list("/webhooks").await.unwrap_err();
    assert!(
        matches!(error, StoreError::Unauthorized { .. }),
        "{error:?}"
    );
    assert_eq!(fake.requests().len(), 1, "one login, no retry");
    assert!(store.waits().is_empty());
}

#[tokio::test]
async fn a_401_whose_message_is_an_array_is_an_invalid_request_without_relogin() {
    let (fake, store) = start(Options::default(), |_| {});
    let issues =
        json!([{"code": "invalid_type", "path": ["secretPath"], "message": "Expected string"}]);
    fake.fault(
        "GET",
        "/api/v4/secrets",
        Fault::Answer(
            401,
            Vec::new(),
            error_json(401, issues, "ValidationFailure"),
        ),
    );
    let error = store.list("/webhooks").await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid { .. }), "{error:?}");
    assert!(
        error.to_string().contains("secretPath: Expected string"),
        "{error}"
    );
    assert_eq!(fake.logins(), 1);
    assert_eq!(calls(&fake), [call("GET", "/api/v4/secrets")]);
}

#[tokio::test]
async fn a_missing_or_expired_token_gets_one_fresh_login_then_the_call_is_repeated_once() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    fake.put("/webhooks", "A", "1");
    store.list("/webhooks").await.unwrap();
    // The server deleted the token (as after a failed renew): 401, one login, one repeat.
    fake.revoke_tokens();
    let listed = store.list("/webhooks").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(fake.logins(), 2);
    let lists: Vec<_> = fake
        .calls()
        .into_iter()
        .map(|r| r.authorization.unwrap())
        .collect();
    assert_eq!(
        lists,
        [
            "Bearer tok-1-fake-access-token",
            "Bearer tok-1-fake-access-token",
            "Bearer tok-2-fake-access-token"
        ]
    );
    // A 401 that persists after the fresh login: Unauthorized, no loop.
    fake.fault("GET", "/api/v4/secrets", answer(401, "Token missing"));
    fake.fault("GET", "/api/v4/secrets", answer(401, "Token missing"));
    let error = store.list("/webhooks").await.unwrap_err();
    assert!(
        matches!(error, StoreError::Unauthorized { .. }),
        "{error:?}"
    );
    assert_eq!(fake.logins(), 3);
    assert_eq!(fake.calls().len(), 5);
}

#[tokio::test]
async fn a_malformed_token_is_forbidden_without_relogin() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    fake.fault("GET", "/api/v4/secrets", answer(403, "Invalid token"));
    let error = store.list("/webhooks").await.unwrap_err();
    assert!(matches!(error, StoreError::Forbidden { .. }), "{error:?}");
    assert_eq!(fake.logins(), 1);
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn a_token_is_replaced_once_it_expires_on_the_runs_clock() {
    let options = Options {
        expires_in: 20,
        ..Options::default()
    };
    let (fake, store) = start(options, pinned(ApiVersion::V4));
    store.list("/webhooks").await.unwrap();
    // 30 s of virtual time pass in a Retry-After wait: the token (20 s) has expired by the retry.
    fake.fault(
        "GET",
        "/api/v4/secrets",
        Fault::Answer(
            429,
            vec![("retry-after".into(), "30".into())],
            error_json(429, json!("Too many"), "RateLimit"),
        ),
    );
    store.list("/webhooks").await.unwrap();
    assert_eq!(store.waits(), [secs(30)]);
    assert_eq!(fake.logins(), 2);
    let tokens: Vec<_> = fake
        .calls()
        .into_iter()
        .map(|r| r.authorization.unwrap())
        .collect();
    assert_eq!(tokens[2], "Bearer tok-2-fake-access-token", "{tokens:?}");
    // Without time passing, the token is kept.
    store.list("/webhooks").await.unwrap();
    assert_eq!(fake.logins(), 2);
    assert!(fake.requests().iter().all(|r| !r.path.contains("renew")));
}

#[tokio::test]
async fn concurrent_first_calls_share_one_login_and_one_probe() {
    let (fake, store) = start(Options::default(), |_| {});
    let (a, b, c) = tokio::join!(store.list("/a"), store.list("/b"), store.get("/a", "X"));
    assert!(a.is_ok() && b.is_ok() && c.unwrap_err().is_not_found());
    assert_eq!(fake.logins(), 1);
    assert!(fake.calls().iter().all(|r| !r.path.starts_with("/api/v3")));
}

// ------------------------------------------------------------------ API version

#[tokio::test]
async fn auto_falls_back_to_v3_when_v4_answers_404_and_v3_answers() {
    let (fake, store) = start(serving(Serves::V3), |_| {});
    fake.put("/webhooks", "A", "1");
    let listed = store.list("/webhooks").await.unwrap();
    assert_eq!(listed[0].name, "A");
    assert_eq!(store.api_version(), Some(ApiVersion::V3));
    store.get("/webhooks", "A").await.unwrap();
    store.list("/webhooks").await.unwrap();
    assert_eq!(
        calls(&fake),
        [
            // The probe lists the root folder, which every environment has.
            call("GET", "/api/v4/secrets"),
            call("GET", "/api/v3/secrets/raw"),
            call("GET", "/api/v3/secrets/raw"),
            call("GET", "/api/v3/secrets/raw/A"),
            call("GET", "/api/v3/secrets/raw"),
        ],
        "probed once"
    );
}

#[tokio::test]
async fn auto_stays_on_v4_when_v3_does_not_answer_2xx() {
    let (fake, store) = start(serving(Serves::V4), |_| {});
    fake.fault(
        "GET",
        "/api/v4/secrets",
        answer(404, "Environment not found"),
    );
    assert!(store.list("/webhooks").await.unwrap().is_empty());
    assert_eq!(store.api_version(), Some(ApiVersion::V4));
    store.list("/webhooks").await.unwrap();
    assert_eq!(
        calls(&fake),
        [
            call("GET", "/api/v4/secrets"),
            call("GET", "/api/v3/secrets/raw"),
            call("GET", "/api/v4/secrets"),
            call("GET", "/api/v4/secrets"),
        ]
    );
}

#[tokio::test]
async fn a_404_for_a_missing_secret_on_v4_is_not_a_reason_to_fall_back() {
    let (fake, store) = start(serving(Serves::Both), |_| {});
    let error = store.get("/webhooks", "MISSING").await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    let error = store.get("/webhooks", "MISSING").await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    assert_eq!(store.api_version(), Some(ApiVersion::V4));
    assert!(
        calls(&fake).iter().all(|(_, p)| !p.starts_with("/api/v3")),
        "{:?}",
        calls(&fake)
    );
}

#[tokio::test]
async fn a_pinned_version_never_probes() {
    let (fake, store) = start(serving(Serves::Both), pinned(ApiVersion::V3));
    store.list("/").await.unwrap();
    assert_eq!(calls(&fake), [call("GET", "/api/v3/secrets/raw")]);
    let (fake, store) = start(serving(Serves::V3), pinned(ApiVersion::V4));
    assert!(
        store.list("/").await.unwrap().is_empty(),
        "a 404 list is empty"
    );
    assert_eq!(calls(&fake), [call("GET", "/api/v4/secrets")]);
}

// ------------------------------------------------------------------ one row per table line

#[tokio::test]
async fn list_row_v4_and_v3() {
    for (version, path, project_key) in [
        (ApiVersion::V4, "/api/v4/secrets", "projectId"),
        (ApiVersion::V3, "/api/v3/secrets/raw", "workspaceId"),
    ] {
        let (fake, store) = start(Options::default(), pinned(version));
        fake.put("/webhooks", "A", "1");
        fake.put("/other", "B", "2");
        let listed = store.list("webhooks/").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (
                listed[0].name.as_str(),
                listed[0].value.expose(),
                listed[0].version
            ),
            ("A", "1", 1)
        );
        let request = &fake.calls()[0];
        assert!(request.is("GET", path), "{request:?}");
        assert_eq!(
            request.query_keys(),
            [
                project_key,
                "environment",
                "secretPath",
                "viewSecretValue",
                "recursive",
                "include_imports"
            ]
        );
        assert_eq!(request.query(project_key), Some("proj-1"));
        assert_eq!(request.query("environment"), Some("prod"));
        assert_eq!(request.query("secretPath"), Some("/webhooks"));
        assert_eq!(request.query("viewSecretValue"), Some("true"));
        assert_eq!(request.query("recursive"), Some("false"));
        assert_eq!(request.query("include_imports"), Some("false"));
        assert_eq!(request.body, serde_json::Value::Null);
    }
}

#[tokio::test]
async fn a_missing_folder_lists_empty() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    assert!(store.list("/nowhere").await.unwrap().is_empty());
    fake.fault("GET", "/api/v4/secrets", answer(404, "Folder not found"));
    assert!(store.list("/nowhere").await.unwrap().is_empty());
}

#[tokio::test]
async fn get_row_v4_and_v3() {
    for (version, path, project_key) in [
        (
            ApiVersion::V4,
            "/api/v4/secrets/WEBHOOK_OUT_A_KEY",
            "projectId",
        ),
        (
            ApiVersion::V3,
            "/api/v3/secrets/raw/WEBHOOK_OUT_A_KEY",
            "workspaceId",
        ),
    ] {
        let (fake, store) = start(Options::default(), pinned(version));
        fake.put("/webhooks", "WEBHOOK_OUT_A_KEY", "one");
        fake.put("/webhooks", "WEBHOOK_OUT_A_KEY", "two");
        let secret = store.get("/webhooks", "WEBHOOK_OUT_A_KEY").await.unwrap();
        assert_eq!((secret.value.expose(), secret.version), ("two", 2));
        let request = &fake.calls()[0];
        assert!(request.is("GET", path), "{request:?}");
        assert_eq!(
            request.query_keys(),
            [project_key, "environment", "secretPath", "type"]
        );
        assert_eq!(request.query("type"), Some("shared"));
        assert_eq!(request.query("secretPath"), Some("/webhooks"));
        assert!(
            store
                .get("/webhooks", "NOPE")
                .await
                .unwrap_err()
                .is_not_found()
        );
    }
}

#[tokio::test]
async fn create_row_v4_and_v3() {
    for (version, path, project_key) in [
        (ApiVersion::V4, "/api/v4/secrets/K", "projectId"),
        (ApiVersion::V3, "/api/v3/secrets/raw/K", "workspaceId"),
    ] {
        let (fake, store) = start(Options::default(), pinned(version));
        fake.add_folder("/webhooks");
        let written = store
            .set("/webhooks", NewSecret::new("K", "v1"))
            .await
            .unwrap();
        assert_eq!((written.name.as_str(), written.version), ("K", 1));
        let requests = fake.calls();
        assert_eq!(requests.len(), 2, "a get, then a create");
        assert_eq!(requests[0].method, "GET");
        let create = &requests[1];
        assert!(create.is("POST", path), "{create:?}");
        assert_eq!(
            create.body_keys(),
            [
                project_key,
                "environment",
                "secretPath",
                "secretValue",
                "secretComment",
                "type"
            ]
        );
        assert_eq!(create.body["secretValue"], "v1");
        assert_eq!(create.body["secretComment"], "");
        assert_eq!(create.body["type"], "shared");
        assert!(create.query.is_empty());
        assert_eq!(fake.secret("/webhooks", "K"), Some(("v1".into(), 1)));
    }
}

#[tokio::test]
async fn update_row_bumps_the_version_and_an_unchanged_value_sends_nothing() {
    for (version, path, project_key) in [
        (ApiVersion::V4, "/api/v4/secrets/K", "projectId"),
        (ApiVersion::V3, "/api/v3/secrets/raw/K", "workspaceId"),
    ] {
        let (fake, store) = start(Options::default(), pinned(version));
        fake.put("/webhooks", "K", "v1");
        let written = store
            .set("/webhooks", NewSecret::new("K", "v2"))
            .await
            .unwrap();
        assert_eq!(written.version, 2);
        let update = &fake.calls()[1];
        assert!(update.is("PATCH", path), "{update:?}");
        assert_eq!(
            update.body_keys(),
            [
                project_key,
                "environment",
                "secretPath",
                "secretValue",
                "type"
            ]
        );
        assert_eq!(fake.secret("/webhooks", "K"), Some(("v2".into(), 2)));
        // The same value again: read, nothing written, the version stays.
        let written = store
            .set("/webhooks", NewSecret::new("K", "v2"))
            .await
            .unwrap();
        assert_eq!(written.version, 2);
        assert_eq!(fake.calls().len(), 3);
        assert_eq!(fake.secret("/webhooks", "K"), Some(("v2".into(), 2)));
    }
}

#[tokio::test]
async fn delete_row_v4_and_v3() {
    for (version, path, project_key) in [
        (ApiVersion::V4, "/api/v4/secrets/K", "projectId"),
        (ApiVersion::V3, "/api/v3/secrets/raw/K", "workspaceId"),
    ] {
        let (fake, store) = start(Options::default(), pinned(version));
        fake.put("/webhooks", "K", "v1");
        store.delete("/webhooks", "K").await.unwrap();
        let delete = &fake.calls()[0];
        assert!(delete.is("DELETE", path), "{delete:?}");
        assert_eq!(
            delete.body_keys(),
            [project_key, "environment", "secretPath", "type"]
        );
        assert_eq!(delete.body["type"], "shared");
        assert_eq!(fake.secret("/webhooks", "K"), None);
        assert!(
            store
                .delete("/webhooks", "K")
                .await
                .unwrap_err()
                .is_not_found()
        );
    }
}

#[tokio::test]
async fn batch_upsert_on_v4_sends_only_what_is_missing_or_different() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    fake.put("/webhooks", "SAME", "s");
    fake.put("/webhooks", "CHANGED", "old");
    let written = store
        .set_many(
            "/webhooks",
            vec![
                NewSecret::new("NEW", "n"),
                NewSecret::new("SAME", "s"),
                NewSecret::new("CHANGED", "new"),
            ],
        )
        .await
        .unwrap();
    let versions: Vec<_> = written
        .iter()
        .map(|w| (w.name.as_str(), w.version))
        .collect();
    assert_eq!(versions, [("NEW", 1), ("SAME", 1), ("CHANGED", 2)]);
    assert_eq!(
        calls(&fake),
        [
            call("GET", "/api/v4/secrets"),
            call("PATCH", "/api/v4/secrets/batch")
        ]
    );
    let batch = &fake.calls()[1];
    assert_eq!(
        batch.body_keys(),
        ["projectId", "environment", "secretPath", "mode", "secrets"]
    );
    assert_eq!(batch.body["mode"], "upsert");
    assert_eq!(
        batch.body["secrets"],
        json!([{"secretKey": "NEW", "secretValue": "n"}, {"secretKey": "CHANGED", "secretValue": "new"}])
    );
}

#[tokio::test]
async fn batches_on_v3_create_the_missing_and_update_the_rest() {
    let (fake, store) = start(serving(Serves::V3), pinned(ApiVersion::V3));
    fake.put("/webhooks", "CHANGED", "old");
    let written = store
        .set_many(
            "/webhooks",
            vec![NewSecret::new("CHANGED", "new"), NewSecret::new("NEW", "n")],
        )
        .await
        .unwrap();
    assert_eq!(
        written.iter().map(|w| w.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(
        calls(&fake),
        [
            call("GET", "/api/v3/secrets/raw"),
            call("POST", "/api/v3/secrets/batch/raw"),
            call("PATCH", "/api/v3/secrets/batch/raw"),
        ]
    );
    let requests = fake.calls();
    assert_eq!(
        requests[1].body_keys(),
        ["workspaceId", "environment", "secretPath", "secrets"]
    );
    assert_eq!(
        requests[1].body["secrets"],
        json!([{"secretKey": "NEW", "secretValue": "n"}])
    );
    assert_eq!(
        requests[2].body_keys(),
        ["workspaceId", "environment", "secretPath", "secrets"]
    );
    assert_eq!(
        requests[2].body["secrets"],
        json!([{"secretKey": "CHANGED", "secretValue": "new"}])
    );
}

#[tokio::test]
async fn batch_delete_removes_what_is_there_in_one_call() {
    for (version, list, batch, project_key) in [
        (
            ApiVersion::V4,
            "/api/v4/secrets",
            "/api/v4/secrets/batch",
            "projectId",
        ),
        (
            ApiVersion::V3,
            "/api/v3/secrets/raw",
            "/api/v3/secrets/batch/raw",
            "workspaceId",
        ),
    ] {
        let (fake, store) = start(Options::default(), pinned(version));
        fake.put("/webhooks", "A", "1");
        fake.put("/webhooks", "B", "2");
        store
            .delete_many("/webhooks", vec!["A".into(), "GONE".into(), "B".into()])
            .await
            .unwrap();
        assert_eq!(calls(&fake), [call("GET", list), call("DELETE", batch)]);
        let delete = &fake.calls()[1];
        assert_eq!(
            delete.body_keys(),
            [project_key, "environment", "secretPath", "secrets"]
        );
        assert_eq!(
            delete.body["secrets"],
            json!([{"secretKey": "A", "type": "shared"}, {"secretKey": "B", "type": "shared"}])
        );
        assert_eq!(fake.secret("/webhooks", "A"), None);
        // Nothing left to delete: nothing sent.
        store
            .delete_many("/webhooks", vec!["A".into()])
            .await
            .unwrap();
        assert_eq!(fake.calls().len(), 3);
    }
}

// ------------------------------------------------------------------ observed behaviour

#[tokio::test]
async fn missing_folders_are_created_level_by_level_then_the_write_is_repeated() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    fake.add_folder("/webhooks");
    store
        .set_many(
            "/webhooks/out/",
            vec![NewSecret::new("A", "1"), NewSecret::new("B", "2")],
        )
        .await
        .unwrap();
    assert_eq!(
        calls(&fake),
        [
            call("GET", "/api/v4/secrets"),
            call("PATCH", "/api/v4/secrets/batch"),
            call("POST", "/api/v1/folders"),
            call("POST", "/api/v1/folders"),
            call("GET", "/api/v4/secrets"),
            call("PATCH", "/api/v4/secrets/batch"),
        ]
    );
    let requests = fake.calls();
    assert_eq!(
        requests[2].body,
        json!({"workspaceId": "proj-1", "environment": "prod", "name": "webhooks", "path": "/"})
    );
    assert_eq!(
        requests[3].body,
        json!({"workspaceId": "proj-1", "environment": "prod", "name": "out", "path": "/webhooks"})
    );
    assert!(fake.folders().contains(&"/webhooks/out".to_string()));
    assert_eq!(fake.secret("/webhooks/out", "A"), Some(("1".into(), 1)));
    // A single secret into a missing folder, on v3.
    let (fake, store) = start(serving(Serves::V3), pinned(ApiVersion::V3));
    store.set("/new", NewSecret::new("K", "v")).await.unwrap();
    assert_eq!(fake.secret("/new", "K"), Some(("v".into(), 1)));
    assert_eq!(
        calls(&fake)
            .iter()
            .filter(|(_, p)| p == "/api/v1/folders")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_400_to_a_create_reads_again_once_and_a_second_400_is_invalid() {
    // Someone created the name between the list and the create.
    let (fake, store) = start(serving(Serves::V3), pinned(ApiVersion::V3));
    fake.put("/webhooks", "A", "1");
    let empty = Fault::Answer(
        200,
        Vec::new(),
        json!({"secrets": [], "imports": []}).to_string(),
    );
    fake.fault("GET", "/api/v3/secrets/raw", empty.clone());
    let written = store
        .set_many("/webhooks", vec![NewSecret::new("A", "1")])
        .await
        .unwrap();
    assert_eq!(written[0].version, 1);
    assert_eq!(
        calls(&fake),
        [
            call("GET", "/api/v3/secrets/raw"),
            call("POST", "/api/v3/secrets/batch/raw"),
            call("GET", "/api/v3/secrets/raw"),
        ]
    );
    // All or nothing: the batch that failed left the other name uncreated; a second 400 stops.
    fake.fault("GET", "/api/v3/secrets/raw", empty.clone());
    fake.fault("GET", "/api/v3/secrets/raw", empty);
    let error = store
        .set_many(
            "/webhooks",
            vec![NewSecret::new("B", "2"), NewSecret::new("A", "1")],
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid { .. }), "{error:?}");
    assert!(error.to_string().contains("400"), "{error}");
    assert_eq!(fake.secret("/webhooks", "B"), None);
}

#[tokio::test]
async fn a_write_awaiting_approval_is_pending_never_written() {
    let options = Options {
        approvals: true,
        ..Options::default()
    };
    let (fake, store) = start(options, pinned(ApiVersion::V4));
    fake.add_folder("/webhooks");
    let error = store
        .set_many(
            "/webhooks",
            vec![NewSecret::new("A", "1"), NewSecret::new("B", "2")],
        )
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::PendingApproval {
            names: vec!["A".into(), "B".into()]
        }
    );
    let error = store
        .set("/webhooks", NewSecret::new("C", "3"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::PendingApproval {
            names: vec!["C".into()]
        }
    );
    assert_eq!(fake.secret("/webhooks", "A"), None);
    assert_eq!(fake.secret("/webhooks", "C"), None);
}

#[tokio::test]
async fn values_infisical_would_alter_are_refused_before_anything_is_sent() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    for value in ["", " padded", "padded ", "\tx", "x\n\n", " x\n"] {
        let error = store
            .set_many(
                "/webhooks",
                vec![
                    NewSecret::new("OK", "fine"),
                    NewSecret::new("WEBHOOK_OUT_X_KEY", value),
                ],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::Invalid { .. }),
            "{value:?}: {error:?}"
        );
        let text = error.to_string();
        assert!(text.contains("WEBHOOK_OUT_X_KEY"), "{text}");
        assert!(!text.contains("padded"), "{text}");
    }
    assert!(
        fake.requests().is_empty(),
        "nothing was sent, not even a login"
    );
    // A value ending in one newline is kept as is by the server: it is written.
    fake.add_folder("/webhooks");
    store
        .set("/webhooks", NewSecret::new("PEM", "-----BEGIN-----\nabc\n"))
        .await
        .unwrap();
    assert_eq!(
        fake.secret("/webhooks", "PEM"),
        Some(("-----BEGIN-----\nabc\n".into(), 1))
    );
}

// ------------------------------------------------------------------ lost answers

/// A batch write whose answer is lost after the server applied it: read back, nothing re-sent.
async fn lost_after_applying(fault: Fault) {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    fake.add_folder("/webhooks");
    fake.fault("PATCH", "/api/v4/secrets/batch", fault);
    let written = store
        .set_many(
            "/webhooks",
            vec![NewSecret::new("A", "1"), NewSecret::new("B", "2")],
        )
        .await
        .unwrap();
    assert_eq!(
        written.iter().map(|w| w.version).collect::<Vec<_>>(),
        [1, 1]
    );
    assert_eq!(
        calls(&fake),
        [
            call("GET", "/api/v4/secrets"),
            call("PATCH", "/api/v4/secrets/batch"),
            call("GET", "/api/v4/secrets"),
        ],
        "read back, never sent twice"
    );
    assert_eq!(
        fake.secret("/webhooks", "A"),
        Some(("1".into(), 1)),
        "no version 2"
    );
    assert_eq!(
        store.waits(),
        [secs(2)],
        "the policy's first wait before reading back"
    );
}

#[tokio::test]
async fn a_reset_after_the_write_was_applied_is_read_back_not_resent() {
    lost_after_applying(Fault::ResetAfter).await;
}

#[tokio::test]
async fn a_503_after_the_write_was_applied_is_read_back_not_resent() {
    lost_after_applying(Fault::StatusAfter(503)).await;
}

#[tokio::test]
async fn a_timeout_after_the_write_was_applied_is_read_back_not_resent() {
    lost_after_applying(Fault::HangAfter).await;
}

#[tokio::test]
async fn a_lost_single_write_is_read_back_too() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    fake.put("/webhooks", "K", "old");
    fake.fault("PATCH", "/api/v4/secrets/K", Fault::ResetAfter);
    let written = store
        .set("/webhooks", NewSecret::new("K", "new"))
        .await
        .unwrap();
    assert_eq!(written.version, 2);
    assert_eq!(
        calls(&fake),
        [
            call("GET", "/api/v4/secrets/K"),
            call("PATCH", "/api/v4/secrets/K"),
            call("GET", "/api/v4/secrets/K"),
        ]
    );
    assert_eq!(fake.secret("/webhooks", "K"), Some(("new".into(), 2)));
}

#[tokio::test]
async fn a_write_lost_before_it_was_applied_is_sent_again_after_reading_back() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    fake.add_folder("/webhooks");
    fake.fault("PATCH", "/api/v4/secrets/batch", Fault::ResetBefore);
    store
        .set_many("/webhooks", vec![NewSecret::new("A", "1")])
        .await
        .unwrap();
    assert_eq!(
        calls(&fake),
        [
            call("GET", "/api/v4/secrets"),
            call("PATCH", "/api/v4/secrets/batch"),
            call("GET", "/api/v4/secrets"),
            call("PATCH", "/api/v4/secrets/batch"),
        ]
    );
    assert_eq!(fake.secret("/webhooks", "A"), Some(("1".into(), 1)));
}

#[tokio::test]
async fn a_lost_delete_is_read_back() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    fake.put("/webhooks", "K", "v");
    fake.fault("DELETE", "/api/v4/secrets/K", Fault::ResetAfter);
    store.delete("/webhooks", "K").await.unwrap();
    assert_eq!(
        calls(&fake),
        [
            call("DELETE", "/api/v4/secrets/K"),
            call("GET", "/api/v4/secrets/K")
        ]
    );
}

#[tokio::test]
async fn writes_whose_answers_stay_lost_give_up_as_unavailable() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    fake.add_folder("/webhooks");
    // Lost before the server applied them, so every read back finds the name still missing.
    for _ in 0..2 {
        fake.fault("PATCH", "/api/v4/secrets/batch", answer(502, "Bad gateway"));
        fake.fault("PATCH", "/api/v4/secrets/batch", Fault::ResetBefore);
    }
    let error = store
        .set_many("/webhooks", vec![NewSecret::new("A", "1")])
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
    assert_eq!(store.waits(), [secs(2), secs(4), secs(8)]);
    let writes = calls(&fake).iter().filter(|(m, _)| m == "PATCH").count();
    let reads = calls(&fake).iter().filter(|(m, _)| m == "GET").count();
    assert_eq!((writes, reads), (4, 4), "each write after a read");
    assert_eq!(fake.secret("/webhooks", "A"), None);
}

// ------------------------------------------------------------------ retries

#[tokio::test]
async fn a_429_waits_its_retry_after_in_virtual_time() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    let limited = |after: &str| {
        Fault::Answer(
            429,
            vec![("retry-after".into(), after.into())],
            error_json(429, json!("Too many requests"), "RateLimit"),
        )
    };
    fake.fault("GET", "/api/v4/secrets", limited("3"));
    let real = std::time::Instant::now();
    store.list("/webhooks").await.unwrap();
    assert_eq!(store.waits(), [secs(3)]);
    assert!(real.elapsed() < secs(2), "no real sleeping");
    assert_eq!(fake.calls().len(), 2);
    // An HTTP date far ahead is capped at 60 s.
    let later = httpdate::fmt_http_date(std::time::SystemTime::now() + secs(3600));
    fake.fault("GET", "/api/v4/secrets", limited(&later));
    store.list("/webhooks").await.unwrap();
    assert_eq!(store.waits(), [secs(3), secs(60)]);
    // A plan's own policy without a max-delay is capped at 60 s too.
    let (fake, store) = start(Options::default(), |c| {
        c.api_version = ApiVersion::V4;
        c.retry.max_delay = None;
    });
    fake.fault("GET", "/api/v4/secrets", limited("3600"));
    store.list("/webhooks").await.unwrap();
    assert_eq!(store.waits(), [secs(60)]);
}

#[tokio::test]
async fn a_429_to_a_write_is_sent_again_after_its_wait() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    fake.add_folder("/webhooks");
    fake.fault(
        "PATCH",
        "/api/v4/secrets/batch",
        Fault::Answer(
            429,
            vec![("retry-after".into(), "5".into())],
            error_json(429, json!("slow down"), "RateLimit"),
        ),
    );
    store
        .set_many("/webhooks", vec![NewSecret::new("A", "1")])
        .await
        .unwrap();
    assert_eq!(store.waits(), [secs(5)]);
    assert_eq!(
        calls(&fake),
        [
            call("GET", "/api/v4/secrets"),
            call("PATCH", "/api/v4/secrets/batch"),
            call("PATCH", "/api/v4/secrets/batch"),
        ]
    );
}

#[tokio::test]
async fn reads_are_retried_on_the_specs_schedule_and_give_up_after_three_retries() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    for _ in 0..3 {
        fake.fault("GET", "/api/v4/secrets", answer(503, "down"));
    }
    store.list("/webhooks").await.unwrap();
    assert_eq!(store.waits(), [secs(2), secs(4), secs(8)]);
    for _ in 0..4 {
        fake.fault("GET", "/api/v4/secrets", Fault::ResetBefore);
    }
    let error = store.list("/webhooks").await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
    assert_eq!(fake.calls().len(), 8);
}

#[tokio::test]
async fn a_read_that_times_out_is_retried() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    fake.put("/webhooks", "A", "1");
    fake.fault("GET", "/api/v4/secrets/A", Fault::HangAfter);
    let secret = store.get("/webhooks", "A").await.unwrap();
    assert_eq!(secret.value.expose(), "1");
    assert_eq!(store.waits(), [secs(2)]);
    assert_eq!(
        fake.calls().len(),
        2,
        "the attempt that timed out, then its retry"
    );
}

#[tokio::test]
async fn a_429_that_persists_is_rate_limited() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    for _ in 0..4 {
        fake.fault(
            "GET",
            "/api/v4/secrets",
            Fault::Answer(
                429,
                vec![("retry-after".into(), "1".into())],
                error_json(429, json!("x"), "RateLimit"),
            ),
        );
    }
    let error = store.list("/webhooks").await.unwrap_err();
    assert_eq!(
        error,
        StoreError::RateLimited {
            retry_after: Some(secs(1))
        }
    );
    assert_eq!(store.waits(), [secs(1), secs(1), secs(1)]);
}

#[tokio::test]
async fn other_client_errors_are_not_retried() {
    let (fake, store) = start(Options::default(), pinned(ApiVersion::V4));
    fake.fault("GET", "/api/v4/secrets", answer(422, "Unprocessable"));
    let error = store.list("/webhooks").await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid { .. }), "{error:?}");
    assert_eq!(fake.calls().len(), 1);
    assert!(store.waits().is_empty());
}

#[tokio::test]
async fn connection_errors_are_retried_and_tls_is_never_dropped() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let (_fake, mut config) = {
        let fake = FakeInfisical::start(Options::default());
        let config = config(&fake, &Options::default());
        (fake, config)
    };
    config.api_url = format!("http://127.0.0.1:{port}");
    let store = InfisicalStore::new(config.clone()).unwrap();
    let error = store.list("/").await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
    assert_eq!(store.waits(), [secs(2), secs(4), secs(8)]);
    // An https:// URL to a server that speaks plain HTTP: a TLS failure, never a plain retry.
    let fake = FakeInfisical::start(Options::default());
    config.api_url = fake.url.replace("http://", "https://");
    let store = InfisicalStore::new(config).unwrap();
    let error = store.list("/").await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
    assert!(
        fake.requests().iter().all(|r| r.method.is_empty()),
        "no request was understood"
    );
}

/// An HTTPS server on 127.0.0.1 with a certificate from the test CA: it answers the login and
/// an empty list, one request per connection.
fn tls_server() -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{Read, Write};
    hookplan::http_client::install_crypto();
    let dir = support::repo().join("tests/support/tls");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, tcp);
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                let body = loop {
                    let Ok(n) = tls.read(&mut buffer) else { return };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break if text.starts_with("POST /api/v1/auth/") {
                                r#"{"accessToken":"tls-token","expiresIn":7200,"accessTokenMaxTTL":7200,"tokenType":"Bearer"}"#
                            } else {
                                r#"{"secrets":[],"imports":[]}"#
                            };
                        }
                    }
                };
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes());
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    url
}

#[tokio::test]
async fn a_ca_bundle_is_trusted_and_verification_is_never_off() {
    let url = tls_server();
    let fake = FakeInfisical::start(Options::default());
    let mut config = config(&fake, &Options::default());
    config.api_url = url;
    config.api_version = ApiVersion::V4;
    config.ca_bundle = Some(support::repo().join("tests/support/tls/ca.pem"));
    let store = InfisicalStore::new(config.clone()).unwrap();
    assert!(store.list("/webhooks").await.unwrap().is_empty());
    // Without the bundle the same server's certificate is not trusted.
    config.ca_bundle = None;
    let store = InfisicalStore::new(config).unwrap();
    let error = store.list("/webhooks").await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
    assert!(error.to_string().contains("login"), "{error}");
}

// ------------------------------------------------------------------ secrets never shown

/// Whether `secret` shows in `text`: anywhere when long, standing alone when short (the
/// crate's rule: `0` inside `503` is not the secret `0`).
fn shows(text: &str, secret: &str) -> bool {
    if secret.chars().count() >= hookplan::observe::redact::BOUNDED_BELOW {
        return text.contains(secret);
    }
    text.match_indices(secret).any(|(start, _)| {
        let end = start + secret.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[tokio::test]
async fn no_error_text_or_debug_output_holds_a_secret_a_token_or_a_value() {
    let secrets = ["POST", "true", "0", "ss", "long-value-canary-123"];
    let options = Options {
        client_secret: "POST".into(),
        tokens: vec!["true".into(), "true".into()],
        ..Options::default()
    };
    let (fake, store) = start(options.clone(), pinned(ApiVersion::V4));
    fake.add_folder("/webhooks");
    let echo = |status: u16| {
        Fault::Answer(
            status,
            Vec::new(),
            error_json(
                status,
                json!(
                    "value 0 and ss and long-value-canary-123 rejected for token true, secret POST"
                ),
                "Echo",
            ),
        )
    };
    let echo_issues = Fault::Answer(
        401,
        Vec::new(),
        error_json(
            401,
            json!([{"path": ["secrets", 0], "message": "value ss is not 0 (token true, POST)"}]),
            "ValidationFailure",
        ),
    );
    let values = vec![
        NewSecret::new("A", "0"),
        NewSecret::new("B", "ss"),
        NewSecret::new("C", "long-value-canary-123"),
    ];
    let mut texts = Vec::new();
    let mut record = |e: StoreError| {
        texts.push(e.to_string());
        texts.push(format!("{e:?}"));
    };
    for status in [400, 403, 404, 409, 422, 500] {
        fake.fault("PATCH", "/api/v4/secrets/batch", echo(status));
        fake.fault("PATCH", "/api/v4/secrets/batch", echo(status));
        fake.fault("PATCH", "/api/v4/secrets/batch", echo(status));
        fake.fault("PATCH", "/api/v4/secrets/batch", echo(status));
        if let Err(e) = store.set_many("/webhooks", values.clone()).await {
            record(e);
        }
        fake.fault("GET", "/api/v4/secrets", echo(status));
        fake.fault("GET", "/api/v4/secrets", echo(status));
        fake.fault("GET", "/api/v4/secrets", echo(status));
        fake.fault("GET", "/api/v4/secrets", echo(status));
        if let Err(e) = store.list("/webhooks").await {
            record(e);
        }
    }
    fake.fault("PATCH", "/api/v4/secrets/batch", echo_issues);
    record(
        store
            .set_many("/webhooks", values.clone())
            .await
            .unwrap_err(),
    );
    fake.fault("GET", "/api/v4/secrets/A", echo(401));
    fake.fault("GET", "/api/v4/secrets/A", echo(401));
    record(store.get("/webhooks", "A").await.unwrap_err());
    record(
        store
            .set("/webhooks", NewSecret::new("A", " 0"))
            .await
            .unwrap_err(),
    );
    // A login refused with a body echoing the secret.
    let (fake2, other) = start(options, pinned(ApiVersion::V4));
    // (This store never saw the other one's token or values: only its own secret is echoed.)
    fake2.fault(
        "POST",
        "/api/v1/auth/universal-auth/login",
        Fault::Answer(
            401,
            Vec::new(),
            error_json(401, json!("client secret POST refused"), "Unauthorized"),
        ),
    );
    record(other.list("/").await.unwrap_err());
    for value in &values {
        texts.push(format!("{value:?}"));
    }
    // The URL (127.0.0.1:PORT) is configuration, not a secret that happens to be `0`.
    texts.push(format!("{store:?}").replace(&fake.url, "URL"));
    texts.push(format!("{other:?}").replace(&fake2.url, "URL"));
    assert!(texts.len() > 20, "{texts:#?}");
    for text in &texts {
        for secret in secrets {
            assert!(!shows(text, secret), "{secret:?} shows in {text:?}");
        }
    }
    // The texts still say what happened.
    assert!(
        texts.iter().any(|t| t.contains("answered 400")),
        "{texts:#?}"
    );
}
