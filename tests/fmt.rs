//! `hookplan fmt`: the canonical layout keeps a plan's meaning and every comment, is reached
//! in one run, and `--check` only reports.

use hookplan::plan::{self, format};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hookplan(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_hookplan"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(101),
        "panicked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn example_plans() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
    let mut plans: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    plans.sort();
    assert!(!plans.is_empty());
    plans
}

fn hash(text: &str) -> String {
    format::canonical_hash(
        &plan::parse_document(text).unwrap_or_else(|e| panic!("does not parse: {e:?}\n{text}")),
    )
}

/// The same plan laid out badly: indents replaced, blank lines doubled, spaces around `{`
/// squeezed out. Only layout changes (the example plans have no multi-line strings).
fn messy(text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let body = line.trim_start();
        out.push_str(if i % 2 == 0 { "\t" } else { "   " });
        out.push_str(&body.replace(" {", "{"));
        out.push_str(if body.is_empty() { "\n\n" } else { "  \n" });
    }
    out
}

#[test]
fn example_plans_are_canonical_and_formatting_keeps_them() {
    for path in example_plans() {
        let original = std::fs::read_to_string(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let copy = dir.path().join(name);
        // Plans refer to files next to them (body-file): bring the fixtures along.
        copy_dir(
            &path.parent().unwrap().join("fixtures"),
            &dir.path().join("fixtures"),
        );

        std::fs::write(&copy, &original).unwrap();
        let out = hookplan(dir.path(), &["fmt", "--check", name]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name} is not in the canonical layout: {}",
            String::from_utf8_lossy(&out.stdout)
        );

        std::fs::write(&copy, messy(&original)).unwrap();
        let out = hookplan(dir.path(), &["fmt", name]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("formatted {name}\n")
        );
        let formatted = std::fs::read_to_string(&copy).unwrap();
        assert_eq!(
            formatted, original,
            "{name}: formatting the messy copy gives back the canonical plan"
        );
        assert_eq!(
            hash(&formatted),
            hash(&original),
            "{name}: the canonical hash is unchanged"
        );
        assert_eq!(
            format::count_comments(&formatted),
            format::count_comments(&original),
            "{name}: comments are kept"
        );

        // Idempotent: a second run changes nothing and says nothing.
        let out = hookplan(dir.path(), &["fmt", name]);
        assert_eq!(out.status.code(), Some(0));
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), formatted);
        // And the plan still checks.
        assert_eq!(
            hookplan(dir.path(), &["check", name]).status.code(),
            Some(0)
        );
    }
}

#[test]
fn check_mode_reports_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = messy(&std::fs::read_to_string(&example_plans()[0]).unwrap());
    let path = dir.path().join("messy.kdl");
    std::fs::write(&path, &text).unwrap();
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));

    let out = hookplan(dir.path(), &["fmt", "--check", "messy.kdl"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "would reformat messy.kdl\n"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "--check writes nothing"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified,
        "--check does not touch the file"
    );
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec!["messy.kdl"], "no temporary file left behind");
}

#[test]
fn a_comment_after_a_closing_brace_stays_on_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = "plan \"p\" { seed 1 } // the plan\n\nstep \"a\" { http \"GET\" \"https://example.com/\" }  /* first */ // then\n";
    std::fs::write(dir.path().join("c.kdl"), text).unwrap();
    let out = hookplan(dir.path(), &["fmt", "c.kdl"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("c.kdl")).unwrap(),
        "plan \"p\" {\n    seed 1\n} // the plan\n\nstep \"a\" {\n    http \"GET\" \"https://example.com/\"\n} /* first */ // then\n"
    );
}

#[test]
fn converts_kdl_v1_files() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = "plan \"old\" {\n    description \"written for KDL v1\"\n}\n\nstep \"ping\" {\n    http \"POST\" \"https://example.com/hook\" {\n        json r#\"{\"ok\": true}\"#\n    }\n    continue-on-error true // still allowed to fail\n}\n";
    std::fs::write(dir.path().join("old.kdl"), v1).unwrap();

    let out = hookplan(dir.path(), &["check", "old.kdl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("this file is written in KDL v1"));

    let out = hookplan(dir.path(), &["fmt", "--from-v1", "old.kdl"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v2 = std::fs::read_to_string(dir.path().join("old.kdl")).unwrap();
    // Strings stay quoted, `true` becomes `#true`, `r#"…"#` becomes `#"…"#`, and the comment
    // stays where it was (kdl's own converter would put it before the `}`, hiding the brace).
    assert_eq!(v2, v1.replace(" true ", " #true ").replace("r#\"", "#\""));
    assert_eq!(
        hookplan(dir.path(), &["check", "old.kdl"]).status.code(),
        Some(0),
        "{v2}"
    );
    assert_eq!(
        hookplan(dir.path(), &["fmt", "--check", "old.kdl"])
            .status
            .code(),
        Some(0),
        "{v2}"
    );
}

#[test]
fn broken_files_are_reported_not_formatted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.kdl"),
        "plan \"p\" {\n    seed 4 2 =\n}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("bytes.kdl"), b"plan \"\xff\"\n").unwrap();
    let out = hookplan(dir.path(), &["fmt", "bad.kdl", "bytes.kdl"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[bad.kdl:2:14]") && stderr.contains("[bytes.kdl:1:7]"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("bad.kdl")).unwrap(),
        "plan \"p\" {\n    seed 4 2 =\n}\n"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    std::fs::create_dir_all(to).unwrap();
    for entry in entries {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
