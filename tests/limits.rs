//! Limits and hygiene of the server, over raw sockets where a well-behaved
//! client can't show them:
//!
//! - a URI over 8 KiB gets 414, one of exactly 8 KiB does not, and one
//!   longer than the server's read buffer gets 414 too;
//! - a header section over 32 KiB (many fields, or one big one, or far
//!   more than the server buffers) gets 431, one of exactly 32 KiB does not;
//! - a client that sends part of a request head and stalls, or trickles it
//!   byte by byte, is disconnected after the header read timeout;
//! - an idle keep-alive connection is closed after the idle timeout, and is
//!   reusable before it;
//! - with `max_connections` = 2 a third connection closes the oldest idle
//!   one and is served at once; under `ulimit -n 64` with 100 keep-alive
//!   clients, every new connection is answered within a few seconds;
//! - garbage and invalid request lines get a 4xx or a close, never a panic,
//!   and the server answers the next client;
//! - `bantin serve` exits 0 promptly on SIGTERM and on SIGINT, with a
//!   keep-alive connection open; in process, shutdown closes idle
//!   connections without waiting out the grace period.
//!
//! Issue 9's HTTP hygiene, over real sockets:
//!
//! - an HTTP/1.1 request without `Host`, with two, or with one that is not
//!   a host gets 400; HTTP/1.0 without `Host` is served;
//! - percent-encoded unreserved characters in a path name the same feed
//!   (same bytes, same ETag); `%2F` and other escapes stay and find nothing;
//! - every response, errors included, carries `X-Content-Type-Options:
//!   nosniff`; `/` carries a `Content-Security-Policy` that names the hashes
//!   of the page's own inline style and script and allows nothing else;
//! - a row a CMS wrote dated year 10000 in UTC leaves every feed served
//!   (no dropped connection), without it, with a `Last-Modified`;
//! - `bantin serve` raises its soft open-file limit to the hard one.

use std::time::{Duration, Instant};

use bantin::http::server::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{
    Bantin, Process, Sandbox, Server, StoreKind, client, each_store, fetch, get, test_limits,
};

/// How long a test waits for the server to do something that should take
/// well under it.
const PATIENCE: Duration = Duration::from_secs(4);

/// Read one response: status and body (by `Content-Length`). `None` when
/// the connection closes first or nothing comes within `limit`.
async fn read_response(stream: &mut TcpStream, limit: Duration) -> Option<(u16, Vec<u8>)> {
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let body_start = end + 4;
            while buf.len() < body_start + len {
                let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
                    .await
                    .ok()?
                    .ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some((status, buf[body_start..body_start + len].to_vec()));
        }
        let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Read until the server closes the connection, at most `limit`; returns
/// what it sent, or `None` when it is still open after `limit`.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(out),
            Ok(Ok(n)) => out.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Read until the first line of an answer is in, the connection closes, or
/// `limit` passes; what was read (`None` on the deadline). For refusals of
/// oversized heads: whether the server then closes depends on whether hyper
/// or bantin refused it (hyper answers 431 and closes when its buffer
/// fills; when one read brought the whole head, bantin's router answers and
/// the connection may stay open).
async fn read_first_line(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while !out.windows(2).any(|w| w == b"\r\n") {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&chunk[..n]),
        }
    }
    Some(out)
}

/// A GET request head for `path`, keep-alive.
fn request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: bantin.test\r\n\r\n").into_bytes()
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.addr).await.unwrap()
}

/// Send `head` on a connection of its own and read what the server answers
/// (at least its first line).
async fn first_line_answering(server: &Server, head: &str) -> String {
    let mut s = connect(server).await;
    // The server may answer and close before it has read all of it.
    let _ = s.write_all(head.as_bytes()).await;
    let got = read_first_line(&mut s, PATIENCE)
        .await
        .expect("the server answers");
    String::from_utf8_lossy(&got).into_owned()
}

