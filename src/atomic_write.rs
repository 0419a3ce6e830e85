//! Writes that must never be half-done: a temporary file in the same folder, synced, renamed
//! over the target, then the folder synced. Folders hookplan creates are owner-only.

use std::fs::{self, DirBuilder, File};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Who may read the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Keep the mode of the file being replaced (0644 for a new one).
    Keep,
    /// Owner only (0600): anything holding a secret.
    Private,
}

pub fn write(path: &Path, contents: &[u8], access: Access) -> io::Result<()> {
    write_with(path, access, |file| file.write_all(contents))
}

/// [`write`] with the data written by `fill`: whatever `fill` or any later step fails on, the
/// target is left as it was and the temporary file is removed.
fn write_with(
    path: &Path,
    access: Access,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let mode = match access {
        Access::Private => 0o600,
        Access::Keep => fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644),
    };
    // A name of its own for every writer (so two writers of one target never share a
    // temporary file), created 0600; dropped on any error below, which removes it.
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    // The mode is final before a byte is written; set exactly, whatever the umask.
    temp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    fill(temp.as_file_mut())?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()
}

/// An owner-only (0600) temporary file in `dir`, for a file written in pieces and then given
/// its name with [`persist_new`]; removed when dropped before that.
pub fn private_temp(dir: &Path, prefix: &str) -> io::Result<tempfile::NamedTempFile> {
    let temp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(temp)
}

/// Syncs `temp` and gives it the first of `{stem}.{ext}`, `{stem}-2.{ext}`, `{stem}-3.{ext}`, …
/// that does not exist in `dir` — never replacing a file, even one another writer creates at
/// the same moment — then syncs the folder. Answers the name given.
pub fn persist_new(
    temp: tempfile::NamedTempFile,
    dir: &Path,
    stem: &str,
    ext: &str,
) -> io::Result<String> {
    temp.as_file().sync_all()?;
    let mut temp = temp;
    for n in 1u32..=10_000 {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        match temp.persist_noclobber(dir.join(&name)) {
            Ok(_) => {
                File::open(dir)?.sync_all()?;
                return Ok(name);
            }
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => temp = e.file,
            Err(e) => return Err(e.error),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{stem}.{ext} and 9,999 suffixed names all exist"),
    ))
}

/// Creates a folder and every missing parent, each owner-only (0700); folders that already
/// exist are left as they are.
pub fn private_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// Creates one new owner-only folder (0700) whose parent exists; fails with
/// [`io::ErrorKind::AlreadyExists`] if something is already there.
pub fn new_private_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().mode(0o700).create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_sets_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write(&path, b"one", Access::Private).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        write(&path, b"two", Access::Keep).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file is left behind"
        );
    }

    #[test]
    fn a_new_name_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("b.json"), "first").unwrap();
        fs::write(dir.path().join("b-2.json"), "second").unwrap();
        let mut temp = private_temp(dir.path(), ".b.").unwrap();
        temp.write_all(b"third").unwrap();
        let name = persist_new(temp, dir.path(), "b", "json").unwrap();
        assert_eq!(name, "b-3.json");
        assert_eq!(fs::read(dir.path().join("b.json")).unwrap(), b"first");
        assert_eq!(fs::read(dir.path().join("b-2.json")).unwrap(), b"second");
        assert_eq!(fs::read(dir.path().join("b-3.json")).unwrap(), b"third");
        assert_eq!(
            fs::metadata(dir.path().join("b-3.json"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        let temp = private_temp(dir.path(), ".c.").unwrap();
        assert_eq!(
            persist_new(temp, dir.path(), "c", "json").unwrap(),
            "c.json"
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            4,
            "no temporary file left"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write(&path, b"old", Access::Keep).unwrap();
        // Fails after part of the new contents is written, as a full disk would.
        let result = write_with(&path, Access::Keep, |file| {
            file.write_all(b"half of the ne")?;
            Err(io::Error::other("no space left"))
        });
        assert_eq!(result.unwrap_err().to_string(), "no space left");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.json"], "no temporary file is left behind");
        // A write into a folder that does not exist fails without creating anything.
        let elsewhere = dir.path().join("missing-folder").join("a.json");
        assert!(write(&elsewhere, b"x", Access::Keep).is_err());
        assert!(!dir.path().join("missing-folder").exists());
    }

    #[test]
    fn writers_of_one_target_at_once_all_succeed() {
        const WRITERS: usize = 8;
        const ROUNDS: usize = 10;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        let contents: Vec<Vec<u8>> = (0..WRITERS)
            .map(|n| vec![b'a' + n as u8; 64 * 1024])
            .collect();
        for _ in 0..ROUNDS {
            let start = std::sync::Barrier::new(WRITERS);
            let results: Vec<io::Result<()>> = std::thread::scope(|scope| {
                let handles: Vec<_> = contents
                    .iter()
                    .map(|data| {
                        let (start, path) = (&start, &path);
                        scope.spawn(move || {
                            start.wait();
                            write(path, data, Access::Private)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for result in results {
                result.expect("every writer succeeds");
            }
            let written = fs::read(&path).unwrap();
            assert!(
                contents.contains(&written),
                "the file is one whole write, not a mix ({} bytes)",
                written.len()
            );
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                fs::read_dir(dir.path()).unwrap().count(),
                1,
                "no temporary file is left behind"
            );
        }
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_dir_makes_every_missing_folder_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let existing = root.path().join("existing");
        DirBuilder::new().mode(0o755).create(&existing).unwrap();
        fs::set_permissions(&existing, fs::Permissions::from_mode(0o755)).unwrap();
        let leaf = existing.join("a").join("b").join("c");
        private_dir(&leaf).unwrap();
        assert_eq!(
            mode_of(&existing),
            0o755,
            "an existing folder is not changed"
        );
        for made in [
            existing.join("a"),
            existing.join("a").join("b"),
            leaf.clone(),
        ] {
            assert_eq!(mode_of(&made), 0o700, "{}", made.display());
        }
        // Again, on folders that now exist (one of them opened up by its owner): no change.
        fs::set_permissions(&leaf, fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&leaf).unwrap();
        assert_eq!(mode_of(&leaf), 0o755);
        assert_eq!(mode_of(&existing.join("a")), 0o700);
    }

    #[test]
    fn new_private_dir_makes_one_new_folder() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("run");
        new_private_dir(&dir).unwrap();
        assert_eq!(mode_of(&dir), 0o700);
        let again = new_private_dir(&dir).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert!(new_private_dir(&root.path().join("no").join("parent")).is_err());
    }
}
