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
//! - Issue 17: a month over `archive_items` is paged (`{YYYY-MM}`, then
//!   `{YYYY-MM}-p{N}`), newest first, with ties at one instant split across
//!   a page boundary: the pages hold exactly the feed's articles, in order,
//!   each once; `prev-archive` walks every page of every month newest to
//!   oldest and `next-archive` back, in every format, each document read by
//!   the rss and atom crates (and serde_json), each page titled with its
//!   number and its month's count; `bantin build` writes every page, byte
//!   for byte what the server sends, and feedparser reads them; a write in
//!   a paged month renders every page of it again, and the older month
//!   whose `next-archive` names its last page, while other months keep
//!   their ETags.

use std::collections::BTreeSet;

use bantin::article::{Article, FeedKey};
use chrono::{FixedOffset, Utc};

use crate::support::{
    Bantin, FORMATS, Sandbox, Server, SiteFacts, StoreKind, article, belongs, client, each_store,
    expected, feed_path, get, guids, on_both, percent_encode, sample_articles, script, site,
    site_file, test_limits, wait_until,
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

/// Articles in one archive document in the paged tests: small, so that the
/// sample's months (16 articles each in the all feed) take several pages.
const PER_PAGE: usize = 5;

/// The sample's site file with `archive_items = PER_PAGE` (first: a key
/// after the file's tables would belong to the last of them).
fn paged_site_text() -> String {
    let text = std::fs::read_to_string(site_file()).unwrap();
    format!("archive_items = {PER_PAGE}\n{text}")
}

fn paged_site() -> bantin::config::Site {
    let dir = site_file().parent().unwrap().to_path_buf();
    bantin::config::Site::parse(&paged_site_text(), "site.toml", dir).unwrap()
}

/// Six articles at one instant, the first of October 2020 (the oldest of
/// that month, so that they straddle the boundary of its last two pages),
/// and one in June 2020 (an older month of one page).
fn paged_articles() -> Vec<Article> {
    let mut v: Vec<Article> = (1..=6)
        .map(|i| {
            article(
                &format!("cung-luc-{i}"),
                &["Kinh tế"],
                &["Hà Tĩnh"],
                "2020-10-01T00:00:00+07:00",
            )
        })
        .collect();
    v.push(article(
        "thang-sau",
        &["Kinh tế"],
        &["Hà Tĩnh"],
        "2020-06-15T09:00:00+07:00",
    ));
    v
}

/// One document of the chain as SPEC and the site file make it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    path: String,
    ids: Vec<String>,
    page: usize,
    pages: usize,
    in_month: usize,
}

/// The chain of archive documents of `key` in `ext` for `articles`: each
/// month newest first, cut in pages of [`PER_PAGE`].
fn expected_chain(articles: &[Article], key: &FeedKey, ext: &str) -> Vec<Expected> {
    let prefix = SiteFacts::read(&site_file()).id_prefix;
    let ordered = expected(articles, key, usize::MAX);
    let mut months: Vec<(String, Vec<Article>)> = Vec::new();
    for a in ordered {
        let m = a
            .published
            .with_timezone(&site_offset())
            .format("%Y-%m")
            .to_string();
        match months.last_mut() {
            Some((last, list)) if *last == m => list.push(a),
            _ => months.push((m, vec![a])),
        }
    }
    let mut chain = Vec::new();
    for (m, list) in months {
        let pages = list.len().div_ceil(PER_PAGE);
        for (i, page) in list.chunks(PER_PAGE).enumerate() {
            let name = match i {
                0 => m.clone(),
                i => format!("{m}-p{}", i + 1),
            };
            chain.push(Expected {
                path: format!("/feeds/{}/archive/{name}.{ext}", key.path()),
                ids: guids(&prefix, page),
                page: i + 1,
                pages,
                in_month: list.len(),
            });
        }
    }
    chain
}

/// A document's title and description, read by the rss and atom crates
/// (serde_json for JSON Feed), which also check that it parses; and its
/// item count as they read it.
fn heading(ext: &str, body: &[u8]) -> (String, String, usize) {
    match ext {
        "rss" => {
            let ch = rss::Channel::read_from(body).unwrap();
            (ch.title().into(), ch.description().into(), ch.items().len())
        }
        "atom" => {
            let f = atom_syndication::Feed::read_from(body).unwrap();
            let subtitle = f.subtitle().map(|t| t.as_str().to_string()).unwrap();
            (f.title().as_str().into(), subtitle, f.entries().len())
        }
        _ => {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap();
            (
                v["title"].as_str().unwrap().into(),
                v["description"].as_str().unwrap().into(),
                v["items"].as_array().unwrap().len(),
            )
        }
    }
}

