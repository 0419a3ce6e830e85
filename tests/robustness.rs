//! No input crashes the process: whatever the bytes, `hookplan check` ends with a diagnostic
//! and exit code 2 (or 0 for a valid plan) — never a panic (exit 101) or a stack overflow
//! (an abort). Bulk inputs run in-process through the same library calls the CLI makes, and
//! are rendered as the CLI renders them; the pathological ones run the real binary.

use hookplan::plan::{self, FileDiagnostics};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift), so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Checks text as `hookplan check` does — written to a file in `dir`, then read and checked by
/// the calls the CLI makes — and renders every diagnostic, checking what each diagnostic must
/// have. Panics (failing the test) where the CLI would have crashed.
fn check_text(dir: &Path, name: &str, text: &str) -> Result<(), usize> {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let config = plan::ProjectConfig::find(None, dir).expect("no project config here");
    match plan::load_with(&path, &config) {
        Ok(_) => Ok(()),
        Err(plan::LoadError::Plan(errors)) => {
            for file in &errors.files {
                assert_rendered(file);
            }
            Err(errors.error_count())
        }
        Err(plan::LoadError::Source(error)) => panic!("{name} cannot be read: {error}"),
    }
}

fn assert_rendered(file: &FileDiagnostics) {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    for diagnostic in file.bound().take(20) {
        let d = &diagnostic.diagnostic;
        assert!(d.help.is_some(), "no help on {:?}", d.message);
        assert!(
            d.span.end() <= file.file.text.len(),
            "span outside the text: {:?}",
            d
        );
        let mut out = String::new();
        handler
            .render_report(&mut out, &diagnostic)
            .expect("renders");
        assert!(
            out.contains(&format!("[{}:", file.file.name)),
            "no location in:\n{out}"
        );
    }
}

/// Runs the real binary on bytes written to a file; returns the exit code and stderr.
fn run_check(bytes: &[u8]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.kdl");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hookplan"))
        .arg("check")
        .arg("input.kdl")
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal (a crash): {:?}", out.status));
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    assert!(!stderr.contains("panicked"), "panicked:\n{stderr}");
    assert_ne!(code, 101, "a panic:\n{stderr}");
    (code, stderr)
}

