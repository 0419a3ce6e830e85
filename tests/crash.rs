//! The crash harness: `hookplan migrate --clear-database` killed with SIGKILL at a
//! pseudo-random instant, then either resumed by the next `hookplan migrate` or rolled back
//! with `hookplan rollback` on the killed run's backup.
//!
//! Each trial is a fresh SQLite registry of 1,000 webhooks (a user and a key each, unique long
//! values) and a fresh Infisical emulation running as its own process (`hookplan sandbox start
//! --infisical`, never the process killed, its state kept in its own folder). After a resume
//! every one of the 2,000 secrets must be in the store with its original value, put exactly
//! once (version 1 in the emulation's state file), and every row's credentials cleared; after
//! a rollback the `webhooks` table must be the original byte for byte and the store must hold
//! nothing under `/webhooks`.
//!
//! `CRASH_TRIALS` (default 10), `CRASH_SEED` (the kill instants), `CRASH_SPAN_MS` (the range
//! of the kill instants; by default the time one un-killed migration takes, measured first).
//! `just crash-test` runs 100 trials on a release build.

mod support;

use serde_json::Value;
use sqlx::{AnyConnection, Connection};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::cli_sandbox::CliSandbox;
use support::migration::{block_on, infisical_stored, rows};
use support::{Scratch, hookplan};

const WEBHOOKS: usize = 1_000;
const CLIENT_SECRET: &str = "demo-secret";
const DEFAULT_SEED: u64 = 0x5eed_c0de_2026;
const DEFAULT_TRIALS: usize = 10;
/// The longest a single hookplan command may take before the harness calls it hung.
const DEADLINE: Duration = Duration::from_secs(180);

const OWN_TABLE: &str = "CREATE TABLE webhooks (code TEXT PRIMARY KEY, direction TEXT, url TEXT, method TEXT, auth TEXT, user TEXT, key TEXT, password TEXT, signing_secret TEXT, enabled TEXT)";
/// Every column of `webhooks` as SQLite's own literal of it (`quote`): type and bytes.
const DUMP: &str = "SELECT quote(code), quote(direction), quote(url), quote(method), quote(auth), quote(user), quote(key), quote(password), quote(signing_secret), quote(enabled) FROM webhooks ORDER BY code";
const MIGRATE: [&str; 4] = ["migrate", "--store", "infisical", "--clear-database"];

/// splitmix64: a few lines, deterministic, enough to spread kill instants.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}"))
    })
}

/// Webhook `i`'s original user and key: unique, long.
fn originals(i: usize) -> (String, String) {
    let mut mix = SplitMix(i as u64 ^ 0x0dd_ba11);
    (
        format!("crash-user-{i:04}-{:016x}", mix.next()),
        format!(
            "sk_live_crash_{i:04}_{:016x}{:016x}{:016x}",
            mix.next(),
            mix.next(),
            mix.next()
        ),
    )
}

fn code(i: usize) -> String {
    format!("HOOK_{i:04}")
}

