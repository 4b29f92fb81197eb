//! SPEC "Audience", over real sockets on both stores:
//!
//! - `/sitemap-news.xml` lists the articles published in the last 48 hours
//!   (none older, none scheduled), newest first, each by its `url` or its
//!   item link, valid against the sitemaps.org schema and the news
//!   extension's (tests/fixtures/sitemap, read by lxml), with the site's
//!   `news_name`, language, dates in the site offset and titles as written;
//!   it is conditional like a feed, shows a write within a few seconds, and
//!   `bantin build` writes the bytes the server sends.
//! - An article leaves it when its 48 hours are up, with no write.
//! - Polite polling: `curl` in a loop without validators is refused (429,
//!   `Retry-After`, a private `Cache-Control`, counted in `/metrics`) for
//!   the feed in every format, and answered once it waited `Retry-After`;
//!   feedparser with `etag` and `modified`, and newsboat, are never refused.
//!
//! Without lxml, feedparser or newsboat these tests say they skipped;
//! under `CI` they fail (`.ci/run` installs them).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bantin::article::Article;
use chrono::{FixedOffset, Utc};

use crate::support::{
    Bantin, Sandbox, Server, StoreKind, article, client, each_store, fixture, get,
    python_can_import, script, site, site_file, test_limits, wait_until,
};

/// One `url` of the sitemap as lxml read it.
#[derive(Debug, serde::Deserialize)]
struct Entry {
    loc: String,
    title: String,
    date: String,
}

/// `published` `seconds` ago (negative: in the future), in the site offset.
fn ago(seconds: i64) -> String {
    let offset = FixedOffset::east_opt(7 * 3600).unwrap();
    (Utc::now() - chrono::Duration::seconds(seconds))
        .with_timezone(&offset)
        .to_rfc3339()
}

fn recent(id: &str, seconds_ago: i64) -> Article {
    article(id, &["Xã hội"], &["Đức Thọ"], &ago(seconds_ago))
}