each_store!(async fn uri_over_8_kib_is_414);
async fn uri_over_8_kib_is_414(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let path = "/feeds/all.rss?";
    let at_limit = format!("{path}{}", "a".repeat(8192 - path.len()));
    assert_eq!(at_limit.len(), 8192);
    assert_eq!(get(&c, &server.url(&at_limit), &[]).await.status, 200);
    let over = format!("{at_limit}a");
    assert_eq!(get(&c, &server.url(&over), &[]).await.status, 414);
    let long_path = format!("/feeds/category/{}.rss", "a".repeat(9000));
    assert_eq!(get(&c, &server.url(&long_path), &[]).await.status, 414);
    let huge = format!("{path}{}", "q".repeat(60_000));
    assert_eq!(get(&c, &server.url(&huge), &[]).await.status, 414);
    // The server is fine afterwards.
    assert_eq!(get(&c, &server.url("/healthz"), &[]).await.status, 200);
}

/// A raw request whose header section (field lines, CRLFs included, the
/// request line and the final empty line not) is exactly `size` bytes.
fn request_with_header_section(size: usize) -> Vec<u8> {
    let host = "Host: bantin.test\r\n";
    let pad_overhead = "X-Pad: \r\n".len();
    let pad = size - host.len() - pad_overhead;
    format!(
        "GET /feeds/all.rss HTTP/1.1\r\n{host}X-Pad: {}\r\nConnection: close\r\n\r\n",
        "p".repeat(pad - "Connection: close\r\n".len())
    )
    .into_bytes()
}

each_store!(async fn header_section_over_32_kib_is_431);
async fn header_section_over_32_kib_is_431(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    // Exactly at the limit, and one byte over.
    for (size, want) in [(32 * 1024, 200), (32 * 1024 + 1, 431)] {
        let req = request_with_header_section(size);
        let head_end = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let line_end = req.windows(2).position(|w| w == b"\r\n").unwrap();
        assert_eq!(head_end + 2 - (line_end + 2), size);
        let mut s = connect(&server).await;
        s.write_all(&req).await.unwrap();
        let (status, _) = read_response(&mut s, PATIENCE).await.expect("a response");
        assert_eq!(status, want, "header section of {size} bytes");
    }

    let c = client();
    let url = server.url("/feeds/all.rss");
    // Many fields, under 100 of them.
    let value = "v".repeat(1000);
    let names: Vec<String> = (0..40).map(|i| format!("x-pad-{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), value.as_str())).collect();
    assert_eq!(get(&c, &url, &many).await.status, 431, "40 fields of 1 KB");
    assert_eq!(
        get(&c, &url, &many[..25]).await.status,
        200,
        "25 fields of 1 KB"
    );
    // One big field.
    let big = "b".repeat(33 * 1024);
    assert_eq!(
        get(&c, &url, &[("x-big", &big)]).await.status,
        431,
        "one 33 KB field"
    );
    assert_eq!(get(&c, &server.url("/healthz"), &[]).await.status, 200);
}

each_store!(async fn header_section_beyond_what_the_server_buffers_is_431);
async fn header_section_beyond_what_the_server_buffers_is_431(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let head = format!(
        "GET /feeds/all.rss HTTP/1.1\r\nHost: bantin.test\r\nX-Huge: {}\r\n\r\n",
        "h".repeat(200 * 1024)
    );
    let text = first_line_answering(&server, &head).await;
    assert!(text.starts_with("HTTP/1.1 431"), "got {text:?}");
    assert_eq!(
        get(&client(), &server.url("/healthz"), &[]).await.status,
        200
    );
}

each_store!(async fn a_request_head_beyond_the_read_buffer_is_refused_and_the_server_lives_on);
async fn a_request_head_beyond_the_read_buffer_is_refused_and_the_server_lives_on(
    store: StoreKind,
) {
    // Up to hyper's 128 KiB head buffer a long URI gets SPEC's 414 (see the
    // tests above). Past it we stop buffering rather than hold an unbounded
    // head per connection, and hyper answers 431 for the whole head; a
    // deliberate bound, noted in docs/http.md. Where the bound falls depends
    // on how the bytes arrive: a read can bring the whole head at once
    // (hyper grows its buffer by reads, then checks), and then the URI
    // gets its 414. Either way the request is refused and the server
    // stays up.
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let head = format!(
        "GET /feeds/all.rss?{} HTTP/1.1\r\nHost: bantin.test\r\n\r\n",
        "u".repeat(200 * 1024)
    );
    let text = first_line_answering(&server, &head).await;
    assert!(
        text.starts_with("HTTP/1.1 431") || text.starts_with("HTTP/1.1 414"),
        "a 200 KiB URI: want 431 (or 414), got {:?}",
        text.lines().next()
    );
    assert_eq!(
        get(&client(), &server.url("/healthz"), &[]).await.status,
        200
    );
}

fn slow_limits() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(500),
        // Long, so that only the header read timeout can close these.
        idle_timeout: Duration::from_secs(20),
        ..test_limits()
    }
}

