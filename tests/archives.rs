//! Monthly archives (RFC 5005 §4, SPEC "For aggregators"), served live on
//! both stores:
//!
//! - From any subscription feed, in every format, `prev-archive` links walk
//!   back month by month to the oldest article; the archives together hold
//!   exactly the feed's articles, each month's newest first, each linking
//!   `current` and marked `fh:archive`, with `next-archive` the way back.
//! - A month with no article in the feed, or not begun, is 404; archives are
//!   conditional like feeds; a past month has a long `max-age`.
//! - A change in one month re-renders that month's archive; the other
//!   months keep their ETags. An article in a new month joins the chain.

use std::collections::BTreeSet;

use bantin::article::{Article, FeedKey};
use chrono::{FixedOffset, Utc};

use crate::support::{
    Sandbox, Server, article, belongs, client, feed_path, get, on_both, percent_encode,
    sample_articles, wait_until,
};

const ATOM: &str = "http://www.w3.org/2005/Atom";
const HISTORY: &str = "http://purl.org/syndication/history/1.0";

/// What one document says of its place in the feed's history.
#[derive(Debug, Default)]
struct Doc {
    ids: Vec<String>,
    prev: Option<String>,
    next: Option<String>,
    current: Option<String>,
    archive_mark: bool,
}

/// Read ids and history links out of a feed in `ext`, with parsers that are
/// not our writer (roxmltree, serde_json).
fn read(ext: &str, body: &[u8]) -> Doc {
    let text = std::str::from_utf8(body).unwrap();
    let mut doc = Doc::default();
    if ext == "json" {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        doc.ids = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        // JSON Feed: `next_url` is the previous (older) month.
        doc.prev = v["next_url"].as_str().map(str::to_string);
        doc.archive_mark = v.get("next_url").is_some() || doc.ids.is_empty();
        return doc;
    }
    let xml = roxmltree::Document::parse(text).unwrap();
    for node in xml.descendants() {
        let tag = node.tag_name();
        if tag.name() == "link" && tag.namespace() == Some(ATOM) {
            let href = node.attribute("href").map(str::to_string);
            match node.attribute("rel") {
                Some("prev-archive") => doc.prev = href,
                Some("next-archive") => doc.next = href,
                Some("current") => doc.current = href,
                _ => {}
            }
        }
        if tag.name() == "archive" && tag.namespace() == Some(HISTORY) {
            doc.archive_mark = true;
        }
        let is_id = (ext == "rss" && tag.name() == "guid")
            || (ext == "atom"
                && tag.name() == "id"
                && node
                    .parent()
                    .is_some_and(|p| p.tag_name().name() == "entry"));
        if is_id {
            doc.ids.push(node.text().unwrap_or("").to_string());
        }
    }
    doc
}

/// The local path of an absolute feed URL of the sample site.
fn path_of(url: &str) -> String {
    let base = crate::support::SiteFacts::read(&crate::support::site_file()).base_url;
    url.strip_prefix(&base).unwrap_or(url).to_string()
}

fn site_offset() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap()
}