/// The sitemap's entries, after lxml validated `body` against the schemas
/// and the news rules; panics with lxml's reasons when it is not valid.
fn checked(dir: &Path, body: &[u8]) -> Vec<Entry> {
    let file = dir.join("sitemap-news.check.xml");
    std::fs::write(&file, body).unwrap();
    let s = site();
    let out = Command::new("python3")
        .arg(script("news_check.py"))
        .arg(fixture("sitemap"))
        .arg(&file)
        .args([&s.news_name, &s.language, "+07:00"])
        .output()
        .expect("running news_check.py");
    assert!(
        out.status.success(),
        "the news sitemap is not valid:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(body)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn locs(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.loc.as_str()).collect()
}

each_store!(async fn the_news_sitemap_lists_the_last_48_hours_valid_and_conditional);
async fn the_news_sitemap_lists_the_last_48_hours_valid_and_conditional(kind: StoreKind) {
    if !python_can_import(
        "lxml",
        "lxml",
        "the_news_sitemap_lists_the_last_48_hours_valid_and_conditional",
    ) {
        return;
    }
    let sample = Sandbox::with_sample_on(kind);
    let mut hot = recent("tin-nong", 3600);
    hot.title = "Lũ <lớn> & \"khẩn\" ở Hương Khê".into();
    let mut linked = recent("co-lien-ket", 2 * 3600);
    linked.url = Some("https://baohatinh.example/tin?a=1&b=2".into());
    sample.upsert([
        hot,
        linked,
        recent("hom-kia", 49 * 3600),
        recent("hen-gio", -3600),
    ]);
    let server = Server::start(sample.pool(4)).await;
    let c = client();
    let url = server.url("/sitemap-news.xml");
    let r = get(&c, &url, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/xml; charset=utf-8")
    );
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("public, max-age=300")
    );
    let entries = checked(sample.dir(), &r.body);
    let base = &site().base_url;
    assert_eq!(
        locs(&entries),
        [
            format!("{base}/articles/tin-nong").as_str(),
            "https://baohatinh.example/tin?a=1&b=2"
        ],
        "only the last 48 hours' visible articles, newest first"
    );
    assert_eq!(entries[0].title, "Lũ <lớn> & \"khẩn\" ở Hương Khê");
    assert!(entries[0].date.ends_with("+07:00"), "{}", entries[0].date);

    // Conditional like a feed, in every coding.
    let etag = r.etag();
    let again = get(&c, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    let gz = get(&c, &url, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.header("content-encoding").as_deref(), Some("gzip"));
    assert_ne!(gz.etag(), etag);

    // A write shows within the watcher's poll and a render.
    sample.upsert([recent("vua-xong", 60)]);
    let shown = wait_until(Duration::from_secs(10), || async {
        let body = get(&c, &url, &[]).await.text();
        body.contains("/articles/vua-xong<")
    })
    .await;
    assert!(shown.is_some(), "a new article never reached the sitemap");
    let r = get(&c, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status, 200, "the old ETag still matched after a write");
    let entries = checked(sample.dir(), &r.body);
    assert_eq!(entries.len(), 3);
    assert!(entries[0].loc.ends_with("/articles/vua-xong"));

    // `bantin build` writes what the server sends.
    let out = sample.path("out");
    Bantin::on(&sample.store_url())
        .site(&site_file())
        .args(["build", "--out"])
        .arg(&out)
        .ok_async()
        .await;
    let built = std::fs::read(out.join("sitemap-news.xml")).unwrap();
    assert!(
        built == r.body,
        "the built sitemap differs from the served one"
    );
    server.stop().await;
}

each_store!(async fn an_article_leaves_the_news_sitemap_when_its_48_hours_are_up);
async fn an_article_leaves_the_news_sitemap_when_its_48_hours_are_up(kind: StoreKind) {
    if !python_can_import(
        "lxml",
        "lxml",
        "an_article_leaves_the_news_sitemap_when_its_48_hours_are_up",
    ) {
        return;
    }
    let sample = Sandbox::with_sample_on(kind);
    // 20 s inside the edge: time enough for the first request on a loaded
    // machine, little enough to wait for.
    sample.upsert([recent("sap-het", 48 * 3600 - 20), recent("con-moi", 3600)]);
    let server = Server::start(sample.pool(4)).await;
    let c = client();
    let url = server.url("/sitemap-news.xml");
    let first = get(&c, &url, &[]).await;
    let entries = checked(sample.dir(), &first.body);
    assert_eq!(entries.len(), 2, "{}", first.text());
    assert!(entries[1].loc.ends_with("/articles/sap-het"));
    // No write from here on: only the clock moves.
    let gone = wait_until(Duration::from_secs(90), || async {
        !get(&c, &url, &[])
            .await
            .text()
            .contains("/articles/sap-het<")
    })
    .await;
    assert!(gone.is_some(), "the article stayed past its 48 hours");
    let r = get(&c, &url, &[("if-none-match", &first.etag())]).await;
    assert_eq!(r.status, 200);
    let entries = checked(sample.dir(), &r.body);
    assert_eq!(locs(&entries).len(), 1);
    assert!(entries[0].loc.ends_with("/articles/con-moi"));
    server.stop().await;
}

/// The sample site with polite polling on and a short `max_age`, so that
/// honouring `Retry-After` takes seconds.
fn polite_site() -> bantin::config::Site {
    let mut s = site();
    s.polite_polling = true;
    s.max_age = POLITE_MAX_AGE;
    s
}

const POLITE_MAX_AGE: u64 = 5;

/// A labelled counter's value in `/metrics` text (0 when absent).
fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |n| n.trim().parse().unwrap())
}

async fn metrics(c: &reqwest::Client, server: &Server) -> String {
    get(c, &server.url("/metrics"), &[]).await.text()
}