each_store!(async fn stalled_request_head_is_disconnected_after_the_header_read_timeout);
async fn stalled_request_head_is_disconnected_after_the_header_read_timeout(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::start_with(sample.open(), slow_limits()).await;
    let mut s = connect(&server).await;
    s.write_all(b"GET /feeds/all.rss HTTP/1.1\r\nHost: bantin.te")
        .await
        .unwrap();
    let got = read_to_close(&mut s, PATIENCE).await;
    assert!(
        got.is_some(),
        "a stalled request head still holds its connection after {PATIENCE:?}"
    );
    let text = String::from_utf8_lossy(got.as_deref().unwrap_or_default()).to_string();
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "unexpected answer {text:?}"
    );
    assert_eq!(
        get(&client(), &server.url("/healthz"), &[]).await.status,
        200
    );
}

each_store!(async fn trickled_request_head_is_disconnected_after_the_header_read_timeout);
async fn trickled_request_head_is_disconnected_after_the_header_read_timeout(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::start_with(sample.open(), slow_limits()).await;
    let mut s = connect(&server).await;
    s.write_all(b"GET /feeds/all.rss HTTP/1.1\r\nHost: bantin.test\r\n")
        .await
        .unwrap();
    // One header byte every 50 ms: the socket is never idle for long, but
    // the head never ends.
    let start = Instant::now();
    let mut closed = false;
    let mut chunk = [0u8; 1024];
    while start.elapsed() < PATIENCE {
        if s.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        match tokio::time::timeout(Duration::from_millis(50), s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            // A 408 before the close is fine.
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    assert!(
        closed,
        "a trickled request head held its connection for {PATIENCE:?}"
    );
}

each_store!(async fn idle_keep_alive_connection_is_closed_after_the_idle_timeout);
async fn idle_keep_alive_connection_is_closed_after_the_idle_timeout(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let limits = Limits {
        idle_timeout: Duration::from_millis(500),
        header_read_timeout: Duration::from_secs(20),
        ..test_limits()
    };
    let server = Server::start_with(sample.open(), limits).await;
    let mut s = connect(&server).await;
    s.write_all(&request("/feeds/all.rss")).await.unwrap();
    let (status, body) = read_response(&mut s, PATIENCE).await.expect("a response");
    assert_eq!(status, 200);
    assert!(!body.is_empty());
    // Within the idle timeout the connection is reused.
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(&request("/healthz")).await.unwrap();
    let (status, _) = read_response(&mut s, PATIENCE)
        .await
        .expect("keep-alive works");
    assert_eq!(status, 200);
    // Then it sits idle and the server closes it.
    let got = read_to_close(&mut s, PATIENCE).await;
    assert!(
        got.is_some(),
        "idle connection still open after {PATIENCE:?}"
    );
}

each_store!(async fn a_third_connection_at_max_connections_2_closes_the_oldest_idle_one);
/// Issue 17: a newcomer that finds every place taken is not left in the
/// kernel's backlog; the oldest idle keep-alive connection makes room.
async fn a_third_connection_at_max_connections_2_closes_the_oldest_idle_one(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let limits = Limits {
        max_connections: 2,
        ..test_limits()
    };
    let server = Server::start_with(sample.open(), limits).await;
    let mut a = connect(&server).await;
    let mut b = connect(&server).await;
    for s in [&mut a, &mut b] {
        s.write_all(&request("/healthz")).await.unwrap();
        let (status, _) = read_response(s, PATIENCE).await.expect("a response");
        assert_eq!(status, 200);
    }
    let mut third = connect(&server).await;
    third.write_all(&request("/healthz")).await.unwrap();
    let (status, _) = read_response(&mut third, PATIENCE)
        .await
        .expect("the third connection is served while two are open");
    assert_eq!(status, 200);
    // The oldest idle one was closed; the second is still served.
    assert!(read_to_close(&mut a, PATIENCE).await.is_some());
    b.write_all(&request("/healthz")).await.unwrap();
    assert_eq!(
        read_response(&mut b, PATIENCE).await.map(|r| r.0),
        Some(200)
    );
}

each_store!(async fn a_low_open_file_limit_never_leaves_a_new_connection_waiting);
/// Issue 17: `bantin serve` under `ulimit -n 64` (32 connections), with
/// 100 keep-alive clients asking again and again: each of 20 new
/// connections is answered (served, or refused with a 503) within a few
/// seconds. It used to wait in the backlog until a client happened to
/// close: over 15 s for one in sixty.
async fn a_low_open_file_limit_never_leaves_a_new_connection_waiting(store: StoreKind) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let sample = Sandbox::with_sample_on(store);
    let url = sample.store_url();
    let server =
        tokio::task::spawn_blocking(move || Process::serve(Bantin::on(&url).file_limit(64)))
            .await
            .unwrap();
    let addr = server.base.trim_start_matches("http://").to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..100 {
        let (addr, stop, answered) = (addr.clone(), stop.clone(), answered.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let Ok(mut s) = TcpStream::connect(&addr).await else {
                    continue;
                };
                // Keep-alive until the server closes it (or 10 s pass).
                while !stop.load(Ordering::SeqCst) {
                    if s.write_all(&request("/healthz")).await.is_err() {
                        break;
                    }
                    match read_response(&mut s, Duration::from_secs(10)).await {
                        Some(_) => answered.fetch_add(1, Ordering::SeqCst),
                        None => break,
                    };
                }
            }
        }));
    }
    // Every place taken, many times over.
    let busy = crate::support::wait_until(Duration::from_secs(60), || {
        let answered = answered.clone();
        async move { answered.load(Ordering::SeqCst) >= 300 }
    })
    .await;
    assert!(busy.is_some(), "the clients got no answers");
    let mut waits = Vec::new();
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let probe = async {
            let mut s = TcpStream::connect(&addr).await.ok()?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: bantin.test\r\nConnection: close\r\n\r\n")
                .await
                .ok()?;
            read_response(&mut s, Duration::from_secs(20)).await
        };
        let answer = tokio::time::timeout(Duration::from_secs(20), probe).await;
        waits.push(start.elapsed());
        // `None`: refused by the kernel, closed unanswered, or no answer.
        statuses.push(answer.ok().flatten().map(|(status, _)| status));
    }
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.abort();
    }
    let slowest = waits.iter().max().copied().unwrap_or_default();
    assert!(
        statuses.iter().all(|s| matches!(s, Some(200 | 503))),
        "{statuses:?}"
    );
    assert!(statuses.contains(&Some(200)), "only refusals: {statuses:?}");
    assert!(
        slowest < Duration::from_secs(5),
        "a new connection waited {slowest:?}: {waits:?}"
    );
    let log = server.stderr.lock().unwrap().clone();
    assert!(!log.contains("panicked"), "{log}");
}

