//! Writes cost only the feeds they touch (issue 6), on SQLite and on
//! PostgreSQL, over real sockets:
//!
//! - With every listed feed cached, one write re-renders only the feeds it
//!   touches; every other feed keeps its ETag and answers 304 to it.
//! - Writes in quick succession while every feed is cached: each shows in
//!   its feed soon after its own commit.
//! - A CMS moving an article to another category with plain SQL: both
//!   categories' feeds change, untouched feeds do not re-render.
//! - A client that gives up on a cold render does not cancel it: the next
//!   client gets it without a second render.
//! - A render racing a writer is never torn: every item read comes whole
//!   (its categories with it), and the server never skips a half-read row.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bantin::article::{Article, FeedKey};

use crate::support::{
    CountingStore, FORMATS, Process, Sandbox, Server, article, client, feed_path, get, metric,
    on_both, sample_articles, wait_until,
};

/// How long a test waits for a change to show. SPEC's second is asserted by
/// `bench/writes.sh` on a release build; a loaded debug build gets slack.
const SLACK: Duration = Duration::from_secs(5);

/// Every URL the server lists (every feed of `/`'s catalog in every
/// format, with every pair of a known category and region), and the pages.
fn every_url(server: &Server) -> Vec<String> {
    let catalog = server.app.catalog();
    let mut urls: Vec<String> = catalog
        .keys()
        .iter()
        .flat_map(|k| FORMATS.map(|e| server.url(&feed_path(k, e))))
        .collect();
    urls.extend([server.url("/"), server.url("/feeds.opml")]);
    urls
}

/// GET every URL (gzip, as aggregators ask), a few at a time; their ETags.
async fn warm(c: &reqwest::Client, urls: &[String]) -> BTreeMap<String, String> {
    let mut etags = BTreeMap::new();
    for batch in urls.chunks(16) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|url| {
                let (c, url) = (c.clone(), url.clone());
                tokio::spawn(async move {
                    let r = get(&c, &url, &[("accept-encoding", "gzip")]).await;
                    assert_eq!(r.status, 200, "{url}");
                    (url, r.etag())
                })
            })
            .collect();
        for t in tasks {
            let (url, etag) = t.await.unwrap();
            etags.insert(url, etag);
        }
    }
    etags
}

