//! Endpoints configured at run time (`sandbox configure-endpoint`), kept in the sandbox's
//! folder so that they persist and so that a running sandbox — possibly another process —
//! picks them up: it checks the file a few times a second and swaps in the new routes.

use super::config::EndpointConfig;
use super::routes::Routes;
use super::state::{ENDPOINTS_FILE, ENDPOINTS_LOCK_FILE};
use crate::atomic_write::{self, Access};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// How often a running sandbox looks for changes (well inside the promised second).
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointsFile {
    endpoints: Vec<EndpointConfig>,
}

/// The endpoints configured in a sandbox folder (none if the file does not exist).
pub fn load(dir: &Path) -> Result<Vec<EndpointConfig>, String> {
    let path = dir.join(ENDPOINTS_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(format!(
                "cannot read {}: {}",
                path.display(),
                crate::io_error::describe(&e)
            ));
        }
    };
    let file: EndpointsFile = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a valid endpoints file: {e}", path.display()))?;
    Ok(file.endpoints)
}

/// Adds an endpoint, replacing one with the same path and method. Nothing changes if the
/// endpoint is invalid or the file cannot be written. Concurrent calls (threads or processes)
/// take turns, so none loses another's update.
pub fn configure(dir: &Path, endpoint: EndpointConfig) -> Result<(), String> {
    endpoint.validate()?;
    atomic_write::private_dir(dir).map_err(|e| {
        format!(
            "cannot create {}: {}",
            dir.display(),
            crate::io_error::describe(&e)
        )
    })?;
    let _turn = lock(dir)?;
    let mut endpoints = load(dir)?;
    endpoints.retain(|e| !(e.path == endpoint.path && e.method == endpoint.method));
    endpoints.push(endpoint);
    // Compiling checks everything a running sandbox will check before it is written.
    Routes::compile(&endpoints)?;
    let json =
        serde_json::to_vec_pretty(&EndpointsFile { endpoints }).map_err(|e| e.to_string())?;
    let path = dir.join(ENDPOINTS_FILE);
    // Private: configured headers may carry credentials.
    atomic_write::write(&path, &json, Access::Private).map_err(|e| {
        format!(
            "cannot write {}: {}",
            path.display(),
            crate::io_error::describe(&e)
        )
    })
}

/// Removes every configured endpoint; returns how many there were.
pub fn remove_all(dir: &Path) -> Result<usize, String> {
    if !dir.is_dir() {
        return Ok(0);
    }
    let _turn = lock(dir)?;
    let count = load(dir)?.len();
    match std::fs::remove_file(dir.join(ENDPOINTS_FILE)) {
        Ok(()) => Ok(count),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(format!(
            "cannot remove {}: {}",
            dir.join(ENDPOINTS_FILE).display(),
            crate::io_error::describe(&e)
        )),
    }
}

