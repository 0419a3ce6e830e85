//! What the README promises about the command line, through the real binary: `graph` in each
//! format, shell completions, `check`'s warning about a delay near a request timeout, and
//! structured logs with `RUST_LOG`.

mod support;

use support::{Scratch, hookplan};

/// A small plan: a sandbox, a step that uses it, one that needs it, and a teardown. A secret and
/// an environment value that are not set: `graph` and `check` read neither.
const GRAPH_PLAN: &str = r##"plan "graph \"demo\"" { seed 1; }
sandbox "hooks" { port 0; }
step "deliver" {
    http "POST" "${sandbox.hooks.url}/webhook/payment" {
        header "Authorization" "Bearer ${secret.GRAPH_TOKEN}"
        json #"{"amount": 1}"#
    }
}
step "verify-arrival" {
    needs "deliver"
    expect-requests sandbox="hooks" path="/webhook/payment" count=1
}
step "teardown" {
    needs "deliver" "verify-arrival"
    always #true
    http "GET" "${env.GRAPH_BASE}/done"
}
"##;

fn graph(format: &str) -> String {
    let scratch = Scratch::new();
    scratch.write("plan.kdl", GRAPH_PLAN);
    let out = hookplan()
        .env_clear()
        .env("NO_COLOR", "1")
        .current_dir(scratch.path())
        .args(["graph", "plan.kdl", "--format", format])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "", "graph prints only the graph");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn graph_as_text() {
    assert_eq!(
        graph("text"),
        r#"plan "graph \"demo\"": 3 step(s)
  deliver [http] (uses sandbox hooks)
    verify-arrival [expect-requests] ← deliver (uses sandbox hooks)
      teardown [http] ← deliver, verify-arrival {always}
"#
    );
}

#[test]
fn graph_as_dot() {
    assert_eq!(
        graph("dot"),
        r#"digraph "graph \"demo\"" {
  rankdir=LR;
  "sandbox:hooks" [shape=cylinder, label="hooks"];
  "deliver" [shape=box, label="deliver\nhttp"];
  "verify-arrival" [shape=box, label="verify-arrival\nexpect-requests"];
  "teardown" [shape=box, style=dashed, label="teardown\nhttp"];
  "sandbox:hooks" -> "deliver" [style=dotted];
  "deliver" -> "verify-arrival";
  "sandbox:hooks" -> "verify-arrival" [style=dotted];
  "deliver" -> "teardown";
  "verify-arrival" -> "teardown";
}
"#
    );
}

#[test]
fn graph_as_mermaid() {
    assert_eq!(
        graph("mermaid"),
        r#"flowchart LR
  sb0[("sandbox hooks")]
  s0["deliver · http"]
  s1["verify-arrival · expect-requests"]
  s2["teardown · http"]
  sb0 -.-> s0
  s0 --> s1
  sb0 -.-> s1
  s0 --> s2
  s1 --> s2
"#
    );
}

