//! Issue 13's story, as a new user runs it: `hookplan sandbox start --infisical --infisical-api
//! v3 --error-rate 0.3`; a webhook's key put in with Infisical's own v3 API (and found trimmed
//! as Infisical trims); a plan whose `call` reads that key from the store through the injected
//! 503s (the client falling back from v4 to v3 by itself) and whose `expect-secrets` passes;
//! and no console line, report or recording display that shows the key or the client secret.

mod support;

use serde_json::{Value, json};
use support::Scratch;
use support::cli_sandbox::CliSandbox;

const KEY: &str = "sk_live_story_5f1c2a9e";
const CLIENT_SECRET: &str = "story-client-secret";

/// A request to the sandbox, sent again while it answers an injected 503.
async fn send(http: &reqwest::Client, request: impl Fn() -> reqwest::RequestBuilder) -> Value {
    for _ in 0..30 {
        let answer = request().send().await.unwrap();
        if answer.status().as_u16() == 503 {
            continue;
        }
        assert!(answer.status().is_success(), "{:?}", answer.status());
        return answer.json().await.unwrap();
    }
    let _ = http;
    panic!("30 answers in a row were 503");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_put_with_infisicals_v3_api_is_read_by_a_call_through_503s_and_shown_nowhere() {
    let s = Scratch::new();
    let sandbox = CliSandbox::start(
        &s,
        "story",
        &[
            "--infisical",
            "--infisical-api",
            "v3",
            "--error-rate",
            "0.3",
            "--infisical-client-secret",
            CLIENT_SECRET,
        ],
    );
    assert!(
        sandbox
            .console
            .lock()
            .unwrap()
            .contains("client-secret ***")
    );

    // 2. Infisical's own v3 API: log in, create the key with surrounding blanks, read it back.
    let http = hookplan::http_client::builder().build().unwrap();
    let login = send(&http, || {
        http.post(format!("{}/api/v1/auth/universal-auth/login", sandbox.url))
            .json(&json!({"clientId": "demo-client", "clientSecret": CLIENT_SECRET}))
    })
    .await;
    let token = login["accessToken"].as_str().unwrap().to_string();
    let name = "WEBHOOK_OUT_ORDERS_HOOK_KEY";
    send(&http, || {
        http.post(format!("{}/api/v3/secrets/raw/{name}", sandbox.url))
            .bearer_auth(&token)
            .json(&json!({
                "workspaceId": "demo-project", "environment": "prod", "secretPath": "/",
                "secretValue": format!("  {KEY}  "), "type": "shared"
            }))
    })
    .await;
    let read = send(&http, || {
        http.get(format!(
            "{}/api/v3/secrets/raw/{name}?workspaceId=demo-project&environment=prod&secretPath=%2F",
            sandbox.url
        ))
        .bearer_auth(&token)
    })
    .await;
    assert_eq!(
        read["secret"]["secretValue"], KEY,
        "trimmed as Infisical trims"
    );

    // 3. The plan: the key from the store, through the 503s, then expect-secrets.
    s.write(
        "hooks.sql",
        "CREATE TABLE webhooks (code TEXT PRIMARY KEY, direction TEXT, url TEXT, method TEXT, auth TEXT, user TEXT, key TEXT, password TEXT, signing_secret TEXT, enabled TEXT);\nINSERT INTO webhooks (code, direction, url, method, auth, enabled) VALUES ('ORDERS_HOOK', 'OUT', 'https://api.example.com/orders', 'POST', 'bearer', '1');\n",
    );
    s.write(
        "plan.kdl",
        r#"plan "vault-story" { seed 7; }
sandbox "hooks" {
    port 0
    endpoint "/webhook/orders" method="POST" status=200
}
database "registry" url="sqlite::memory:" { seed-sql "hooks.sql"; }
secret-store "vault" kind="infisical" {
    api-url "${env.VAULT_URL}"
    project "demo-project"
    environment "prod"
    path "/"
    auth "universal-auth" client-id="demo-client" client-secret="${secret.VAULT_CLIENT_SECRET}"
}
step "deliver" {
    call "ORDERS_HOOK" event="ORDER_1" {
        url "${sandbox.hooks.url}/webhook/orders"
        credentials "vault"
    }
    expect status=200
}
step "stored" {
    needs "deliver"
    expect-secrets store="vault" {
        secret "WEBHOOK_OUT_ORDERS_HOOK_KEY" equals="${secret.ORDERS_KEY}"
    }
}
"#,
    );
    let run = s.run_plan(&[
        ("VAULT_URL", &sandbox.url),
        ("VAULT_CLIENT_SECRET", CLIENT_SECRET),
        ("ORDERS_KEY", KEY),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Credentials of ORDERS_HOOK: key from secret store \"vault\""),
        "{}",
        run.stderr
    );
    // The client fell back to v3 and went through injected 503s.
    let recorded = s.run(&[
        "sandbox",
        "list-requests",
        "--name",
        "story",
        "--all",
        "--json",
    ]);
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    let requests: Value = serde_json::from_str(&recorded.stdout).unwrap();
    let requests = requests.as_array().unwrap();
    let paths: Vec<&str> = requests
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert!(paths.iter().any(|p| p.starts_with("/api/v4/")), "{paths:?}");
    assert!(
        paths.iter().filter(|p| p.starts_with("/api/v3/")).count() >= 3,
        "{paths:?}"
    );
    let injected = requests
        .iter()
        .filter(|r| r.to_string().contains("error-rate"))
        .count();
    assert!(injected > 0, "no 503 was injected: {requests:?}");

    // 4. Nowhere: the run's console and files, the sandbox's console, its recording displays.
    let mut pieces: Vec<(String, String)> = vec![
        (
            "the run's console".into(),
            format!("{}\n{}", run.stdout, run.stderr),
        ),
        ("list-requests --json".into(), recorded.stdout.clone()),
    ];
    let table = s.run(&["sandbox", "list-requests", "--name", "story", "--all"]);
    pieces.push(("list-requests".into(), table.stdout));
    for id in requests.iter().map(|r| r["id"].as_str().unwrap()) {
        let one = s.run(&["sandbox", "show", id, "--name", "story"]);
        pieces.push((
            format!("sandbox show {id}"),
            format!("{}{}", one.stdout, one.stderr),
        ));
    }
    for (path, text) in s.all_files() {
        let name = path.display().to_string();
        // Data, not displays: the emulation's own state holds the values it stores, and a
        // sandbox's raw recordings (0600) hold requests as they came; every display of them
        // is checked above.
        let file = path.file_name().unwrap().to_string_lossy();
        if name.contains("infisical-state")
            || name.ends_with(".sql")
            || (file.starts_with("requests-") && file.ends_with(".jsonl"))
        {
            continue;
        }
        pieces.push((name, text));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    pieces.push((
        "the sandbox's console".into(),
        sandbox.console.lock().unwrap().clone(),
    ));
    for (what, text) in &pieces {
        for (secret, name) in [
            (KEY, "the key"),
            (CLIENT_SECRET, "the client secret"),
            (token.as_str(), "a token"),
        ] {
            if let Some(at) = text.find(secret) {
                let from = at.saturating_sub(120);
                panic!(
                    "{name} shows in {what}: …{}…",
                    &text[from..(at + secret.len() + 40).min(text.len())]
                );
            }
        }
    }
}
