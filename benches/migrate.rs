//! `hookplan migrate` (backup, write, read back and verify) as an operator runs it: the
//! release binary against a SQLite registry and the Infisical emulation running as its own
//! `hookplan sandbox start --infisical` process.
//!
//! 1. 10,000 webhooks (two credentials each) migrated and verified: wall time, median of 3
//!    fresh registries and emulations (target ≤ 5 s); `hookplan verify` of the same after;
//! 2. peak memory (VmHWM, read from /proc while it runs) of the `hookplan migrate` process at 100,000
//!    webhooks against 10,000 (target ≤ 2×): the rows and the backup are streamed, the
//!    registry never held.
//!
//! 3. a migration of 10,000 killed (SIGKILL) at half the time a full run takes, then resumed:
//!    the resume's wall time against the full run's (target ≤ 60%).
//!
//! `cargo bench --bench migrate` (or `just bench-migrate`).

use sqlx::{AnyConnection, Connection};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hookplan");
const OWN_TABLE: &str = "CREATE TABLE webhooks (code TEXT PRIMARY KEY, direction TEXT, url TEXT, method TEXT, auth TEXT, user TEXT, key TEXT, password TEXT, signing_secret TEXT, enabled TEXT)";

/// A SQLite registry of `n` webhooks, each with a user and a key.
fn registry(dir: &Path, n: usize) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("registry.db").display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            sqlx::any::install_default_drivers();
            let mut conn = AnyConnection::connect(&url).await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            sqlx::query(OWN_TABLE).execute(&mut *tx).await.unwrap();
            for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
                let values: Vec<String> = chunk
                    .iter()
                    .map(|i| {
                        format!(
                            "('HOOK_{i:06}', 'OUT', 'https://hooks.example.com/{i}', 'POST', 'basic', 'user-{i:06}', 'sk_live_{i:06}_0123456789abcdef', '1')"
                        )
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO webhooks (code, direction, url, method, auth, user, key, enabled) VALUES {}",
                    values.join(", ")
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        });
    std::fs::write(
        dir.join("hookplan.kdl"),
        "database \"registry\" url=\"sqlite://registry.db\"\n",
    )
    .unwrap();
}

/// `hookplan sandbox start --infisical` in its own folder; its URL.
fn emulation(dir: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(["sandbox", "start", "--port", "0", "--infisical", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(at) = line.find("http://") {
            url = Some(
                line[at..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .replace("localhost", "127.0.0.1"),
            );
        }
        if line.contains("Press Ctrl+C") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (child, url.expect("the banner names the URL"))
}

/// Runs hookplan with `args` in `dir` against the emulation at `url`: wall time, peak RSS in
/// KiB, and whether it exited 0.
///
/// The peak is the process's own `VmHWM`, read from /proc while it runs (it only grows): the
/// `ru_maxrss` that `wait4` gives would count the pages of this bench process the child was
/// forked with before it exec'd, and this process holds the registry it just wrote.
fn measured(dir: &Path, url: &str, args: &[&str]) -> (Duration, u64, bool) {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env("INFISICAL_API_URL", url)
        .env("INFISICAL_PROJECT_ID", "demo-project")
        .env("INFISICAL_ENVIRONMENT", "prod")
        .env("INFISICAL_CLIENT_ID", "demo-client")
        .env("INFISICAL_CLIENT_SECRET", "demo-secret")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let Some(hwm) = std::fs::read_to_string(&status_file).ok().and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            peak = peak.max(hwm);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (started.elapsed(), peak, status.success())
}

struct Round {
    migrate: Duration,
    verify: Duration,
    peak_kib: u64,
}

fn round(n: usize, with_verify: bool) -> Round {
    let dir = tempfile::tempdir().unwrap();
    registry(dir.path(), n);
    let vault = tempfile::tempdir().unwrap();
    let (mut sandbox, url) = emulation(vault.path());
    let (migrate, peak_kib, ok) = measured(dir.path(), &url, &["migrate", "--store", "infisical"]);
    assert!(ok, "migrate of {n} failed");
    let verify = if with_verify {
        let (verify, _, ok) = measured(dir.path(), &url, &["verify", "--store", "infisical"]);
        assert!(ok, "verify of {n} failed");
        verify
    } else {
        Duration::ZERO
    };
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    Round {
        migrate,
        verify,
        peak_kib,
    }
}

/// Kills a migration of `n` at `at`, then resumes it: the resume's wall time.
fn resume_round(n: usize, at: Duration) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    registry(dir.path(), n);
    let vault = tempfile::tempdir().unwrap();
    let (mut sandbox, url) = emulation(vault.path());
    let mut first = Command::new(BIN)
        .current_dir(dir.path())
        .args(["migrate", "--store", "infisical"])
        .env("INFISICAL_API_URL", &url)
        .env("INFISICAL_PROJECT_ID", "demo-project")
        .env("INFISICAL_ENVIRONMENT", "prod")
        .env("INFISICAL_CLIENT_ID", "demo-client")
        .env("INFISICAL_CLIENT_SECRET", "demo-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(at);
    let _ = first.kill();
    let _ = first.wait();
    let (resume, _, ok) = measured(dir.path(), &url, &["migrate", "--store", "infisical"]);
    assert!(ok, "the resume of {n} failed");
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    resume
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("migrate: bench");
        return;
    }
    println!(
        "hookplan migrate against `hookplan sandbox start --infisical` (release build, SQLite registry)"
    );
    let rounds: Vec<Round> = (0..3).map(|_| round(10_000, true)).collect();
    let migrate = median(rounds.iter().map(|r| r.migrate).collect());
    let verify = median(rounds.iter().map(|r| r.verify).collect());
    let peak_10k = {
        let mut peaks: Vec<u64> = rounds.iter().map(|r| r.peak_kib).collect();
        peaks.sort();
        peaks[peaks.len() / 2]
    };
    println!(
        "10,000 webhooks (20,000 secrets): migrate + verify {:.2} s (target ≤ 5 s) [runs: {}]; hookplan verify after: {:.2} s",
        migrate.as_secs_f64(),
        rounds
            .iter()
            .map(|r| format!("{:.2}", r.migrate.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", "),
        verify.as_secs_f64()
    );
    let resumes: Vec<Duration> = (0..3).map(|_| resume_round(10_000, migrate / 2)).collect();
    let resume = median(resumes.clone());
    println!(
        "10,000 webhooks killed at {:.2} s (half a full run), resumed in {:.2} s: {:.0}% of the full run's {:.2} s (target ≤ 60%) [runs: {}]",
        (migrate / 2).as_secs_f64(),
        resume.as_secs_f64(),
        100.0 * resume.as_secs_f64() / migrate.as_secs_f64(),
        migrate.as_secs_f64(),
        resumes
            .iter()
            .map(|r| format!("{:.2}", r.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let big = round(100_000, false);
    println!(
        "peak RSS of hookplan migrate: {:.1} MiB at 10,000, {:.1} MiB at 100,000: {:.2}x (target ≤ 2x); 100,000 took {:.1} s",
        peak_10k as f64 / 1024.0,
        big.peak_kib as f64 / 1024.0,
        big.peak_kib as f64 / peak_10k as f64,
        big.migrate.as_secs_f64()
    );
}
