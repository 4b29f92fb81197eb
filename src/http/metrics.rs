//! Counters for `/metrics`, in the Prometheus text exposition format.
//! Plain atomics in fixed tables: recording a request costs a few relaxed
//! increments (its count, its duration's bucket and sum) and no lock.
//! The process's own figures come from [`super::process`].
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What kind of URL a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/feeds/...`
    Feed,
    /// `/`
    Index,
    /// `/feeds.opml`
    Opml,
    /// `/sitemap-news.xml`
    NewsSitemap,
    /// `/healthz`
    Health,
    /// `/metrics`
    Metrics,
    /// Anything else.
    Other,
}

const ROUTES: [(Route, &str); 7] = [
    (Route::Feed, "feed"),
    (Route::Index, "index"),
    (Route::Opml, "opml"),
    (Route::NewsSitemap, "news_sitemap"),
    (Route::Health, "healthz"),
    (Route::Metrics, "metrics"),
    (Route::Other, "other"),
];

/// What a request's duration is filed under: few values, so the
/// histogram's series stay bounded whatever the URLs asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A feed (`/feeds/...` but archives and keyword feeds).
    Feed,
    /// One month of a feed (`.../archive/...`).
    Archive,
    /// A keyword feed (`/feeds/search.*`): read from the store when not cached.
    Search,
    /// `/` and `/feeds.opml`.
    Page,
    /// Everything else: `/healthz`, `/metrics`, errors before routing, 404s.
    Other,
}

const KINDS: [(Kind, &str); 5] = [
    (Kind::Feed, "feed"),
    (Kind::Archive, "archive"),
    (Kind::Search, "search"),
    (Kind::Page, "page"),
    (Kind::Other, "other"),
];

impl Kind {
    /// The kind of a request routed to `route` for `path` (as
    /// `router::normalize_path` leaves it).
    pub fn of(route: Route, path: &str) -> Kind {
        match route {
            Route::Index | Route::Opml | Route::NewsSitemap => Kind::Page,
            Route::Feed if path.contains("/archive/") => Kind::Archive,
            Route::Feed if path.starts_with("/feeds/search.") => Kind::Search,
            Route::Feed => Kind::Feed,
            Route::Health | Route::Metrics | Route::Other => Kind::Other,
        }
    }
}

/// Upper bounds of the duration buckets, in microseconds (0.5 ms to 10 s):
/// a cached feed answers well under a millisecond, a cold one at 1M
/// articles in tens of milliseconds, a render queued behind others later.
const BUCKETS_MICROS: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// One route kind's request durations: a count per bucket (not cumulative:
/// one increment per request; the exposition sums them) plus `+Inf`, and
/// the total in microseconds.
#[derive(Debug, Default)]
struct Durations {
    buckets: [AtomicU64; BUCKETS_MICROS.len() + 1],
    sum_micros: AtomicU64,
}

impl Durations {
    fn record(&self, micros: u64) {
        let i = BUCKETS_MICROS
            .iter()
            .position(|&bound| micros <= bound)
            .unwrap_or(BUCKETS_MICROS.len());
        if let Some(cell) = self.buckets.get(i) {
            cell.fetch_add(1, Relaxed);
        }
        self.sum_micros.fetch_add(micros, Relaxed);
    }

    /// The `_bucket`, `_sum` and `_count` lines for `kind`. The count is the
    /// buckets' own total, so it always equals the `+Inf` bucket even while
    /// requests are being recorded.
    fn write(&self, out: &mut String, name: &str, kind: &str) {
        let mut cumulative = 0;
        for (i, cell) in self.buckets.iter().enumerate() {
            cumulative += cell.load(Relaxed);
            let le = BUCKETS_MICROS
                .get(i)
                .map_or("+Inf".to_string(), |&b| (b as f64 / 1e6).to_string());
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{kind}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{route=\"{kind}\"}} {sum:.6}");
        let _ = writeln!(out, "{name}_count{{route=\"{kind}\"}} {cumulative}");
    }
}

/// The status codes we count one by one; the rest fall under "other".
const STATUSES: [u16; 13] = [
    200, 304, 400, 404, 405, 406, 412, 414, 429, 431, 500, 503, 0,
];

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: [[AtomicU64; STATUSES.len()]; ROUTES.len()],
    durations: [Durations; KINDS.len()],
    renders: AtomicU64,
    render_micros: AtomicU64,
    refreshes: AtomicU64,
    full_refreshes: AtomicU64,
    invalidations: AtomicU64,
    pings_sent: AtomicU64,
    ping_failures: AtomicU64,
    pings_given_up: AtomicU64,
    pings_dropped: AtomicU64,
    pings_not_leader: AtomicU64,
    ping_queue: AtomicU64,
    /// 1 when this replica sent pings at its last batch, 0 when another
    /// one leads (or none was asked yet).
    leader: AtomicU64,
    /// 429s answered by polite polling.
    polite_refusals: AtomicU64,
}

impl Metrics {
    /// Count a finished request.
    pub fn request(&self, route: Route, status: u16) {
        let r = ROUTES
            .iter()
            .position(|(x, _)| *x == route)
            .unwrap_or(ROUTES.len() - 1);
        let s = STATUSES
            .iter()
            .position(|&x| x == status)
            .unwrap_or(STATUSES.len() - 1);
        if let Some(cell) = self.requests.get(r).and_then(|row| row.get(s)) {
            cell.fetch_add(1, Relaxed);
        }
    }

    /// File a request's duration under its kind.
    pub fn duration(&self, kind: Kind, took: std::time::Duration) {
        let k = KINDS
            .iter()
            .position(|(x, _)| *x == kind)
            .unwrap_or(KINDS.len() - 1);
        if let Some(d) = self.durations.get(k) {
            d.record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
        }
    }

    /// Count `resources` rendered from one store read, and its time.
    pub fn render(&self, resources: u64, took: std::time::Duration) {
        self.renders.fetch_add(resources, Relaxed);
        self.render_micros
            .fetch_add(took.as_micros() as u64, Relaxed);
    }

    /// Count a batch of changes applied (writes, or scheduled articles due).
    pub fn refresh(&self) {
        self.refreshes.fetch_add(1, Relaxed);
    }

    /// Count a reload of everything (a bulk import, a trimmed log, a renamed slug).
    pub fn full_refresh(&self) {
        self.full_refreshes.fetch_add(1, Relaxed);
    }

    /// Count a cached resource dropped because a change touched it.
    pub fn invalidation(&self) {
        self.invalidations.fetch_add(1, Relaxed);
    }

    /// Count a WebSub publish ping a hub took (2xx).
    pub fn ping_sent(&self) {
        self.pings_sent.fetch_add(1, Relaxed);
    }

    /// Count a try of a ping that failed (no connection, a timeout, not 2xx).
    pub fn ping_failed(&self) {
        self.ping_failures.fetch_add(1, Relaxed);
    }

    /// Count a ping dropped after its last try failed.
    pub fn ping_given_up(&self) {
        self.pings_given_up.fetch_add(1, Relaxed);
    }

    /// Count a ping dropped because the queue was full.
    pub fn ping_dropped(&self) {
        self.pings_dropped.fetch_add(1, Relaxed);
    }

    /// Count pings dropped because another replica sends them.
    pub fn pings_not_leader(&self, n: u64) {
        self.pings_not_leader.fetch_add(n, Relaxed);
    }

    /// Count a 429 of polite polling.
    pub fn polite_refusal(&self) {
        self.polite_refusals.fetch_add(1, Relaxed);
    }

    /// Pings queued or on the wire now.
    pub fn set_ping_queue(&self, n: usize) {
        self.ping_queue.store(n as u64, Relaxed);
    }

    /// Whether this replica leads (sends the pings), as last asked.
    pub fn set_leader(&self, lead: bool) {
        self.leader.store(u64::from(lead), Relaxed);
    }

    /// The exposition text; cache and store figures are sampled by the
    /// caller.
    pub fn exposition(
        &self,
        cache_entries: usize,
        cache_bytes: usize,
        evicted: u64,
        unreadable_rows: u64,
    ) -> String {
        let mut out = String::new();
        out.push_str("# HELP bantin_http_requests_total HTTP requests answered, by route class and status.\n");
        out.push_str("# TYPE bantin_http_requests_total counter\n");
        for ((_, route), row) in ROUTES.iter().zip(&self.requests) {
            for (status, cell) in STATUSES.iter().zip(row) {
                let n = cell.load(Relaxed);
                if n > 0 {
                    let status = if *status == 0 {
                        "other".to_string()
                    } else {
                        status.to_string()
                    };
                    let _ = writeln!(
                        out,
                        "bantin_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        // STATUSES[1] is 304.
        let not_modified: u64 = self
            .requests
            .iter()
            .filter_map(|row| row.get(1))
            .map(|cell| cell.load(Relaxed))
            .sum();
        let renders = self.renders.load(Relaxed);
        let seconds = self.render_micros.load(Relaxed) as f64 / 1e6;
        let _ = write!(
            out,
            "# HELP bantin_http_not_modified_total 304 responses sent.\n\
             # TYPE bantin_http_not_modified_total counter\n\
             bantin_http_not_modified_total {not_modified}\n\
             # HELP bantin_renders_total Resources (a feed in a format, a page) rendered.\n\
             # TYPE bantin_renders_total counter\n\
             bantin_renders_total {renders}\n\
             # HELP bantin_render_seconds_total Time spent rendering.\n\
             # TYPE bantin_render_seconds_total counter\n\
             bantin_render_seconds_total {seconds:.6}\n\
             # HELP bantin_store_refreshes_total Batches of store changes (or due scheduled articles) applied.\n\
             # TYPE bantin_store_refreshes_total counter\n\
             bantin_store_refreshes_total {}\n\
             # HELP bantin_full_refreshes_total Reloads of everything (bulk imports, trimmed log, renamed slugs).\n\
             # TYPE bantin_full_refreshes_total counter\n\
             bantin_full_refreshes_total {}\n\
             # HELP bantin_invalidations_total Cached resources dropped because a change touched them.\n\
             # TYPE bantin_invalidations_total counter\n\
             bantin_invalidations_total {}\n\
             # HELP bantin_cache_entries Rendered representations held.\n\
             # TYPE bantin_cache_entries gauge\n\
             bantin_cache_entries {cache_entries}\n\
             # HELP bantin_cache_bytes Bytes held by rendered representations, all codings.\n\
             # TYPE bantin_cache_bytes gauge\n\
             bantin_cache_bytes {cache_bytes}\n\
             # HELP bantin_cache_evictions_total Representations evicted (least recently used) to stay within cache_bytes.\n\
             # TYPE bantin_cache_evictions_total counter\n\
             bantin_cache_evictions_total {evicted}\n\
             # HELP bantin_unreadable_rows_total Stored rows left out of feeds because they can't be read (text not UTF-8, a date or JSON that does not parse), each counted when first met.\n\
             # TYPE bantin_unreadable_rows_total counter\n\
             bantin_unreadable_rows_total {unreadable_rows}\n",
            self.refreshes.load(Relaxed),
            self.full_refreshes.load(Relaxed),
            self.invalidations.load(Relaxed),
        );
        let _ = write!(
            out,
            "# HELP bantin_websub_pings_sent_total WebSub publish pings a hub took (2xx).\n\
             # TYPE bantin_websub_pings_sent_total counter\n\
             bantin_websub_pings_sent_total {}\n\
             # HELP bantin_websub_ping_failures_total Tries of publish pings that failed (retries included).\n\
             # TYPE bantin_websub_ping_failures_total counter\n\
             bantin_websub_ping_failures_total {}\n\
             # HELP bantin_websub_pings_given_up_total Publish pings dropped after their last try failed.\n\
             # TYPE bantin_websub_pings_given_up_total counter\n\
             bantin_websub_pings_given_up_total {}\n\
             # HELP bantin_websub_pings_dropped_total Publish pings dropped because the queue was full.\n\
             # TYPE bantin_websub_pings_dropped_total counter\n\
             bantin_websub_pings_dropped_total {}\n\
             # HELP bantin_websub_pings_not_leader_total Publish pings dropped because another replica sends them.\n\
             # TYPE bantin_websub_pings_not_leader_total counter\n\
             bantin_websub_pings_not_leader_total {}\n\
             # HELP bantin_websub_queue_length Publish pings queued or on the wire.\n\
             # TYPE bantin_websub_queue_length gauge\n\
             bantin_websub_queue_length {}\n\
             # HELP bantin_websub_leader 1 if this replica sent pings at its last batch, else 0.\n\
             # TYPE bantin_websub_leader gauge\n\
             bantin_websub_leader {}\n\
             # HELP bantin_polite_refusals_total Unconditional re-fetches within max_age answered 429 (polite_polling).\n\
             # TYPE bantin_polite_refusals_total counter\n\
             bantin_polite_refusals_total {}\n",
            self.pings_sent.load(Relaxed),
            self.ping_failures.load(Relaxed),
            self.pings_given_up.load(Relaxed),
            self.pings_dropped.load(Relaxed),
            self.pings_not_leader.load(Relaxed),
            self.ping_queue.load(Relaxed),
            self.leader.load(Relaxed),
            self.polite_refusals.load(Relaxed),
        );
        const DURATION: &str = "bantin_http_request_duration_seconds";
        let _ = write!(
            out,
            "# HELP {DURATION} Time from a request read to its response ready, by route kind.\n\
             # TYPE {DURATION} histogram\n"
        );
        for ((_, kind), d) in KINDS.iter().zip(&self.durations) {
            d.write(&mut out, DURATION, kind);
        }
        let _ = write!(
            out,
            "# HELP bantin_build_info The running bantin's version.\n\
             # TYPE bantin_build_info gauge\n\
             bantin_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        );
        super::process::write(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let m = Metrics::default();
        m.request(Route::Feed, 200);
        m.request(Route::Feed, 200);
        m.request(Route::Feed, 304);
        m.request(Route::Other, 418);
        let text = m.exposition(3, 1000, 2, 1);
        assert!(text.contains("bantin_http_requests_total{route=\"feed\",status=\"200\"} 2\n"));
        assert!(text.contains("bantin_http_requests_total{route=\"other\",status=\"other\"} 1\n"));
        assert!(text.contains("bantin_http_not_modified_total 1\n"));
        assert!(text.contains("bantin_cache_entries 3\n"));
        assert!(text.contains("bantin_cache_evictions_total 2\n"));
        assert!(text.contains("bantin_unreadable_rows_total 1\n"));
    }

    #[test]
    fn durations_fill_cumulative_buckets_per_kind() {
        let m = Metrics::default();
        m.duration(Kind::Feed, std::time::Duration::from_micros(300));
        m.duration(Kind::Feed, std::time::Duration::from_micros(700));
        m.duration(Kind::Feed, std::time::Duration::from_secs(60));
        let text = m.exposition(0, 0, 0, 0);
        for line in [
            "bantin_http_request_duration_seconds_bucket{route=\"feed\",le=\"0.0005\"} 1\n",
            "bantin_http_request_duration_seconds_bucket{route=\"feed\",le=\"0.001\"} 2\n",
            "bantin_http_request_duration_seconds_bucket{route=\"feed\",le=\"10\"} 2\n",
            "bantin_http_request_duration_seconds_bucket{route=\"feed\",le=\"+Inf\"} 3\n",
            "bantin_http_request_duration_seconds_count{route=\"feed\"} 3\n",
            "bantin_http_request_duration_seconds_sum{route=\"feed\"} 60.001000\n",
            "bantin_http_request_duration_seconds_count{route=\"archive\"} 0\n",
            "bantin_build_info{version=\"",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }

    #[test]
    fn kinds_split_feeds_from_archives_and_searches() {
        assert_eq!(Kind::of(Route::Feed, "/feeds/all.rss"), Kind::Feed);
        assert_eq!(
            Kind::of(Route::Feed, "/feeds/all/archive/2024-11.rss"),
            Kind::Archive
        );
        assert_eq!(Kind::of(Route::Feed, "/feeds/search.json"), Kind::Search);
        assert_eq!(Kind::of(Route::Opml, "/feeds.opml"), Kind::Page);
        assert_eq!(Kind::of(Route::Metrics, "/metrics"), Kind::Other);
    }

    #[test]
    fn websub_pings_are_counted() {
        let m = Metrics::default();
        m.ping_sent();
        m.ping_failed();
        m.ping_failed();
        m.ping_given_up();
        m.ping_dropped();
        m.pings_not_leader(4);
        m.set_ping_queue(7);
        m.set_leader(true);
        let text = m.exposition(0, 0, 0, 0);
        for line in [
            "bantin_websub_pings_sent_total 1\n",
            "bantin_websub_ping_failures_total 2\n",
            "bantin_websub_pings_given_up_total 1\n",
            "bantin_websub_pings_dropped_total 1\n",
            "bantin_websub_pings_not_leader_total 4\n",
            "bantin_websub_queue_length 7\n",
            "bantin_websub_leader 1\n",
        ] {
            assert!(text.contains(line), "{line}");
        }
    }
}
