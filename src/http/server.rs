//! The accept loop: HTTP/1.1 on hyper, with the limits that keep one client
//! from holding the server.
//!
//! - At most [`Limits::max_connections`] connections at once. The default
//!   follows the process's open-file limit, whose soft value `main` first
//!   raises to the hard one ([`raise_file_limit`]). A connection that finds
//!   no place closes the oldest idle one (`connections`), and is refused
//!   with a 503 if no place frees within two seconds: never left waiting in
//!   the kernel's backlog behind keep-alive clients.
//! - A request whose handler panics (a bug) is answered 500 and logged on
//!   one line with its method, path and the panic's place; the connection
//!   lives on. Without this, hyper would drop the connection mid-request.
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

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Once};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_io_timeout::TimeoutStream;

use super::app::App;
use super::connections::{ADMIT_WAIT, InFlight, Place, Registry, max_waiting};
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
    /// The connection cap follows the open-file limit in force now.
    fn default() -> Self {
        Limits {
            max_connections: connections_for(open_file_limit()),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            grace: Duration::from_secs(10),
        }
    }
}

/// The soft limit on open files; 1024, Linux's usual default, where it
/// can't be read.
pub fn open_file_limit() -> u64 {
    rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
}

/// Raise the soft open-file limit to the hard one, so that the connection
/// cap can be as high as the system lets this process go (the soft limit
/// is often 1024 while the hard one is far higher); returns the soft limit
/// now in force.
pub fn raise_file_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or_else(|_| open_file_limit())
}

/// Connections to serve at once with `files` open files allowed: all but a
/// reserve (a quarter, between 32 and 1024) for the store's files, its
/// connections to PostgreSQL, logs and outgoing requests. Past the cap we
/// stop accepting, which is better than accepting and failing on EMFILE.
pub fn connections_for(files: u64) -> usize {
    let reserve = (files / 4).clamp(32, 1024);
    usize::try_from(files.saturating_sub(reserve).max(1)).unwrap_or(usize::MAX)
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
    let (watch, publish, count) = app.background();
    let watcher = tokio::spawn(watch);
    let publisher = tokio::spawn(publish);
    let counter = tokio::spawn(count);
    let serving = app.clone();
    serve(
        listener,
        limits,
        move |req, peer| handle(serving.clone(), req, peer),
        shutdown,
    )
    .await;
    watcher.abort();
    publisher.abort();
    counter.abort();
    // What was counted since the last flush is written before we go.
    let _ = tokio::task::spawn_blocking(move || app.flush_audience()).await;
}

type Body = Full<Bytes>;

/// The accept loop of [`run`], for any handler: connections, limits and
/// the panic guard around each request.
async fn serve<H, F>(
    listener: TcpListener,
    limits: Limits,
    handler: H,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + 'static,
    F: Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
{
    install_panic_hook();
    tracing::info!(
        max_connections = limits.max_connections,
        open_files = open_file_limit(),
        "accepting connections"
    );
    let registry = Registry::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Newcomers that found no place and wait for one: bounded, as each
    // holds an open file.
    let waiting = Arc::new(Semaphore::new(max_waiting(limits.max_connections)));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BUFFER);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            p = waiting.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends: free a file, and back off
                    // instead of spinning.
                    tracing::warn!("accept: {e}");
                    registry.make_room();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = Accepted {
            registry: registry.clone(),
            builder: builder.clone(),
            limits: limits.clone(),
        };
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                drop(slot);
                // Entered here, not in the task: the registry's order is
                // the order of accepting.
                let place = registry.enter();
                tokio::spawn(conn.serve(place, (stream, peer), permit, handler.clone()));
            }
            Err(_) => {
                registry.make_room();
                let (permits, handler) = (permits.clone(), handler.clone());
                tokio::spawn(async move {
                    let admitted = tokio::time::timeout(ADMIT_WAIT, permits.acquire_owned()).await;
                    match admitted {
                        Ok(Ok(permit)) if !conn.registry.stopping() => {
                            drop(slot);
                            let place = conn.registry.enter();
                            conn.serve(place, (stream, peer), permit, handler).await;
                        }
                        _ => {
                            conn.refuse(stream).await;
                            drop(slot);
                        }
                    }
                });
            }
        }
    }
    drop(listener);
    registry.stop();
    tokio::select! {
        () = registry.all_closed() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(limits.grace) => tracing::warn!("gave up waiting for connections to close"),
    }
}

/// A connection just accepted, and what serving it takes.
struct Accepted {
    registry: Arc<Registry>,
    builder: Arc<http1::Builder>,
    limits: Limits,
}

impl Accepted {
    /// The socket with the idle and write timeouts.
    fn io(&self, stream: TcpStream) -> TokioIo<Pin<Box<TimeoutStream<TcpStream>>>> {
        let mut io = TimeoutStream::new(stream);
        io.set_read_timeout(Some(self.limits.idle_timeout));
        io.set_write_timeout(Some(self.limits.write_timeout));
        TokioIo::new(Box::pin(io))
    }

