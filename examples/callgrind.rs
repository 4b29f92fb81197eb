//! The driver `bench/callgrind.sh` runs under `valgrind --tool=callgrind`
//! to count the instructions of bantin's two hot paths (issue 7,
//! "Measure"). Instruction counts barely move on a noisy shared machine
//! where wall-clock times swing by 2x, so a regression shows.
//!
//! ```text
//! callgrind hit  SITE STORE [N]   N cached hits of /feeds/all.rss per scenario (default 1000)
//! callgrind cold SITE STORE       one cold render of /feeds/all.rss, then its
//!                                 gzip coding, then a render of it again
//! ```
//!
//! Each measured step is a function of its own, never inlined, whose name
//! starts with `measured_`; the script counts one step per valgrind run with
//! `--toggle-collect=*measured_STEP*`, so setup (opening the store, loading
//! the catalog, building requests) is never counted.
//!
//! - `measured_hits_gzip`, `_br`, `_identity`, `_304`: `router::handle` on
//!   an in-process [`App`] whose feed is cached, N requests answered 200
//!   from the held gzip, br and identity bodies, and N more with a
//!   matching `If-None-Match` (304): route, catalog check, cache
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
use bantin::http::router::handle;
use bantin::publish::Coding;
use bantin::publish::representation::Representation;
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

/// A request as feed readers send one: `accept` is its `Accept-Encoding`
/// (none: identity).
fn request(accept: Option<&str>, etag: Option<&str>) -> Request<()> {
    let mut r = Request::builder()
        .uri(PATH)
        .header("host", "127.0.0.1:8080")
        .header("user-agent", "callgrind");
    if let Some(accept) = accept {
        r = r.header("accept-encoding", accept);
    }
    if let Some(tag) = etag {
        r = r.header("if-none-match", tag);
    }
    r.body(()).expect("a valid request")
}

const GZIP: Option<&str> = Some("gzip, deflate");
const BR: Option<&str> = Some("gzip, deflate, br");

fn hits(site: Site, store: Box<dyn Store>, n: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let app = Arc::new(App::new(site, store).expect("the store answers"));
    // Warm, outside the count: render the feed and make each coding asked
    // below (identity is held once asked after a coding).
    let mut etag = String::new();
    for accept in [GZIP, GZIP, BR, None, None] {
        let r = rt
            .block_on(handle(app.clone(), request(accept, None), PEER))
            .expect("infallible");
        assert_eq!(r.status(), 200);
        if accept == GZIP {
            assert_eq!(r.headers()["content-encoding"], "gzip");
            etag = r.headers()["etag"].to_str().unwrap().to_string();
        }
    }
    let asked = |accept: Option<&str>, etag: Option<&str>| -> Vec<Request<()>> {
        (0..n).map(|_| request(accept, etag)).collect()
    };
    let counts = [
        measured_hits_gzip(&rt, &app, asked(GZIP, None)),
        measured_hits_br(&rt, &app, asked(BR, None)),
        measured_hits_identity(&rt, &app, asked(None, None)),
        measured_hits_304(&rt, &app, asked(GZIP, Some(&etag))),
    ];
    assert_eq!(counts, [n; 4], "every hit answered as expected");
    println!("{n} cached hits each (200 gzip, br, identity; 304) of {PATH}");
}

/// `n` requests through the handler; how many got `status`.
async fn answered(app: &Arc<App>, requests: Vec<Request<()>>, status: u16) -> usize {
    let mut ok = 0;
    for req in requests {
        let resp = handle(app.clone(), req, PEER).await.expect("infallible");
        ok += usize::from(resp.status() == status);
        black_box(resp);
    }
    ok
}

#[inline(never)]
fn measured_hits_gzip(rt: &tokio::runtime::Runtime, app: &Arc<App>, r: Vec<Request<()>>) -> usize {
    black_box("gzip");
    rt.block_on(answered(app, r, 200))
}

#[inline(never)]
fn measured_hits_br(rt: &tokio::runtime::Runtime, app: &Arc<App>, r: Vec<Request<()>>) -> usize {
    black_box("br");
    rt.block_on(answered(app, r, 200))
}

#[inline(never)]
fn measured_hits_identity(
    rt: &tokio::runtime::Runtime,
    app: &Arc<App>,
    r: Vec<Request<()>>,
) -> usize {
    black_box("identity");
    rt.block_on(answered(app, r, 200))
}

#[inline(never)]
fn measured_hits_304(rt: &tokio::runtime::Runtime, app: &Arc<App>, r: Vec<Request<()>>) -> usize {
    black_box("304");
    rt.block_on(answered(app, r, 304))
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
