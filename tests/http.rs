//! SPEC's URLs and live store changes, over a real socket with reqwest:
//!
//! - `/feeds/all.*`, `/feeds/category/{slug}.*`, `/feeds/region/{slug}.*`
//!   and `/feeds/category/{c}/region/{r}.*` answer with the feed they name
//!   (a parsable feed with that feed's number of items), in each format;
//! - a known category and region with no shared article: an empty, valid
//!   feed; an empty store: an empty, valid all feed;
//! - an unknown slug, format or path: 404 with a short plain-text body;
//! - `/` is an HTML page with `<link rel="alternate">` for the all feed in
//!   each format and every category and region name;
//! - `/feeds.opml` is OPML 2.0 with one outline per feed, each as RSS;
//! - `/healthz`: 200 `ok`, 503 when the store fails;
//! - `/metrics`: Prometheus text with request and render counters;
//! - any method but GET and HEAD: 405 with `Allow: GET, HEAD`;
//! - an external `bantin import`, `bantin remove` or a CMS writing the
//!   tables shows within 1 s; only the feeds whose content changed get a new
//!   ETag, the others keep theirs and keep answering 304; within 1 s also
//!   when every feed is warm in the cache, as on a server aggregators poll;
//! - a scheduled article appears within 1 s of its time, with no write;
//! - a request for a cached feed, conditional or not, touches no store and
//!   renders nothing; a cold feed asked for by 20 clients at once renders
//!   once.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bantin::article::FeedKey;
use chrono::{SecondsFormat, Utc};

use crate::support::{
    CountingStore, FORMATS, Reply, Sandbox, Server, StoreKind, belongs, client, content_type,
    each_store, feed_path, fetch, get, jsonl_article, metric, sample_articles, sample_keys, site,
    site_toml, wait_until,
};

/// SPEC: changes show within 1 second.
const FRESH: Duration = Duration::from_secs(1);

/// The number of items a feed of the sample holds.
fn item_count(key: &FeedKey) -> usize {
    let n = sample_articles().iter().filter(|a| belongs(a, key)).count();
    n.min(site().items_per_feed)
}

/// Parse a feed body with feed-rs, an independent parser.
fn parse_feed(url: &str, r: &Reply) -> feed_rs::model::Feed {
    feed_rs::parser::parse(&r.body[..]).unwrap_or_else(|e| panic!("{url} does not parse: {e}"))
}

each_store!(async fn every_feed_url_serves_its_feed_in_each_format);
async fn every_feed_url_serves_its_feed_in_each_format(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let keys = sample_keys();
    assert!(
        keys.iter()
            .any(|k| matches!(k, FeedKey::CategoryRegion(..)))
    );
    // Each URL form in each format, and each feed in one format (the
    // formats rotate over the feeds): every render here is a cold one.
    for (i, key) in keys.iter().enumerate() {
        let want = item_count(key);
        assert!(want > 0, "{key:?}");
        let formats = match key {
            FeedKey::All => &FORMATS[..],
            _ => &FORMATS[i % 3..i % 3 + 1],
        };
        for &ext in formats {
            let url = server.url(&feed_path(key, ext));
            let r = get(&c, &url, &[]).await;
            assert_eq!(r.status, 200, "{url}");
            assert_eq!(r.header("content-type").as_deref(), Some(content_type(ext)));
            assert_eq!(parse_feed(&url, &r).entries.len(), want, "{url}");
        }
    }
}

each_store!(async fn known_pair_without_shared_article_is_an_empty_valid_feed);
async fn known_pair_without_shared_article_is_an_empty_valid_feed(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let key = sample.listing().empty_pair();
    for ext in FORMATS {
        let url = server.url(&feed_path(&key, ext));
        let r = get(&c, &url, &[]).await;
        assert_eq!(r.status, 200, "{url}");
        assert_eq!(r.header("content-type").as_deref(), Some(content_type(ext)));
        assert!(parse_feed(&url, &r).entries.is_empty(), "{url}");
    }
}