#[test]
fn graph_refuses_an_unknown_format() {
    let scratch = Scratch::new();
    scratch.write("plan.kdl", GRAPH_PLAN);
    let run = scratch.run(&["graph", "plan.kdl", "--format", "svg"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("invalid value 'svg' for '--format <FORMAT>'"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("text, dot, mermaid"), "{}", run.stderr);
}

fn completions(shell: &str) -> String {
    let run = Scratch::new().run(&["completions", shell]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    run.stdout
}

/// Every command and sandbox command, and a few flags, are offered by every shell's script.
const WORDS: &[&str] = &[
    "check",
    "run",
    "graph",
    "fmt",
    "report",
    "sandbox",
    "completions",
    "start",
    "list-requests",
    "show",
    "replay",
    "configure-endpoint",
    "clear",
    "--state-dir",
    "--time-scale",
    "--report-dir",
    "mermaid",
];

#[test]
fn completions_for_bash_complete_commands_and_values() {
    let script = completions("bash");
    for word in WORDS {
        assert!(script.contains(word), "bash completions lack {word}");
    }
    let scratch = Scratch::new();
    let path = scratch.write("hookplan.bash", &script);
    // Load the script into bash and ask it what it offers, as a user's Tab would.
    let probe = r#"
        source "$1"
        complete -p hookplan
        ask() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=();
                _hookplan hookplan "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; echo "${COMPREPLY[*]}"; }
        ask hookplan sa
        ask hookplan sandbox c
        ask hookplan graph plan.kdl --format ""
        ask hookplan completions ""
    "#;
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", probe, "probe"])
        .arg(&path)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].ends_with("-F _hookplan hookplan"), "{stdout}");
    assert_eq!(
        lines[1..],
        [
            "sandbox",
            "configure-endpoint clear",
            "text dot mermaid",
            "-h -V --state-dir --config --log-format --help --version bash elvish fish powershell zsh"
        ],
        "{stdout}"
    );
}

#[test]
fn completions_for_zsh_and_fish() {
    let zsh = completions("zsh");
    assert!(zsh.starts_with("#compdef hookplan\n"), "{}", &zsh[..100]);
    assert!(
        zsh.contains("_hookplan \"$@\""),
        "zsh completions run _hookplan"
    );
    let fish = completions("fish");
    assert!(fish.contains("complete -c hookplan"), "{}", &fish[..200]);
    for word in WORDS {
        assert!(zsh.contains(word), "zsh completions lack {word}");
        // fish names a long flag without its dashes: `-l state-dir`.
        let fish_word = match word.strip_prefix("--") {
            Some(flag) => format!("-l {flag}"),
            None => word.to_string(),
        };
        assert!(
            fish.contains(&fish_word),
            "fish completions lack {fish_word}"
        );
    }
    let run = Scratch::new().run(&["completions", "tcsh"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("invalid value 'tcsh'"),
        "{}",
        run.stderr
    );
}

fn near_plan(delay: &str, attempt_timeout: Option<&str>) -> String {
    let timeout = attempt_timeout
        .map(|t| format!("    attempt-timeout \"{t}\"\n"))
        .unwrap_or_default();
    format!(
        r#"plan "near" {{ seed 1; }}
sandbox "hooks" {{
    port 0
    endpoint "/webhook/slow" status=200 delay="{delay}"
    endpoint "/webhook/fast" status=200 delay="1s"
}}
step "deliver" {{
    http "POST" "${{sandbox.hooks.url}}/webhook/slow"
{timeout}}}
"#
    )
}

#[test]
fn check_warns_about_an_injected_delay_near_the_request_timeout() {
    let scratch = Scratch::new();
    scratch.write("near.kdl", &near_plan("8s", None));
    let run = scratch.run(&["check", "near.kdl"]);
    assert_eq!(
        run.code, 0,
        "a warning does not fail the check: {}",
        run.stderr
    );
    assert_eq!(
        run.stdout,
        "ok: near.kdl — plan \"near\", 1 step, 1 sandbox\n"
    );
    for text in [
        "hookplan::delay-near-timeout",
        "⚠ an injected delay of 8s is close to the request timeout of 10s",
        "╭─[near.kdl:4:47]",
        "delay near the timeout",
        "delays are scaled by --time-scale but request timeouts are not",
    ] {
        assert!(run.stderr.contains(text), "no {text:?} in:\n{}", run.stderr);
    }
    assert_eq!(
        run.stderr.matches("hookplan::delay-near-timeout").count(),
        1,
        "the 1s endpoint is far from the timeout:\n{}",
        run.stderr
    );

    // The step's own request timeout is the one compared.
    scratch.write("near.kdl", &near_plan("2s", Some("3s")));
    let run = scratch.run(&["check", "near.kdl"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("an injected delay of 2s is close to the request timeout of 3s"),
        "{}",
        run.stderr
    );

    // Far from it on both sides: nothing to say.
    for (delay, timeout) in [("2s", None), ("30s", Some("3s"))] {
        scratch.write("near.kdl", &near_plan(delay, timeout));
        let run = scratch.run(&["check", "near.kdl"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stderr, "", "delay {delay}, timeout {timeout:?}");
    }
}

const LOG_PLAN: &str = r##"plan "logs" { seed 1; }
sandbox "hooks" { port 0; }
step "deliver" {
    http "POST" "${sandbox.hooks.url}/webhook/payment" {
        header "Authorization" "Bearer ${secret.LOG_TOKEN}"
        json #"{"amount": 1}"#
    }
    expect status=200
}
"##;

const CANARY: &str = "sk_test_CANARYlog9f3a1c7e5b2d";

/// A structured log line: `2026-01-02T03:04:05.678901Z DEBUG hookplan::module: message key=value`.
fn is_log_line(line: &str, level: &str) -> bool {
    let Some((stamp, rest)) = line.split_once(' ') else {
        return false;
    };
    let stamp_ok = stamp.len() >= 20
        && stamp.ends_with('Z')
        && stamp.as_bytes()[4] == b'-'
        && stamp.as_bytes()[10] == b'T'
        && chrono::DateTime::parse_from_rfc3339(stamp).is_ok();
    stamp_ok
        && rest
            .trim_start()
            .strip_prefix(level)
            .is_some_and(|r| r.trim_start().starts_with("hookplan::"))
}

fn run_with_log(filter: Option<&str>) -> String {
    let scratch = Scratch::new();
    scratch.write("plan.kdl", LOG_PLAN);
    let mut env = vec![("LOG_TOKEN", CANARY)];
    if let Some(filter) = filter {
        env.push(("RUST_LOG", filter));
    }
    let run = scratch.run_env(&["run", "plan.kdl", "--time-scale", "0"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stderr.contains(CANARY) && !run.stdout.contains(CANARY),
        "the secret reached the output"
    );
    assert!(!run.stderr.contains('\x1b'), "NO_COLOR: no escape codes");
    run.stderr
}

#[test]
fn rust_log_adds_structured_log_lines_on_stderr() {
    let stderr = run_with_log(Some("hookplan=debug"));
    let logs: Vec<&str> = stderr.lines().filter(|l| is_log_line(l, "DEBUG")).collect();
    assert!(!logs.is_empty(), "no DEBUG log lines in:\n{stderr}");
    assert!(
        logs.iter().any(|l| l.contains(" step=deliver")),
        "no log line names the step as a field:\n{}",
        logs.join("\n")
    );
    // Beside the usual console lines, not instead of them.
    assert!(stderr.contains("[deliver] Response: 200 OK"), "{stderr}");

    // Without RUST_LOG, or with a filter above debug, no debug lines.
    for filter in [None, Some("hookplan=warn")] {
        let stderr = run_with_log(filter);
        assert!(
            !stderr
                .lines()
                .any(|l| is_log_line(l, "DEBUG") || is_log_line(l, "INFO")),
            "RUST_LOG={filter:?}:\n{stderr}"
        );
        assert!(stderr.contains("[deliver] Response: 200 OK"), "{stderr}");
    }
}

/// A name is quoted in messages as it would be written in the plan.
#[test]
fn a_bad_name_is_quoted_as_written() {
    let scratch = Scratch::new();
    scratch.write(
        "bad.kdl",
        "plan \"p\"\nstep \"check \\\"it\\\"\" { http \"GET\" \"https://x.test/\" }\n",
    );
    let run = scratch.run(&["check", "bad.kdl"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(r#"step "check \"it\"" is not a valid name"#),
        "{}",
        run.stderr
    );
}