/// `curl` with no validators: the status line's code and the headers.
fn curl(url: &str) -> (u16, Vec<(String, String)>) {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", url])
        .output()
        .expect("running curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("curl {url}: {text}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread")]
async fn polite_polling_refuses_curl_in_a_loop_until_retry_after_and_never_a_conditional_reader() {
    let sample = Sandbox::with_sample();
    let server = Server::start_site(sample.pool(4), polite_site(), test_limits()).await;
    let c = client();
    let all = server.url("/feeds/all.rss");

    // curl in a loop, without validators: the second fetch within max_age
    // is refused, in any format of the same feed; another feed is not.
    let (first, _) = curl(&all);
    assert_eq!(first, 200);
    let (again, headers) = curl(&all);
    let refused_at = std::time::Instant::now();
    assert_eq!(again, 429, "{headers:?}");
    let wait: u64 = header(&headers, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a 429 carries Retry-After in seconds");
    assert!((1..=POLITE_MAX_AGE).contains(&wait), "Retry-After {wait}");
    assert_eq!(
        header(&headers, "cache-control"),
        Some(format!("private, max-age={wait}").as_str())
    );
    assert_eq!(curl(&server.url("/feeds/all.atom")).0, 429);
    assert_eq!(curl(&server.url("/feeds/category/kinh-te.rss")).0, 200);
    let m = metrics(&c, &server).await;
    assert_eq!(counter(&m, "bantin_polite_refusals_total"), 2, "{m}");
    assert_eq!(
        counter(
            &m,
            "bantin_http_requests_total{route=\"feed\",status=\"429\"}"
        ),
        2
    );
    // Honouring Retry-After (counted from that 429), it is answered.
    tokio::time::sleep(Duration::from_secs(wait).saturating_sub(refused_at.elapsed())).await;
    assert_eq!(curl(&all).0, 200, "refused after waiting Retry-After");

    // feedparser with etag and modified: its first fetch is 200, every
    // conditional one after it is answered (304), however soon.
    if python_can_import(
        "feedparser",
        "feedparser",
        "polite_polling_refuses_curl_in_a_loop_until_retry_after_and_never_a_conditional_reader",
    ) {
        let before = counter(&metrics(&c, &server).await, "bantin_polite_refusals_total");
        let out = Command::new("python3")
            .arg(script("polite_poll.py"))
            .args([&all, "6"])
            .output()
            .expect("running polite_poll.py");
        let statuses = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{statuses}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            statuses.split_whitespace().collect::<Vec<_>>(),
            ["200", "304", "304", "304", "304", "304"]
        );
        let after = counter(&metrics(&c, &server).await, "bantin_polite_refusals_total");
        assert_eq!(after, before, "feedparser was refused");
    }

    newsboat_is_never_refused_once_it_holds_validators(&c, &server, &sample).await;
    server.stop().await;
}

/// newsboat polls a feed: once it holds the feed's validators, its
/// reloads are conditional and never refused, however soon. (newsboat
/// 2.21 keeps no validators from a feed's very first fetch: it writes them
/// before the feed's row exists. So its second fetch is unconditional; it
/// comes after `max_age`, as a reader on its schedule would.)
async fn newsboat_is_never_refused_once_it_holds_validators(
    c: &reqwest::Client,
    server: &Server,
    sample: &Sandbox,
) {
    if Command::new("newsboat").arg("-v").output().is_err() {
        crate::support::skip(
            "newsboat_is_never_refused_once_it_holds_validators",
            "newsboat is not installed",
            "apt-get install newsboat",
        );
        return;
    }
    let home = sample.path("newsboat");
    std::fs::create_dir_all(&home).unwrap();
    let urls = sample.write(
        "newsboat/urls",
        format!("{}\n", server.url("/feeds/region/duc-tho.rss")),
    );
    let config = sample.write("newsboat/config", "");
    let reload = || {
        let out = Command::new("newsboat")
            .env("HOME", &home)
            .arg("-u")
            .arg(&urls)
            .arg("-c")
            .arg(home.join("cache.db"))
            .arg("-C")
            .arg(&config)
            .args(["-x", "reload"])
            .output()
            .expect("running newsboat");
        assert!(out.status.success(), "{out:?}");
    };
    reload();
    tokio::time::sleep(Duration::from_secs(POLITE_MAX_AGE)).await;
    reload();
    let m = metrics(c, server).await;
    let refused = counter(&m, "bantin_polite_refusals_total");
    let not_modified = counter(&m, "bantin_http_not_modified_total");
    for _ in 0..3 {
        reload();
    }
    let m = metrics(c, server).await;
    assert_eq!(
        counter(&m, "bantin_polite_refusals_total"),
        refused,
        "newsboat was refused"
    );
    assert_eq!(
        counter(&m, "bantin_http_not_modified_total"),
        not_modified + 3,
        "newsboat's reloads were not conditional"
    );
}

/// Each aggregator's User-Agent of SPEC, and the variants, sent to `path`.
const AGENTS: [(&str, &str); 11] = [
    (
        "/feeds/all.rss",
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 462 subscribers; )",
    ),
    (
        "/feeds/all.atom",
        "Mozilla/5.0 (compatible; inoreader.com; 1 subscriber)",
    ),
    (
        "/feeds/category/kinh-te.rss",
        "NewsBlur Feed Fetcher - 27 subscribers - https://www.newsblur.com/site/1/x (Mozilla/5.0)",
    ),
    // A million, and another feed id: one fetcher, one feed.
    (
        "/feeds/all.json",
        "Feedbin feed-id:1697787 - 1000000 subscribers",
    ),
    (
        "/feeds/all.rss",
        "Mozilla/5.0 (compatible; theoldreader.com; 1 subscribers; feed-id=5a1b2c)",
    ),
    // Garbage after the count.
    (
        "/feeds/all.rss",
        "Mozilla/5.0 (compatible; BazQux/2.4; +https://bazqux.com/fetcher; 3 subscribers) ;;; zz 12 subscribers \\x00",
    ),
    // No count, a count of 10^18 (a liar): no subscribers, a reader each.
    (
        "/feeds/all.rss",
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; )",
    ),
    (
        "/feeds/all.rss",
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1000000000000000000 subscribers)",
    ),
    // A reader polling politely: three fetches, two of them conditional.
    (
        "/feeds/all.rss",
        "NetNewsWire (RSS Reader; https://netnewswire.com/)",
    ),
    (
        "/feeds/all.rss",
        "NetNewsWire (RSS Reader; https://netnewswire.com/)",
    ),
    (
        "/feeds/all.rss",
        "NetNewsWire (RSS Reader; https://netnewswire.com/)",
    ),
];

