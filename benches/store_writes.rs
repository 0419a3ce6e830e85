//! Secrets written through the Infisical client into the sandbox's Infisical emulation:
//!
//! 1. 10,000 secrets with batching, real time (target ≤ 3 s), median of 3 fresh sandboxes;
//! 2. the same at time scale 0 with ~10% of the requests answered 503 or 429 (`Retry-After:
//!    1`) and half the lost answers struck after the write was applied: every name must be
//!    written exactly once (version 1) and none lost;
//! 3. peak memory of the client's process at 10,000 secrets against 1,000 (target ≤ 2×): each
//!    size in a child process of its own against an emulation in another (the
//!    `hookplan sandbox start --infisical` binary), so the emulation's state is not counted.
//!
//! `cargo bench --bench store_writes` (or `just bench-store`).

#[path = "support/heap.rs"]
mod heap;

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

use hookplan::clock::Clock;
use hookplan::sandbox::infisical::InfisicalConfig as Emulation;
use hookplan::sandbox::{
    EndpointConfig, Every, ResponseConfig, Sandbox, SandboxConfig, SandboxHandle,
};
use hookplan::store::infisical::{ApiVersion, InfisicalConfig, InfisicalStore};
use hookplan::store::{NewSecret, SecretStore, SecretValue};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const N: usize = 10_000;
const FOLDER: &str = "/webhooks";

fn secrets(n: usize) -> Vec<NewSecret> {
    (0..n)
        .map(|i| {
            NewSecret::new(
                format!("WEBHOOK_OUT_HOOK_{i:05}_KEY"),
                format!("sk_live_{i:05}_0123456789abcdef"),
            )
        })
        .collect()
}

fn client(url: String, scale: f64) -> InfisicalStore {
    InfisicalStore::new(InfisicalConfig {
        name: "bench".into(),
        api_url: url,
        project: "demo-project".into(),
        environment: "prod".into(),
        client_id: "demo-client".into(),
        client_secret: SecretValue::new("demo-secret"),
        api_version: ApiVersion::Auto,
        ca_bundle: None,
        retry: InfisicalStore::default_retry(),
        clock: Clock::new(scale),
        seed: 10,
        attempt_timeout: Duration::from_secs(30),
        on_secret: None,
    })
    .expect("the client is set up")
}

fn emulation(sandbox: SandboxConfig, scale: f64) -> (SandboxHandle, tempfile::TempDir) {
    let state = tempfile::tempdir().unwrap();
    let handle =
        SandboxHandle::spawn(Sandbox::new(sandbox, state.path()).with_clock(Clock::new(scale)))
            .expect("the sandbox starts");
    (handle, state)
}

fn plain() -> SandboxConfig {
    SandboxConfig {
        name: "vault".into(),
        port: 0,
        infisical: Some(Emulation::default()),
        ..SandboxConfig::default()
    }
}