each_store!(async fn empty_store_serves_an_empty_valid_all_feed);
async fn empty_store_serves_an_empty_valid_all_feed(store: StoreKind) {
    let sample = Sandbox::with_schema_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    for ext in FORMATS {
        let url = server.url(&format!("/feeds/all.{ext}"));
        let r = get(&c, &url, &[]).await;
        assert_eq!(r.status, 200, "{url}");
        assert!(parse_feed(&url, &r).entries.is_empty(), "{url}");
        assert_eq!(r.header("last-modified"), None);
    }
    assert_eq!(get(&c, &server.url("/"), &[]).await.status, 200);
    assert_eq!(get(&c, &server.url("/feeds.opml"), &[]).await.status, 200);
}

each_store!(async fn unknown_feed_is_404_with_a_short_text_body);
async fn unknown_feed_is_404_with_a_short_text_body(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let listing = sample.listing();
    let cat = listing.categories.keys().next().unwrap();
    let reg = listing.regions.keys().next().unwrap();
    let paths = [
        "/feeds/category/khong-co.rss".to_string(),
        "/feeds/region/khong-co.json".to_string(),
        format!("/feeds/category/{cat}/region/khong-co.atom"),
        format!("/feeds/category/khong-co/region/{reg}.rss"),
        // A region slug where a category is expected.
        format!("/feeds/category/{reg}.rss"),
        "/feeds/all.xml".to_string(),
        "/feeds/all".to_string(),
        "/feeds/all.rss/".to_string(),
        "/feeds/category/Kinh-Te.rss".to_string(),
        "/feeds/category/kinh%20te.rss".to_string(),
        "/feeds/../feeds/all.rss.gz".to_string(),
        "/feeds/region/a/category/b.rss".to_string(),
        "/index.html".to_string(),
        "/nope".to_string(),
    ];
    for path in &paths {
        let r = get(&c, &server.url(path), &[]).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("text/plain; charset=utf-8"),
            "{path}"
        );
        let text = r.text();
        assert!(
            !text.trim().is_empty() && text.len() < 200,
            "{path}: short body, got {text:?}"
        );
    }
}

each_store!(async fn index_page_links_every_format_of_the_all_feed_and_names_every_feed);
async fn index_page_links_every_format_of_the_all_feed_and_names_every_feed(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let r = get(&c, &server.url("/"), &[]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type").unwrap().starts_with("text/html"),
        "{:?}",
        r.header("content-type")
    );
    let html = r.text();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let base = site().base_url.trim_end_matches('/').to_string();
    let links: Vec<&str> = html
        .split('<')
        .filter(|t| t.starts_with("link ") && t.contains("rel=\"alternate\""))
        .collect();
    for (ext, media) in [
        ("rss", "application/rss+xml"),
        ("atom", "application/atom+xml"),
        ("json", "application/feed+json"),
    ] {
        let href = format!("href=\"{base}/feeds/all.{ext}\"");
        assert!(
            links
                .iter()
                .any(|l| l.contains(&href) && l.contains(&format!("type=\"{media}\""))),
            "no <link rel=\"alternate\" type=\"{media}\" {href}> in /"
        );
    }
    // Every category and region, by the name the site file gives it.
    let toml = site_toml();
    for key in sample_keys() {
        let (table, slug) = match &key {
            FeedKey::Category(c) => ("categories", c),
            FeedKey::Region(r) => ("regions", r),
            _ => continue,
        };
        let name = toml[table][slug.as_str()]["name"].as_str().unwrap();
        assert!(html.contains(name), "{name} not on /");
    }
    // Every listed feed's RSS URL appears on the page.
    for key in sample_keys() {
        let url = format!("{base}{}", feed_path(&key, "rss"));
        assert!(html.contains(&url), "{url} not on /");
    }
}