/// The subscriber lines `/metrics` must show after [`AGENTS`].
const SUBSCRIBERS: [&str; 6] = [
    "bantin_feed_subscribers{feed=\"/feeds/all\",fetcher=\"BazQux\"} 3",
    "bantin_feed_subscribers{feed=\"/feeds/all\",fetcher=\"Feedbin\"} 1000000",
    "bantin_feed_subscribers{feed=\"/feeds/all\",fetcher=\"Feedly\"} 462",
    "bantin_feed_subscribers{feed=\"/feeds/all\",fetcher=\"inoreader.com\"} 1",
    "bantin_feed_subscribers{feed=\"/feeds/all\",fetcher=\"theoldreader.com\"} 1",
    "bantin_feed_subscribers{feed=\"/feeds/category/kinh-te\",fetcher=\"NewsBlur\"} 27",
];

/// The audience lines of `/metrics`, subscribers and readers.
fn audience_lines(metrics: &str) -> Vec<String> {
    metrics
        .lines()
        .filter(|l| l.starts_with("bantin_feed_"))
        .map(str::to_string)
        .collect()
}

/// `/metrics` once its audience lines are `want` (the flushes take a few
/// seconds), or the last one seen.
async fn audience_shows(c: &reqwest::Client, server: &Server, want: &[String]) -> Vec<String> {
    wait_until(Duration::from_secs(30), || async {
        audience_lines(&metrics(c, server).await) == want
    })
    .await;
    audience_lines(&metrics(c, server).await)
}

fn expected_audience(readers: u64) -> Vec<String> {
    let mut want: Vec<String> = SUBSCRIBERS.iter().map(|s| s.to_string()).collect();
    want.push(format!(
        "bantin_feed_readers{{feed=\"/feeds/all\"}} {readers}"
    ));
    want
}