each_store!(async fn garbage_gets_a_4xx_or_a_close_and_the_server_carries_on);
async fn garbage_gets_a_4xx_or_a_close_and_the_server_carries_on(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let limits = Limits {
        header_read_timeout: Duration::from_millis(800),
        idle_timeout: Duration::from_millis(800),
        ..test_limits()
    };
    let server = Server::start_with(sample.open(), limits).await;
    let mut noise = Vec::with_capacity(4096);
    let mut x: u32 = 0x2545_f491;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(x as u8);
    }
    let cases: Vec<Vec<u8>> = vec![
        b"\x00\x01\x02garbage\r\n\r\n".to_vec(),
        b"GET\r\n\r\n".to_vec(),
        b"HELLO WORLD\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n".to_vec(),
        b"GET /feeds/\x7f\xff.rss HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(),
        b"G\xc3\xa9T / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n".to_vec(),
        b"\r\n\r\n\r\n".to_vec(),
        noise,
    ];
    for case in &cases {
        let shown = String::from_utf8_lossy(&case[..case.len().min(40)]).to_string();
        let mut s = connect(&server).await;
        let _ = s.write_all(case).await;
        let got = read_to_close(&mut s, PATIENCE)
            .await
            .unwrap_or_else(|| panic!("{shown:?}: connection still open"));
        let text = String::from_utf8_lossy(&got).to_string();
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 4"),
            "{shown:?}: want a 4xx or a close, got {:?}",
            &text[..text.len().min(80)]
        );
        // The server still answers.
        let mut next = connect(&server).await;
        next.write_all(&request("/healthz")).await.unwrap();
        assert_eq!(
            read_response(&mut next, PATIENCE).await.map(|r| r.0),
            Some(200),
            "after {shown:?}"
        );
    }
    // An unknown HTTP version: a 4xx or 505, or a close.
    let mut s = connect(&server).await;
    s.write_all(b"GET / HTTP/9.9\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let got = read_to_close(&mut s, PATIENCE).await.expect("a close");
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 4") || text.starts_with("HTTP/1.1 505"),
        "{text:?}"
    );
    assert_eq!(
        get(&client(), &server.url("/healthz"), &[]).await.status,
        200
    );
}

