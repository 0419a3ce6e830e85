//! How one webhook's migration ended, and the spec's wording of it: the per-webhook lines
//! (`[CODE] Migrated successfully`, `[CODE] Skipped - already in Infisical`) and the summary
//! (Total / Migrated / Skipped / Failed, and `Pending approval: N` when writes await a
//! reviewer). Names and classes only: never a value.

use crate::registry::Direction;
use serde::Serialize;

/// Whether a target name is new to the store or replaces what it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Create,
    Update,
    /// The store holds the same value already.
    Same,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Update => "update",
            Change::Same => "same",
        }
    }
}

/// Why a webhook was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Skip {
    /// The store holds every credential with the row's value.
    AlreadyInStore,
    /// The row holds no credential.
    NoCredentials,
}

/// How one webhook's migration ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Migrated,
    Skipped(Skip),
    /// Not written: the class (`invalid`, `unavailable`, …) and why, in one line.
    Failed {
        class: &'static str,
        reason: String,
    },
    /// Submitted (or submitted by an earlier run, and not sent again): the store applies it
    /// once a reviewer approves.
    Pending {
        earlier: bool,
    },
    /// A dry run: what would be written.
    WouldMigrate,
}

impl Outcome {
    /// The name in reports, `--json` and digests.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Migrated => "migrated",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed { .. } => "failed",
            Outcome::Pending { .. } => "pending-approval",
            Outcome::WouldMigrate => "would-migrate",
        }
    }
}

/// One webhook's line: its code, each target name with what the write does to it, and how
/// it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub code: String,
    pub direction: Direction,
    pub targets: Vec<(String, Change)>,
    pub outcome: Outcome,
}

impl Line {
    /// The spec's console line. `store` is how the store is named in it: `Infisical`, or
    /// `secret store "local"`.
    pub fn text(&self, store: &str) -> String {
        let code = &self.code;
        match &self.outcome {
            Outcome::Migrated => format!("[{code}] Migrated successfully"),
            Outcome::Skipped(Skip::AlreadyInStore) => {
                format!("[{code}] Skipped - already in {store}")
            }
            Outcome::Skipped(Skip::NoCredentials) => {
                format!("[{code}] Skipped - no credentials in the database")
            }
            Outcome::Failed { reason, .. } => format!("[{code}] Failed - {reason}"),
            Outcome::Pending { earlier: false } => format!(
                "[{code}] Pending approval - {} submitted, awaiting a reviewer in {store}",
                self.changed_names()
            ),
            Outcome::Pending { earlier: true } => {
                format!("[{code}] Pending approval - submitted by an earlier run, not sent again")
            }
            Outcome::WouldMigrate => {
                let names: Vec<String> = self
                    .targets
                    .iter()
                    .filter(|(_, c)| *c != Change::Same)
                    .map(|(n, c)| format!("{n} ({})", c.as_str()))
                    .collect();
                format!("[{code}] Would migrate - {}", names.join(", "))
            }
        }
    }

    fn changed_names(&self) -> String {
        self.targets
            .iter()
            .filter(|(_, c)| *c != Change::Same)
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The summary's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub total: usize,
    pub migrated: usize,
    pub skipped: usize,
    pub failed: usize,
    pub pending_approval: usize,
    /// A dry run's webhooks that would be written.
    pub would_migrate: usize,
}

impl Counts {
    pub fn add(&mut self, outcome: &Outcome) {
        self.total += 1;
        match outcome {
            Outcome::Migrated => self.migrated += 1,
            Outcome::Skipped(_) => self.skipped += 1,
            Outcome::Failed { .. } => self.failed += 1,
            Outcome::Pending { .. } => self.pending_approval += 1,
            Outcome::WouldMigrate => self.would_migrate += 1,
        }
    }

    /// The spec's summary lines; a dry run says what it would do.
    pub fn lines(&self, dry_run: bool) -> Vec<String> {
        let mut lines = if dry_run {
            vec![
                "Migration Summary (dry run):".to_string(),
                format!("Total: {}", self.total),
                format!("Would migrate: {}", self.would_migrate),
                format!("Skipped: {}", self.skipped),
            ]
        } else {
            vec![
                "Migration Summary:".to_string(),
                format!("Total: {}", self.total),
                format!("Migrated: {}", self.migrated),
                format!("Skipped: {}", self.skipped),
                format!("Failed: {}", self.failed),
            ]
        };
        if self.pending_approval > 0 {
            lines.push(format!("Pending approval: {}", self.pending_approval));
        }
        lines
    }
}

/// The line that opens a migration.
pub const TITLE: &str = "Webhook Credential Migration Tool";

/// The line before the per-webhook lines of a migration.
pub const MIGRATING: &str = "Migrating webhooks...";

/// The line that says how many webhooks the selection holds.
pub fn found(webhooks: usize) -> String {
    format!("Found {webhooks} webhook(s) to migrate")
}

/// How the store is named in the lines: the spec says Infisical.
pub fn store_label(store: &str, infisical: bool) -> String {
    if infisical {
        "Infisical".to_string()
    } else {
        format!("secret store \"{store}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(outcome: Outcome) -> Line {
        Line {
            code: "PAY".into(),
            direction: Direction::Out,
            targets: vec![
                ("WEBHOOK_OUT_PAY_USER".into(), Change::Same),
                ("WEBHOOK_OUT_PAY_KEY".into(), Change::Create),
            ],
            outcome,
        }
    }

    #[test]
    fn lines_are_the_specs() {
        assert_eq!(
            line(Outcome::Migrated).text("Infisical"),
            "[PAY] Migrated successfully"
        );
        assert_eq!(
            line(Outcome::Skipped(Skip::AlreadyInStore)).text("Infisical"),
            "[PAY] Skipped - already in Infisical"
        );
        assert_eq!(
            line(Outcome::WouldMigrate).text("Infisical"),
            "[PAY] Would migrate - WEBHOOK_OUT_PAY_KEY (create)"
        );
        assert_eq!(
            line(Outcome::Pending { earlier: false }).text("Infisical"),
            "[PAY] Pending approval - WEBHOOK_OUT_PAY_KEY submitted, awaiting a reviewer in Infisical"
        );
        assert_eq!(
            line(Outcome::Failed {
                class: "invalid",
                reason: "refused".into()
            })
            .text("x"),
            "[PAY] Failed - refused"
        );
    }

    #[test]
    fn the_summary_is_the_specs_and_adds_pending_only_when_there_is_some() {
        let mut counts = Counts::default();
        for o in [
            Outcome::Migrated,
            Outcome::Migrated,
            Outcome::Skipped(Skip::AlreadyInStore),
            Outcome::Failed {
                class: "invalid",
                reason: String::new(),
            },
        ] {
            counts.add(&o);
        }
        assert_eq!(
            counts.lines(false),
            [
                "Migration Summary:",
                "Total: 4",
                "Migrated: 2",
                "Skipped: 1",
                "Failed: 1"
            ]
        );
        counts.add(&Outcome::Pending { earlier: true });
        assert_eq!(counts.lines(false).last().unwrap(), "Pending approval: 1");
        assert_eq!(counts.total, 5);
    }
}