/// The paths of a feed's archive chain in `ext`, followed from the
/// subscription feed by `prev-archive` (JSON Feed: `next_url`), with each
/// document's reading and body.
async fn walk(
    c: &reqwest::Client,
    server: &Server,
    key: &FeedKey,
    ext: &str,
) -> Vec<(String, Doc, Vec<u8>)> {
    let first = get(c, &server.url(&feed_path(key, ext)), &[]).await;
    assert_eq!(first.status, 200);
    let mut next = read(ext, &first.body).prev;
    let mut chain = Vec::new();
    while let Some(url) = next {
        let path = path_of(&url);
        assert!(chain.len() < 100, "{key:?} {ext}: the chain does not end");
        let r = get(c, &server.url(&path), &[]).await;
        assert_eq!(r.status, 200, "{path}");
        let doc = read(ext, &r.body);
        next = doc.prev.clone();
        chain.push((path, doc, r.body.to_vec()));
    }
    chain
}

each_store!(async fn months_over_archive_items_are_paged_in_one_chain);
async fn months_over_archive_items_are_paged_in_one_chain(kind: StoreKind) {
    let sample = Sandbox::with_sample_on(kind);
    let extra = paged_articles();
    sample.upsert(extra.clone());
    let mut all = sample_articles();
    all.extend(extra);
    let server = Server::start_site(sample.pool(4), paged_site(), test_limits()).await;
    let c = client();
    let site_title = site().title;
    for key in [
        FeedKey::All,
        FeedKey::Category("kinh-te".into()),
        FeedKey::CategoryRegion("kinh-te".into(), "ha-tinh".into()),
    ] {
        for ext in FORMATS {
            let want = expected_chain(&all, &key, ext);
            assert!(
                want.iter().any(|e| e.pages >= 2),
                "{key:?}: too few articles"
            );
            let chain = walk(&c, &server, &key, ext).await;
            let paths: Vec<&str> = chain.iter().map(|(p, ..)| p.as_str()).collect();
            let want_paths: Vec<&str> = want.iter().map(|e| e.path.as_str()).collect();
            assert_eq!(paths, want_paths, "{key:?} {ext}: the chain");
            let mut seen = BTreeSet::new();
            for (i, ((path, doc, body), e)) in chain.iter().zip(&want).enumerate() {
                // In order, each article once, at most PER_PAGE a page.
                assert_eq!(doc.ids, e.ids, "{path}: its articles");
                assert!(doc.ids.iter().all(|id| seen.insert(id.clone())), "{path}");
                let (title, description, items) = heading(ext, body);
                assert_eq!(items, e.ids.len(), "{path}: items as the crates read them");
                if e.pages > 1 {
                    let of = format!("trang {}/{}", e.page, e.pages);
                    assert!(title.contains(&of), "{path}: title {title:?}");
                    assert!(title.starts_with(&site_title), "{path}: title {title:?}");
                    let count = format!("{} bài, {of}", e.in_month);
                    assert!(description.contains(&count), "{path}: {description:?}");
                } else {
                    assert!(!title.contains("trang"), "{path}: title {title:?}");
                }
                if ext != "json" {
                    assert!(doc.archive_mark, "{path}: no fh:archive");
                    assert_eq!(
                        doc.current.as_deref().map(path_of),
                        Some(feed_path(&key, ext))
                    );
                    // next-archive is the document before it in the chain.
                    let newer = i.checked_sub(1).map(|j| want[j].path.clone());
                    assert_eq!(
                        doc.next.as_deref().map(path_of),
                        newer,
                        "{path}: next-archive"
                    );
                }
            }
            // And back, by next-archive, from the oldest to the newest.
            if ext != "json" {
                let mut back = Vec::new();
                let mut at = chain.last().map(|(p, ..)| p.clone());
                while let Some(path) = at {
                    assert!(back.len() < 100, "{key:?} {ext}: the way back does not end");
                    let r = get(&c, &server.url(&path), &[]).await;
                    assert_eq!(r.status, 200, "{path}");
                    at = read(ext, &r.body).next.as_deref().map(path_of);
                    back.push(path);
                }
                back.reverse();
                assert_eq!(back, paths, "{key:?} {ext}: the way back");
            }
        }
    }
    // A page past the month's last, and page 1 by another name, are none.
    let pages = expected_chain(&all, &FeedKey::All, "rss")
        .iter()
        .filter(|e| e.path.contains("2020-10"))
        .count();
    for path in [
        format!("/feeds/all/archive/2020-10-p{}.rss", pages + 1),
        "/feeds/all/archive/2020-10-p1.rss".to_string(),
        "/feeds/all/archive/2020-06-p2.rss".to_string(),
    ] {
        assert_eq!(get(&c, &server.url(&path), &[]).await.status, 404, "{path}");
    }
    server.stop().await;
}