/// `bantin serve`, one finished request, an open keep-alive connection,
/// then `signal`: the process exits 0 within a few seconds.
async fn serve_exits_cleanly_on(store: StoreKind, signal: &'static str) {
    let sample = Sandbox::with_sample_on(store);
    let url = sample.store_url();
    let mut process = tokio::task::spawn_blocking(move || Process::start_url(&url))
        .await
        .unwrap();
    let addr = process.base.trim_start_matches("http://").to_string();
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(&request("/feeds/all.rss")).await.unwrap();
    let (status, _) = read_response(&mut idle, PATIENCE)
        .await
        .expect("a response");
    assert_eq!(status, 200);
    process.signal(signal);
    let (process, status) = tokio::task::spawn_blocking(move || {
        let status = process.wait_timeout(Duration::from_secs(5));
        (process, status)
    })
    .await
    .unwrap();
    let stderr = process.stderr.lock().unwrap().clone();
    let status = status.unwrap_or_else(|| panic!("still running 5 s after SIG{signal}: {stderr}"));
    assert!(status.success(), "SIG{signal}: exit {status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The open connection was closed, not left hanging.
    assert!(read_to_close(&mut idle, PATIENCE).await.is_some());
}

each_store!(async fn serve_exits_0_promptly_on_sigterm);
async fn serve_exits_0_promptly_on_sigterm(store: StoreKind) {
    serve_exits_cleanly_on(store, "TERM").await;
}

each_store!(async fn serve_exits_0_promptly_on_sigint);
async fn serve_exits_0_promptly_on_sigint(store: StoreKind) {
    serve_exits_cleanly_on(store, "INT").await;
}

each_store!(async fn shutdown_closes_idle_connections_without_waiting_out_the_grace_period);
async fn shutdown_closes_idle_connections_without_waiting_out_the_grace_period(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let limits = Limits {
        grace: Duration::from_secs(30),
        ..test_limits()
    };
    let server = Server::start_with(sample.open(), limits).await;
    let addr = server.addr;
    let mut idle = connect(&server).await;
    idle.write_all(&request("/healthz")).await.unwrap();
    assert_eq!(
        read_response(&mut idle, PATIENCE).await.map(|r| r.0),
        Some(200)
    );
    tokio::time::timeout(PATIENCE, server.stop())
        .await
        .expect("shutdown waited on an idle connection");
    assert!(read_to_close(&mut idle, PATIENCE).await.is_some());
    // Nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
}

/// Send `raw` on a new connection and read one response.
async fn exchange(server: &Server, raw: &[u8]) -> (u16, Vec<u8>) {
    let mut s = connect(server).await;
    s.write_all(raw).await.unwrap();
    read_response(&mut s, PATIENCE).await.expect("a response")
}

each_store!(async fn http_1_1_without_host_or_with_two_is_400_and_http_1_0_without_is_served);
/// Row "HTTP/1.1 without Host, or with two".
async fn http_1_1_without_host_or_with_two_is_400_and_http_1_0_without_is_served(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    for (raw, want) in [
        (&b"GET /feeds/all.rss HTTP/1.1\r\n\r\n"[..], 400),
        (
            b"GET /feeds/all.rss HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
            400,
        ),
        (
            b"GET /feeds/all.rss HTTP/1.1\r\nHost: a.test\r\nHost: a.test\r\n\r\n",
            400,
        ),
        (b"GET /feeds/all.rss HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        (
            b"GET /feeds/all.rss HTTP/1.1\r\nHost: u@a.test\r\n\r\n",
            400,
        ),
        (b"GET http://a.test/feeds/all.rss HTTP/1.1\r\n\r\n", 400),
        (
            b"GET /feeds/all.rss HTTP/1.1\r\nHost: a.test:8080\r\n\r\n",
            200,
        ),
        (b"GET /feeds/all.rss HTTP/1.1\r\nHost:\r\n\r\n", 200),
        (b"GET /feeds/all.rss HTTP/1.0\r\n\r\n", 200),
        (
            b"GET /feeds/all.rss HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
            400,
        ),
    ] {
        let (status, body) = exchange(&server, raw).await;
        assert_eq!(status, want, "{}", String::from_utf8_lossy(raw));
        if want == 400 {
            assert!(String::from_utf8_lossy(&body).contains("Host"));
        }
    }
    server.stop().await;
}

each_store!(async fn percent_encoded_unreserved_characters_name_the_same_feed);
/// Row "percent-encoded path".
async fn percent_encoded_unreserved_characters_name_the_same_feed(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let plain = get(&c, &server.url("/feeds/category/kinh-te.rss"), &[]).await;
    assert_eq!(plain.status, 200);
    for encoded in [
        "/feeds/category/kinh%2Dte.rss",
        "/feeds/category/kinh%2dte.rss",
        "/feeds/category/%6Binh-te.rss",
        "/%66eeds/category/kinh-te%2Erss",
        "/feeds/%63ategory/kinh-te.rss",
    ] {
        let r = get(&c, &server.url(encoded), &[]).await;
        assert_eq!(r.status, 200, "{encoded}");
        assert_eq!(r.etag(), plain.etag(), "{encoded}");
        assert_eq!(r.body, plain.body, "{encoded}");
    }
    for other in [
        "/feeds/category%2Fkinh-te.rss",
        "/feeds/category/kinh%20te.rss",
        "/feeds/category/kinh-t%C3%A9.rss",
        "/feeds/category/%2E%2E.rss",
    ] {
        assert_eq!(
            get(&c, &server.url(other), &[]).await.status,
            404,
            "{other}"
        );
    }
    let opml = get(&c, &server.url("/feeds%2Eopml"), &[]).await;
    assert_eq!(opml.status, 200);
    server.stop().await;
}

each_store!(async fn every_response_says_nosniff_and_the_page_has_a_strict_csp);
/// Row "nosniff and CSP".
async fn every_response_says_nosniff_and_the_page_has_a_strict_csp(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let feed = get(&c, &server.url("/feeds/all.atom"), &[]).await;
    let not_modified = get(
        &c,
        &server.url("/feeds/all.atom"),
        &[("if-none-match", &feed.etag())],
    )
    .await;
    assert_eq!(not_modified.status, 304);
    let mut replies = vec![feed, not_modified];
    for path in [
        "/",
        "/feeds.opml",
        "/healthz",
        "/metrics",
        "/nope",
        "/feeds/category/khong-co.json",
    ] {
        replies.push(get(&c, &server.url(path), &[]).await);
    }
    replies.push(fetch(&c, "POST", &server.url("/feeds/all.rss"), &[]).await);
    replies.push(get(&c, &server.url(&format!("/{}", "x".repeat(9000))), &[]).await);
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 304, 200, 200, 200, 200, 404, 404, 405, 414]);
    for r in &replies {
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{}",
            r.status
        );
    }
    let (_, bare) = exchange(&server, b"GET /feeds/all.rss HTTP/1.1\r\n\r\n").await;
    assert!(!bare.is_empty());

    let page = get(&c, &server.url("/"), &[]).await;
    let csp = page.header("content-security-policy").expect("a CSP on /");
    let html = page.text();
    let inner = |tag: &str| -> String {
        let open = format!("<{tag}>");
        let start = html.find(&open).unwrap() + open.len();
        let end = html[start..].find(&format!("</{tag}>")).unwrap();
        html[start..start + end].to_string()
    };
    for tag in ["style", "script"] {
        use base64::Engine as _;
        use sha2::Digest as _;
        let hash = base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(inner(tag).as_bytes()));
        assert!(
            csp.contains(&format!("{tag}-src 'sha256-{hash}'")),
            "{tag} hash {hash} not in {csp}"
        );
    }
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(html.matches("<script").count(), 1, "one inline script only");
    assert_eq!(html.matches("<style").count(), 1, "one inline style only");
    // Feeds are not documents a browser runs: no CSP needed there.
    server.stop().await;
}