/// The registry's file, written once and copied into every trial.
fn template_registry(dir: &Path) -> PathBuf {
    let path = dir.join("registry.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    block_on(async {
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query(OWN_TABLE).execute(&mut *tx).await.unwrap();
        for chunk in (0..WEBHOOKS).collect::<Vec<_>>().chunks(250) {
            let values: Vec<String> = chunk
                .iter()
                .map(|&i| {
                    let (user, key) = originals(i);
                    format!(
                        "('{}', 'OUT', 'https://hooks.example.com/{i}', 'POST', 'basic', '{user}', '{key}', '1')",
                        code(i)
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
        conn.close().await.unwrap();
    });
    path
}

/// Rows of a query on a trial's registry, every column as text.
fn query(dir: &Path, sql: &str) -> Vec<Vec<Option<String>>> {
    rows(
        &format!("sqlite://{}", dir.join("registry.db").display()),
        sql,
    )
}

/// Each row's user and key, by code.
fn credentials(dir: &Path) -> BTreeMap<String, (Option<String>, Option<String>)> {
    query(dir, "SELECT code, user, key FROM webhooks")
        .into_iter()
        .map(|mut r| {
            let key = r.pop().unwrap();
            let user = r.pop().unwrap();
            (r.pop().unwrap().unwrap(), (user, key))
        })
        .collect()
}

/// What the store holds under `/webhooks`, through hookplan's own client: name → value.
fn store_state(url: &str) -> BTreeMap<String, String> {
    infisical_stored(&url.replace("localhost", "127.0.0.1"), CLIENT_SECRET)
}

/// Each key's versions written into the emulation's state (`put` changes), in order.
fn puts(dir: &Path) -> BTreeMap<String, Vec<u64>> {
    let text = std::fs::read_to_string(dir.join(".hookplan/sandbox/vault/infisical-state.jsonl"))
        .unwrap_or_default();
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let json: Value = serde_json::from_str(line).unwrap();
        for change in json["changes"].as_array().unwrap() {
            if change["change"] == "put" {
                out.entry(change["key"].as_str().unwrap().to_string())
                    .or_default()
                    .push(change["version"].as_u64().unwrap());
            }
        }
    }
    out
}

/// The journal's stage of each webhook (`hookplan_journal_webhooks`), if there is one.
fn journal_stages(dir: &Path) -> BTreeMap<String, String> {
    let exists = query(
        dir,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'hookplan_journal_webhooks'",
    );
    if exists.is_empty() {
        return BTreeMap::new();
    }
    query(dir, "SELECT code, stage FROM hookplan_journal_webhooks")
        .into_iter()
        .map(|mut r| {
            let stage = r.pop().unwrap().unwrap_or_default();
            (r.pop().unwrap().unwrap_or_default(), stage)
        })
        .collect()
}

/// How many webhooks the journal holds at each stage: `written 350, writing 150`.
fn stage_counts(stages: &BTreeMap<String, String>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for stage in stages.values() {
        *counts.entry(stage.as_str()).or_default() += 1;
    }
    if counts.is_empty() {
        return "no journaled webhook".to_string();
    }
    counts
        .iter()
        .map(|(stage, n)| format!("{stage} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join(".hookplan/backups"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy();
                    name.starts_with("backup_OUT_") && name.ends_with(".json")
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// A hookplan command of a trial, its output kept in `NAME.out` / `NAME.err`.
struct Command<'a> {
    dir: &'a Path,
    env: &'a [(&'static str, String)],
}

impl Command<'_> {
    fn spawn(&self, name: &str, args: &[&str]) -> Child {
        let out = File::create(self.dir.join(format!("{name}.out"))).unwrap();
        let err = File::create(self.dir.join(format!("{name}.err"))).unwrap();
        let mut command = hookplan();
        command
            .current_dir(self.dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in self.env {
            command.env(k, v);
        }
        command.spawn().unwrap()
    }

    /// Runs to the end (killed and reported as hung after [`DEADLINE`]).
    fn run(&self, name: &str, args: &[&str]) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let mut child = self.spawn(name, args);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            if started.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`hookplan {}` hung for {} s\n{}",
                    args.join(" "),
                    DEADLINE.as_secs(),
                    self.output(name)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The lines of a command's console that name one of `codes`, and those that name no
    /// webhook at all (headers, summaries).
    fn mentioning(&self, name: &str, codes: &[String]) -> String {
        let mut out = Vec::new();
        for ext in ["out", "err"] {
            let text =
                std::fs::read_to_string(self.dir.join(format!("{name}.{ext}"))).unwrap_or_default();
            out.extend(
                text.lines()
                    .filter(|l| {
                        !l.starts_with("[HOOK_") || codes.iter().any(|c| l.contains(c.as_str()))
                    })
                    .map(|l| format!("{name}.{ext}: {l}")),
            );
        }
        out.join("\n")
    }

    /// A command's console, its last 40 lines of each stream.
    fn output(&self, name: &str) -> String {
        let tail = |ext: &str| {
            let text =
                std::fs::read_to_string(self.dir.join(format!("{name}.{ext}"))).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        format!(
            "--- {name} stdout\n{}\n--- {name} stderr\n{}",
            tail("out"),
            tail("err")
        )
    }
}

/// A trial's folder: the registry copied in, the project config, the emulation started.
struct Trial {
    scratch: Scratch,
    vault: CliSandbox,
    env: Vec<(&'static str, String)>,
}

impl Trial {
    fn new(template: &Path) -> Self {
        let scratch = Scratch::new();
        std::fs::copy(template, scratch.path().join("registry.db")).unwrap();
        scratch.write(
            "hookplan.kdl",
            "database \"registry\" url=\"sqlite://registry.db\"\n",
        );
        let vault = CliSandbox::start(&scratch, "vault", &["--infisical", "--infisical-api", "v4"]);
        let env = vault.infisical_env(CLIENT_SECRET);
        Self {
            scratch,
            vault,
            env,
        }
    }

    /// Keeps the trial's folder (the registry, the backup, the consoles, the emulation's
    /// state) for a failure to be looked at; its path.
    fn keep(self) -> PathBuf {
        let Trial { scratch, vault, .. } = self;
        drop(vault);
        scratch.dir.keep()
    }

    fn dir(&self) -> &Path {
        self.scratch.path()
    }

    fn command(&self) -> Command<'_> {
        Command {
            dir: self.scratch.path(),
            env: &self.env,
        }
    }
}

/// What a resumed trial found.
#[derive(Default)]
struct Resumed {
    /// Credentials neither in their row nor in the store with their original value.
    lost: Vec<String>,
    /// Names put more than once (or at another version than 1): name and versions.
    twice: Vec<(String, Vec<u64>)>,
    /// Secrets not in the store with their original value (lost or not).
    not_in_store: usize,
    /// Credentials still in their row.
    not_cleared: usize,
    /// Names in the store that no webhook has.
    strangers: Vec<String>,
}

fn check_resumed(trial: &Trial) -> Resumed {
    let rows = credentials(trial.dir());
    let store = store_state(&trial.vault.url);
    let puts = puts(trial.dir());
    let mut found = Resumed::default();
    let mut expected = std::collections::BTreeSet::new();
    for i in 0..WEBHOOKS {
        let (user, key) = originals(i);
        let (row_user, row_key) = rows.get(&code(i)).cloned().unwrap_or((None, None));
        for (field, original, in_row) in [("USER", user, row_user), ("KEY", key, row_key)] {
            let name = format!("WEBHOOK_OUT_{}_{field}", code(i));
            let stored = store.get(&name) == Some(&original);
            if in_row.is_some() {
                found.not_cleared += 1;
            }
            if !stored {
                found.not_in_store += 1;
                if in_row.as_deref() != Some(original.as_str()) {
                    found.lost.push(name.clone());
                }
            }
            expected.insert(name);
        }
    }
    found.strangers = store
        .keys()
        .filter(|k| !expected.contains(*k))
        .cloned()
        .collect();
    found.twice = puts
        .into_iter()
        .filter(|(_, versions)| versions.as_slice() != [1])
        .collect();
    found
}

/// What a rolled-back trial found.
#[derive(Default)]
struct RolledBack {
    /// Rows of `webhooks` not as they were.
    rows_changed: Vec<String>,
    /// Names the store still holds under `/webhooks`.
    left_in_store: Vec<String>,
    /// The backup rolled back, if the killed run had written one.
    backup: Option<String>,
}

fn check_rolled_back(trial: &Trial, original: &[Vec<Option<String>>]) -> RolledBack {
    let dump = query(trial.dir(), DUMP);
    let mut rows_changed: Vec<String> = original
        .iter()
        .zip(dump.iter())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("{a:?} is now {b:?}"))
        .collect();
    if dump.len() != original.len() {
        rows_changed.push(format!(
            "{} row(s) instead of {}",
            dump.len(),
            original.len()
        ));
    }
    RolledBack {
        rows_changed,
        left_in_store: store_state(&trial.vault.url).into_keys().collect(),
        backup: None,
    }
}

fn first<T: std::fmt::Debug>(items: &[T]) -> String {
    let shown: Vec<String> = items.iter().take(5).map(|i| format!("{i:?}")).collect();
    format!(
        "{}{}",
        shown.join(", "),
        if items.len() > 5 { ", …" } else { "" }
    )
}

#[test]
fn a_migration_killed_at_any_instant_loses_nothing_and_writes_nothing_twice() {
    let trials = env_number("CRASH_TRIALS").map_or(DEFAULT_TRIALS, |n| n as usize);
    let seed = env_number("CRASH_SEED").unwrap_or(DEFAULT_SEED);
    let template_dir = tempfile::tempdir().unwrap();
    let template = template_registry(template_dir.path());
    let original = query(template_dir.path(), DUMP);
    assert_eq!(original.len(), WEBHOOKS);

    // The kill instants' range: one un-killed migration, unless given.
    let span_ms = match env_number("CRASH_SPAN_MS") {
        Some(ms) => ms.max(1),
        None => {
            let trial = Trial::new(&template);
            let command = trial.command();
            let (status, took) = command.run("calibrate", &MIGRATE);
            assert!(status.success(), "{}", command.output("calibrate"));
            (took.as_millis() as u64).max(1)
        }
    };
    eprintln!(
        "crash harness: {trials} trial(s), {WEBHOOKS} webhooks, seed {seed}, kill instants in 0..{span_ms} ms\n\
         reproduce the kill instants: CRASH_SEED={seed} CRASH_SPAN_MS={span_ms} CRASH_TRIALS={trials} cargo test{} --test crash -- --nocapture",
        if cfg!(debug_assertions) {
            ""
        } else {
            " --release"
        }
    );

    let mut rng = SplitMix(seed);
    let (mut lost, mut twice) = (0usize, 0usize);
    let (mut rollbacks, mut exact) = (0usize, 0usize);
    let mut failures: Vec<String> = Vec::new();
    for n in 0..trials {
        let at = Duration::from_millis(rng.below(span_ms));
        let trial = Trial::new(&template);
        let command = trial.command();
        let mut killed = command.spawn("killed", &MIGRATE);
        std::thread::sleep(at);
        let ended_first = killed.try_wait().unwrap();
        killed.kill().unwrap();
        let status = killed.wait().unwrap();
        let how = match ended_first {
            Some(s) => format!("ended on its own first ({s})"),
            None => format!("killed ({status})"),
        };
        let killed_output = command.output("killed");
        let at_kill = journal_stages(trial.dir());

        if n % 2 == 0 {
            let mut runs = Vec::new();
            let mut resumed = false;
            for r in 1..=3 {
                let name = format!("resume{r}");
                let (status, _) = command.run(&name, &MIGRATE);
                runs.push(format!("{}\n(exit: {status})", command.output(&name)));
                if status.success() {
                    resumed = true;
                    break;
                }
            }
            let found = check_resumed(&trial);
            // The webhooks named in what was lost or doubled, the first few.
            let mut named: Vec<String> = found
                .lost
                .iter()
                .chain(found.twice.iter().map(|(n, _)| n))
                .filter_map(|n| n.strip_prefix("WEBHOOK_OUT_"))
                .filter_map(|n| n.rsplit_once('_').map(|(c, _)| c.to_string()))
                .collect();
            named.dedup();
            named.truncate(3);
            lost += found.lost.len();
            twice += found.twice.len();
            eprintln!(
                "trial {n}: killed at {} ms, resumed: lost {}, written twice {}",
                at.as_millis(),
                found.lost.len(),
                found.twice.len()
            );
            let bad = !resumed
                || !found.lost.is_empty()
                || !found.twice.is_empty()
                || found.not_in_store > 0
                || found.not_cleared > 0
                || !found.strangers.is_empty();
            if bad {
                let stages_of: Vec<String> = named
                    .iter()
                    .map(|c| {
                        format!(
                            "{c}: {}",
                            at_kill.get(c).map_or("not journaled", |s| s.as_str())
                        )
                    })
                    .collect();
                let consoles: Vec<String> = std::iter::once("killed".to_string())
                    .chain((1..=runs.len()).map(|r| format!("resume{r}")))
                    .map(|name| command.mentioning(&name, &named))
                    .collect();
                let kept = trial.keep();
                failures.push(format!(
                    "trial {n}: killed at {} ms ({how}), then resumed{}: lost {} [{}], written twice {} [{}], \
                     not in the store with the original value {}, rows not cleared {}, unknown names in the store {} [{}]\n\
                     the journal at the kill: {}; of those webhooks: {}\n\
                     the trial's folder is kept: {}\n\
                     --- what the consoles say of them\n{}\n\
                     --- the killed run\n{killed_output}\n--- the resuming runs\n{}",
                    at.as_millis(),
                    if resumed { "" } else { " (no run exited 0 in 3)" },
                    found.lost.len(),
                    first(&found.lost),
                    found.twice.len(),
                    first(&found.twice),
                    found.not_in_store,
                    found.not_cleared,
                    found.strangers.len(),
                    first(&found.strangers),
                    stage_counts(&at_kill),
                    stages_of.join(", "),
                    kept.display(),
                    consoles.join("\n"),
                    runs.join("\n")
                ));
            }
        } else {
            rollbacks += 1;
            let found = backups(trial.dir());
            let mut rollback_output = String::new();
            let mut rolled = true;
            let backup = found.first().map(|b| {
                let file = b.file_name().unwrap().to_string_lossy().into_owned();
                let (status, _) = command.run("rollback", &["rollback", b.to_str().unwrap()]);
                rollback_output = format!("{}\n(exit: {status})", command.output("rollback"));
                rolled = status.success();
                file
            });
            let mut checked = check_rolled_back(&trial, &original);
            checked.backup = backup;
            let ok = rolled
                && found.len() <= 1
                && checked.rows_changed.is_empty()
                && checked.left_in_store.is_empty();
            if ok {
                exact += 1;
            }
            eprintln!(
                "trial {n}: killed at {} ms, rolled back {}: {} row(s) changed, {} name(s) left in the store",
                at.as_millis(),
                checked
                    .backup
                    .as_deref()
                    .map_or("(no backup yet, nothing to roll back)".to_string(), |b| b
                        .to_string()),
                checked.rows_changed.len(),
                checked.left_in_store.len()
            );
            if !ok {
                let kept = trial.keep();
                failures.push(format!(
                    "trial {n}: killed at {} ms ({how}), then rolled back from {:?} ({} backup(s) found){}: \
                     rows changed {} [{}], names left in the store {} [{}]\n\
                     the journal at the kill: {}; the trial's folder is kept: {}\n--- the killed run\n{killed_output}\n--- the rollback\n{rollback_output}",
                    at.as_millis(),
                    checked.backup,
                    found.len(),
                    if rolled { "" } else { ", the rollback failed" },
                    checked.rows_changed.len(),
                    first(&checked.rows_changed),
                    checked.left_in_store.len(),
                    first(&checked.left_in_store),
                    stage_counts(&at_kill),
                    kept.display(),
                ));
            }
        }
    }
    eprintln!(
        "crash harness: {trials} trial(s) (seed {seed}): lost {lost}, written twice {twice}, rollbacks restored exactly {exact}/{rollbacks}"
    );
    assert!(
        failures.is_empty() && lost == 0 && twice == 0 && exact == rollbacks,
        "{} trial(s) failed (seed {seed}, CRASH_SPAN_MS={span_ms}): lost {lost}, written twice {twice}, \
         rollbacks restored exactly {exact}/{rollbacks}\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
