//! Every plan in `plans/` is one a user will copy: each checks clean and runs green, offline,
//! with an empty environment.

mod support;

use support::{hookplan, repo};

fn plans() -> Vec<String> {
    let mut plans: Vec<String> = std::fs::read_dir(repo().join("plans"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .map(|p| p.display().to_string())
        .collect();
    plans.sort();
    assert!(plans.len() >= 3, "{plans:?}");
    plans
}

#[test]
fn every_example_plan_checks_clean() {
    let mut args = vec!["check".to_string()];
    args.extend(plans());
    let out = hookplan().current_dir(repo()).args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "no warnings either:\n{stderr}");
}

#[test]
fn every_example_plan_runs_green_offline() {
    for plan in plans() {
        let state = tempfile::tempdir().unwrap();
        let out = hookplan()
            .env_clear()
            .env("NO_COLOR", "1")
            .current_dir(state.path())
            .args(["run", &plan, "--time-scale", "0"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{plan}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