/// Articles in three more months: one long before the sample, one between.
fn older_articles() -> Vec<Article> {
    vec![
        article(
            "cu-2019",
            &["Kinh tế"],
            &["Hà Tĩnh"],
            "2019-12-31T23:30:00+07:00",
        ),
        article(
            "giua-2020",
            &["Kinh tế"],
            &["Đức Thọ"],
            "2020-06-15T09:00:00+07:00",
        ),
        // 2020-07-31T20:00Z is August in the site's offset (+07:00).
        article(
            "dau-thang-8",
            &["Xã hội"],
            &["Hà Tĩnh"],
            "2020-07-31T20:00:00Z",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn archives_walk_back_to_the_oldest_article_in_every_format() {
    on_both(|backend| async move {
        let extra = older_articles();
        backend.upsert(extra.clone());
        let mut all = sample_articles();
        all.extend(extra);
        let server = Server::start(backend.pool(4)).await;
        let c = client();
        let prefix = crate::support::SiteFacts::read(&crate::support::site_file()).id_prefix;
        for key in [
            FeedKey::All,
            FeedKey::Category("kinh-te".into()),
            FeedKey::Region("ha-tinh".into()),
            FeedKey::CategoryRegion("kinh-te".into(), "ha-tinh".into()),
        ] {
            let want: BTreeSet<String> = all
                .iter()
                .filter(|a| belongs(a, &key))
                .map(|a| format!("{prefix}{}", percent_encode(&a.id)))
                .collect();
            for ext in ["rss", "atom", "json"] {
                let current = server.url(&feed_path(&key, ext));
                let first = get(&c, &current, &[]).await;
                assert_eq!(first.status, 200);
                let mut next_url = read(ext, &first.body).prev;
                let mut seen: BTreeSet<String> = BTreeSet::new();
                let mut months = Vec::new();
                let mut newer: Option<String> = None;
                while let Some(url) = next_url {
                    let path = path_of(&url);
                    let r = get(&c, &server.url(&path), &[]).await;
                    assert_eq!(r.status, 200, "{path}");
                    let doc = read(ext, &r.body);
                    assert!(!doc.ids.is_empty(), "{path} is empty");
                    assert!(doc.archive_mark || ext == "json", "{path}: no fh:archive");
                    if ext != "json" {
                        assert_eq!(
                            doc.current.as_deref().map(path_of),
                            Some(feed_path(&key, ext)),
                            "{path}: current"
                        );
                        assert_eq!(
                            doc.next.as_deref().map(path_of),
                            newer,
                            "{path}: next-archive"
                        );
                    }
                    for id in &doc.ids {
                        assert!(seen.insert(id.clone()), "{id} in two archives");
                    }
                    months.push(path.clone());
                    newer = Some(path);
                    next_url = doc.prev;
                }
                assert_eq!(
                    seen, want,
                    "{key:?} {ext}: the archives hold other articles"
                );
                assert!(months.len() >= 2, "{key:?} {ext}: {months:?}");
            }
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_months_are_404_and_archives_are_cached_like_feeds() {
    on_both(|backend| async move {
        let server = Server::start(backend.pool(2)).await;
        let c = client();
        for path in [
            "/feeds/all/archive/1999-01.rss",
            "/feeds/all/archive/2099-01.rss",
            "/feeds/category/the-thao/archive/2020-06.atom",
            "/feeds/category/khong-co/archive/2020-11.rss",
            "/feeds/all/archive/2020-13.rss",
        ] {
            assert_eq!(get(&c, &server.url(path), &[]).await.status, 404, "{path}");
        }
        let url = server.url("/feeds/all/archive/2020-11.rss");
        let r = get(&c, &url, &[("accept-encoding", "gzip")]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding").as_deref(), Some("gzip"));
        let age = r.header("cache-control").unwrap();
        assert_eq!(age, "public, max-age=86400", "a past month keeps long");
        let again = get(
            &c,
            &url,
            &[("accept-encoding", "gzip"), ("if-none-match", &r.etag())],
        )
        .await;
        assert_eq!(again.status, 304);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_in_one_month_changes_that_archive_only() {
    on_both(|backend| async move {
        backend.upsert(older_articles());
        let server = Server::start(backend.pool(4)).await;
        let c = client();
        let months = ["2019-12", "2020-06", "2020-08", "2020-10", "2020-11"];
        let url = |m: &str| server.url(&format!("/feeds/all/archive/{m}.atom"));
        let mut etags = Vec::new();
        for m in months {
            let r = get(&c, &url(m), &[]).await;
            assert_eq!(r.status, 200, "{m}");
            etags.push(r.etag());
        }
        // An edit in June.
        let mut edited = article(
            "giua-2020",
            &["Kinh tế"],
            &["Đức Thọ"],
            "2020-06-15T09:00:00+07:00",
        );
        edited.title = "Bài tháng sáu, đã sửa".into();
        backend.upsert(vec![edited]);
        let june = url("2020-06");
        let shown = wait_until(std::time::Duration::from_secs(5), || async {
            get(&c, &june, &[]).await.text().contains("đã sửa")
        })
        .await;
        assert!(shown.is_some(), "the June archive never showed the edit");
        for (m, old) in months.iter().zip(&etags) {
            let r = get(&c, &url(m), &[("if-none-match", old)]).await;
            if *m == "2020-06" {
                assert_eq!(r.status, 200, "{m}");
            } else {
                assert_eq!(r.status, 304, "{m} changed with an edit in June");
            }
        }
        // A new oldest month joins the chain: December 2019 now has a
        // prev-archive.
        backend.upsert(vec![article(
            "cu-hon",
            &["Xã hội"],
            &[],
            "2018-05-01T08:00:00+07:00",
        )]);
        let dec = url("2019-12");
        let linked = wait_until(std::time::Duration::from_secs(5), || async {
            let r = get(&c, &dec, &[]).await;
            read("atom", &r.body)
                .prev
                .is_some_and(|p| p.ends_with("/archive/2018-05.atom"))
        })
        .await;
        assert!(linked.is_some(), "2019-12 does not link back to 2018-05");
        let may = get(&c, &url("2018-05"), &[]).await;
        assert_eq!(may.status, 200);
        assert!(read("atom", &may.body).prev.is_none());
        server.stop().await;
    })
    .await;
}

/// The current month's archive (when a feed has an article this month)
/// keeps the site's short `max-age`.
#[tokio::test(flavor = "multi_thread")]
async fn the_current_month_keeps_a_short_max_age() {
    let backend = Sandbox::with_sample();
    let now = Utc::now().with_timezone(&site_offset());
    let stamp = (now - chrono::Duration::minutes(5)).to_rfc3339();
    backend.upsert(vec![article("moi-nhat", &["Xã hội"], &[], &stamp)]);
    let server = Server::start(backend.pool(2)).await;
    let c = client();
    let month = now.format("%Y-%m").to_string();
    let r = get(
        &c,
        &server.url(&format!("/feeds/all/archive/{month}.json")),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("public, max-age=300")
    );
    server.stop().await;
}
