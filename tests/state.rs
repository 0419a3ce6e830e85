//! The state directory: where it is (`--state-dir`, `HOOKPLAN_STATE_DIR`, `.hookplan/`), and
//! that every folder hookplan makes in it is owner-only while folders that were there stay as
//! they were.

mod support;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Run, Scratch};

/// A plan whose sandbox records into the run's folder.
const PLAN: &str = r##"plan "folders" { seed 1; }
sandbox "hooks" { port 0; }
step "deliver" {
    http "POST" "${sandbox.hooks.url}/webhook/payment" { json #"{"amount": 1}"#; }
    expect status=200
}
"##;

/// hookplan in `dir` with the usual umask 022, so that a folder made without an explicit mode
/// comes out 0755 and shows up.
fn hookplan_umask_022(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"umask 022 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_hookplan"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("RUST_LOG")
        .env_remove("HOOKPLAN_STATE_DIR");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("hookplan runs").into()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `path` and every folder under it.
fn folders(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    let mut next = 0;
    while next < out.len() {
        let dir = out[next].clone();
        next += 1;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// A folder that exists before hookplan runs, opened up as a shared folder would be.
fn shared_folder(scratch: &Scratch, name: &str) -> PathBuf {
    let path = scratch.path().join(name);
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&path)
        .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn assert_owner_only(made: &[PathBuf], except: &[PathBuf]) {
    let open: Vec<String> = made
        .iter()
        .filter(|p| !except.contains(p))
        .filter(|p| mode(p) != 0o700)
        .map(|p| format!("{} is {:o}", p.display(), mode(p)))
        .collect();
    assert!(open.is_empty(), "folders not 0700:\n{}", open.join("\n"));
}

#[test]
fn a_run_makes_every_folder_owner_only_and_leaves_existing_ones_alone() {
    let scratch = Scratch::new();
    scratch.write("plan.kdl", PLAN);
    let shared = shared_folder(&scratch, "shared");
    let state = shared.join("deep").join("state");
    let run = hookplan_umask_022(
        scratch.path(),
        &[
            "run",
            "plan.kdl",
            "--time-scale",
            "0",
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let runs: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run_folder = &runs[0];
    assert!(
        run_folder.join("sandbox").join("hooks").is_dir(),
        "the run's sandbox records in the run's folder"
    );
    let made = folders(&shared.join("deep"));
    assert_eq!(
        made.len(),
        6,
        "deep, state, runs, the run, sandbox, hooks: {made:?}"
    );
    assert_owner_only(&made, &[]);
    assert_eq!(mode(&shared), 0o755, "an existing folder is not changed");
}

#[test]
fn sandbox_commands_make_every_folder_owner_only_and_leave_existing_ones_alone() {
    let scratch = Scratch::new();
    let shared = shared_folder(&scratch, "shared");
    let state = shared.join("state");
    let state_arg = state.to_str().unwrap();
    let configure = [
        "sandbox",
        "configure-endpoint",
        "/webhook/payment",
        "--status",
        "201",
        "--state-dir",
        state_arg,
    ];
    let run = hookplan_umask_022(scratch.path(), &configure, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let made = folders(&state);
    assert_eq!(
        made,
        vec![
            state.clone(),
            state.join("sandbox"),
            state.join("sandbox").join("default")
        ]
    );
    assert_owner_only(&made, &[]);
    assert_eq!(mode(&shared), 0o755);

    // Folders that exist are never changed, whoever opened them up.
    for folder in &made {
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = hookplan_umask_022(scratch.path(), &configure, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = hookplan_umask_022(
        scratch.path(),
        &["sandbox", "clear", "--endpoints", "--state-dir", state_arg],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("and 1 configured endpoint(s)"),
        "{}",
        run.stdout
    );
    for folder in &made {
        assert_eq!(mode(folder), 0o755, "{}", folder.display());
    }
}

#[test]
fn the_state_goes_where_hookplan_state_dir_says() {
    let scratch = Scratch::new();
    scratch.write("plan.kdl", PLAN);
    let run = hookplan_umask_022(
        scratch.path(),
        &["run", "plan.kdl", "--time-scale", "0"],
        &[("HOOKPLAN_STATE_DIR", "elsewhere/state")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !scratch.path().join(".hookplan").exists(),
        "nothing goes to the default .hookplan/"
    );
    let runs: Vec<PathBuf> = std::fs::read_dir(scratch.path().join("elsewhere/state/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(
        runs[0].join("report.json").is_file(),
        "{:?}",
        folders(&runs[0])
    );
    assert_owner_only(&folders(&scratch.path().join("elsewhere")), &runs);

    // `--state-dir` wins over the variable; without either, `.hookplan/` it is.
    let run = hookplan_umask_022(
        scratch.path(),
        &[
            "run",
            "plan.kdl",
            "--time-scale",
            "0",
            "--state-dir",
            "flag",
        ],
        &[("HOOKPLAN_STATE_DIR", "elsewhere/state")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(scratch.path().join("flag/runs").is_dir());
    assert_eq!(
        std::fs::read_dir(scratch.path().join("elsewhere/state/runs"))
            .unwrap()
            .count(),
        1
    );
    let run = hookplan_umask_022(
        scratch.path(),
        &["run", "plan.kdl", "--time-scale", "0"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(scratch.path().join(".hookplan/runs").is_dir());
    assert_eq!(mode(&scratch.path().join(".hookplan")), 0o700);
}
