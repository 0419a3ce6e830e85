//! The registry's migration lock, for real: two migrations started at the same moment as
//! separate processes against one PostgreSQL registry — exactly one runs, the other is
//! refused with exit 3 naming the holder; a holder killed with SIGKILL is taken over at once
//! on its own host, and waited out from another one (`HOOKPLAN_HOST_ID` makes a checkout act
//! as another machine), and the killed run is resumed on its own backup. Each checkout writes
//! into its own Infisical emulation (its state kept in the checkout), whose batch writes
//! answer late so that the first is still at work when the second starts.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use support::postgres::{Postgres, run_sql_blocking};
use support::{Run, Scratch, hookplan};

const OWN_TABLE: &str = "CREATE TABLE webhooks (code TEXT PRIMARY KEY, direction TEXT, url TEXT, method TEXT, auth TEXT, \"user\" TEXT, key TEXT, password TEXT, signing_secret TEXT, enabled TEXT)";

fn registry(pg: &Postgres, n: usize) -> String {
    let url = pg.create_db_blocking("locks");
    let mut insert =
        String::from("INSERT INTO webhooks (code, direction, url, method, \"user\", key) VALUES ");
    let rows: Vec<String> = (0..n)
        .map(|i| format!("('HOOK_{i:04}', 'OUT', 'https://h.example.com/{i}', 'POST', 'user-{i}', 'sk_live_lock_{i:04}')"))
        .collect();
    insert.push_str(&rows.join(", "));
    run_sql_blocking(&url, &[OWN_TABLE, &insert]);
    url
}

/// A plan migrating the registry at `db` into its own emulation, each batch answered
/// `delay` late, one batch at a time.
fn plan(db: &str, delay: &str) -> String {
    format!(
        r#"plan "locked" {{ seed 3; }}
sandbox "vault" {{
    port 0
    endpoint "/api/v4/secrets/batch" method="PATCH" delay="{delay}"
    infisical {{
        project "demo-project"
        environment "prod"
        identity client-id="demo-client" client-secret="${{secret.VAULT_SECRET:-demo-secret}}"
        api "v4"
        state "vault"
    }}
}}
database "registry" url="{db}"
secret-store "vault" kind="infisical" {{
    api-url "${{sandbox.vault.url}}"
    project "demo-project"
    environment "prod"
    path "/webhooks"
    auth "universal-auth" client-id="demo-client" client-secret="${{secret.VAULT_SECRET:-demo-secret}}"
}}
step "migrate" {{ migrate to="vault" concurrency=1; }}
"#
    )
}

fn spawn(s: &Scratch, host: Option<&str>) -> Child {
    let mut command = hookplan();
    command
        .current_dir(s.path())
        .args(["run", "plan.kdl", "--no-progress", "--report-dir", "out"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(host) = host {
        command.env("HOOKPLAN_HOST_ID", host);
    }
    command.spawn().unwrap()
}

/// Reads a run's console until a line contains `wanted`; the console so far.
fn until(child: &mut Child, wanted: &str) -> (String, BufReader<std::process::ChildStderr>) {
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut console = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("the run ended before `{wanted}`:\n{console}");
        }
        console.push_str(&line);
        if line.contains(wanted) {
            return (console, reader);
        }
    }
}

fn finish(child: Child) -> Run {
    let output = child.wait_with_output().unwrap();
    output.into()
}

fn project(db: &str, delay: &str) -> Scratch {
    let s = Scratch::new();
    s.write("plan.kdl", &plan(db, delay));
    s
}

