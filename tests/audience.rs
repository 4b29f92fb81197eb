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
//!
//! Without lxml these tests say they skipped; under `CI` they fail
//! (`.ci/run` installs it).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bantin::article::Article;
use chrono::{FixedOffset, Utc};

use crate::support::{
    Bantin, Sandbox, Server, StoreKind, article, client, each_store, fixture, get,
    python_can_import, script, site, site_file, wait_until,
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
        !get(&c, &url, &[]).await.text().contains("/articles/sap-het<")
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