each_store!(async fn opml_lists_every_feed_once_as_rss);
async fn opml_lists_every_feed_once_as_rss(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let r = get(&c, &server.url("/feeds.opml"), &[]).await;
    assert_eq!(r.status, 200);
    let text = r.text();
    let doc = roxmltree::Document::parse(&text).expect("/feeds.opml is XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "opml");
    assert_eq!(root.attribute("version"), Some("2.0"));
    assert!(root.children().any(|n| n.has_tag_name("head")));
    let feeds: Vec<roxmltree::Node> = root
        .descendants()
        .filter(|n| n.has_tag_name("outline") && n.attribute("xmlUrl").is_some())
        .collect();
    let mut urls = BTreeSet::new();
    for outline in &feeds {
        let url = outline.attribute("xmlUrl").unwrap();
        assert!(url.ends_with(".rss"), "{url}");
        assert_eq!(outline.attribute("type"), Some("rss"), "{url}");
        assert!(
            outline.attribute("text").is_some_and(|t| !t.is_empty()),
            "{url} has no text"
        );
        assert!(urls.insert(url.to_string()), "{url} listed twice");
    }
    let base = site().base_url.trim_end_matches('/').to_string();
    let want: BTreeSet<String> = sample_keys()
        .iter()
        .map(|k| format!("{base}{}", feed_path(k, "rss")))
        .collect();
    assert_eq!(urls, want);
    // Each listed URL is served (after swapping the site's base URL for ours).
    for url in urls.iter().take(12) {
        let path = url.strip_prefix(&base).unwrap();
        assert_eq!(get(&c, &server.url(path), &[]).await.status, 200, "{path}");
    }
}

each_store!(async fn healthz_says_ok_while_the_store_answers_and_503_when_it_fails);
async fn healthz_says_ok_while_the_store_answers_and_503_when_it_fails(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let (store, calls) = CountingStore::new(sample.open());
    let server = Server::start(Box::new(store)).await;
    let c = client();
    let r = get(&c, &server.url("/healthz"), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text().trim(), "ok");
    // /healthz answers from what the watcher last found (it never queues
    // behind the store): the failure shows at its next read.
    calls.fail.store(true, Ordering::SeqCst);
    let url = server.url("/healthz");
    let down = wait_until(Duration::from_secs(3), || async {
        let r = get(&c, &url, &[]).await;
        r.status == 503 && r.text().contains("store unavailable")
    })
    .await;
    assert!(down.is_some(), "/healthz still says ok");
    calls.fail.store(false, Ordering::SeqCst);
    let up = wait_until(Duration::from_secs(3), || async {
        get(&c, &url, &[]).await.status == 200
    })
    .await;
    assert!(up.is_some(), "/healthz did not come back");
}

each_store!(async fn metrics_count_requests_and_renders);
async fn metrics_count_requests_and_renders(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let before = metric(&c, &server.base, "bantin_renders_total").await;
    let etag = get(&c, &server.url("/feeds/all.rss"), &[]).await.etag();
    get(
        &c,
        &server.url("/feeds/all.rss"),
        &[("if-none-match", &etag)],
    )
    .await;
    get(&c, &server.url("/nope"), &[]).await;
    let r = get(&c, &server.url("/metrics"), &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let text = r.text();
    for line in [
        "# TYPE bantin_http_requests_total counter",
        "bantin_http_requests_total{route=\"feed\",status=\"200\"} 1",
        "bantin_http_requests_total{route=\"feed\",status=\"304\"} 1",
        "bantin_http_requests_total{route=\"other\",status=\"404\"} 1",
        "# TYPE bantin_renders_total counter",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
    assert_eq!(
        metric(&c, &server.base, "bantin_renders_total").await,
        before + 1
    );
}

each_store!(async fn other_methods_get_405_with_allow);
async fn other_methods_get_405_with_allow(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    for path in ["/feeds/all.rss", "/", "/feeds.opml", "/healthz", "/nope"] {
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"] {
            let r = fetch(&c, method, &server.url(path), &[]).await;
            assert_eq!(r.status, 405, "{method} {path}");
            assert_eq!(
                r.header("allow").as_deref(),
                Some("GET, HEAD"),
                "{method} {path}"
            );
        }
    }
}

/// The ETag of `url`, asserting 200.
async fn etag_of(c: &reqwest::Client, url: &str) -> String {
    let r = get(c, url, &[]).await;
    assert_eq!(r.status, 200, "{url}");
    r.etag()
}

/// Wait up to [`FRESH`] for `url`'s body to contain (or not) `needle`.
async fn shows_within_a_second(c: &reqwest::Client, url: &str, needle: &str, present: bool) {
    // Keep looking past the deadline, to say how late it was.
    let took = wait_until(FRESH * 10, || async {
        get(c, url, &[]).await.text().contains(needle) == present
    })
    .await;
    let state = if present { "missing" } else { "present" };
    match took {
        Some(t) if t <= FRESH => {}
        Some(t) => panic!("{url}: {needle} still {state} after {FRESH:?} (changed after {t:?})"),
        None => panic!("{url}: {needle} still {state} after {:?}", FRESH * 10),
    }
}

/// The feeds one test watches: one that the write changes, one it doesn't.
struct Watched {
    changed: Vec<String>,
    unchanged: Vec<String>,
}

impl Watched {
    async fn etags(&self, c: &reqwest::Client) -> (Vec<String>, Vec<String>) {
        let mut a = vec![];
        for url in &self.changed {
            a.push(etag_of(c, url).await);
        }
        let mut b = vec![];
        for url in &self.unchanged {
            b.push(etag_of(c, url).await);
        }
        (a, b)
    }

    /// The changed feeds have new ETags; the others keep theirs and still
    /// answer 304 to them.
    async fn check(&self, c: &reqwest::Client, before: &(Vec<String>, Vec<String>)) {
        let after = self.etags(c).await;
        for (url, (old, new)) in self.changed.iter().zip(before.0.iter().zip(&after.0)) {
            assert_ne!(old, new, "{url} changed but kept its ETag");
        }
        for (url, (old, new)) in self.unchanged.iter().zip(before.1.iter().zip(&after.1)) {
            assert_eq!(old, new, "{url} did not change but got a new ETag");
            let r = get(c, url, &[("if-none-match", old)]).await;
            assert_eq!(r.status, 304, "{url} no longer answers 304 to its ETag");
        }
    }
}

each_store!(async fn external_import_shows_within_a_second_and_only_in_its_feeds);
async fn external_import_shows_within_a_second_and_only_in_its_feeds(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let id = "2020-12-01-tin-moi-the-thao-duc-tho";
    let file = sample.path("new.jsonl");
    std::fs::write(
        &file,
        jsonl_article(id, "Thể thao", "Đức Thọ", "2020-12-01T08:00:00+07:00"),
    )
    .unwrap();
    let watched = Watched {
        changed: vec![
            server.url("/feeds/all.rss"),
            server.url("/feeds/category/the-thao.atom"),
            server.url("/feeds/region/duc-tho.json"),
        ],
        unchanged: vec![
            server.url("/feeds/category/suc-khoe.rss"),
            server.url("/feeds/region/ky-anh.atom"),
        ],
    };
    let before = watched.etags(&c).await;
    assert!(!get(&c, &watched.changed[0], &[]).await.text().contains(id));

    sample.run_async(&["import", file.to_str().unwrap()]).await;
    shows_within_a_second(&c, &server.url("/feeds/all.rss"), id, true).await;
    watched.check(&c, &before).await;
}

each_store!(async fn external_import_shows_within_a_second_with_every_feed_warm);
async fn external_import_shows_within_a_second_with_every_feed_warm(store: StoreKind) {
    // What a server polled by aggregators holds: every feed in every
    // format, the page and the OPML list.
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let listing = sample.listing();
    let mut keys = vec![FeedKey::All];
    keys.extend(listing.categories.keys().cloned().map(FeedKey::Category));
    keys.extend(listing.regions.keys().cloned().map(FeedKey::Region));
    for cat in listing.categories.keys() {
        for reg in listing.regions.keys() {
            keys.push(FeedKey::CategoryRegion(cat.clone(), reg.clone()));
        }
    }
    let mut urls: Vec<String> = keys
        .iter()
        .flat_map(|k| FORMATS.map(|e| server.url(&feed_path(k, e))))
        .collect();
    urls.extend([server.url("/"), server.url("/feeds.opml")]);
    for batch in urls.chunks(8) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|url| {
                let (c, url) = (c.clone(), url.clone());
                tokio::spawn(async move { get(&c, &url, &[]).await.status })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 200);
        }
    }
    let untouched = server.url("/feeds/category/suc-khoe.rss");
    let untouched_etag = etag_of(&c, &untouched).await;

    let id = "2020-12-01-tin-moi-khi-moi-nguon-da-nong";
    let file = sample.path("new.jsonl");
    std::fs::write(
        &file,
        jsonl_article(id, "Kinh tế", "Đức Thọ", "2020-12-01T08:00:00+07:00"),
    )
    .unwrap();
    sample.run_async(&["import", file.to_str().unwrap()]).await;
    shows_within_a_second(&c, &server.url("/feeds/all.rss"), id, true).await;
    assert_eq!(etag_of(&c, &untouched).await, untouched_etag);
}

