//! A throwaway PostgreSQL 15 server on 127.0.0.1, started from the machine's server binaries
//! (a test that needs one fails, never skips, without them), and SQL run into it.

use sqlx::{AnyConnection, Connection};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
pub const PG_PASSWORD: &str = "Pg-s3cret";

/// Runs statements on a fresh connection (test set-up: any failure panics with the statement).
pub async fn run_sql(url: &str, statements: &[&str]) {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url)
        .await
        .expect("connect for set-up");
    for s in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(s.to_string()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    conn.close().await.ok();
}

/// Runs statements from a test that is not async.
pub fn run_sql_blocking(url: &str, statements: &[&str]) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_sql(url, statements));
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throwaway PostgreSQL server, stopped when dropped.
pub struct Postgres {
    dir: PathBuf,
    _root: tempfile::TempDir,
    pub port: u16,
}

impl Postgres {
    pub fn start() -> Self {
        let initdb = Path::new(PG_BIN).join("initdb");
        assert!(
            initdb.exists(),
            "PostgreSQL 15 is not installed: {} is missing (apt-get install postgresql-15)",
            initdb.display()
        );
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        let pwfile = root.path().join("pw");
        std::fs::write(&pwfile, PG_PASSWORD).unwrap();
        for path in [root.path(), dir.as_path(), pwfile.as_path()] {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(path)
                .status()
                .unwrap();
            assert!(ok.success(), "chown {}", path.display());
        }
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&initdb)
            .arg("-D")
            .arg(&dir)
            .args(["-U", "postgres", "-A", "scram-sha-256", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(Path::new(PG_BIN).join("pg_ctl"))
            .arg("-D")
            .arg(&dir)
            .args(["-w", "-l"])
            .arg(root.path().join("log"))
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
                dir.display()
            ))
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            dir,
            _root: root,
            port,
        }
    }

    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{PG_PASSWORD}@127.0.0.1:{}/{db}",
            self.port
        )
    }

    pub async fn create_db(&self, name: &str) -> String {
        run_sql(&self.url("postgres"), &[&format!("CREATE DATABASE {name}")]).await;
        self.url(name)
    }

    /// `create_db` from a test that is not async.
    pub fn create_db_blocking(&self, name: &str) -> String {
        run_sql_blocking(&self.url("postgres"), &[&format!("CREATE DATABASE {name}")]);
        self.url(name)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(Path::new(PG_BIN).join("pg_ctl"))
            .arg("-D")
            .arg(&self.dir)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}
