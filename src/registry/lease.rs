//! Leases in `hookplan_leases`: who may change the registry's credentials now. A lease is held
//! by a host, a process id and a random holder id; its expiry is set by the database's own
//! clock (so two machines whose clocks disagree still agree on it), and its holder renews it
//! while it works and checks it before every write (fencing): a holder that lost it stops.
//!
//! A lease whose expiry has passed is free. On the same host, one whose process is gone is
//! taken over at once; a holder on another host is waited out until its lease expires.

use super::sql::Statement;
use super::{Backend, Registry, RegistryError, bound, now};
use sqlx::Row;

/// How long a lease lasts unless renewed, in seconds.
pub const LEASE_SECONDS: i64 = 60;

/// Who holds a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// A random id, one per holding.
    pub id: String,
    pub host: String,
    pub pid: u32,
}

impl Holder {
    /// This process on this host, with a fresh random id.
    pub fn this_process() -> Self {
        Self {
            id: super::bookkeeping::new_registry_id(),
            host: this_host(),
            pid: std::process::id(),
        }
    }
}

/// The host name leases record: `HOOKPLAN_HOST_ID` when set (two checkouts on one machine that
/// should act as two hosts), else the machine's name.
pub fn this_host() -> String {
    if let Ok(id) = std::env::var("HOOKPLAN_HOST_ID")
        && !id.trim().is_empty()
    {
        return id.trim().to_string();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Whether a process of this host is still running.
fn process_alive(pid: u32) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 checks for the process without sending anything.
        let answer = unsafe { libc::kill(pid, 0) };
        answer == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = pid;
        true
    }
}

/// How taking a lease went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// It was free (or expired).
    Fresh,
    /// It was held by a process of this host that is gone.
    TakenOver { pid: u32 },
}

/// Why a lease could not be taken or kept.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "another migration holds the registry's lock: process {pid} on {host}, for {seconds} more second(s) unless it renews it"
    )]
    Held {
        host: String,
        pid: u32,
        seconds: i64,
    },
    #[error("this migration lost the registry's lock (it expired, or another process took it)")]
    Lost,
    #[error(transparent)]
    Registry(#[from] Box<RegistryError>),
}

impl From<RegistryError> for LeaseError {
    fn from(error: RegistryError) -> Self {
        Self::Registry(Box::new(error))
    }
}

