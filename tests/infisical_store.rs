//! The Infisical client against the sandbox's Infisical emulation: each is tested against the
//! reference on its own (`infisical_client.rs`, `infisical_emulation.rs`); here they meet, so a
//! client and an emulation that agree with each other but not with Infisical cannot both pass
//! without one of those failing too. Everything on 127.0.0.1, at time scale 0.

use hookplan::clock::Clock;
use hookplan::model::InfisicalApi;
use hookplan::sandbox::infisical::InfisicalConfig as Emulation;
use hookplan::sandbox::{RecordedRequest, Sandbox, SandboxConfig, SandboxHandle};
use hookplan::store::infisical::{ApiVersion, InfisicalConfig, InfisicalStore};
use hookplan::store::{NewSecret, SecretStore, SecretValue, StoreError};
use std::time::Duration;

struct Vault {
    handle: SandboxHandle,
    _state: tempfile::TempDir,
}

fn vault(emulation: Emulation, error_rate: f64, clock: Clock) -> Vault {
    let state = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        name: "vault".into(),
        port: 0,
        seed: 13,
        error_rate,
        error_status: 503,
        infisical: Some(emulation),
        ..SandboxConfig::default()
    };
    let handle = SandboxHandle::spawn(Sandbox::new(config, state.path()).with_clock(clock))
        .expect("the sandbox starts");
    Vault {
        handle,
        _state: state,
    }
}

fn client(vault: &Vault, secret: &str, version: ApiVersion) -> InfisicalStore {
    InfisicalStore::new(InfisicalConfig {
        name: "vault".into(),
        api_url: vault.handle.url(),
        project: "demo-project".into(),
        environment: "prod".into(),
        client_id: "demo-client".into(),
        client_secret: SecretValue::new(secret),
        api_version: version,
        ca_bundle: None,
        retry: InfisicalStore::default_retry(),
        clock: Clock::new(0.0),
        seed: 13,
        attempt_timeout: Duration::from_secs(10),
        on_secret: None,
    })
    .unwrap()
}

fn requests(vault: &Vault, path_part: &str) -> Vec<RecordedRequest> {
    vault
        .handle
        .recordings()
        .unwrap()
        .into_iter()
        .filter(|r| r.path.contains(path_part))
        .collect()
}