each_store!(async fn aggregators_counts_readers_and_the_reader_report_survive_a_restart);
async fn aggregators_counts_readers_and_the_reader_report_survive_a_restart(kind: StoreKind) {
    let sample = Sandbox::with_sample_on(kind);
    let server = Server::start(sample.pool(4)).await;
    let c = client();
    let mut etag = None;
    for (path, agent) in AGENTS {
        let mut headers = vec![("user-agent", agent)];
        let tag: String;
        if agent.starts_with("NetNewsWire")
            && let Some(t) = &etag
        {
            tag = String::clone(t);
            headers.push(("if-none-match", &tag));
        }
        let r = get(&c, &server.url(path), &headers).await;
        assert!(
            r.status == 200 || r.status == 304,
            "{path} {agent}: {}",
            r.status
        );
        if agent.starts_with("NetNewsWire") {
            etag = Some(r.etag());
        }
    }
    // No User-Agent at all: a reader too.
    assert_eq!(
        get(&c, &server.url("/feeds/all.rss"), &[]).await.status,
        200
    );
    // Readers of /feeds/all: the Feedly agents without a believable count,
    // NetNewsWire, and the one without a User-Agent.
    let want = expected_audience(4);
    assert_eq!(audience_shows(&c, &server, &want).await, want);
    // `/` shows each feed's total and the site's, once rendered again.
    let total = 462 + 1 + 1_000_000 + 1 + 3 + 4;
    let site_total = total + 27;
    let page = wait_until(Duration::from_secs(10), || async {
        get(&c, &server.url("/"), &[])
            .await
            .text()
            .contains(&format!("tổng cộng {site_total} lượt theo dõi"))
    })
    .await;
    assert!(page.is_some(), "/ never showed the site's total");
    let html = get(&c, &server.url("/"), &[]).await.text();
    assert!(
        html.contains(&format!("<td class=\"n a\">{total}</td>")),
        "/ lacks the all feed's total"
    );

    // `bantin stats`: biggest first, each fetcher.
    let out = Bantin::on(&sample.store_url())
        .arg("stats")
        .ok_async()
        .await;
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("/feeds/all "), "{text}");
    assert!(lines[1].contains(&total.to_string()), "{text}");
    assert!(
        lines[1].contains("Feedbin 1000000, Feedly 462, readers 4, BazQux 3"),
        "{text}"
    );
    assert!(lines[2].starts_with("/feeds/category/kinh-te "), "{text}");
    assert!(lines[2].contains("NewsBlur 27"), "{text}");
    // `bantin stats --readers`: NetNewsWire's three fetches, two
    // conditional and answered 304, a short interval, no 429.
    let out = Bantin::on(&sample.store_url())
        .args(["stats", "--readers"])
        .ok_async()
        .await;
    let text = String::from_utf8(out.stdout).unwrap();
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("NetNewsWire "))
        .unwrap_or_else(|| panic!("{text}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        ["NetNewsWire", "3", "67%", "67%", "0s–15s", "0"],
        "{text}"
    );
    let feedly: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("Feedly "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(feedly.get(1), Some(&"3"), "{text}");

    // A restart keeps them.
    server.stop().await;
    let server = Server::start(sample.pool(4)).await;
    assert_eq!(audience_shows(&c, &server, &want).await, want);
    server.stop().await;
}

/// Two replicas on one PostgreSQL store: each counts what it is asked,
/// and each shows the sum.
#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_on_one_postgresql_store_add_up() {
    let available = tokio::task::spawn_blocking(crate::support::pg_cluster::available)
        .await
        .unwrap();
    if !available {
        return;
    }
    let sample = Sandbox::with_sample_on(StoreKind::Postgres);
    let one = Server::start(sample.pool(4)).await;
    let two = Server::start(sample.pool(4)).await;
    let c = client();
    let ask = |server: &Server, agent: &'static str| {
        let url = server.url("/feeds/all.rss");
        let c = c.clone();
        async move {
            assert_eq!(get(&c, &url, &[("user-agent", agent)]).await.status, 200);
        }
    };
    ask(
        &one,
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 462 subscribers; )",
    )
    .await;
    ask(
        &two,
        "Mozilla/5.0 (compatible; inoreader.com; 114 subscribers)",
    )
    .await;
    ask(&one, "reader-a/1.0").await;
    ask(&two, "reader-b/1.0").await;
    // The same reader on both replicas is one reader.
    ask(&one, "reader-c/1.0").await;
    ask(&two, "reader-c/1.0").await;
    let want: Vec<String> = [
        "bantin_feed_subscribers{feed=\"/feeds/all\",fetcher=\"Feedly\"} 462",
        "bantin_feed_subscribers{feed=\"/feeds/all\",fetcher=\"inoreader.com\"} 114",
        "bantin_feed_readers{feed=\"/feeds/all\"} 3",
    ]
    .map(str::to_string)
    .to_vec();
    assert_eq!(audience_shows(&c, &one, &want).await, want, "replica one");
    assert_eq!(audience_shows(&c, &two, &want).await, want, "replica two");
    one.stop().await;
    two.stop().await;
}
