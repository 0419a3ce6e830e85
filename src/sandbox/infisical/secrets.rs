//! The emulation's secrets: folders per environment, secrets per folder, every version of
//! each. Changes are values ([`Change`]): a call works out its changes first, the state file
//! keeps them, and only then are they applied here — so the state in memory never holds
//! what the file could not keep, and reading the file back rebuilds it exactly.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One change to the state, as it is kept in the state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    /// A folder made (its parent exists).
    Folder {
        environment: String,
        path: String,
        id: String,
        created_at: String,
    },
    /// A secret's new version: version 1 creates it (replacing a deleted one of the same name).
    Put {
        environment: String,
        path: String,
        key: String,
        id: String,
        version: u64,
        value: String,
        comment: String,
        created_at: String,
        updated_at: String,
    },
    Delete {
        environment: String,
        path: String,
        key: String,
    },
}

#[derive(Debug, Clone)]
pub struct Folder {
    pub id: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct Secret {
    pub id: String,
    pub created_at: String,
    /// Version n is `versions[n - 1]`.
    pub versions: Vec<Version>,
}

#[derive(Debug, Clone)]
pub struct Version {
    pub value: String,
    pub comment: String,
    pub updated_at: String,
}

impl Secret {
    pub fn version(&self) -> u64 {
        self.versions.len() as u64
    }

    pub fn current(&self) -> &Version {
        self.versions.last().expect("a secret has a version")
    }
}

/// (environment, folder path).
type FolderKey = (String, String);

#[derive(Debug, Default)]
pub struct Secrets {
    folders: BTreeMap<FolderKey, Folder>,
    secrets: BTreeMap<FolderKey, BTreeMap<String, Secret>>,
}

impl Secrets {
    pub fn folder(&self, environment: &str, path: &str) -> Option<&Folder> {
        self.folders
            .get(&(environment.to_string(), path.to_string()))
    }

    pub fn has_environment(&self, environment: &str) -> bool {
        self.folder(environment, "/").is_some()
    }

    pub fn get(&self, environment: &str, path: &str, key: &str) -> Option<&Secret> {
        self.secrets
            .get(&(environment.to_string(), path.to_string()))?
            .get(key)
    }

    /// The secrets of a folder (with `recursive`, of its subfolders too), by path then name.
    pub fn list(
        &self,
        environment: &str,
        path: &str,
        recursive: bool,
    ) -> Vec<(&str, &str, &Secret)> {
        self.secrets
            .iter()
            .filter(|((env, folder), _)| {
                env == environment && (folder == path || (recursive && is_below(folder, path)))
            })
            .flat_map(|((_, folder), secrets)| {
                secrets
                    .iter()
                    .map(move |(key, secret)| (folder.as_str(), key.as_str(), secret))
            })
            .collect()
    }

    /// Applies a change. Applying one twice changes nothing more (a state file read back
    /// after it was compacted may repeat what the snapshot holds).
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Folder {
                environment,
                path,
                id,
                created_at,
            } => {
                self.folders
                    .entry((environment.clone(), path.clone()))
                    .or_insert_with(|| Folder {
                        id: id.clone(),
                        created_at: created_at.clone(),
                    });
            }
            Change::Put {
                environment,
                path,
                key,
                id,
                version,
                value,
                comment,
                created_at,
                updated_at,
            } => {
                let folder = self
                    .secrets
                    .entry((environment.clone(), path.clone()))
                    .or_default();
                let next = Version {
                    value: value.clone(),
                    comment: comment.clone(),
                    updated_at: updated_at.clone(),
                };
                match folder.get_mut(key) {
                    Some(secret) if *version > 1 => {
                        if secret.version() + 1 == *version {
                            secret.versions.push(next);
                        }
                    }
                    Some(secret) if secret.id == *id => {}
                    _ => {
                        folder.insert(
                            key.clone(),
                            Secret {
                                id: id.clone(),
                                created_at: created_at.clone(),
                                versions: vec![next],
                            },
                        );
                    }
                }
            }
            Change::Delete {
                environment,
                path,
                key,
            } => {
                if let Some(folder) = self.secrets.get_mut(&(environment.clone(), path.clone())) {
                    folder.remove(key);
                }
            }
        }
    }

    /// Everything as changes that rebuild it: folders (parents first), then every version.
    pub fn snapshot(&self) -> Vec<Change> {
        let mut changes: Vec<Change> = self
            .folders
            .iter()
            .map(|((environment, path), folder)| Change::Folder {
                environment: environment.clone(),
                path: path.clone(),
                id: folder.id.clone(),
                created_at: folder.created_at.clone(),
            })
            .collect();
        // A parent's path sorts before its children's ("/a" < "/a/b"), but "/a-b" sorts
        // between them; order by depth to be sure parents come first.
        changes.sort_by_key(|c| match c {
            Change::Folder { path, .. } => path.matches('/').count(),
            _ => 0,
        });
        for ((environment, path), secrets) in &self.secrets {
            for (key, secret) in secrets {
                for (n, version) in secret.versions.iter().enumerate() {
                    changes.push(Change::Put {
                        environment: environment.clone(),
                        path: path.clone(),
                        key: key.clone(),
                        id: secret.id.clone(),
                        version: n as u64 + 1,
                        value: version.value.clone(),
                        comment: version.comment.clone(),
                        created_at: secret.created_at.clone(),
                        updated_at: version.updated_at.clone(),
                    });
                }
            }
        }
        changes
    }
}