    /// Serve the connection in its place until it closes, or until it is
    /// asked to (to make room, or at shutdown): one that sent no request
    /// in its first second is dropped then, any other closes once idle
    /// (after its response).
    async fn serve<H, F>(
        self,
        place: Place,
        (stream, peer): (TcpStream, SocketAddr),
        permit: OwnedSemaphorePermit,
        handler: H,
    ) where
        H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + 'static,
        F: Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
    {
        let state = place.conn.clone();
        let conn = self.builder.serve_connection(
            self.io(stream),
            service_fn(move |req: Request<Incoming>| {
                // Cheap clones (a static method, a shared URI buffer), kept
                // only to say which request hit a bug.
                let (method, uri) = (req.method().clone(), req.uri().clone());
                Guarded {
                    _in_flight: state.request(),
                    inner: Box::pin(handler(req, peer)),
                    method,
                    uri,
                }
            }),
        );
        tokio::pin!(conn);
        let done = tokio::select! {
            r = conn.as_mut() => Some(r),
            () = place.conn.asked_to_close() => None,
        };
        let done = match done {
            Some(r) => r,
            None if place.conn.unused() => Ok(()),
            None => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = done {
            tracing::debug!("connection closed: {e}");
        }
        drop(place);
        drop(permit);
    }

    /// Answer 503 and close: no place freed in time.
    async fn refuse(self, stream: TcpStream) {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(ADMIT_WAIT)
            .keep_alive(false);
        let refused = builder.serve_connection(
            self.io(stream),
            service_fn(|_req: Request<Incoming>| async { Ok::<_, Infallible>(busy()) }),
        );
        if let Err(e) = refused.await {
            tracing::debug!("refused connection: {e}");
        }
    }
}

thread_local! {
    /// Whether this thread is polling a request handler now.
    static IN_HANDLER: Cell<bool> = const { Cell::new(false) };
    /// Where the last panic in a handler on this thread happened.
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Chain a panic hook that keeps quiet about panics inside request handlers
/// (recording where they happened for [`Guarded`] to log with the request,
/// so each is logged once) and hands every other panic to the previous
/// hook unchanged.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_HANDLER.with(Cell::get) {
                let at = info.location().map(ToString::to_string);
                PANIC_AT.with(|p| *p.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// A request handler's future that answers 500 if polling it panics,
/// instead of unwinding into hyper, which would drop the connection.
struct Guarded<F> {
    /// Held until the handler is done: the connection is busy meanwhile.
    _in_flight: InFlight,
    inner: Pin<Box<F>>,
    method: http::Method,
    uri: http::Uri,
}

impl<F> Future for Guarded<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let was = IN_HANDLER.with(|h| h.replace(true));
        // The future is never polled again after a panic (we return
        // Ready), so whatever state it was left in can't be observed.
        let polled = catch_unwind(AssertUnwindSafe(|| this.inner.as_mut().poll(cx)));
        IN_HANDLER.with(|h| h.set(was));
        match polled {
            Ok(p) => p,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                let at = PANIC_AT
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| "an unknown place".into());
                tracing::error!(
                    method = %this.method,
                    path = %this.uri.path().chars().take(200).collect::<String>(),
                    "a bug: the request handler panicked at {at}: {message}; answered 500"
                );
                Poll::Ready(Ok(internal_error()))
            }
        }
    }
}

/// The answer to a connection refused for want of a place.
fn busy() -> Response<Body> {
    let mut r = plain_text(
        StatusCode::SERVICE_UNAVAILABLE,
        b"too many connections; try again\n",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

fn internal_error() -> Response<Body> {
    plain_text(
        StatusCode::INTERNAL_SERVER_ERROR,
        b"internal server error\n",
    )
}

/// A plain-text answer the server makes itself, before or around the router.
fn plain_text(status: StatusCode, body: &'static [u8]) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_connection_cap_keeps_a_reserve_of_files() {
        assert_eq!(connections_for(1024), 768);
        assert_eq!(connections_for(64), 32);
        assert_eq!(connections_for(1_048_576), 1_048_576 - 1024);
        assert_eq!(connections_for(0), 1);
    }

    /// Over a real socket: the panicking request gets 500, and the next
    /// request on the same connection is answered as usual.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_panicking_handler_answers_500_and_the_connection_lives_on() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handler = |req: Request<Incoming>, _peer| async move {
            if req.uri().path() == "/boom" {
                panic!("a bug in a handler");
            }
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"fine"))))
        };
        let server = tokio::spawn(serve(listener, Limits::default(), handler, async {
            let _ = stopped.await;
        }));
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(
            b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut got))
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&got);
        let first = text.find("HTTP/1.1 500").unwrap();
        let second = text.find("HTTP/1.1 200").unwrap();
        assert!(first < second, "{text}");
        assert!(text.contains("internal server error"), "{text}");
        assert!(text.ends_with("fine"), "{text}");
        let _ = stop.send(());
        server.await.unwrap();
    }
}
