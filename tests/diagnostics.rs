//! The exact output of `hookplan check` on broken plans: one plan per kind of fault in
//! `tests/plans/broken/`, each pinned with its exit code by an insta snapshot.
//!
//! The binary runs as a user would run it: `NO_COLOR=1`, stderr not a terminal (so the width
//! is fixed at 100 columns), from the plan's folder so locations read `file.kdl:line:col`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn broken_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans/broken")
}

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `hookplan check FILE` in `dir`.
fn check_in(dir: &Path, file: &str) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_hookplan"))
        .arg("check")
        .arg(file)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .output()
        .expect("the hookplan binary runs");
    Output {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Checks what every diagnostic must have, then returns the text to snapshot.
fn checked(file: &str, out: &Output) -> String {
    assert_eq!(
        out.code,
        Some(2),
        "{file}: exit code 2 expected; stderr:\n{}",
        out.stderr
    );
    assert!(
        out.stdout.is_empty(),
        "{file}: nothing on stdout for an invalid plan, got:\n{}",
        out.stdout
    );
    assert!(
        !out.stderr.contains("panicked"),
        "{file}: panicked:\n{}",
        out.stderr
    );
    let mut diagnostics = 0;
    let mut helps = 0;
    for line in out.stderr.lines() {
        let trimmed = line.trim_start();
        let summary = line.starts_with(&format!("error: {file} has "));
        if trimmed.starts_with("× ")
            || trimmed.starts_with("⚠ ")
            || (line.starts_with("error: ") && !summary)
        {
            diagnostics += 1;
        }
        if trimmed.starts_with("help: ") {
            helps += 1;
        }
        if let Some(at) = line.find("╭─[") {
            let location =
                &line[at + "╭─[".len()..line.rfind(']').expect("a location ends with ]")];
            let mut parts = location.rsplitn(3, ':');
            let column = parts.next().unwrap();
            let row = parts.next().unwrap_or("");
            let name = parts.next().unwrap_or("");
            assert!(
                name == file && row.parse::<usize>().is_ok() && column.parse::<usize>().is_ok(),
                "{file}: a location must read `{file}:line:col`, found `{location}`"
            );
        }
    }
    assert!(diagnostics > 0, "{file}: no diagnostic:\n{}", out.stderr);
    assert_eq!(
        diagnostics, helps,
        "{file}: every diagnostic needs a help line:\n{}",
        out.stderr
    );
    format!("exit code: {}\n{}", out.code.unwrap(), out.stderr)
}

fn snapshot(name: &str) {
    let file = format!("{name}.kdl");
    let out = check_in(&broken_dir(), &file);
    insta::assert_snapshot!(name, checked(&file, &out));
}

macro_rules! broken {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                snapshot($name);
            }
        )*

        /// Every plan in the folder has a test above, and every test its plan.
        #[test]
        fn every_broken_plan_has_a_snapshot_test() {
            let mut tested: Vec<&str> = vec![$($name),*];
            tested.sort_unstable();
            let mut found: Vec<String> = std::fs::read_dir(broken_dir())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
                .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
                .collect();
            found.sort_unstable();
            assert_eq!(found, tested);
        }
    };
}

broken! {
    syntax_error => "syntax-error",
    kdl_v1 => "kdl-v1",
    unknown_node => "unknown-node",
    unknown_property => "unknown-property",
    wrong_type => "wrong-type",
    out_of_range => "out-of-range",
    duplicate_step => "duplicate-step",
    needs_unknown => "needs-unknown",
    cycle_three => "cycle-three",
    cycle_self => "cycle-self",
    bad_duration => "bad-duration",
    bad_url => "bad-url",
    bad_template_syntax => "bad-template-syntax",
    unknown_namespace => "unknown-namespace",
    unknown_var => "unknown-var",
    steps_not_needed => "steps-not-needed",
    unknown_capture => "unknown-capture",
    no_plan => "no-plan",
    no_step => "no-step",
    two_actions => "two-actions",
    unknown_retry_policy => "unknown-retry-policy",
    bad_json => "bad-json",
    missing_body_file => "missing-body-file",
    annotation => "annotation",
    not_utf8 => "not-utf8",
    deep_nesting => "deep-nesting",
    three_faults => "three-faults",
}

/// A plan over 4 MiB is refused before it is parsed (it would take seconds to parse). The file
/// is generated here rather than committed.
#[test]
fn too_large() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("plan \"big\" { description \"over 4 MiB\" }\n");
    let step = "step \"s\" { http \"GET\" \"https://example.com/\" }\n";
    while text.len() <= 4 * 1024 * 1024 {
        text.push_str(step);
    }
    text.truncate(4 * 1024 * 1024 + 1);
    std::fs::write(dir.path().join("too-large.kdl"), &text).unwrap();
    let started = std::time::Instant::now();
    let out = check_in(dir.path(), "too-large.kdl");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "refused before parsing, so at once"
    );
    insta::assert_snapshot!("too-large", checked("too-large.kdl", &out));
}

/// The three faults of `three-faults.kdl` (an unknown node, a bad duration, a cycle) are all
/// reported in one run.
#[test]
fn all_faults_are_reported_at_once() {
    let out = check_in(&broken_dir(), "three-faults.kdl");
    for code in [
        "hookplan::unknown-node",
        "hookplan::bad-duration",
        "hookplan::cycle",
    ] {
        assert_eq!(
            out.stderr.matches(code).count(),
            1,
            "{code} once in:\n{}",
            out.stderr
        );
    }
    assert!(
        out.stderr
            .ends_with("error: three-faults.kdl has 3 errors\n"),
        "{}",
        out.stderr
    );
}

/// Several files at once: each file's diagnostics, then its count; exit 2 if any is invalid.
#[test]
fn several_files_are_checked_in_one_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_hookplan"))
        .args(["check", "cycle-self.kdl", "no-step.kdl"])
        .current_dir(broken_dir())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("error: cycle-self.kdl has 1 error\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: no-step.kdl has 1 error\n"),
        "{stderr}"
    );
}