/// An exclusive lock on the folder's endpoints, held until dropped: the read, change and
/// replace of the endpoints file is one step for every writer (an advisory `flock` on a
/// lock file of its own, since the endpoints file itself is replaced on every write).
fn lock(dir: &Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(ENDPOINTS_LOCK_FILE);
    let describe = |e: std::io::Error| {
        format!(
            "cannot lock {}: {}",
            path.display(),
            crate::io_error::describe(&e)
        )
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(describe)?;
    file.lock().map_err(describe)?;
    Ok(file)
}

/// The routes a running sandbox answers with: its own endpoints, then the folder's.
pub(crate) struct LiveRoutes {
    declared: Vec<EndpointConfig>,
    file: PathBuf,
    current: RwLock<Arc<Routes>>,
    stamp: Mutex<Option<Stamp>>,
}

/// What tells that the file changed: an atomic replace gives a new inode, an edit in place a
/// new length or modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        inode: meta.ino(),
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

impl LiveRoutes {
    pub fn new(declared: Vec<EndpointConfig>, dir: &Path) -> Result<Self, String> {
        let file = dir.join(ENDPOINTS_FILE);
        let seen = stamp(&file);
        let mut all = declared.clone();
        all.extend(load(dir)?);
        let routes = Routes::compile(&all)?;
        Ok(Self {
            declared,
            file,
            current: RwLock::new(Arc::new(routes)),
            stamp: Mutex::new(seen),
        })
    }

    pub fn current(&self) -> Arc<Routes> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reloads the folder's endpoints if the file changed. A file that does not parse leaves
    /// the routes as they were.
    pub fn refresh(&self) -> Result<bool, String> {
        let now = stamp(&self.file);
        {
            let mut seen = self.stamp.lock().unwrap_or_else(|p| p.into_inner());
            if *seen == now {
                return Ok(false);
            }
            *seen = now;
        }
        let dir = self.file.parent().unwrap_or(Path::new("."));
        let mut all = self.declared.clone();
        all.extend(load(dir)?);
        let routes = Routes::compile(&all)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(routes);
        Ok(true)
    }
}

/// Follows the endpoints file until shutdown.
pub(crate) async fn follow(live: Arc<LiveRoutes>, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Err(error) = live.refresh() {
            tracing::warn!(%error, "kept the previous endpoints");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    fn endpoint(path: &str, status: u16) -> EndpointConfig {
        let mut e = EndpointConfig::new(path);
        e.response.status = Some(status);
        e
    }

    fn status_of(live: &LiveRoutes, path: &str) -> Option<u16> {
        match live.current().find(&Method::POST, path) {
            super::super::routes::Route::Endpoint(e) => e.response.status.map(|s| s.as_u16()),
            _ => None,
        }
    }

    #[test]
    fn configuring_replaces_the_same_endpoint_and_a_live_table_follows() {
        let dir = tempfile::tempdir().unwrap();
        let live = LiveRoutes::new(vec![endpoint("/webhook/declared", 201)], dir.path()).unwrap();
        assert_eq!(status_of(&live, "/webhook/declared"), Some(201));
        assert!(!live.refresh().unwrap());
        configure(dir.path(), endpoint("/webhook/test", 202)).unwrap();
        configure(dir.path(), endpoint("/webhook/declared", 203)).unwrap();
        configure(dir.path(), endpoint("/webhook/test", 204)).unwrap();
        assert_eq!(load(dir.path()).unwrap().len(), 2);
        assert!(live.refresh().unwrap());
        assert_eq!(status_of(&live, "/webhook/test"), Some(204));
        // Configured at run time: overrides the declared one.
        assert_eq!(status_of(&live, "/webhook/declared"), Some(203));
        assert_eq!(remove_all(dir.path()).unwrap(), 2);
        assert!(live.refresh().unwrap());
        assert_eq!(status_of(&live, "/webhook/test"), None);
    }

    #[test]
    fn concurrent_configures_all_land() {
        let dir = tempfile::tempdir().unwrap();
        const THREADS: usize = 8;
        const EACH: usize = 6;
        let start = std::sync::Barrier::new(THREADS);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (dir, start) = (dir.path(), &start);
                scope.spawn(move || {
                    start.wait();
                    for n in 0..EACH {
                        configure(dir, endpoint(&format!("/webhook/t{t}-{n}"), 200)).unwrap();
                    }
                });
            }
        });
        let mut paths: Vec<String> = load(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect();
        paths.sort();
        let mut expected: Vec<String> = (0..THREADS)
            .flat_map(|t| (0..EACH).map(move |n| format!("/webhook/t{t}-{n}")))
            .collect();
        expected.sort();
        assert_eq!(paths, expected);
        assert_eq!(remove_all(dir.path()).unwrap(), THREADS * EACH);
        assert_eq!(remove_all(&dir.path().join("missing")).unwrap(), 0);
    }

    #[test]
    fn an_invalid_endpoint_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        configure(dir.path(), endpoint("/webhook/a", 201)).unwrap();
        let before = std::fs::read(dir.path().join(ENDPOINTS_FILE)).unwrap();
        let mut bad = endpoint("/webhook/b", 201);
        bad.response.headers.push(("bad name".into(), "x".into()));
        assert!(configure(dir.path(), bad).is_err());
        assert_eq!(
            std::fs::read(dir.path().join(ENDPOINTS_FILE)).unwrap(),
            before
        );
    }

    #[test]
    fn a_broken_file_keeps_the_routes_that_were() {
        let dir = tempfile::tempdir().unwrap();
        configure(dir.path(), endpoint("/webhook/a", 201)).unwrap();
        let live = LiveRoutes::new(Vec::new(), dir.path()).unwrap();
        std::fs::write(dir.path().join(ENDPOINTS_FILE), b"{not json").unwrap();
        assert!(live.refresh().is_err());
        assert_eq!(status_of(&live, "/webhook/a"), Some(201));
    }
}