each_store!(async fn external_remove_shows_within_a_second_and_only_in_its_feeds);
async fn external_remove_shows_within_a_second_and_only_in_its_feeds(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let articles = sample_articles();
    let gone = articles
        .iter()
        .find(|a| {
            a.regions
                .iter()
                .any(|r| bantin::slug::slugify(r) == "thach-ha")
        })
        .expect("a sample article in Thạch Hà");
    let untouched = FeedKey::Region("ky-anh".into());
    assert!(!belongs(gone, &untouched));
    let watched = Watched {
        changed: vec![
            server.url("/feeds/all.json"),
            server.url("/feeds/region/thach-ha.rss"),
        ],
        unchanged: vec![server.url(&feed_path(&untouched, "rss"))],
    };
    let before = watched.etags(&c).await;
    assert!(
        get(&c, &watched.changed[0], &[])
            .await
            .text()
            .contains(&gone.id)
    );

    sample.run_async(&["remove", &gone.id]).await;
    shows_within_a_second(&c, &server.url("/feeds/all.json"), &gone.id, false).await;
    watched.check(&c, &before).await;
}

each_store!(async fn cms_writing_the_tables_shows_within_a_second);
async fn cms_writing_the_tables_shows_within_a_second(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let id = "cms-2020-12-02-bai-tu-cms";
    let watched = Watched {
        changed: vec![
            server.url("/feeds/all.atom"),
            server.url("/feeds/category/giao-duc.rss"),
            server.url("/feeds/category/giao-duc/region/ky-anh.rss"),
        ],
        unchanged: vec![server.url("/feeds/category/the-thao.rss")],
    };
    let before = watched.etags(&c).await;

    // What a CMS does: one transaction over the three documented tables.
    let published = "2020-12-02T09:00:00+07:00";
    let published_us = chrono::DateTime::parse_from_rfc3339(published)
        .unwrap()
        .timestamp_micros();
    sample.sql(&format!(
        "BEGIN;
         INSERT INTO articles (id, title, summary, body, authors, published, published_us)
         VALUES ('{id}', 'Bài từ CMS', 'Tóm tắt', 'Đoạn một.', '[\"Tòa soạn\"]', '{published}',
                 {published_us});
         INSERT INTO article_categories (article_id, slug, name, position, published_us)
         VALUES ('{id}', 'giao-duc', 'Giáo dục', 0, {published_us});
         INSERT INTO article_regions (article_id, slug, name, position, published_us)
         VALUES ('{id}', 'ky-anh', 'Kỳ Anh', 0, {published_us});
         COMMIT;"
    ));
    shows_within_a_second(&c, &server.url("/feeds/all.atom"), id, true).await;
    watched.check(&c, &before).await;
}