/// 7% of every request answered 503 (sandbox-wide) and every 20th batch write 429 with
/// `Retry-After: 1` (about 10% in all); half the lost write answers strike after the write.
fn faulty() -> SandboxConfig {
    let mut batch = EndpointConfig::new("/api/v4/secrets/batch");
    batch.method = Some("PATCH".into());
    batch.every = Some(Every {
        n: 20,
        response: ResponseConfig {
            status: Some(429),
            headers: vec![("Retry-After".into(), "1".into())],
            ..ResponseConfig::default()
        },
    });
    SandboxConfig {
        name: "vault".into(),
        port: 0,
        seed: 10,
        error_rate: 0.07,
        error_status: 503,
        endpoints: vec![batch],
        infisical: Some(Emulation {
            faults_after_write: 0.5,
            ..Emulation::default()
        }),
        ..SandboxConfig::default()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(args[i + 1].parse().unwrap(), &args[i + 2]);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The sandboxes run on this runtime.
    let _entered = runtime.enter();

    // 1. Time.
    let mut times = Vec::new();
    for _ in 0..3 {
        let (handle, _state) = emulation(plain(), 1.0);
        let store = client(handle.url(), 1.0);
        let started = Instant::now();
        let written = runtime
            .block_on(store.set_many(FOLDER, secrets(N)))
            .unwrap();
        times.push(started.elapsed());
        assert_eq!(written.len(), N);
    }
    times.sort();
    println!(
        "{N} secrets, batches of 100, real time: median {:.2} s (runs {}) (target ≤ 3 s)",
        times[1].as_secs_f64(),
        times
            .iter()
            .map(|t| format!("{:.2}", t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // 2. Exactly once through faults.
    let (handle, _state) = emulation(faulty(), 0.0);
    let store = client(handle.url(), 0.0);
    let started = Instant::now();
    runtime
        .block_on(store.set_many(FOLDER, secrets(N)))
        .unwrap();
    let took = started.elapsed();
    let listed = runtime.block_on(store.list(FOLDER)).unwrap();
    let wanted = secrets(N);
    let versions_one = listed.iter().filter(|s| s.version == 1).count();
    let equal = listed
        .iter()
        .zip(&wanted)
        .filter(|(s, w)| s.name == w.name && s.value == w.value)
        .count();
    let recordings = handle.recordings().unwrap();
    let answers: Vec<String> = recordings
        .iter()
        .map(|r| serde_json::to_string(&r.answered_by).unwrap())
        .collect();
    let after_write = answers
        .iter()
        .filter(|a| a.contains("\"fault_after_write\":true"))
        .count();
    let injected = answers
        .iter()
        .filter(|a| !a.contains("\"rule\":\"infisical\""))
        .count();
    println!(
        "with faults, time scale 0: {} requests, {} faults injected before the write, {} after it; {:.2} s real; virtual waits {:.0} s",
        recordings.len(),
        injected,
        after_write,
        took.as_secs_f64(),
        store.waits().iter().map(Duration::as_secs_f64).sum::<f64>()
    );
    println!(
        "  names in the store: {} of {N}; version 1: {versions_one}; values as sent: {equal}",
        listed.len()
    );
    assert_eq!(
        (listed.len(), versions_one, equal),
        (N, N, N),
        "exactly once, none lost"
    );

    // 3. Memory, each size in a process of its own.
    let small = measure(1_000);
    let large = measure(N);
    println!(
        "client process, peak heap: {} KB at 1,000, {} KB at {N} ({:.2}×); peak RSS: {} KB, {} KB ({:.2}×) (target ≤ 2×)",
        small.0 / 1024,
        large.0 / 1024,
        large.0 as f64 / small.0 as f64,
        small.1,
        large.1,
        large.1 as f64 / small.1 as f64
    );
}

/// (peak heap bytes, peak RSS KB) of a child writing `n` secrets to a fresh emulation process.
fn measure(n: usize) -> (usize, u64) {
    let state = tempfile::tempdir().unwrap();
    let mut sandbox = Command::new(env!("CARGO_BIN_EXE_hookplan"))
        .args([
            "sandbox",
            "start",
            "--infisical",
            "--port",
            "0",
            "--name",
            "bench",
        ])
        .arg("--state-dir")
        .arg(state.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hookplan sandbox starts");
    let mut lines = BufReader::new(sandbox.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("a banner").unwrap();
        if let Some(at) = line.find("http://") {
            break line[at..].split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep reading its console so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--child", &n.to_string(), &url])
        .output()
        .unwrap();
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> u64 {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .unwrap_or_else(|| {
                panic!(
                    "{name} in {text:?} {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .parse()
            .unwrap()
    };
    (field("heap=") as usize, field("rss_kb="))
}

/// In the child: write `n` secrets and print the heap's high-water mark and VmHWM.
fn child(n: usize, url: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = client(url.to_string(), 1.0);
    let before = heap::start();
    let written = runtime
        .block_on(store.set_many(FOLDER, secrets(n)))
        .unwrap();
    assert_eq!(written.len(), n);
    drop(written);
    let peak = heap::peak_since(before);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("0");
    println!("heap={peak} rss_kb={rss}");
}