/// Whether `folder` lies below `parent` (not at it).
fn is_below(folder: &str, parent: &str) -> bool {
    if parent == "/" {
        return folder != "/";
    }
    folder
        .strip_prefix(parent)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The parent of a folder path (`/a/b` → `/a`, `/a` → `/`), and its last name.
pub fn split_folder(path: &str) -> Option<(&str, &str)> {
    let (parent, name) = path.rsplit_once('/')?;
    if name.is_empty() {
        return None;
    }
    Some((if parent.is_empty() { "/" } else { parent }, name))
}

/// A value as Infisical stores it: surrounding whitespace removed, except that a value
/// ending with `\n` keeps one (JavaScript's `trim`, which also removes U+FEFF).
pub fn trimmed(value: &str) -> String {
    let trim = |s: &str| {
        s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
            .to_string()
    };
    if value.ends_with('\n') {
        format!("{}\n", trim(value))
    } else {
        trim(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, id: &str, version: u64, value: &str) -> Change {
        Change::Put {
            environment: "prod".into(),
            path: "/".into(),
            key: key.into(),
            id: id.into(),
            version,
            value: value.into(),
            comment: String::new(),
            created_at: "t".into(),
            updated_at: "t".into(),
        }
    }

    #[test]
    fn values_are_trimmed_as_infisical_trims_them() {
        assert_eq!(trimmed("  abc  "), "abc");
        assert_eq!(trimmed("abc\n"), "abc\n");
        assert_eq!(trimmed(" abc \n\n"), "abc\n");
        assert_eq!(trimmed("\t\u{feff}x"), "x");
        assert_eq!(trimmed("a b"), "a b");
        assert_eq!(trimmed("   "), "");
        assert_eq!(trimmed("\n"), "\n");
    }

    #[test]
    fn changes_apply_once_and_a_snapshot_rebuilds_the_state() {
        let mut secrets = Secrets::default();
        let folder = Change::Folder {
            environment: "prod".into(),
            path: "/".into(),
            id: "f".into(),
            created_at: "t".into(),
        };
        for change in [
            folder.clone(),
            put("A", "1", 1, "a1"),
            put("A", "1", 2, "a2"),
            put("A", "1", 2, "a2"),
            put("B", "2", 1, "b"),
            Change::Delete {
                environment: "prod".into(),
                path: "/".into(),
                key: "B".into(),
            },
            put("A", "1", 1, "a1"),
        ] {
            secrets.apply(&change);
        }
        let a = secrets.get("prod", "/", "A").unwrap();
        assert_eq!(a.version(), 2);
        assert_eq!(a.current().value, "a2");
        assert!(secrets.get("prod", "/", "B").is_none());
        let mut again = Secrets::default();
        for change in secrets.snapshot() {
            again.apply(&change);
        }
        assert_eq!(again.snapshot(), secrets.snapshot());
    }

    #[test]
    fn folders_split_and_nest() {
        assert_eq!(split_folder("/a/b"), Some(("/a", "b")));
        assert_eq!(split_folder("/a"), Some(("/", "a")));
        assert_eq!(split_folder("/"), None);
        assert!(is_below("/a/b", "/a"));
        assert!(!is_below("/ab", "/a"));
        assert!(is_below("/a", "/"));
        assert!(!is_below("/", "/"));
    }
}
