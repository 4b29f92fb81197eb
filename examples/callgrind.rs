//! The driver `bench/callgrind.sh` runs under `valgrind --tool=callgrind`
//! to count the instructions of bantin's two hot paths (issue 7,
//! "Measure"). Instruction counts barely move on a noisy shared machine
//! where wall-clock times swing by 2x, so a regression shows.
//!
//! ```text
//! callgrind hit  SITE STORE [N]   N cached hits of /feeds/all.rss (default 1000)
//! callgrind cold SITE STORE       one cold render of /feeds/all.rss, then its
//!                                 gzip coding, then a render of it again
//! ```
//!
//! Each measured step is a function of its own, never inlined, whose name
//! starts with `measured_`; the script counts one step per valgrind run with
//! `--toggle-collect=*measured_STEP*`, so setup (opening the store, loading
//! the catalog, building requests) is never counted.
//!
//! - `measured_hits_gzip`, `measured_hits_304`: `router::handle` on an
//!   in-process [`App`] whose feed is cached, N requests with
//!   `Accept-Encoding: gzip` (200 with the cached gzip body), and N more
//!   with a matching `If-None-Match` (304): route, catalog check, cache
//!   lookup, negotiation, conditional check, response headers. No socket:
//!   hyper's parsing and writing are the same for every server and are not
//!   what we want to watch.
//! - `measured_cold_render`: what a request for a feed nobody asked for
//!   costs before its identity body is ready: a store snapshot, the 50
//!   articles read, shaped (sanitized HTML, cleaned text) and written as
//!   RSS, and the representation (its ETag's SHA-256) made.
//! - `measured_gzip`: the gzip coding of that body, at the server's level.
//! - `measured_rerender`: the same feed rendered again in the same process,
//!   as after a write to one of its articles: what the memoized sanitized
//!   bodies save.
//!
//! STORE must be a SQLite store of this schema (copy one: opening a store of
//! an older schema migrates it).

use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use bantin::article::FeedKey;
use bantin::config::{Site, StoreUrl};
use bantin::feed::Catalog;
use bantin::http::app::App;
use bantin::http::encoding::Coding;
use bantin::http::representation::Representation;
use bantin::http::router::handle;
use bantin::render::{Format, render};
use bantin::store::Store;
use http::Request;

/// The client address the handler logs: any, as the server passes the
/// peer of the connection.
const PEER: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: callgrind (hit|cold) SITE STORE [N]";
    let (Some(mode), Some(site), Some(store)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let n: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(1000);
    let site = match Site::load(Path::new(site)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("callgrind: {e}");
            return ExitCode::FAILURE;
        }
    };
    let store = match StoreUrl::parse(&format!("sqlite:{store}"))
        .map_err(anyhow::Error::from)
        .and_then(|u| Ok(bantin::store::open(&u, 2)?))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("callgrind: {e}");
            return ExitCode::FAILURE;
        }
    };
    match mode.as_str() {
        "hit" => hits(site, store, n),
        "cold" => cold(&site, store.as_ref()),
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

const PATH: &str = "/feeds/all.rss";

fn request(etag: Option<&str>) -> Request<()> {
    let mut r = Request::builder()
        .uri(PATH)
        .header("host", "127.0.0.1:8080")
        .header("user-agent", "callgrind")
        .header("accept-encoding", "gzip, deflate");
    if let Some(tag) = etag {
        r = r.header("if-none-match", tag);
    }
    r.body(()).expect("a valid request")
}

fn hits(site: Site, store: Box<dyn Store>, n: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let app = Arc::new(App::new(site, store).expect("the store answers"));
    // Warm: render the feed and compute its gzip coding, outside the count.
    let first = rt
        .block_on(handle(app.clone(), request(None), PEER))
        .expect("infallible");
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let again = rt
        .block_on(handle(app.clone(), request(None), PEER))
        .expect("infallible");
    assert_eq!(again.headers()["content-encoding"], "gzip");
    let plain: Vec<Request<()>> = (0..n).map(|_| request(None)).collect();
    let conditional: Vec<Request<()>> = (0..n).map(|_| request(Some(&etag))).collect();
    let ok = measured_hits_gzip(&rt, &app, plain);
    let not_modified = measured_hits_304(&rt, &app, conditional);
    assert_eq!((ok, not_modified), (n, n), "every hit answered as expected");
    println!("{n} cached hits (200 gzip) and {n} conditional hits (304) of {PATH}");
}

#[inline(never)]
fn measured_hits_gzip(
    rt: &tokio::runtime::Runtime,
    app: &Arc<App>,
    requests: Vec<Request<()>>,
) -> usize {
    rt.block_on(async {
        let mut ok = 0;
        for req in requests {
            let resp = handle(app.clone(), req, PEER).await.expect("infallible");
            ok += usize::from(resp.status() == 200);
            black_box(resp);
        }
        ok
    })
}

#[inline(never)]
fn measured_hits_304(
    rt: &tokio::runtime::Runtime,
    app: &Arc<App>,
    requests: Vec<Request<()>>,
) -> usize {
    rt.block_on(async {
        let mut ok = 0;
        for req in requests {
            let resp = handle(app.clone(), req, PEER).await.expect("infallible");
            ok += usize::from(resp.status() == 304);
            black_box(resp);
        }
        ok
    })
}

fn cold(site: &Site, store: &dyn Store) {
    let now = chrono::Utc::now();
    let catalog = {
        let snap = store.snapshot().expect("a snapshot");
        Catalog::load(snap.as_ref(), site, now).expect("the catalog")
    };
    let rep = measured_cold_render(site, store, &catalog);
    let gz = measured_gzip(&rep);
    let again = measured_rerender(site, store, &catalog);
    assert!(
        again.same_bytes(&rep),
        "a render again gives the same bytes"
    );
    println!(
        "cold render of {PATH}: {} bytes, gzip {} bytes",
        rep.size(),
        gz.len()
    );
}

fn render_all(site: &Site, store: &dyn Store, catalog: &Catalog) -> Representation {
    let snap = store.snapshot().expect("a snapshot");
    let feed = bantin::feed::load(
        snap.as_ref(),
        site,
        catalog,
        &FeedKey::All,
        catalog.as_of,
        site.items_per_feed,
    )
    .expect("the all feed");
    let body = render(&feed, Format::Rss);
    Representation::new(Format::Rss.content_type(), body, feed.updated)
}

#[inline(never)]
fn measured_cold_render(site: &Site, store: &dyn Store, catalog: &Catalog) -> Representation {
    // Distinct bodies, so that the linker does not fold the two into one.
    black_box("cold");
    render_all(site, store, catalog)
}

#[inline(never)]
fn measured_gzip(rep: &Representation) -> bytes::Bytes {
    rep.body(Coding::Gzip)
}

#[inline(never)]
fn measured_rerender(site: &Site, store: &dyn Store, catalog: &Catalog) -> Representation {
    black_box("again");
    render_all(site, store, catalog)
}
