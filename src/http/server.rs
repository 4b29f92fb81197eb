//! The accept loop: HTTP/1.1 on hyper, with the limits that keep one client
//! from holding the server.
//!
//! - At most [`Limits::max_connections`] connections at once; past that we
//!   stop accepting and the kernel's backlog queues the rest.
//! - hyper's header read timeout drops a client that sends its request head
//!   too slowly (slowloris); it also runs while a kept-alive connection
//!   waits for its next request (tests/limits.rs shows an idle connection
//!   closed after it), so idle connections go after it too; the socket's read timeout (`idle_timeout`) is the
//!   backstop when that one is set longer, and a write timeout drops a
//!   client that stops reading.
//! - Heads larger than hyper's buffer get its 431; within it, the router
//!   applies SPEC's exact 8 KiB URI and 32 KiB header limits.
//! - On shutdown we stop accepting, let requests in flight finish, and give
//!   up on connections after [`Limits::grace`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;

use super::app::App;
use super::router::handle;

/// Connection limits and timeouts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time to receive a whole request head.
    pub header_read_timeout: Duration,
    /// Time a connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// Time a write may stall before the client is dropped.
    pub write_timeout: Duration,
    /// Time in-flight connections get to finish at shutdown.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            grace: Duration::from_secs(10),
        }
    }
}

/// hyper's read buffer: room for an 8 KiB URI plus 32 KiB of headers and
/// then some, so that SPEC's limits are ours to apply, with exact statuses.
/// A head that overflows it (a URI of more than 128 KiB, say) gets hyper's
/// own 431: we bound what one connection can make us hold.
const MAX_HEAD_BUFFER: usize = 128 * 1024;

/// Serve `app` on `listener` until `shutdown` resolves.
pub async fn run(
    app: Arc<App>,
    listener: TcpListener,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BUFFER);
    let watcher = tokio::spawn(super::watch::watch(app.clone()));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut shutdown => break,
        };
        let (stream, _peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let mut io = TimeoutStream::new(stream);
        io.set_read_timeout(Some(limits.idle_timeout));
        io.set_write_timeout(Some(limits.write_timeout));
        let io = TokioIo::new(Box::pin(io));
        let app = app.clone();
        let conn = builder.serve_connection(io, service_fn(move |req| handle(app.clone(), req)));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection closed: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    watcher.abort();
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(limits.grace) => tracing::warn!("gave up waiting for connections to close"),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