/// Wait until the server has stopped rendering (the count holds still for
/// half a second); the count then.
async fn quiet_renders(c: &reqwest::Client, server: &Server) -> u64 {
    let mut last = metric(c, &server.base, "bantin_renders_total").await;
    let deadline = Instant::now() + SLACK;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = metric(c, &server.base, "bantin_renders_total").await;
        if now == last || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// Wait until `url` has (or has not) `needle`; how long it took.
async fn shows(c: &reqwest::Client, url: &str, needle: &str, present: bool) -> Duration {
    wait_until(SLACK, || async {
        get(c, url, &[]).await.text().contains(needle) == present
    })
    .await
    .unwrap_or_else(|| panic!("{url}: {needle} present={present} not reached in {SLACK:?}"))
}

/// The URLs (all formats) of these feeds.
fn urls_of(server: &Server, keys: &[FeedKey]) -> Vec<String> {
    keys.iter()
        .flat_map(|k| FORMATS.map(|e| server.url(&feed_path(k, e))))
        .collect()
}

/// After a change: the `touched` URLs have new ETags, every other URL of
/// `before` keeps its ETag and answers 304 to it.
async fn only_touched_changed(
    c: &reqwest::Client,
    before: &BTreeMap<String, String>,
    touched: &[String],
) {
    for (url, old) in before {
        let r = get(
            c,
            url,
            &[("accept-encoding", "gzip"), ("if-none-match", old)],
        )
        .await;
        if touched.contains(url) {
            assert_eq!(r.status, 200, "{url} was touched but still answers 304");
            assert_ne!(&r.etag(), old, "{url}");
        } else {
            assert_eq!(r.status, 304, "{url} was not touched but changed");
            assert_eq!(&r.etag(), old, "{url}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_write_rerenders_only_the_feeds_it_touches() {
    on_both(|backend| async move {
        let server = Server::start(backend.pool(4)).await;
        let c = client();
        let before = warm(&c, &every_url(&server)).await;
        let renders = quiet_renders(&c, &server).await;

        let id = "2020-12-01-mot-bai-moi";
        let new = article(id, &["Thể thao"], &["Đức Thọ"], "2020-12-01T08:00:00+07:00");
        backend.upsert(vec![new]);
        shows(&c, &server.url("/feeds/all.rss"), id, true).await;
        let rendered = quiet_renders(&c, &server).await - renders;

        let keys = [
            FeedKey::All,
            FeedKey::Category("the-thao".into()),
            FeedKey::Region("duc-tho".into()),
            FeedKey::CategoryRegion("the-thao".into(), "duc-tho".into()),
        ];
        // The touched feeds in each format, and the two pages whose counts
        // moved; nothing for the other feeds. (`/` may be rendered once
        // more: it shows the audience, and the warm-up's requests were
        // counted at a flush meanwhile.)
        assert!(
            rendered <= keys.len() as u64 * 3 + 2 + 1,
            "{} of {} resources cached were rendered again for one write ({})",
            rendered,
            before.len(),
            backend.store_url()
        );
        let mut touched = urls_of(&server, &keys);
        touched.extend([server.url("/"), server.url("/feeds.opml")]);
        only_touched_changed(&c, &before, &touched).await;
        let after = metric(&c, &server.base, "bantin_renders_total").await;
        assert_eq!(
            after,
            renders + rendered,
            "checking the feeds rendered some"
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_in_quick_succession_each_show_soon_after_their_commit() {
    on_both(|backend| async move {
        let server = Server::start(backend.pool(4)).await;
        let c = client();
        warm(&c, &every_url(&server)).await;
        let categories = ["Kinh tế", "Xã hội", "Giáo dục", "Thể thao"];
        let mut committed: Vec<(String, String, Instant)> = Vec::new();
        for (i, cat) in categories.iter().cycle().take(8).enumerate() {
            let id = format!("2020-12-0{}-nhanh-{i}", 1 + i % 3);
            let a: Article = article(&id, &[cat], &["Kỳ Anh"], "2020-12-02T08:00:00+07:00");
            backend.upsert(vec![a]);
            let url = server.url(&format!(
                "/feeds/category/{}.rss",
                bantin::slug::slugify(cat)
            ));
            committed.push((id, url, Instant::now()));
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        for (id, url, at) in &committed {
            shows(&c, url, id, true).await;
            let lag = at.elapsed();
            assert!(lag < SLACK, "{id} showed {lag:?} after its commit");
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cms_moving_an_article_changes_both_categories_and_nothing_else() {
    on_both(|backend| async move {
        let moved = sample_articles()
            .into_iter()
            .find(|a| {
                a.categories.iter().any(|c| c == "Kinh tế")
                    && !a.categories.iter().any(|c| c == "Thể thao")
                    && !a.regions.is_empty()
            })
            .expect("a sample article in Kinh tế, not in Thể thao, with a region");
        let slugs = |names: &[String]| -> Vec<String> {
            names.iter().map(|n| bantin::slug::slugify(n)).collect()
        };
        let mut categories = slugs(&moved.categories);
        categories.push("the-thao".into());
        let regions = slugs(&moved.regions);
        let authors = slugs(&moved.authors);
        let server = Server::start(backend.pool(4)).await;
        let c = client();
        let before = warm(&c, &every_url(&server)).await;
        let renders = quiet_renders(&c, &server).await;

        // Plain SQL, several statements in one transaction, as a CMS writes.
        let id = moved.id.replace('\'', "''");
        backend.sql(&format!(
            "BEGIN;
             UPDATE article_categories SET slug = 'the-thao', name = 'Thể thao'
                 WHERE article_id = '{id}' AND slug = 'kinh-te';
             UPDATE articles SET title = title || ' (sửa)' WHERE id = '{id}';
             COMMIT;"
        ));
        let the_thao = server.url("/feeds/category/the-thao.atom");
        shows(&c, &the_thao, &moved.title, true).await;
        shows(
            &c,
            &server.url("/feeds/category/kinh-te.atom"),
            &moved.title,
            false,
        )
        .await;
        let rendered = quiet_renders(&c, &server).await - renders;

        // Every feed the article was in or is in now: its item shows its
        // categories, so its other categories', its regions' and its
        // authors' feeds too.
        let mut keys = vec![FeedKey::All];
        keys.extend(categories.iter().cloned().map(FeedKey::Category));
        keys.extend(regions.iter().cloned().map(FeedKey::Region));
        keys.extend(authors.iter().cloned().map(FeedKey::Author));
        for c in &categories {
            for r in &regions {
                keys.push(FeedKey::CategoryRegion(c.clone(), r.clone()));
            }
        }
        // (+ 1: `/` shows the audience, which a flush may have changed.)
        assert!(
            rendered <= keys.len() as u64 * 3 + 2 + 1,
            "{rendered} renders for one moved article ({})",
            backend.store_url()
        );
        let mut touched = urls_of(&server, &keys);
        touched.extend([server.url("/"), server.url("/feeds.opml")]);
        only_touched_changed(&c, &before, &touched).await;
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_gives_up_does_not_cancel_the_render() {
    on_both(|backend| async move {
        let (store, calls) = CountingStore::new(backend.pool(4));
        let server = Server::start(Box::new(store)).await;
        let url = server.url("/feeds/all.json");
        calls.feed_delay_ms.store(4000, Ordering::SeqCst);
        let impatient = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let mut gave_up = 0;
        for _ in 0..12 {
            if impatient.get(&url).send().await.is_err() {
                gave_up += 1;
            }
        }
        assert_eq!(gave_up, 12, "the render was not slow enough to test");
        calls.feed_delay_ms.store(0, Ordering::SeqCst);
        let c = client();
        // The one render started by the first client finishes on its own.
        let done = wait_until(SLACK, || async {
            metric(&c, &server.base, "bantin_renders_total").await >= 1
        })
        .await;
        assert!(done.is_some(), "the abandoned render never finished");
        let r = get(&c, &url, &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!(calls.feed(), 1, "the feed was read more than once");
        assert_eq!(metric(&c, &server.base, "bantin_renders_total").await, 1);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_render_racing_a_writer_is_never_torn() {
    for backend in [Some(Sandbox::with_sample()), Sandbox::sample_on_postgres()]
        .into_iter()
        .flatten()
    {
        let server = Process::start_url(&backend.store_url());
        let writer = backend.pool(1);
        let kinh_te: Vec<Article> = sample_articles()
            .into_iter()
            .filter(|a| a.categories.iter().any(|c| c == "Kinh tế"))
            .collect();
        assert!(kinh_te.len() >= 2);
        let ids: Vec<String> = kinh_te.iter().map(|a| a.id.clone()).collect();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writes = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    writer.remove(&ids).unwrap();
                    writer.upsert(&kinh_te).unwrap();
                    n += 1;
                }
                drop(writer);
                n
            }
        });
        let c = client();
        let url = server.url("/feeds/category/kinh-te.json");
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut reads = 0;
        while Instant::now() < deadline {
            let r = get(&c, &url, &[]).await;
            if r.status == 404 {
                continue; // every Kinh tế article out at that instant
            }
            assert_eq!(r.status, 200);
            let feed: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            for item in feed["items"].as_array().unwrap() {
                let tags = item["tags"]
                    .as_array()
                    .expect("an item without its categories");
                assert!(
                    tags.iter().any(|t| t == "Kinh tế"),
                    "an item of Kinh tế without it: {item}"
                );
            }
            reads += 1;
        }
        stop.store(true, Ordering::SeqCst);
        let writes = writes.join().unwrap();
        assert!(writes > 5 && reads > 5, "{writes} writes, {reads} reads");
        let log = server.stderr.lock().unwrap().clone();
        assert!(
            !log.contains("skipping a stored article"),
            "a render read an article and its links at two moments: {log}"
        );
    }
}