fn assert_refused(bytes: &[u8], expect: &str) {
    let started = Instant::now();
    let (code, stderr) = run_check(bytes);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(expect),
        "expected {expect:?} in:\n{}",
        &stderr[..stderr.len().min(3000)]
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

fn plans() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["plans", "tests/plans/broken"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "kdl") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn byte_soup_never_crashes() {
    // Bytes KDL gives meaning to, in strings and out, and a few that are not allowed at all.
    const ALPHABET: &[&str] = &[
        "{", "}", "(", ")", "\"", "\"\"\"", "#", "#\"", "\"#", "/", "/*", "*/", "//", "/-", "\\",
        ";", "=", "\n", "\r", " ", "\t", "a", "step", "plan", "http", "needs", "1", "-", ".", "e",
        "#true", "${", "}", "\u{2028}", "\u{85}", "\u{0}", "\u{feff}", "é", "r#\"", "\\u{", "0x",
        "[",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..1500 {
        let mut text = String::new();
        let parts = rng.below(60);
        for _ in 0..parts {
            if rng.below(10) == 0 {
                text.push(char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'));
            } else {
                text.push_str(ALPHABET[rng.below(ALPHABET.len())]);
            }
        }
        let result = std::panic::catch_unwind(|| check_text(dir.path(), "soup.kdl", &text));
        assert!(result.is_ok(), "round {round} panicked on {text:?}");
    }
}

#[test]
fn truncated_plans_never_crash() {
    let dir = tempfile::tempdir().unwrap();
    for path in plans() {
        let text = std::fs::read(&path).unwrap();
        // Every byte of the example plans; every few bytes of the broken ones.
        let example = path.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("plans"));
        let step = if example {
            (text.len() / 2000).max(1)
        } else {
            5
        };
        for cut in (0..text.len()).step_by(step) {
            let prefix = String::from_utf8_lossy(&text[..cut]);
            let result = std::panic::catch_unwind(|| check_text(dir.path(), "cut.kdl", &prefix));
            assert!(
                result.is_ok(),
                "{} cut at byte {cut} panicked",
                path.display()
            );
            // What parses must format to text that means the same.
            if let Ok(document) = plan::parse_document(&prefix) {
                let formatted = plan::format::format(&document, &prefix);
                let reparsed = plan::parse_document(&formatted).unwrap_or_else(|_| {
                    panic!(
                        "{} cut at {cut}: the formatted text does not parse:\n{formatted}",
                        path.display()
                    )
                });
                assert_eq!(
                    plan::format::canonical_hash(&reparsed),
                    plan::format::canonical_hash(&document),
                    "{} cut at {cut}: formatting changed the meaning:\n{formatted}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn every_valid_plan_is_accepted() {
    for path in plans()
        .into_iter()
        .filter(|p| p.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("plans")))
    {
        let loaded = plan::load(&path);
        assert!(loaded.is_ok(), "{} is invalid", path.display());
    }
}

#[test]
fn deep_nesting_is_refused() {
    let n = 100_000;
    assert_refused(
        &format!("a {}{}", "{ a ".repeat(n), "}".repeat(n)).into_bytes(),
        "blocks are nested more than 32 levels deep",
    );
    assert_refused(
        &"{".repeat(n).into_bytes(),
        "nested more than 32 levels deep",
    );
    assert_refused(
        &format!("a {}{}", "/*".repeat(n), "*/".repeat(n)).into_bytes(),
        "comments are nested more than 32 levels deep",
    );
    assert_refused(&"/- ".repeat(n).into_bytes(), "more than 16 `/-` in a row");
    assert_refused(
        &format!("a /*{}*/", "*".repeat(1 << 20)).into_bytes(),
        "a `/* */` comment too long to parse",
    );
}

/// Text the parser's error recovery could read as deeply nested code: the scan finds the fault
/// first and the parser never sees it.
#[test]
fn text_that_could_mislead_the_parser_is_refused() {
    let braces = "{ a ".repeat(100_000);
    assert_refused(
        format!("a \"x\r{braces}\"").as_bytes(),
        "a string is not closed on its line",
    );
    assert_refused(
        format!("a \"x\u{2028}{braces}\"").as_bytes(),
        "a string is not closed on its line",
    );
    assert_refused(
        format!("a r\"{braces}\"").as_bytes(),
        "a quote in the middle of a word",
    );
    assert_refused(
        format!("a \"\\q {braces}\"").as_bytes(),
        "an unknown escape in a string",
    );
    let mib = 1 << 19;
    assert_refused(
        format!("a\n{}", "}".repeat(mib)).as_bytes(),
        "a `}` with no `{` to close",
    );
    assert_refused(
        format!("a\n{}", ")".repeat(mib)).as_bytes(),
        "a parenthesis outside a type annotation",
    );
    assert_refused(
        format!("a\n{}", "=".repeat(mib)).as_bytes(),
        "`=` without a property name",
    );
    assert_refused(
        "(t)".repeat(mib / 3).as_bytes(),
        "a type annotation with nothing after it",
    );
}

#[test]
fn oversized_files_are_refused_before_parsing() {
    let mut bytes = b"plan \"big\" {}\n".to_vec();
    bytes.resize(4 * 1024 * 1024 + 1, b' ');
    assert_refused(&bytes, "plans larger than 4 MiB are refused");
}

#[test]
fn bytes_that_are_not_utf8_or_not_allowed() {
    assert_refused(
        b"plan \"a\" {}\nstep \"\xff\xfe\" {}\n",
        "the file is not UTF-8 text",
    );
    assert_refused(
        b"plan \"a\" {\x00}\n",
        "a character that KDL does not allow",
    );
    assert_refused(
        b"plan \"a\x00b\" {}\n",
        "a character that KDL does not allow, in a string",
    );
    assert_refused(&[0u8; 10_000], "a character that KDL does not allow");
    assert_refused(
        b"\xef\xbb\xbf\xef\xbb\xbfplan \"a\"",
        "a character that KDL does not allow",
    );
}

#[test]
fn huge_strings() {
    // One huge string in a valid plan.
    let big = "x".repeat(256 * 1024);
    let (code, stderr) = run_check(
        format!("plan \"big\" {{ description \"{big}\" }}\nstep \"s\" {{ http \"GET\" \"https://example.com/\" }}\n").as_bytes(),
    );
    assert_eq!(code, 0, "{stderr}");
    // A huge string that never ends: one diagnostic, on one line, not the whole string.
    let (code, stderr) = run_check(format!("plan \"big\" {{ description \"{big}").as_bytes());
    assert_eq!(code, 2);
    assert!(
        stderr.len() < 5000,
        "the diagnostic shows a window of the line, not all of it: {} bytes",
        stderr.len()
    );
}

#[test]
fn many_tiny_faulty_nodes() {
    // 100,000 tiny nodes, each a fault: every one counted, the first 50 shown.
    let started = Instant::now();
    let (code, stderr) = run_check(format!("plan \"p\"\n{}", "a\n".repeat(100_000)).as_bytes());
    assert_eq!(code, 2);
    assert!(
        stderr.contains("… and 99950 more in input.kdl (showing the first 50)"),
        "{}",
        &stderr[stderr.len() - 300..]
    );
    assert!(
        stderr.ends_with("error: input.kdl has 100000 errors\n"),
        "{}",
        &stderr[stderr.len() - 300..]
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn many_tiny_valid_nodes() {
    let started = Instant::now();
    let vars: String = (0..100_000).map(|i| format!("v{i} {i}\n")).collect();
    let (code, stderr) = run_check(format!("plan \"p\"\nvars {{\n{vars}}}\nstep \"s\" {{ http \"GET\" \"https://example.com/\" }}\n").as_bytes());
    assert_eq!(code, 0, "{}", &stderr[..stderr.len().min(2000)]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}
