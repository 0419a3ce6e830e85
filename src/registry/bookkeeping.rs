//! hookplan's own `hookplan_*` tables beside the registry: a schema-version table and
//! versioned migrations embedded in the binary. Created by the first command that writes.

/// (version, SQL) in order; each runs once, in a transaction, and is recorded.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_bookkeeping.sql")),
    (2, include_str!("migrations/0002_migrations.sql")),
    (3, include_str!("migrations/0003_leases.sql")),
    (4, include_str!("migrations/0004_journal.sql")),
];

pub const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS hookplan_schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)";

/// hookplan's own webhooks table (created on the first write when no legacy table is named).
pub const OWN_TABLE: &str = include_str!("own_table.sql");

/// The statements of a migration, split on `;` (the migrations hold no `;` in strings).
pub fn statements(sql: &str) -> Vec<String> {
    sql.split(';')
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.trim().is_empty())
        .collect()
}

/// A fresh random registry id: 32 hex digits.
pub fn new_registry_id() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source works");
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_ordered_and_split() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]));
        let first = statements(MIGRATIONS[0].1);
        assert_eq!(first.len(), 2);
        assert!(
            first
                .iter()
                .all(|s| s.trim_start().starts_with("CREATE TABLE hookplan_"))
        );
        assert_eq!(new_registry_id().len(), 32);
        assert_ne!(new_registry_id(), new_registry_id());
    }
}
