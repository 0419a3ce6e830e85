//! The sandbox: a local webhook endpoint that records every request and injects faults.
//!
//! Plans start sandboxes in-process ([`SandboxHandle::spawn`]); the CLI runs one in the
//! foreground ([`run`], printing each request through an observer). Either way a sandbox
//! serves the default routes (`/webhook/*`, `/test`, `/api/*`) plus its configured
//! endpoints, records each request in its folder before answering it, and draws its faults
//! from keys so that the same seed and requests give the same faults in any order.

pub mod config;
pub mod console;
pub mod endpoints;
mod faults;
mod handler;
pub mod infisical;
mod journal;
#[doc(hidden)]
pub mod json_line;
pub mod masking;
pub mod printer;
pub mod recording;
pub mod replay;
pub mod request_id;
mod routes;
mod server;
pub mod signature;
pub mod state;
mod timestamp;

pub use config::{
    BodyConfig, ConnectionFault, Delay, EndpointConfig, Every, ResponseConfig, SandboxConfig,
    SequenceEntry, SignatureConfig, SignatureScheme,
};
pub use handler::SCHEDULED_DELAY_HEADER;
pub use recording::{Answer, Fault, RecordedRequest, RecordedResponse, RecordingError, Selection};
pub use routes::DEFAULT_ROUTES;

use crate::clock::Clock;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Called with each request once it is recorded (before it is answered), with the line just
/// written to the session file: a [`RecordedRequest`] as JSON (serde reads it back). It runs
/// on the request's path: keep it quick, and read the line elsewhere.
pub type Observer = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Everything a sandbox needs to run.
#[derive(Clone)]
pub struct Sandbox {
    pub config: SandboxConfig,
    /// Its folder: `<state>/sandbox/<NAME>/`.
    pub dir: PathBuf,
    /// Injected delays sleep `scale × scheduled` on it.
    pub clock: Clock,
    pub observer: Option<Observer>,
    /// Set for a plan's sandbox: the run's secrets and its key for signed delay reports.
    pub link: Option<crate::run_link::RunLink>,
    /// The state directory: an Infisical emulation with `state "NAME"` keeps its secrets in
    /// `<state_dir>/sandbox/NAME/`.
    pub state_dir: PathBuf,
}

impl Sandbox {
    /// A sandbox whose folder is `<state_root>/sandbox/<NAME>/` (`state_root` is the state
    /// directory for the CLI, a run's folder for a plan), on a real-time clock, silent.
    pub fn new(config: SandboxConfig, state_root: &Path) -> Self {
        let dir = state::sandbox_dir(state_root, &config.name);
        Self {
            config,
            dir,
            clock: Clock::default(),
            observer: None,
            link: None,
            state_dir: state_root.to_path_buf(),
        }
    }

    /// The state directory an Infisical emulation's `state` lives under, when it is not
    /// `state_root` (a plan's sandboxes live in the run's folder, their state does not).
    pub fn with_state_dir(mut self, state_dir: PathBuf) -> Self {
        self.state_dir = state_dir;
        self
    }

    /// Where the Infisical emulation keeps its secrets, if it keeps them.
    pub fn infisical_state(&self) -> Option<PathBuf> {
        let name = self.config.infisical.as_ref()?.state.as_ref()?;
        Some(state::sandbox_dir(&self.state_dir, name))
    }

    /// Ties the sandbox to a run: fingerprints mask the run's secrets, and delays are reported
    /// signed with the run's key (and only so).
    pub fn with_link(mut self, link: crate::run_link::RunLink) -> Self {
        self.link = Some(link);
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.config)
            .field("dir", &self.dir)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {}", crate::io_error::describe(source))]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    #[error("cannot use {}: {}", path.display(), crate::io_error::describe(source))]
    State {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error("a sandbox must be started from within a Tokio runtime")]
    NoRuntime,
    #[error("the sandbox stopped unexpectedly")]
    Stopped,
}

impl SandboxError {
    /// The port is taken (another sandbox, another server).
    pub fn is_address_in_use(&self) -> bool {
        matches!(self, SandboxError::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse)
    }
}

/// Serves `sandbox` on `listener` until `shutdown` completes, as a new session. Stopping
/// lets answers in progress finish (briefly); hanging and delayed requests end at once.
pub async fn run(
    listener: TcpListener,
    sandbox: Sandbox,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SandboxError> {
    server::Server::start(listener, sandbox)?
        .serve(shutdown)
        .await
}

/// Binds the configured address, opens a session and prints nothing; the caller (the CLI)
/// shows what it wants before serving with [`Started::serve`].
pub async fn bind(sandbox: Sandbox) -> Result<Started, SandboxError> {
    let addr = SocketAddr::new(sandbox.config.bind, sandbox.config.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SandboxError::Bind { addr, source })?;
    let dir = sandbox.dir.clone();
    let server = server::Server::start(listener, sandbox)?;
    Ok(Started { server, dir })
}

/// A bound sandbox with its session open, not yet serving.
pub struct Started {
    server: server::Server,
    dir: PathBuf,
}

impl Started {
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn url(&self) -> String {
        url_for(self.addr())
    }

    pub fn session(&self) -> &str {
        self.server.session()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), SandboxError> {
        self.server.serve(shutdown).await
    }
}

/// A sandbox running on the current Tokio runtime. Dropping the handle stops it.
pub struct SandboxHandle {
    addr: SocketAddr,
    dir: PathBuf,
    session: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), SandboxError>>>,
}

impl SandboxHandle {
    /// Binds the configured address (port 0 = any free port) and starts serving in the
    /// background. Must be called from within a Tokio runtime.
    pub fn spawn(sandbox: Sandbox) -> Result<Self, SandboxError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SandboxError::NoRuntime)?;
        let addr = SocketAddr::new(sandbox.config.bind, sandbox.config.port);
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|source| SandboxError::Bind { addr, source })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener).map_err(|source| SandboxError::Bind { addr, source })?
        };
        let dir = sandbox.dir.clone();
        let server = server::Server::start(listener, sandbox)?;
        let (addr, session) = (server.local_addr(), server.session().to_string());
        let (stop, stopped) = oneshot::channel::<()>();
        // The sender dropping (the handle dropped) stops the server as well.
        let task = runtime.spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            dir,
            session,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        url_for(self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn session(&self) -> &str {
        &self.session
    }

    /// This session's requests so far, in arrival order (those answered or being answered).
    pub fn recordings(&self) -> Result<Vec<RecordedRequest>, SandboxError> {
        Ok(recording::read(
            &self.dir,
            Selection::Session(self.session.clone()),
        )?)
    }

    /// Stops serving and waits until it has stopped.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(|_| SandboxError::Stopped)?,
            None => Ok(()),
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The URL a client on this machine reaches `addr` at (a wildcard bind is reached on loopback).
pub fn url_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}
