//! Accepting connections and serving HTTP/1.1 on them until shutdown.
//!
//! Nothing a client sends may bring the server down: malformed requests end their
//! connection, slow or idle clients are cut off by the header read timeout, and running out
//! of file descriptors only pauses accepting. On shutdown the listener closes, connections
//! finish what they are answering (hanging and delayed requests end at once), and whatever
//! is still open after a short drain is dropped.

use super::endpoints::{self, LiveRoutes};
use super::faults::Defaults;
use super::handler::{self, Counts, ResetSwitch, Shared};
use super::infisical::Emulation;
use super::journal::Journal;
use super::recording;
use super::state::{self, SandboxStatus};
use super::{Sandbox, SandboxError};
use crate::atomic_write;
use crate::random::KeyedRandom;
use hyper::StatusCode;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long connections may take to finish their answers once the sandbox stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause after an accept error such as running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// A sandbox with its session open, ready to serve.
pub(crate) struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    shared: Arc<Shared>,
    routes: Arc<LiveRoutes>,
    http: http1::Builder,
}

impl Server {
    /// Opens a new session in the sandbox's folder: its recording file and status.
    pub fn start(listener: TcpListener, sandbox: Sandbox) -> Result<Self, SandboxError> {
        let infisical_state = sandbox.infisical_state();
        let Sandbox {
            config,
            dir,
            clock,
            observer,
            link,
            state_dir: _,
        } = sandbox;
        config.validate().map_err(SandboxError::Config)?;
        let infisical = match &config.infisical {
            Some(settings) => Some(
                Emulation::open(settings.clone(), infisical_state, clock.clone())
                    .map_err(SandboxError::Config)?,
            ),
            None => None,
        };
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: SocketAddr::new(config.bind, config.port),
            source,
        })?;
        atomic_write::private_dir(&dir).map_err(|source| SandboxError::State {
            path: dir.clone(),
            source,
        })?;
        let routes = Arc::new(
            LiveRoutes::new(config.endpoints.clone(), &dir).map_err(SandboxError::Config)?,
        );
        if let Some(last) = recording::last_id_millis(&dir) {
            super::request_id::continue_after(last);
        }
        let (session, journal) = open_session(&dir)?;
        let status = SandboxStatus {
            name: config.name.clone(),
            session: session.clone(),
            url: super::url_for(addr),
            pid: std::process::id(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            config: config.clone(),
        };
        state::write_status(&dir, &status).map_err(|source| SandboxError::State {
            path: dir.join(state::STATUS_FILE),
            source,
        })?;
        let error_status = StatusCode::from_u16(config.error_status).map_err(|_| {
            SandboxError::Config(format!("{} is not an HTTP status", config.error_status))
        })?;
        let shared = Arc::new(Shared {
            session,
            defaults: Defaults {
                error_rate: config.error_rate,
                error_status,
                delay: config.delay,
            },
            max_body_bytes: config.max_body_bytes,
            random: KeyedRandom::new(config.seed),
            clock,
            journal,
            routes: routes.clone(),
            counts: Mutex::new(Counts::default()),
            arrivals: AtomicU64::new(0),
            observer,
            link,
            infisical,
            shutdown: CancellationToken::new(),
        });
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .keep_alive(true);
        Ok(Self {
            listener,
            addr,
            shared,
            routes,
            http,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn session(&self) -> &str {
        &self.shared.session
    }

    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), SandboxError> {
        let Self {
            listener,
            shared,
            routes,
            http,
            ..
        } = self;
        let http = Arc::new(http);
        let follower = tokio::spawn(endpoints::follow(routes, shared.shutdown.clone()));
        let mut connections = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        // Answers are small and often the whole reply; don't let Nagle hold them.
                        let _ = stream.set_nodelay(true);
                        connections.spawn(serve_connection(stream, shared.clone(), http.clone()));
                    }
                    Err(error) => {
                        // Accept errors concern one connection or a passing shortage (file
                        // descriptors, memory); none is a reason to stop serving.
                        tracing::warn!(%error, "accept failed");
                        tokio::select! {
                            _ = &mut shutdown => break,
                            _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                        }
                    }
                }
            }
        }
        drop(listener);
        shared.shutdown.cancel();
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            connections.shutdown().await;
        }
        let _ = follower.await;
        Ok(())
    }
}

/// A new session: ids are zero-padded unix milliseconds and the process id, so that they sort
/// by start time; a taken id moves on to the next millisecond.
fn open_session(dir: &std::path::Path) -> Result<(String, Journal), SandboxError> {
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    for bump in 0..1000 {
        let session = format!("{:013}-{}", now + bump, std::process::id());
        let path = recording::session_file(dir, &session);
        match Journal::create(&path) {
            Ok(journal) => return Ok((session, journal)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(SandboxError::State { path, source }),
        }
    }
    Err(SandboxError::State {
        path: dir.to_path_buf(),
        source: io::Error::from(io::ErrorKind::AlreadyExists),
    })
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, http: Arc<http1::Builder>) {
    let reset = ResetSwitch::default();
    let io = TokioIo::new(FaultableStream {
        stream,
        reset: reset.clone(),
    });
    let stopping = shared.shutdown.clone();
    let service =
        service_fn(move |request| handler::handle(shared.clone(), reset.clone(), request));
    let connection = http.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    // Errors here are the client's (malformed request, timeout, disconnect) or an injected
    // fault: the connection simply ends.
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = stopping.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// A TCP stream that closes with an RST (SO_LINGER 0) when a reset fault tripped its switch.
struct FaultableStream {
    stream: TcpStream,
    reset: ResetSwitch,
}

impl Drop for FaultableStream {
    fn drop(&mut self) {
        if self.reset.is_tripped() {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for FaultableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A FIN first would let the client see a clean end instead of a reset.
        if self.reset.is_tripped() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