impl Registry {
    /// The database clock, in seconds since the epoch.
    fn clock_sql(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "CAST(strftime('%s','now') AS INTEGER)",
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)",
        }
    }

    /// Takes the lease `name` for `holder`, for [`LEASE_SECONDS`].
    pub async fn take_lease(&self, name: &str, holder: &Holder) -> Result<Taken, LeaseError> {
        let what = "taking the registry's lock";
        let clock = self.clock_sql();
        // Two tries: a lease that was free can be taken by someone else in between.
        for _ in 0..2 {
            let mut guard = self.conn.lock().await;
            let conn = self.bookkept(&mut guard).await?;
            let mut insert = Statement::new(self.backend);
            insert
                .push("INSERT INTO hookplan_leases (name, holder, host, pid, expires_at, acquired_at) VALUES (")
                .bind(Some(name.to_string()))
                .push(", ")
                .bind(Some(holder.id.clone()))
                .push(", ")
                .bind(Some(holder.host.clone()))
                .push(&format!(", {}, {clock} + {LEASE_SECONDS}, ", holder.pid))
                .bind(Some(now()))
                .push(") ON CONFLICT (name) DO NOTHING");
            let inserted = bound(&insert)
                .execute(&mut *conn)
                .await
                .map_err(|e| self.query_error(what, &e))?
                .rows_affected();
            if inserted == 1 {
                return Ok(Taken::Fresh);
            }
            let mut read = Statement::new(self.backend);
            read.push(&format!(
                "SELECT holder, host, CAST(pid AS TEXT), CAST(expires_at - {clock} AS TEXT) FROM hookplan_leases WHERE name = "
            ))
            .bind(Some(name.to_string()));
            let rows = bound(&read)
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| self.query_error(what, &e))?;
            let Some(row) = rows.first() else {
                continue;
            };
            let text = |i: usize| -> Result<String, LeaseError> {
                Ok(row
                    .try_get::<Option<String>, _>(i)
                    .map_err(|e| self.query_error(what, &e))?
                    .unwrap_or_default())
            };
            let (old, host, pid, left) = (text(0)?, text(1)?, text(2)?, text(3)?);
            let pid: u32 = pid.parse().unwrap_or(0);
            let left: i64 = left.parse().unwrap_or(0);
            let gone = host == holder.host && pid != holder.pid && !process_alive(pid);
            if left > 0 && !gone {
                return Err(LeaseError::Held {
                    host,
                    pid,
                    seconds: left,
                });
            }
            let mut take = Statement::new(self.backend);
            take.push("UPDATE hookplan_leases SET holder = ")
                .bind(Some(holder.id.clone()))
                .push(", host = ")
                .bind(Some(holder.host.clone()))
                .push(&format!(
                    ", pid = {}, expires_at = {clock} + {LEASE_SECONDS}, acquired_at = ",
                    holder.pid
                ))
                .bind(Some(now()))
                .push(" WHERE name = ")
                .bind(Some(name.to_string()))
                .push(" AND holder = ")
                .bind(Some(old));
            let taken = bound(&take)
                .execute(&mut *conn)
                .await
                .map_err(|e| self.query_error(what, &e))?
                .rows_affected();
            if taken == 1 {
                return Ok(if left > 0 {
                    Taken::TakenOver { pid }
                } else {
                    Taken::Fresh
                });
            }
        }
        Err(LeaseError::Lost)
    }

    /// Renews the lease for [`LEASE_SECONDS`] more; [`LeaseError::Lost`] when `holder` no
    /// longer holds it (it expired and was taken).
    pub async fn renew_lease(&self, name: &str, holder: &Holder) -> Result<(), LeaseError> {
        let clock = self.clock_sql();
        let mut s = Statement::new(self.backend);
        s.push(&format!(
            "UPDATE hookplan_leases SET expires_at = {clock} + {LEASE_SECONDS} WHERE name = "
        ))
        .bind(Some(name.to_string()))
        .push(" AND holder = ")
        .bind(Some(holder.id.clone()));
        if self
            .lease_statement(&s, "renewing the registry's lock")
            .await?
            == 1
        {
            Ok(())
        } else {
            Err(LeaseError::Lost)
        }
    }

    /// Fencing: [`LeaseError::Lost`] unless `holder` holds the lease and it has not expired.
    pub async fn check_lease(&self, name: &str, holder: &Holder) -> Result<(), LeaseError> {
        let clock = self.clock_sql();
        let what = "checking the registry's lock";
        let mut s = Statement::new(self.backend);
        s.push("SELECT holder FROM hookplan_leases WHERE name = ")
            .bind(Some(name.to_string()))
            .push(" AND holder = ")
            .bind(Some(holder.id.clone()))
            .push(&format!(" AND expires_at > {clock}"));
        let mut guard = self.conn.lock().await;
        let conn = self.bookkept(&mut guard).await?;
        let held = !self.texts(conn, &s, what).await?.is_empty();
        if held { Ok(()) } else { Err(LeaseError::Lost) }
    }

    /// Gives the lease back (nothing when `holder` no longer holds it).
    pub async fn release_lease(&self, name: &str, holder: &Holder) -> Result<(), LeaseError> {
        let mut s = Statement::new(self.backend);
        s.push("DELETE FROM hookplan_leases WHERE name = ")
            .bind(Some(name.to_string()))
            .push(" AND holder = ")
            .bind(Some(holder.id.clone()));
        self.lease_statement(&s, "releasing the registry's lock")
            .await
            .map(drop)
    }

    async fn lease_statement(&self, s: &Statement, what: &str) -> Result<u64, LeaseError> {
        let mut guard = self.conn.lock().await;
        let conn = self.bookkept(&mut guard).await?;
        Ok(bound(s)
            .execute(&mut *conn)
            .await
            .map_err(|e| self.query_error(what, &e))?
            .rows_affected())
    }
}
