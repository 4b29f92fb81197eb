//! PostgreSQL stopped under a running `bantin serve` (issue 8, item 4), on a
//! cluster of the test's own that it stops and starts again:
//!
//! - while the database is down, cached feeds keep answering 200, and 304
//!   to their ETag (stale beats an error); a feed never rendered before
//!   answers 503 with `Retry-After`; `/healthz` answers 503 with the reason
//!   in one line; no response takes 2 s or more, and none is a 500;
//! - the log says the store went away once, not once per request or poll,
//!   and that it is back once;
//! - started again, with no restart of bantin, the server is healthy and
//!   serves a write made after the database came back (by `bantin import`,
//!   another process) within a few seconds (SPEC's target 2 s; the time is
//!   printed), and the cold feed renders.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{
    Bantin, Process, articles_dir, client, get, jsonl_article, pg_cluster::PrivateCluster,
};

/// No response may take this long, database down or not.
const SLOWEST: Duration = Duration::from_secs(2);

/// How long after the database is back a write must show here (SPEC's
/// target is 2 s; this allows for a loaded machine).
const CATCH_UP: Duration = Duration::from_secs(6);

/// One request the prober made.
struct Probe {
    path: &'static str,
    status: u16,
    took: Duration,
    at: Instant,
}

/// GET `url` (with these header fields), timed.
async fn timed(
    c: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> (crate::support::Reply, Duration) {
    let started = Instant::now();
    let r = get(c, url, headers).await;
    (r, started.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_rides_out_a_database_outage_and_catches_up_alone() {
    let Some(cluster) = tokio::task::spawn_blocking(PrivateCluster::start)
        .await
        .unwrap()
    else {
        return;
    };
    let cluster = Arc::new(cluster);
    let url = {
        let cluster = cluster.clone();
        tokio::task::spawn_blocking(move || {
            let url = cluster.database();
            Bantin::on(&url)
                .args(["import", articles_dir().to_str().unwrap()])
                .ok();
            url
        })
        .await
        .unwrap()
    };
    let server = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || Process::serve(Bantin::on(&url).log("info")))
            .await
            .unwrap()
    };
    let c = client();

    // Warm feeds, and one no one asked for.
    const ALL: &str = "/feeds/all.rss";
    const CATEGORY: &str = "/feeds/category/kinh-te.atom";
    const COLD: &str = "/feeds/region/duc-tho.json";
    let all = get(&c, &server.url(ALL), &[]).await;
    let category = get(&c, &server.url(CATEGORY), &[]).await;
    assert_eq!((all.status, category.status), (200, 200));
    assert_eq!(get(&c, &server.url("/healthz"), &[]).await.status, 200);

    // A client polling cached feeds and the health check all along.
    let probes = Arc::new(Mutex::new(Vec::<Probe>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let prober = {
        let (c, probes, done) = (c.clone(), probes.clone(), done.clone());
        let base = server.base.clone();
        let (all_etag, category_etag) = (all.etag(), category.etag());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                for (path, etag) in [
                    (ALL, None),
                    (ALL, Some(all_etag.as_str())),
                    (CATEGORY, Some(category_etag.as_str())),
                    ("/healthz", None),
                ] {
                    let headers: Vec<(&str, &str)> =
                        etag.map(|e| ("if-none-match", e)).into_iter().collect();
                    let (r, took) = timed(&c, &format!("{base}{path}"), &headers).await;
                    probes.lock().unwrap().push(Probe {
                        path,
                        status: r.status,
                        took,
                        at: Instant::now(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Down.
    {
        let cluster = cluster.clone();
        tokio::task::spawn_blocking(move || cluster.stop())
            .await
            .unwrap();
    }
    let stopped = Instant::now();
    let mut cold_replies = Vec::new();
    let health = loop {
        let (r, took) = timed(&c, &server.url(COLD), &[]).await;
        cold_replies.push((r.status, r.header("retry-after"), took));
        let h = get(&c, &server.url("/healthz"), &[]).await;
        if h.status == 503 {
            break h;
        }
        assert!(
            stopped.elapsed() < SLOWEST * 2,
            "/healthz still says {} {:?} {:?} after the database stopped",
            h.status,
            h.text(),
            stopped.elapsed()
        );
    };
    let noticed = stopped.elapsed();
    let why = health.text();
    assert_eq!(why.trim_end().lines().count(), 1, "{why:?}");
    assert!(why.starts_with("store unavailable: "), "{why:?}");
    // The outage goes on for a while.
    while stopped.elapsed() < noticed + Duration::from_secs(3) {
        let (r, took) = timed(&c, &server.url(COLD), &[]).await;
        cold_replies.push((r.status, r.header("retry-after"), took));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (status, retry_after, took) in &cold_replies {
        assert_eq!(*status, 503, "a cold feed while the database is down");
        assert!(retry_after.is_some(), "503 without Retry-After");
        assert!(*took < SLOWEST, "a cold feed took {took:?}");
    }

    // Back, and a write another process makes at once.
    {
        let cluster = cluster.clone();
        tokio::task::spawn_blocking(move || cluster.restart())
            .await
            .unwrap();
    }
    let back = Instant::now();
    let id = "sau-su-co-mat-dien";
    let published = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let file = tempfile::NamedTempFile::with_suffix(".jsonl").unwrap();
    std::fs::write(
        file.path(),
        jsonl_article(id, "Thời sự", "Đức Thọ", &published),
    )
    .unwrap();
    {
        let (url, path) = (url.clone(), file.path().to_path_buf());
        tokio::task::spawn_blocking(move || {
            Bantin::on(&url)
                .args(["import", path.to_str().unwrap()])
                .ok()
        })
        .await
        .unwrap();
    }
    let shown = crate::support::wait_until(CATCH_UP * 3, || async {
        get(&c, &server.url(ALL), &[]).await.text().contains(id)
    })
    .await;
    let caught_up = back.elapsed();
    done.store(true, Ordering::SeqCst);
    prober.await.unwrap();
    let log = server.stderr.lock().unwrap().clone();
    let probes = std::mem::take(&mut *probes.lock().unwrap());
    // When /healthz first said 503, as the polling client saw it.
    let flipped = probes
        .iter()
        .find(|p| p.path == "/healthz" && p.status == 503)
        .map(|p| p.at.saturating_duration_since(stopped));
    eprintln!(
        "outage: /healthz 503 {flipped:?} after the stop; the first cold request answered in {:?}; \
         a write made after the restart shown {caught_up:?} after it ({:?} of it to import it)",
        cold_replies[0].2,
        caught_up - shown.unwrap_or_default()
    );
    assert!(
        shown.is_some() && caught_up <= CATCH_UP,
        "the write made after the restart took {caught_up:?} to show; log:\n{log}"
    );
    assert_eq!(get(&c, &server.url("/healthz"), &[]).await.status, 200);
    let cold = get(&c, &server.url(COLD), &[]).await;
    assert_eq!(cold.status, 200);
    assert!(cold.text().contains(id));

    // What the polling client saw all along.
    assert!(probes.len() > 40, "only {} probes", probes.len());
    for p in probes.iter() {
        assert!(p.took < SLOWEST, "{} took {:?}", p.path, p.took);
        let fine: &[u16] = match p.path {
            "/healthz" => &[200, 503],
            _ => &[200, 304],
        };
        assert!(fine.contains(&p.status), "{} answered {}", p.path, p.status);
    }
    let flipped = flipped.expect("the prober never saw the outage");
    assert!(
        flipped < SLOWEST,
        "/healthz said 503 only {flipped:?} after the stop"
    );

    // The log says it once each way.
    let down = log.matches("the store does not answer").count();
    let up = log.matches("the store answers again").count();
    assert_eq!((down, up), (1, 1), "log:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    drop(server);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}