each_store!(async fn a_cms_row_dated_year_10000_leaves_feeds_served_without_it);
/// Row "year 10000": a CMS row dated past 9999 in UTC used to drop the
/// connection of every feed holding it; one dated 9999-12-31T23:59:59Z
/// (issue 17) was served as year 10000 in the site's +07:00.
async fn a_cms_row_dated_year_10000_leaves_feeds_served_without_it(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let old_us = chrono::DateTime::parse_from_rfc3339("2020-10-05T16:30:00+07:00")
        .unwrap()
        .timestamp_micros();
    let new_us = chrono::Utc::now().timestamp_micros() - 1_000_000;
    {
        // The bad row, and a good one in the same transaction: once the
        // good one is served, the server has read the bad one too.
        let mut sql = String::from("BEGIN;");
        for (id, updated, us) in [
            ("nam-10000", "9999-12-31T23:59:59-23:59", old_us),
            ("nam-10000-gio-site", "9999-12-31T23:59:59Z", old_us),
            ("moi-them", "2020-10-05T16:30:00+07:00", new_us),
        ] {
            let published = chrono::DateTime::from_timestamp_micros(us)
                .unwrap()
                .to_rfc3339();
            let updated = updated.max(published.as_str());
            sql.push_str(&format!(
                "INSERT INTO articles (id, title, authors, published, updated, published_us)
                 VALUES ('{id}', 'Bài của CMS', '[]', '{published}', '{updated}', {us});
                 INSERT INTO article_categories (article_id, slug, name, position, published_us)
                 VALUES ('{id}', 'kinh-te', 'Kinh tế', 0, {us});"
            ));
        }
        sql.push_str("COMMIT;");
        sample.sql(&sql);
    }
    let seen = crate::support::wait_until(Duration::from_secs(5), || {
        let c = c.clone();
        let url = server.url("/feeds/category/kinh-te.json");
        async move { get(&c, &url, &[]).await.text().contains("moi-them") }
    })
    .await;
    assert!(seen.is_some(), "the server never saw the write");
    for path in [
        "/feeds/all.rss",
        "/feeds/all.atom",
        "/feeds/all.json",
        "/feeds/category/kinh-te.rss",
        "/feeds/category/kinh-te.atom",
        "/feeds/category/kinh-te.json",
    ] {
        let r = get(&c, &server.url(path), &[]).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.header("last-modified").is_some(), "{path}");
        assert!(!r.text().contains("nam-10000"), "{path}");
        assert!(!r.text().contains("10000-01-01"), "{path}");
        crate::support::parse(&r.body);
    }
    assert_eq!(get(&c, &server.url("/healthz"), &[]).await.status, 200);
    server.stop().await;
}

each_store!(fn serve_raises_the_soft_open_file_limit_to_the_hard_one);
/// `bantin serve` lifts its soft open-file limit to the hard one, which
/// its connection cap follows: started with a soft limit of 256 under a
/// higher hard one, it runs with the hard one.
fn serve_raises_the_soft_open_file_limit_to_the_hard_one(store: StoreKind) {
    use std::io::BufRead;
    let sample = Sandbox::with_sample_on(store);
    let mut child = sample
        .bantin()
        .soft_file_limit(256)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .spawn();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let started = lines.any(|l| l.is_ok_and(|l| l.contains("bantin: serving")));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id()));
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "serve did not start");
    let limits = limits.unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_ne!(fields[3], "256", "the soft limit stayed at 256: {line}");
    assert_eq!(fields[3], fields[4], "soft and hard differ: {line}");
}
