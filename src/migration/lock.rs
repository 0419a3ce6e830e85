//! The registry's migration lock, as a migration, a rollback or a clearing holds it: taken
//! before anything changes, renewed every 20 s while the work goes on, checked before every
//! write batch (fencing), and given back at the end — after Ctrl-C too. A holder that loses it
//! stops. The lease itself lives in the registry database (`registry::lease`).

use crate::registry::{Holder, LeaseError, Registry, Taken};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The lease's name: one migration at a time per registry, whatever the store.
pub const LOCK_NAME: &str = "migration";

/// How often a holder renews its lease (a third of its life).
pub const RENEW_EVERY: Duration = Duration::from_secs(20);

/// The lock, held.
pub struct MigrationLock {
    registry: Arc<Registry>,
    holder: Holder,
    lost: Arc<AtomicBool>,
    stop: CancellationToken,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

impl MigrationLock {
    /// Takes the lock for this process; says whether it took over a dead process's lease.
    pub async fn take(registry: Arc<Registry>) -> Result<(Self, Taken), LeaseError> {
        let holder = Holder::this_process();
        let taken = registry.take_lease(LOCK_NAME, &holder).await?;
        let lost = Arc::new(AtomicBool::new(false));
        let stop = CancellationToken::new();
        let renewer = tokio::spawn(renew(
            registry.clone(),
            holder.clone(),
            lost.clone(),
            stop.clone(),
        ));
        Ok((
            Self {
                registry,
                holder,
                lost,
                stop,
                renewer: Some(renewer),
            },
            taken,
        ))
    }

    /// Fencing: `Err` when the lock is no longer ours.
    pub async fn check(&self) -> Result<(), LeaseError> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(LeaseError::Lost);
        }
        self.registry.check_lease(LOCK_NAME, &self.holder).await
    }

    /// Stops renewing and gives the lock back.
    pub async fn release(mut self) -> Result<(), LeaseError> {
        self.stop.cancel();
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.await;
        }
        self.registry.release_lease(LOCK_NAME, &self.holder).await
    }
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        // Released or not, renewing stops with the holder; an unreleased lease expires.
        self.stop.cancel();
    }
}

async fn renew(
    registry: Arc<Registry>,
    holder: Holder,
    lost: Arc<AtomicBool>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RENEW_EVERY) => {}
        }
        if let Err(e) = registry.renew_lease(LOCK_NAME, &holder).await {
            tracing::warn!("the migration lock could not be renewed: {e}");
            if matches!(e, LeaseError::Lost) {
                lost.store(true, Ordering::SeqCst);
                return;
            }
        }
    }
}

/// The line that says a dead process's lease was taken over.
pub fn takeover_line(taken: &Taken) -> Option<String> {
    match taken {
        Taken::TakenOver { pid } => Some(format!(
            "Took over the registry's lock from process {pid} on this host, which is gone"
        )),
        Taken::Fresh => None,
    }
}
