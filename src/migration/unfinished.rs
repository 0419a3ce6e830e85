//! An unfinished migration, as every command that touches its registry and store tells it:
//! `status` and `verify` say it beside their answer, `migrate` resumes it (or refuses another
//! selection), `rollback` of its backup ends it. What it says is the same everywhere: who
//! started it, and the two commands that end it.

use crate::registry::{JournalRun, Registry};
use serde::{Deserialize, Serialize};

/// A run of the journal that neither finished nor was rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfinished {
    /// The selection in words (`direction=OUT`, `all`).
    pub selection: String,
    pub started_at: String,
    pub host: String,
    pub pid: u32,
    /// The backup's file name, in the starting machine's `STATE_DIR/backups`.
    pub backup: String,
}

impl From<JournalRun> for Unfinished {
    fn from(run: JournalRun) -> Self {
        Self {
            selection: run.selection,
            started_at: run.started_at,
            host: run.host,
            pid: run.pid,
            backup: run.backup,
        }
    }
}

impl Unfinished {
    /// The unfinished migration into `store` of `registry`, if there is one. Reads only: a
    /// registry without hookplan's tables has none.
    pub async fn find(registry: &Registry, store: &str) -> Result<Option<Self>, String> {
        registry
            .unfinished_run(store)
            .await
            .map(|run| run.map(Self::from))
            .map_err(|e| e.to_string())
    }

    /// The `hookplan migrate` that resumes it: the same selection, as flags.
    pub fn resume_command(&self) -> String {
        let mut command = String::from("hookplan migrate");
        for part in self.selection.split(' ') {
            if let Some((key, value)) = part.split_once('=') {
                command.push_str(&format!(" --{key} {}", shell_word(value)));
            }
        }
        command
    }

    /// How to end it: resume or roll back.
    pub fn how_to_end(&self) -> String {
        format!(
            "run `{}` to resume it, or `hookplan rollback {}` to undo it",
            self.resume_command(),
            self.backup
        )
    }

    /// The line `status` and `verify` print beside their answer.
    pub fn warning(&self) -> String {
        format!(
            "Warning: a migration into this store is unfinished ({}, started {} on {}, process {}): {}",
            self.selection,
            self.started_at,
            self.host,
            self.pid,
            self.how_to_end()
        )
    }
}

/// `value` as one shell word: quoted when a glob or space would be read by the shell.
fn shell_word(value: &str) -> String {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        value.to_string()
    } else {
        format!("\"{value}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfinished(selection: &str) -> Unfinished {
        Unfinished {
            selection: selection.into(),
            started_at: "2026-12-02T09:00:00Z".into(),
            host: "ops-1".into(),
            pid: 4242,
            backup: "backup_OUT_2026-12-02_090000.json".into(),
        }
    }

    #[test]
    fn the_resume_command_repeats_the_selection_as_flags() {
        assert_eq!(unfinished("all").resume_command(), "hookplan migrate");
        assert_eq!(
            unfinished("direction=OUT pattern=STRIPE_*").resume_command(),
            "hookplan migrate --direction OUT --pattern \"STRIPE_*\""
        );
        assert_eq!(
            unfinished("webhook=GITHUB_WEBHOOK").resume_command(),
            "hookplan migrate --webhook GITHUB_WEBHOOK"
        );
    }

    #[test]
    fn the_warning_names_the_holder_and_both_ways_out() {
        assert_eq!(
            unfinished("direction=OUT").warning(),
            "Warning: a migration into this store is unfinished (direction=OUT, started 2026-12-02T09:00:00Z on ops-1, process 4242): run `hookplan migrate --direction OUT` to resume it, or `hookplan rollback backup_OUT_2026-12-02_090000.json` to undo it"
        );
    }
}