/// feedparser reads every RSS and Atom document under `dir` without bozo;
/// says it skipped where Python's feedparser is missing (outside CI).
fn feedparser_reads(dir: &std::path::Path) {
    let out = std::process::Command::new("python3")
        .arg(script("feedparser_check.py"))
        .arg(dir)
        .output();
    let out = match out {
        Ok(out) => out,
        Err(_) => {
            assert!(std::env::var_os("CI").is_none(), "CI must have python3");
            eprintln!("SKIPPED: no python3");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'feedparser'") {
        assert!(std::env::var_os("CI").is_none(), "CI must have feedparser");
        eprintln!("SKIPPED: python3 feedparser is not installed (pip install feedparser)");
        return;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "feedparser_check.py: {stdout}\n{stderr}"
    );
    assert!(stdout.contains("-p2.rss "), "no page read: {stdout}");
}

each_store!(async fn build_writes_every_page_as_the_server_sends_it);
async fn build_writes_every_page_as_the_server_sends_it(kind: StoreKind) {
    let sample = Sandbox::with_sample_on(kind);
    sample.upsert(paged_articles());
    let site = sample.path("site.toml");
    std::fs::write(&site, paged_site_text()).unwrap();
    let out = sample.path("out");
    Bantin::on(&sample.store_url())
        .site(&site)
        .args(["build", "--out"])
        .arg(&out)
        .ok_async()
        .await;
    let server = Server::start_site(sample.pool(4), paged_site(), test_limits()).await;
    let c = client();
    let documents: Vec<String> = crate::build::files_under(&out)
        .into_iter()
        .filter(|f| f.contains("/archive/") && !f.ends_with(".gz") && !f.ends_with(".br"))
        .collect();
    let pages = documents.iter().filter(|f| f.contains("-p")).count();
    assert!(pages >= 3 * 3, "pages written: {documents:?}");
    for rel in &documents {
        let r = get(&c, &server.url(&format!("/{rel}")), &[]).await;
        assert_eq!(r.status, 200, "{rel}");
        let written = std::fs::read(out.join(rel)).unwrap();
        assert!(
            written[..] == r.body[..],
            "{rel}: the file is not what the server sends"
        );
    }
    // Every document the chains reach is written.
    let mut all = sample_articles();
    all.extend(paged_articles());
    for ext in FORMATS {
        for e in expected_chain(&all, &FeedKey::All, ext) {
            let rel = e.path.trim_start_matches('/');
            assert!(documents.iter().any(|d| d == rel), "{rel} not written");
        }
    }
    server.stop().await;
    feedparser_reads(&out);
}

each_store!(async fn a_write_in_a_paged_month_renders_its_pages_and_neighbours_again);
async fn a_write_in_a_paged_month_renders_its_pages_and_neighbours_again(kind: StoreKind) {
    let sample = Sandbox::with_sample_on(kind);
    let mut all = sample_articles();
    all.extend(paged_articles());
    sample.upsert(paged_articles());
    let server = Server::start_site(sample.pool(4), paged_site(), test_limits()).await;
    let c = client();
    let before = expected_chain(&all, &FeedKey::All, "rss");
    let mut etags = Vec::new();
    for e in &before {
        let r = get(&c, &server.url(&e.path), &[]).await;
        assert_eq!(r.status, 200, "{}", e.path);
        etags.push(r.etag());
    }
    // Enough new articles, the newest of October, for one more page.
    let october = before.iter().find(|e| e.path.contains("2020-10")).unwrap();
    let more = october.pages * PER_PAGE - october.in_month + 1;
    let new: Vec<Article> = (0..more)
        .map(|i| {
            article(
                &format!("moi-{i}"),
                &["Xã hội"],
                &[],
                &format!("2020-10-31T10:{:02}:00+07:00", i),
            )
        })
        .collect();
    sample.upsert(new.clone());
    all.extend(new);
    let after = expected_chain(&all, &FeedKey::All, "rss");
    let last = after.iter().rfind(|e| e.path.contains("2020-10")).unwrap();
    assert_eq!(last.page, october.pages + 1);
    // The server has seen the write once October's first page shows it.
    let first_url = server.url(
        &after
            .iter()
            .find(|e| e.path.contains("2020-10"))
            .unwrap()
            .path,
    );
    let newest = after
        .iter()
        .find(|e| e.path.contains("2020-10"))
        .unwrap()
        .ids[0]
        .clone();
    let shown = wait_until(std::time::Duration::from_secs(10), || async {
        read("rss", &get(&c, &first_url, &[]).await.body)
            .ids
            .first()
            == Some(&newest)
    })
    .await;
    assert!(
        shown.is_some(),
        "October's first page never showed the write"
    );
    assert_eq!(
        get(&c, &server.url(&last.path), &[]).await.status,
        200,
        "{}",
        last.path
    );
    for (e, old) in before.iter().zip(&etags) {
        let r = get(&c, &server.url(&e.path), &[("if-none-match", old)]).await;
        if e.path.contains("2020-11") {
            assert_eq!(r.status, 304, "{} changed with a write in October", e.path);
            continue;
        }
        // Every October page, and June, whose next-archive is October's
        // last page.
        assert_eq!(r.status, 200, "{} kept its old bytes", e.path);
        let now = after.iter().find(|a| a.path == e.path).unwrap();
        assert_eq!(read("rss", &r.body).ids, now.ids, "{}", e.path);
    }
    let june = get(&c, &server.url("/feeds/all/archive/2020-06.rss"), &[]).await;
    let next = read("rss", &june.body).next.map(|u| path_of(&u));
    assert_eq!(next.as_deref(), Some(last.path.as_str()));
    server.stop().await;
}

// Issue 17, item 4: 48 cold archive documents asked at once, over real
// sockets. Cold archive renders take turns, so each answers 200 (or 404
// for a month without that feed's articles) or, past its wait, 503 with
// `Retry-After`, never a 500; the subscription feed answers meanwhile;
// and each document is served when asked again.
each_store!(async fn forty_eight_cold_archive_documents_at_once_take_turns);
async fn forty_eight_cold_archive_documents_at_once_take_turns(kind: StoreKind) {
    let sample = Sandbox::with_sample_on(kind);
    let server = Server::start(sample.pool(2)).await;
    let c = client();
    let paths: Vec<String> = crate::support::sample_keys()
        .iter()
        .flat_map(|key| {
            ["2020-10", "2020-11"].map(|m| {
                let feed = feed_path(key, "rss");
                format!("{}/archive/{m}.rss", feed.trim_end_matches(".rss"))
            })
        })
        .take(48)
        .collect();
    assert_eq!(paths.len(), 48);
    let burst = futures_util::future::join_all(paths.iter().map(|p| {
        let (c, url) = (c.clone(), server.url(p));
        async move { get(&c, &url, &[("accept-encoding", "gzip")]).await }
    }));
    let all = server.url("/feeds/all.rss");
    let feed = get(&c, &all, &[]);
    let (replies, feed) = tokio::join!(burst, feed);
    assert_eq!(feed.status, 200, "the subscription feed during the burst");
    let mut served = 0;
    for (path, r) in paths.iter().zip(&replies) {
        match r.status {
            200 => served += 1,
            404 => {}
            503 => assert!(
                r.header("retry-after").is_some(),
                "{path}: 503 without Retry-After"
            ),
            other => panic!("{path}: {other} {}", r.text()),
        }
    }
    assert!(served > 0, "no archive document was served");
    for (path, r) in paths.iter().zip(&replies) {
        if r.status == 503 {
            let again = get(&c, &server.url(path), &[]).await;
            assert!(
                matches!(again.status, 200 | 404),
                "{path}: {}",
                again.status
            );
        }
    }
    server.stop().await;
}
