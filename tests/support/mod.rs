//! What the integration tests share: running the real binary, and a scriptable HTTP server on
//! 127.0.0.1:0.

#![allow(dead_code)]

pub mod cli_sandbox;
pub mod infisical;
pub mod migration;
pub mod mosquitto;
pub mod postgres;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The spec's `def_webhook`, created as its application does: unquoted, so PostgreSQL folds
/// every name to lower case.
pub const LEGACY_DDL: &str = "CREATE TABLE def_webhook (Webhookcode VARCHAR(64) PRIMARY KEY, Direction VARCHAR(3), Baseurl VARCHAR(255), Method VARCHAR(8), Username VARCHAR(64), Apikey VARCHAR(255), Password VARCHAR(255))";

/// The `table` and `columns` of a `database` node reading [`LEGACY_DDL`] with the spec's names.
pub const LEGACY_MAPPING: &str = r#"table "def_webhook"
    columns code="Webhookcode" direction="Direction" url="Baseurl" method="Method" user="Username" key="Apikey" password="Password""#;

/// Asserts that `hookplan call` printed the spec's lines for a webhook at `target` that failed
/// twice with 503 and then answered 200, each line behind its `[HH:MM:SS]`.
pub fn assert_fails_twice_then_ok(stderr: &str, target: &str) {
    let lines: Vec<&str> = stderr
        .lines()
        .map(|l| {
            let (time, rest) = l.split_once("] ").unwrap_or_else(|| panic!("no time: {l}"));
            assert!(
                time.starts_with('[') && time.len() == 9,
                "not [HH:MM:SS]: {l}"
            );
            rest
        })
        .collect();
    assert_eq!(
        lines,
        [
            format!("POST request to {target} (max_retries=3)").as_str(),
            "Server error 503, retrying in 2.0s (attempt 1/3)",
            "Server error 503, retrying in 4.0s (attempt 2/3)",
            "Response: 200 OK",
        ],
        "{stderr}"
    );
}

pub fn hookplan() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookplan"));
    command
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("RUST_LOG")
        .env_remove("HOOKPLAN_STATE_DIR")
        .env_remove("HOOKPLAN_LOG_FORMAT")
        .env_remove("DATABASE_URL");
    command
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs hookplan with `args` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    hookplan()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("hookplan runs")
        .into()
}

/// A scratch folder with a plan file written into it.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run_in(self.path(), args)
    }

    /// `hookplan run plan.kdl --time-scale 0 --no-progress --report-dir out` here, with extra
    /// environment variables: how most scenario tests run their plan.
    pub fn run_plan(&self, env: &[(&str, &str)]) -> Run {
        self.run_env(
            &[
                "run",
                "plan.kdl",
                "--time-scale",
                "0",
                "--no-progress",
                "--report-dir",
                "out",
            ],
            env,
        )
    }

    /// Runs with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = hookplan();
        command.current_dir(self.path()).args(args);
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("hookplan runs").into()
    }

    /// Every file under the folder, as text (binary files lossily).
    pub fn all_files(&self) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push((
                        path.clone(),
                        String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
                    ));
                }
            }
        }
        out
    }
}

/// The repository's own folder.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