#[test]
fn two_migrations_at_once_one_runs_and_the_other_is_refused_with_exit_3() {
    let pg = Postgres::start();
    let db = registry(&pg, 300);
    let (a, b) = (project(&db, "150ms"), project(&db, "150ms"));
    let first = spawn(&a, None);
    let second = spawn(&b, None);
    let (first, second) = (finish(first), finish(second));
    let mut codes = [first.code, second.code];
    codes.sort();
    assert_eq!(
        codes,
        [0, 3],
        "exactly one runs:\n--- first\n{}\n--- second\n{}",
        first.stderr,
        second.stderr
    );
    let refused = if first.code == 3 { &first } else { &second };
    assert!(
        refused
            .stderr
            .contains("Refused: another migration holds the registry's lock: process "),
        "{}",
        refused.stderr
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            if first.code == 3 { &a } else { &b }
                .path()
                .join("out/report.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(report["steps"][0]["details"]["refused"], true);
    assert_eq!(
        report["steps"][0]["details"]["backup"],
        serde_json::Value::Null
    );
    // The winner gave the lock back: a third one runs (everything is in its own, empty
    // emulation, so it migrates everything again).
    let third = finish(spawn(&project(&db, "1ms"), None));
    assert_eq!(third.code, 0, "{}", third.stderr);
}

#[test]
fn a_killed_holder_is_taken_over_at_once_on_its_host_and_waited_out_from_another() {
    let pg = Postgres::start();
    let db = registry(&pg, 300);
    let a = project(&db, "200ms");
    let mut holder = spawn(&a, None);
    let pid = holder.id();
    let (_, _reader) = until(&mut holder, "Migrating webhooks...");

    // Another machine, while the holder works: refused, naming it.
    let elsewhere = finish(spawn(&project(&db, "1ms"), Some("other-machine")));
    assert_eq!(elsewhere.code, 3, "{}", elsewhere.stderr);
    assert!(
        elsewhere.stderr.contains(&format!(
            "another migration holds the registry's lock: process {pid} on "
        )),
        "{}",
        elsewhere.stderr
    );

    // SIGKILL: no release. Another machine cannot tell the process is gone: it waits for the
    // lease to expire.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let elsewhere = finish(spawn(&project(&db, "1ms"), Some("other-machine")));
    assert_eq!(elsewhere.code, 3, "{}", elsewhere.stderr);
    assert!(
        elsewhere.stderr.contains("more second(s)"),
        "{}",
        elsewhere.stderr
    );

    // The same host sees the process is gone and takes over at once. A checkout without the
    // killed run's backup cannot resume it: refused, saying where the backup is.
    let other = finish(spawn(&project(&db, "1ms"), None));
    assert_eq!(other.code, 3, "{}", other.stderr);
    assert!(
        other.stderr.contains(&format!(
            "Took over the registry's lock from process {pid} on this host, which is gone"
        )),
        "{}",
        other.stderr
    );
    assert!(
        other
            .stderr
            .contains("cannot be resumed here: its backup backup_OUT_"),
        "{}",
        other.stderr
    );
    // The holder's own checkout resumes it on its backup, into the emulation's kept state.
    a.write("plan.kdl", &plan(&db, "1ms"));
    let here = finish(spawn(&a, None));
    assert_eq!(here.code, 0, "{}", here.stderr);
    for wanted in [
        "Resuming the migration started ",
        "[migrate] Migrated: 300",
        "All migrations verified successfully!",
    ] {
        assert!(here.stderr.contains(wanted), "{wanted}\n{}", here.stderr);
    }
}

#[test]
fn a_holder_that_loses_its_lease_stops_before_its_next_write_with_exit_3() {
    let pg = Postgres::start();
    let db = registry(&pg, 300);
    let a = project(&db, "200ms");
    let mut holder = spawn(&a, None);
    let (mut console, mut reader) = until(&mut holder, "Migrating webhooks...");
    // Someone else takes the lease (as one would once it expired while this holder stalled).
    run_sql_blocking(
        &db,
        &["UPDATE hookplan_leases SET holder = 'another-holder'"],
    );
    std::io::Read::read_to_string(&mut reader, &mut console).unwrap();
    let status = holder.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{console}");
    assert!(
        console.contains("refused: this migration lost the registry's lock"),
        "{console}"
    );
    let written = console.matches("Migrated successfully").count();
    assert!(written < 300, "it stopped midway: {written}\n{console}");
    assert!(!console.contains("Verifying migration"), "{console}");
}

#[test]
fn a_rollback_that_loses_its_lease_stops_before_its_next_chunk_with_exit_3() {
    let pg = Postgres::start();
    // Three chunks of the backup (500 webhooks each), each chunk's deletions answered late.
    let db = registry(&pg, 1200);
    let s = project(&db, "0ms");
    let migrated = s.run(&["run", "plan.kdl", "--no-progress", "--report-dir", "out"]);
    assert_eq!(migrated.code, 0, "{}", migrated.stderr);
    let backup = std::fs::read_dir(s.path().join(".hookplan/backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .next()
        .unwrap();
    let rollback = plan(&db, "0ms")
        .replace(
            "endpoint \"/api/v4/secrets/batch\" method=\"PATCH\" delay=\"0ms\"",
            "endpoint \"/api/v4/secrets/batch\" method=\"DELETE\" delay=\"300ms\"",
        )
        .replace(
            "step \"migrate\" { migrate to=\"vault\" concurrency=1; }",
            &format!("step \"rollback\" {{ rollback backup=\"{backup}\" to=\"vault\"; }}"),
        );
    assert!(rollback.contains("rollback backup="), "{rollback}");
    s.write("plan.kdl", &rollback);
    let mut holder = spawn(&s, None);
    let (mut console, mut reader) = until(&mut holder, "Rolling back from");
    run_sql_blocking(
        &db,
        &["UPDATE hookplan_leases SET holder = 'another-holder'"],
    );
    std::io::Read::read_to_string(&mut reader, &mut console).unwrap();
    let status = holder.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{console}");
    assert!(
        console.contains("the registry's lock was lost after")
            && console.contains("nothing more is written"),
        "{console}"
    );
    let restored = console.matches("] Restored").count();
    assert!(restored < 1200, "it stopped midway: {restored}\n{console}");
}