fn names(n: usize) -> Vec<NewSecret> {
    (0..n)
        .map(|i| NewSecret::new(format!("WEBHOOK_OUT_HOOK_{i:03}_KEY"), format!("sk_{i:03}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_v3_only_server_through_faults_every_name_is_written_exactly_once() {
    // One answer in three is a 503, and half of those strike after the write was applied: the
    // client must read back, never re-send blindly, or versions would climb past 1.
    let emulation = Emulation {
        api: InfisicalApi::V3,
        faults_after_write: 0.5,
        ..Emulation::default()
    };
    let vault = vault(emulation, 0.3, Clock::new(0.0));
    let store = client(&vault, "demo-secret", ApiVersion::Auto);
    for chunk in names(60).chunks(20) {
        let written = store.set_many("/webhooks", chunk.to_vec()).await.unwrap();
        assert_eq!(written.len(), 20);
    }
    assert_eq!(
        store.api_version(),
        Some(ApiVersion::V3),
        "fell back to v3 by itself"
    );
    let listed = store.list("/webhooks").await.unwrap();
    assert_eq!(listed.len(), 60);
    for (secret, sent) in listed.iter().zip(names(60)) {
        assert_eq!(secret.name, sent.name);
        assert_eq!(secret.value, sent.value);
        assert_eq!(secret.version, 1, "{} was written twice", secret.name);
    }
    let lost_after_write = vault
        .handle
        .recordings()
        .unwrap()
        .iter()
        .filter(|r| {
            serde_json::to_string(&r.answered_by)
                .unwrap()
                .contains("fault_after_write")
        })
        .count();
    assert!(
        lost_after_write > 0,
        "the run had answers lost after the write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_v4_server_values_round_trip_versions_climb_and_deletes_remove() {
    let vault = vault(Emulation::default(), 0.0, Clock::new(0.0));
    let store = client(&vault, "demo-secret", ApiVersion::Auto);
    for value in ["0", "ss", "true", "POST"] {
        store
            .set("/webhooks/out", NewSecret::new("WEBHOOK_OUT_X_KEY", value))
            .await
            .unwrap();
    }
    assert_eq!(store.api_version(), Some(ApiVersion::V4));
    let got = store
        .get("/webhooks/out", "WEBHOOK_OUT_X_KEY")
        .await
        .unwrap();
    assert_eq!((got.value.expose(), got.version), ("POST", 4));
    // The same value again is no new version.
    let again = store
        .set_many(
            "/webhooks/out",
            vec![NewSecret::new("WEBHOOK_OUT_X_KEY", "POST")],
        )
        .await
        .unwrap();
    assert_eq!(again[0].version, 4);
    store
        .delete("/webhooks/out", "WEBHOOK_OUT_X_KEY")
        .await
        .unwrap();
    let gone = store
        .get("/webhooks/out", "WEBHOOK_OUT_X_KEY")
        .await
        .unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
    assert!(store.list("/nowhere").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_policy_leaves_the_write_pending_and_the_store_unchanged() {
    let emulation = Emulation {
        approval_required: true,
        ..Emulation::default()
    };
    let vault = vault(emulation, 0.0, Clock::new(0.0));
    let store = client(&vault, "demo-secret", ApiVersion::Auto);
    let err = store.set_many("/", names(2)).await.unwrap_err();
    match err {
        StoreError::PendingApproval { names } => assert_eq!(
            names,
            ["WEBHOOK_OUT_HOOK_000_KEY", "WEBHOOK_OUT_HOOK_001_KEY"]
        ),
        other => panic!("expected pending approval, got {other:?}"),
    }
    assert!(store.list("/").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_is_one_login_never_retried() {
    let vault = vault(Emulation::default(), 0.0, Clock::new(0.0));
    let store = client(&vault, "not-the-secret", ApiVersion::Auto);
    let err = store.list("/").await.unwrap_err();
    assert!(matches!(err, StoreError::Unauthorized { .. }), "{err:?}");
    assert!(!err.to_string().contains("not-the-secret"), "{err}");
    assert_eq!(requests(&vault, "/universal-auth/login").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_costs_one_fresh_login() {
    // On the sandbox's clock a real millisecond is a virtual second: the 300 s token is gone
    // after 300 real milliseconds, while the client still holds it.
    let emulation = Emulation {
        token_ttl: Duration::from_secs(300),
        token_max_ttl: Duration::from_secs(300),
        ..Emulation::default()
    };
    let vault = vault(emulation, 0.0, Clock::new(0.001));
    let store = client(&vault, "demo-secret", ApiVersion::V4);
    store.set("/", NewSecret::new("A", "1")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(store.get("/", "A").await.unwrap().value.expose(), "1");
    assert_eq!(requests(&vault, "/universal-auth/login").len(), 2);
    assert!(
        requests(&vault, "/auth/token/renew").is_empty(),
        "never renews"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_infisical_would_trim_is_refused_before_anything_is_written() {
    let vault = vault(Emulation::default(), 0.0, Clock::new(0.0));
    let store = client(&vault, "demo-secret", ApiVersion::Auto);
    let err = store
        .set_many(
            "/",
            vec![
                NewSecret::new("GOOD", "fine"),
                NewSecret::new("PADDED", " sk_live "),
            ],
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    assert!(
        text.contains("PADDED") && !text.contains("sk_live"),
        "{text}"
    );
    assert!(
        store.list("/").await.unwrap().is_empty(),
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_write_is_one_list_and_batches_of_a_hundred() {
    let vault = vault(Emulation::default(), 0.0, Clock::new(0.0));
    let store = client(&vault, "demo-secret", ApiVersion::V4);
    let written = store.set_many("/webhooks", names(250)).await.unwrap();
    assert_eq!(written.len(), 250);
    assert!(written.iter().all(|w| w.version == 1));
    let calls: Vec<(String, String)> = vault
        .handle
        .recordings()
        .unwrap()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/v4/"))
        .map(|r| (r.method, r.path))
        .collect();
    let batch = ("PATCH".to_string(), "/api/v4/secrets/batch".to_string());
    let list = ("GET".to_string(), "/api/v4/secrets".to_string());
    // The folder is missing at first: the first batch answers 404, the folder is made
    // (under /api/v1) and read again, then three batches.
    assert_eq!(
        calls,
        [
            list.clone(),
            batch.clone(),
            list,
            batch.clone(),
            batch.clone(),
            batch
        ]
    );
    assert_eq!(store.list("/webhooks").await.unwrap().len(), 250);
}