each_store!(async fn scheduled_article_appears_within_a_second_of_its_time_without_a_write);
async fn scheduled_article_appears_within_a_second_of_its_time_without_a_write(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let id = "scheduled-tin-hen-gio";
    let due = Utc::now() + chrono::Duration::seconds(3);
    let published = due
        .with_timezone(&site().offset)
        .to_rfc3339_opts(SecondsFormat::Micros, false);
    let batch = bantin::import::read_paths(&[{
        let file = sample.path("scheduled.jsonl");
        std::fs::write(&file, jsonl_article(id, "Kinh tế", "Hà Tĩnh", &published)).unwrap();
        file
    }]);
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    sample.upsert(&batch.articles);

    let server = Server::sample(&sample).await;
    let c = client();
    let url = server.url("/feeds/all.rss");
    let unchanged = server.url("/feeds/category/the-thao.rss");
    let unchanged_etag = etag_of(&c, &unchanged).await;
    let early = get(&c, &url, &[]).await;
    assert!(
        Utc::now() < due,
        "the test machine is too slow to see the article before its time"
    );
    assert!(!early.text().contains(id), "shown before its time");

    let wait = (due - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    shows_within_a_second(&c, &url, id, true).await;
    assert_ne!(etag_of(&c, &url).await, early.etag());
    assert_eq!(etag_of(&c, &unchanged).await, unchanged_etag);
    let r = get(&c, &server.url("/feeds/category/kinh-te.json"), &[]).await;
    assert!(r.text().contains(id));
}

each_store!(async fn cached_feed_requests_touch_no_store_and_render_nothing);
async fn cached_feed_requests_touch_no_store_and_render_nothing(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let (store, calls) = CountingStore::new(sample.open());
    let server = Server::start(Box::new(store)).await;
    let c = client();
    let url = server.url("/feeds/category/kinh-te.atom");
    let before_warm = calls.feed();
    let warm = get(&c, &url, &[]).await;
    assert_eq!(warm.status, 200);
    assert_eq!(calls.feed(), before_warm + 1, "the first request renders");
    let etag = warm.etag();
    let lm = warm.header("last-modified").unwrap();
    let store_calls = calls.all();
    let renders = metric(&c, &server.base, "bantin_renders_total").await;
    let tokens = calls.log_reads.load(Ordering::SeqCst);

    let gzip_etag = get(&c, &url, &[("accept-encoding", "gzip")]).await.etag();
    let mut statuses = Vec::new();
    for round in 0..10 {
        for headers in [
            vec![],
            vec![("if-none-match", etag.as_str())],
            vec![("if-none-match", "W/\"other\", *")],
            vec![("if-modified-since", lm.as_str())],
            vec![("accept-encoding", "br")],
            vec![
                ("accept-encoding", "gzip"),
                ("if-none-match", gzip_etag.as_str()),
            ],
            vec![("accept-encoding", "zstd;q=1, gzip;q=0.5")],
        ] {
            statuses.push(get(&c, &url, &headers).await.status);
        }
        statuses.push(fetch(&c, "HEAD", &url, &[]).await.status);
        if round == 4 {
            // Let the change watcher run a few times in between.
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
    }
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 304),
        "{statuses:?}"
    );
    assert!(statuses.contains(&304));
    assert_eq!(calls.all(), store_calls, "a cached feed queried the store");
    assert_eq!(
        metric(&c, &server.base, "bantin_renders_total").await,
        renders,
        "a cached feed was rendered again"
    );
    assert!(
        calls.log_reads.load(Ordering::SeqCst) > tokens,
        "the change watcher did not run"
    );
}

each_store!(async fn cold_feed_asked_for_by_many_at_once_renders_once);
async fn cold_feed_asked_for_by_many_at_once_renders_once(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let (store, calls) = CountingStore::new(sample.open());
    let server = Server::start(Box::new(store)).await;
    let c = client();
    let url = server.url("/feeds/all.json");
    let renders = metric(&c, &server.base, "bantin_renders_total").await;
    let feeds = calls.feed();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (c, url, barrier) = (c.clone(), url.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            get(&c, &url, &[]).await
        }));
    }
    let mut bodies = BTreeSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200);
        bodies.insert(r.body);
    }
    assert_eq!(bodies.len(), 1, "every client got the same bytes");
    assert_eq!(
        calls.feed(),
        feeds + 1,
        "the store was asked for the feed more than once"
    );
    assert_eq!(
        metric(&c, &server.base, "bantin_renders_total").await,
        renders + 1
    );
}
