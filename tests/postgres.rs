//! The PostgreSQL store against the SQLite one (SPEC "The article store":
//! both pass one and the same test suite and give byte-identical feeds):
//!
//! - Every file `bantin build` writes for the sample (every feed: all,
//!   each category, region, pair and author, in every format and coding;
//!   the page; the OPML list) has the same bytes
//!   from a PostgreSQL store as from a SQLite store holding the same import
//!   (with an article carrying NULs, which PostgreSQL text cannot hold).
//! - Replicas opening a new database at once apply its schema once.
//! - A store of version 10 (the schema `tests/fixtures/postgres_v10/`, the
//!   migrations as bantin wrote them before `replaceable.sql`) upgrades to
//!   the very schema a new store gets (every function, trigger, view,
//!   index and column), keeps its rows, passes `check`, and a CMS's writes
//!   after it are logged, counted, dated and indexed by the triggers.
//! - One conformance suite runs on both backends: feed order by instant, not
//!   text, ties by id in descending byte order (in a database whose default
//!   collation is not byte order); limits; an upsert replacing names and
//!   dates; `remove` naming unknown ids; a scheduled article invisible until
//!   its time, and `next_scheduled`; names, pairs and counts; `audit` flags
//!   rows a CMS wrote wrong, while the trigger keeps `published_us` copies in
//!   step; the change token moves on another connection's write.
//! - `bantin serve` on a PostgreSQL store shows an article imported by
//!   another process within 1 second, and serves the same ETag as a server
//!   on a SQLite store with the same articles; it exits cleanly on TERM.
//!
//! They use the throwaway cluster of [`crate::pg_cluster`], and skip (or
//! fail, under CI) where PostgreSQL is not installed.

use std::path::Path;
use std::time::Duration;

use bantin::article::{Body, Facet, FeedKey};
use bantin::feed::Catalog;
use bantin::store::postgres::PostgresStore;
use bantin::store::sqlite::SqliteStore;
use bantin::store::{Changes, LogPosition, Pair, SlugUse, Store};
use chrono::{DateTime, Utc};

use crate::build::files_under;
use crate::support::{
    Bantin, Process, article, articles_dir, client, date, get, jsonl_article, pg_cluster::database,
    site, wait_until,
};

fn sqlite_url(path: &Path) -> String {
    format!("sqlite:{}", path.display())
}

#[test]
fn every_file_builds_the_same_bytes_from_both_stores() {
    let Some(pg) = database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let lite = sqlite_url(&db);
    let articles = articles_dir();
    // PostgreSQL text cannot hold U+0000; feeds drop it anyway.
    let nul = dir.path().join("nul.jsonl");
    let record = serde_json::json!({
        "id": "nul-1", "title": "Tin\u{0} có NUL", "summary": "Sapo\u{0}.",
        "body": "Đoạn\u{0} một.\n\nĐoạn hai\u{0}.", "authors": ["Lê\u{0} Văn A"],
        "categories": ["Thời sự"], "regions": ["Hà Tĩnh"], "published": "2020-11-04T08:00:00+07:00",
    });
    std::fs::write(&nul, record.to_string()).unwrap();
    for store in [&lite, &pg] {
        Bantin::on(store)
            .args(["import", articles.to_str().unwrap(), nul.to_str().unwrap()])
            .ok();
    }
    let now = Utc::now();
    let keys = Catalog::load(
        SqliteStore::open(&db).unwrap().snapshot().unwrap().as_ref(),
        &site(),
        now,
    )
    .unwrap()
    .keys();
    let pg_keys = Catalog::load(
        PostgresStore::open(&pg)
            .unwrap()
            .snapshot()
            .unwrap()
            .as_ref(),
        &site(),
        now,
    )
    .unwrap()
    .keys();
    assert_eq!(pg_keys, keys, "the stores list different feeds");

    // `build` writes every feed in every format and coding, the page
    // and the OPML list, each byte for byte what `dump` and the server give
    // (the `build` and `conditional` tests check that on each store): two
    // builds compared file by file compare everything at once.
    let outs = [dir.path().join("lite"), dir.path().join("pg")];
    std::thread::scope(|s| {
        for (store, out) in [&lite, &pg].into_iter().zip(&outs) {
            s.spawn(move || {
                Bantin::on(store)
                    .args(["build", "--out", out.to_str().unwrap()])
                    .ok()
            });
        }
    });
    let files = files_under(&outs[0]);
    assert_eq!(
        files_under(&outs[1]),
        files,
        "the builds hold different files"
    );
    for want in [
        "feeds/category/thoi-su/region/ha-tinh.rss",
        "feeds/author/le-van-a.json",
        "index.html",
        "feeds.opml",
    ] {
        assert!(files.contains(want), "{want} not built");
    }
    let differ: Vec<&String> = files
        .iter()
        // bantin's manifest records each store's own log position.
        .filter(|f| *f != ".bantin-build")
        .filter(|f| {
            std::fs::read(outs[0].join(f)).unwrap() != std::fs::read(outs[1].join(f)).unwrap()
        })
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} files differ between SQLite and PostgreSQL: {differ:?}",
        differ.len(),
        files.len()
    );
}

#[test]
fn sqlite_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    // Snapshots are held while others are taken: more than one reader.
    let store = SqliteStore::open_with(&db, 4).unwrap();
    let other = SqliteStore::open(&db).unwrap();
    let raw = rusqlite::Connection::open(&db).unwrap();
    conformance(&store, &other, &mut |sql| {
        raw.execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    });
}

#[test]
fn postgres_store_passes_the_conformance_suite() {
    let Some(url) = database() else { return };
    let store = PostgresStore::open_with(&url, 4).unwrap();
    let other = PostgresStore::open(&url).unwrap();
    let mut raw = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    conformance(&store, &other, &mut |sql| {
        raw.batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    });
}

fn utc(s: &str) -> DateTime<Utc> {
    date(s).to_utc()
}

fn ids(store: &dyn Store, key: &FeedKey, now: DateTime<Utc>, limit: usize) -> Vec<String> {
    store
        .snapshot()
        .unwrap()
        .feed(key, now, limit)
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect()
}

fn cat(slug: &str) -> FeedKey {
    FeedKey::Category(slug.into())
}

fn uses(names: &[(&str, u64)], newest: &str) -> SlugUse {
    SlugUse {
        names: names.iter().map(|(n, c)| (n.to_string(), *c)).collect(),
        newest: Some(utc(newest)),
    }
}

/// The ids, facets and slugs of the log rows written since `since`, in
/// log order, with where the reader stands after them.
fn logged(store: &dyn Store, since: &LogPosition) -> (Vec<String>, LogPosition) {
    match store.snapshot().unwrap().changes(since, 1000).unwrap() {
        Changes::Rows { rows, next } => (
            rows.iter()
                .map(|c| {
                    let facet = match c.facet {
                        None => "a",
                        Some(Facet::Category) => "c",
                        Some(Facet::Region) => "r",
                        Some(Facet::Author) => "u",
                    };
                    format!(
                        "{} {facet} {}",
                        c.article_id,
                        c.slug.as_deref().unwrap_or("")
                    )
                    .trim_end()
                    .to_string()
                })
                .collect(),
            next,
        ),
        Changes::Everything { .. } => panic!("a handful of writes read as \"everything\""),
    }
}

fn head(store: &dyn Store) -> LogPosition {
    store.snapshot().unwrap().log_head().unwrap()
}

/// The behaviour every backend must show. `other` is a second connection
/// to the same store; `raw` runs SQL on the backend's own client, as a CMS
/// would (the statements are valid in both dialects).
fn conformance(store: &dyn Store, other: &dyn Store, raw: &mut dyn FnMut(&str)) {
    let now = utc("2021-01-01T00:00:00Z");
    let all = FeedKey::All;
    let start = head(store);

    // "a" is older than "b" by instant, newer by text. "Z", "ä" and "z-1"
    // tie: descending bytes put "ä" (0xC3) first, then "z-1", then "Z"; a
    // locale collation would not.
    let a = article("a", &["Thời sự"], &["Hà Tĩnh"], "2020-11-02T07:30:00+07:00");
    let mut b = article(
        "b",
        &["Thời sự", "Kinh tế"],
        &["Đức Thọ"],
        "2020-11-02T01:00:00Z",
    );
    b.summary = Some("Sapo".into());
    b.body = Body::Text("Đoạn một.\n\nĐoạn hai.".into());
    b.authors = vec!["Lê Văn A".into(), "Trần B".into()];
    b.updated = date("2020-11-03T09:00:00+07:00");
    b.url = Some("https://example.com/b".into());
    b.image = Some("https://example.com/b.jpg".into());
    let tie = "2020-11-01T12:00:00Z";
    let upper = article("Z", &["KINH TẾ"], &["Hà Tĩnh"], tie);
    let umlaut = article("ä", &["Kinh tế"], &["Hà Tĩnh"], tie);
    let z1 = article("z-1", &["Kinh tế"], &["Hà Tĩnh"], tie);
    store
        .upsert(&[z1.clone(), a.clone(), upper, b.clone(), umlaut])
        .unwrap();

    // The log has every row written.
    let (mut rows, after_import) = logged(store, &start);
    rows.sort();
    assert_eq!(rows.len(), 5 + 6 + 5 + 2, "{rows:?}");
    assert!(rows.contains(&"b u le-van-a".to_string()), "{rows:?}");
    for row in [
        "z-1 a",
        "z-1 c kinh-te",
        "z-1 r ha-tinh",
        "b c thoi-su",
        "b r duc-tho",
    ] {
        assert!(rows.contains(&row.to_string()), "{row} not in {rows:?}");
    }
    // Writing the same articles again changes nothing, and logs nothing.
    store.upsert(&[z1.clone(), b.clone()]).unwrap();
    assert_eq!(logged(store, &after_import).0, Vec::<String>::new());

    assert_eq!(store.audit().unwrap(), vec![], "clean rows flagged");
    assert_eq!(ids(store, &all, now, 50), ["b", "a", "ä", "z-1", "Z"]);
    assert_eq!(ids(store, &all, now, 2), ["b", "a"]);
    assert_eq!(ids(store, &cat("kinh-te"), now, 50), ["b", "ä", "z-1", "Z"]);
    let region = FeedKey::Region("ha-tinh".into());
    assert_eq!(ids(store, &region, now, 50), ["a", "ä", "z-1", "Z"]);
    let pair = FeedKey::CategoryRegion("thoi-su".into(), "duc-tho".into());
    assert_eq!(ids(store, &pair, now, 50), ["b"]);
    assert!(ids(store, &cat("nope"), now, 50).is_empty());
    let stored_b = store
        .snapshot()
        .unwrap()
        .feed(&all, now, 1)
        .unwrap()
        .remove(0);
    assert_eq!(stored_b, b, "an article reads back as written");

    // The catalog: names in byte order ("KINH TẾ" before "Kinh tế": 'I' <
    // 'i'), counts, pairs, the newest article of each.
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.slugs(Facet::Category).unwrap(), ["kinh-te", "thoi-su"]);
    assert_eq!(snap.slugs(Facet::Region).unwrap(), ["duc-tho", "ha-tinh"]);
    assert_eq!(
        snap.slug_use(Facet::Category, "kinh-te", now).unwrap(),
        uses(&[("KINH TẾ", 1), ("Kinh tế", 3)], "2020-11-02T01:00:00Z")
    );
    assert_eq!(
        snap.slug_use(Facet::Region, "ha-tinh", now).unwrap(),
        uses(&[("Hà Tĩnh", 4)], "2020-11-02T00:30:00Z")
    );
    assert_eq!(
        snap.slug_use(Facet::Region, "nope", now).unwrap(),
        SlugUse::default()
    );
    let p = |c: &str, r: &str, n: u64, newest: &str| Pair {
        category: c.into(),
        region: r.into(),
        articles: n,
        newest: Some(utc(newest)),
    };
    let pairs: Vec<Pair> = snap
        .pair_keys()
        .unwrap()
        .iter()
        .filter_map(|(c, r)| snap.pair(c, r, now).unwrap())
        .collect();
    assert_eq!(
        pairs,
        [
            p("kinh-te", "duc-tho", 1, "2020-11-02T01:00:00Z"),
            p("kinh-te", "ha-tinh", 3, tie),
            p("thoi-su", "duc-tho", 1, "2020-11-02T01:00:00Z"),
            p("thoi-su", "ha-tinh", 1, "2020-11-02T00:30:00Z"),
        ]
    );
    assert_eq!(
        snap.total(now).unwrap(),
        (5, Some(utc("2020-11-02T01:00:00Z")))
    );
    assert_eq!(snap.next_scheduled(now).unwrap(), None);
    let placed = snap.placements(&["b".into(), "nope".into()]).unwrap();
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].categories, ["thoi-su", "kinh-te"]);
    assert_eq!(placed[0].regions, ["duc-tho"]);
    drop(snap);

    // A scheduled article: out of everything until its instant, then in;
    // counted only once visible.
    let due = "2030-01-01T00:00:00Z";
    store
        .upsert(&[article("s", &["Thời sự"], &["Hà Tĩnh"], due)])
        .unwrap();
    let snap = store.snapshot().unwrap();
    assert_eq!(ids(store, &all, now, 50), ["b", "a", "ä", "z-1", "Z"]);
    assert_eq!(snap.total(now).unwrap().0, 5);
    assert_eq!(
        snap.slug_use(Facet::Category, "thoi-su", now).unwrap(),
        uses(&[("Thời sự", 2)], "2020-11-02T01:00:00Z")
    );
    assert_eq!(
        snap.pair("thoi-su", "ha-tinh", now)
            .unwrap()
            .unwrap()
            .articles,
        1
    );
    assert_eq!(snap.next_scheduled(now).unwrap(), Some(utc(due)));
    let just_before = utc(due) - chrono::Duration::microseconds(1);
    assert_eq!(ids(store, &all, just_before, 1), ["b"]);
    assert_eq!(ids(store, &all, utc(due), 1), ["s"]);
    assert_eq!(
        snap.slug_use(Facet::Category, "thoi-su", utc(due)).unwrap(),
        uses(&[("Thời sự", 3)], due)
    );
    assert_eq!(snap.total(utc(due)).unwrap(), (6, Some(utc(due))));
    assert_eq!(
        snap.published_between(just_before, utc(due)).unwrap(),
        ["s"]
    );
    assert_eq!(snap.next_scheduled(utc(due)).unwrap(), None);
    drop(snap);

    // An upsert replaces names and date: "a" leaves thoi-su, moves to the
    // top. Only the changed rows are rewritten, old and new both logged.
    let before_move = head(store);
    let mut moved = article("a", &["Thể thao"], &["Hà Tĩnh"], "2020-11-03T00:00:00Z");
    moved.title = "Bài a, sửa".into();
    store.upsert(&[moved.clone()]).unwrap();
    let (rows, _) = logged(store, &before_move);
    for want in ["a a", "a c thoi-su", "a c the-thao", "a r ha-tinh"] {
        assert!(rows.contains(&want.to_string()), "{want} not in {rows:?}");
    }
    assert!(rows.iter().all(|r| r.starts_with("a ")), "{rows:?}");
    assert_eq!(ids(store, &all, now, 50), ["a", "b", "ä", "z-1", "Z"]);
    assert_eq!(ids(store, &cat("thoi-su"), now, 50), ["b"]);
    assert_eq!(ids(store, &cat("the-thao"), now, 50), ["a"]);
    assert_eq!(
        store.snapshot().unwrap().feed(&all, now, 1).unwrap()[0],
        moved
    );
    assert_eq!(
        store
            .snapshot()
            .unwrap()
            .pair("thoi-su", "ha-tinh", now)
            .unwrap(),
        None
    );

    // remove names the unknown ids and still removes the others.
    assert_eq!(
        store.remove(&["ä".into(), "nope".into()]).unwrap(),
        ["nope"]
    );
    assert_eq!(ids(store, &cat("kinh-te"), now, 50), ["b", "z-1", "Z"]);
    assert_eq!(store.snapshot().unwrap().total(now).unwrap().0, 4);
    assert_eq!(store.audit().unwrap(), vec![], "the catalog drifted");

    // A CMS writing rows wrong, straight into the tables.
    raw("UPDATE articles SET published = 'yesterday' WHERE id = 'z-1'");
    raw("UPDATE article_regions SET slug = 'wrong' WHERE article_id = 'b'");
    // Moving the instant alone: the trigger moves the link rows' copies.
    raw("UPDATE articles SET published_us = published_us + 1000000 WHERE id = 'Z'");
    let problems = store.audit().unwrap();
    let about = |id: &str| -> Vec<String> {
        problems
            .iter()
            .filter(|p| p.id == id)
            .map(|p| p.reason.clone())
            .collect()
    };
    assert!(
        about("z-1").iter().any(|r| r.contains("RFC 3339")),
        "{problems:?}"
    );
    assert!(
        about("b").iter().any(|r| r.contains("\"wrong\"")),
        "{problems:?}"
    );
    assert_eq!(about("Z").len(), 1, "{problems:?}");
    assert!(
        about("Z")[0].contains("does not match published"),
        "{problems:?}"
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
    // The unreadable row is left out; the moved one leads its category.
    assert_eq!(ids(store, &all, now, 50), ["a", "b", "Z"]);
    assert_eq!(ids(store, &cat("kinh-te"), now, 50), ["b", "Z"]);
    assert_eq!(
        store
            .snapshot()
            .unwrap()
            .slug_use(Facet::Category, "kinh-te", now)
            .unwrap(),
        uses(&[("KINH TẾ", 1), ("Kinh tế", 2)], "2020-11-02T01:00:00Z")
    );
    // The CMS's slug change moved the counts with it.
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.slugs(Facet::Region).unwrap(), ["ha-tinh", "wrong"]);
    assert!(snap.pair("kinh-te", "wrong", now).unwrap().is_some());
    drop(snap);

    // Writes by another connection, and by a CMS, are in the log; a
    // snapshot taken before them does not see them.
    let before = head(store);
    let old = store.snapshot().unwrap();
    other.remove(&["b".into()]).unwrap();
    let (rows, after) = logged(store, &before);
    assert!(rows.contains(&"b a".to_string()), "{rows:?}");
    assert!(rows.contains(&"b c kinh-te".to_string()), "{rows:?}");
    assert_eq!(ids(store, &all, now, 50), ["a", "Z"]);
    assert_eq!(
        old.feed(&all, now, 50).unwrap().len(),
        3,
        "a snapshot saw a later write"
    );
    drop(old);
    raw("UPDATE articles SET title = 'Đổi tên' WHERE id = 'Z'");
    assert_eq!(logged(store, &after).0, ["Z a", "Z a"]);
    assert_eq!(
        store.snapshot().unwrap().feed(&all, now, 50).unwrap()[1].title,
        "Đổi tên"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_on_postgres_shows_another_process_import_within_a_second() {
    const FRESH: Duration = Duration::from_secs(1);
    let Some(pg) = tokio::task::spawn_blocking(database).await.unwrap() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let lite = sqlite_url(&db);
    let (pg_server, lite_server) = {
        let (pg, lite) = (pg.clone(), lite.clone());
        tokio::task::spawn_blocking(move || {
            let articles = articles_dir();
            for store in [&lite, &pg] {
                Bantin::on(store)
                    .args(["import", articles.to_str().unwrap()])
                    .ok();
            }
            (Process::start_url(&pg), Process::start_url(&lite))
        })
        .await
        .unwrap()
    };
    let c = client();
    let path = "/feeds/all.rss";
    let from_pg = get(&c, &pg_server.url(path), &[]).await;
    let from_lite = get(&c, &lite_server.url(path), &[]).await;
    assert_eq!(from_pg.status, 200);
    assert_eq!(from_pg.text(), from_lite.text());
    assert_eq!(from_pg.etag(), from_lite.etag());

    let id = "pg-live-1";
    assert!(!from_pg.text().contains(id));
    let published = (Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let file = dir.path().join("live.jsonl");
    std::fs::write(&file, jsonl_article(id, "Thời sự", "Hà Tĩnh", &published)).unwrap();
    let pg2 = pg.clone();
    tokio::task::spawn_blocking(move || {
        Bantin::on(&pg2)
            .args(["import", file.to_str().unwrap()])
            .ok()
    })
    .await
    .unwrap();
    let url = pg_server.url(path);
    // Keep looking past the deadline, to say how late it was.
    let took = wait_until(FRESH * 10, || async {
        get(&c, &url, &[]).await.text().contains(id)
    })
    .await;
    match took {
        Some(t) if t <= FRESH => {}
        Some(t) => panic!("{id} showed after {t:?}, later than {FRESH:?}"),
        None => panic!(
            "{id} not in {path} after {:?}; server stderr: {}",
            FRESH * 10,
            pg_server.stderr.lock().unwrap()
        ),
    }
    // The store's connection closes cleanly when the server stops.
    let mut pg_server = pg_server;
    pg_server.signal("TERM");
    let status = tokio::task::spawn_blocking(move || {
        let status = pg_server.wait_timeout(Duration::from_secs(5));
        (status, pg_server.stderr.lock().unwrap().clone())
    })
    .await
    .unwrap();
    assert!(
        status.0.is_some_and(|s| s.success()),
        "bantin serve on PostgreSQL did not exit cleanly on TERM ({:?}): {}",
        status.0,
        status.1
    );
    drop(lite_server);
}

#[test]
fn replicas_opening_a_new_database_at_once_apply_the_schema_once() {
    let Some(url) = database() else { return };
    let opened: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| PostgresStore::open(&url).map(|_| ())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &opened {
        assert!(r.is_ok(), "{opened:?}");
    }
    let mut raw = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let versions: Vec<i32> = raw
        .query(
            "SELECT version FROM bantin_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Each migration once, and all of them: as many as the folder holds
    // numbered files (replaceable.sql is applied after them).
    let files = std::fs::read_dir(crate::support::root().join("migrations/postgres"))
        .unwrap()
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(|c: char| c.is_ascii_digit())
        })
        .count();
    let all: Vec<i32> = (1..=i32::try_from(files).unwrap()).collect();
    assert_eq!(versions, all);
}

/// A role that may read and write rows but not create tables (docs/postgresql.md
/// "Several replicas": the replicas' role) opens a store whose migrations
/// are all applied, and is refused, creating nothing, by one that is behind.
#[test]
fn a_role_without_create_opens_an_up_to_date_store_and_only_that() {
    let Some(url) = crate::support::pg_cluster::database_with_sample() else {
        return;
    };
    let db = url.rsplit('/').next().unwrap().to_string();
    let port = crate::support::pg_cluster::port().unwrap();
    let role = format!("rows_only_{db}");
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
        ))
        .unwrap();
    let as_role = format!("postgres://{role}@127.0.0.1:{port}/{db}");
    let out = Bantin::on(&as_role)
        .args(["dump", "--format", "json"])
        .output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"items\""));

    // Behind by one migration: a command that migrates (`remove` here)
    // would have to create; it can't.
    let fresh = database().unwrap();
    let fresh_db = fresh.rsplit('/').next().unwrap();
    postgres::Client::connect(&fresh, postgres::NoTls)
        .unwrap()
        .batch_execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        .unwrap();
    let out = Bantin::on(&format!("postgres://{role}@127.0.0.1:{port}/{fresh_db}"))
        .args(["remove", "no-such-article"])
        .output();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("permission denied"), "{err}");
}

/// The SQL that makes the schema of version `upto` (at most 10) as bantin
/// made it before `replaceable.sql`: the migrations of then, frozen in
/// `tests/fixtures/postgres_v10/`, each listed in `bantin_migrations`, in
/// one transaction.
pub(crate) fn schema_of_version(upto: usize) -> String {
    let folder = crate::support::root().join("tests/fixtures/postgres_v10");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    files.sort();
    let mut sql = String::from(
        "BEGIN;
         CREATE TABLE bantin_migrations (version INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now());",
    );
    for (i, file) in files.iter().take(upto).enumerate() {
        sql.push_str(&std::fs::read_to_string(file).unwrap());
        sql.push_str(&format!(
            ";\nINSERT INTO bantin_migrations (version) VALUES ({});",
            i + 1
        ));
    }
    sql.push_str("COMMIT;");
    sql
}

/// What a schema is made of, as the catalog says: every function's
/// definition, every trigger, view, index and column of bantin's schema.
fn schema(url: &str) -> Vec<String> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let queries = [
        "SELECT p.proname || ' ' || pg_get_functiondef(p.oid) FROM pg_proc p
         JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'",
        "SELECT tgrelid::regclass || ' ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
        "SELECT viewname || ' ' || definition FROM pg_views WHERE schemaname = 'public'",
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'",
        "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' ||
                coalesce(collation_name, '') || ' ' || is_nullable || ' ' || coalesce(column_default, '')
         FROM information_schema.columns WHERE table_schema = 'public'",
    ];
    let mut all: Vec<String> = queries
        .iter()
        .flat_map(|q| client.query(*q, &[]).unwrap())
        .map(|r| r.get::<_, String>(0))
        .collect();
    all.sort();
    all
}

#[test]
fn a_store_of_version_10_upgrades_to_a_new_stores_schema_and_a_cms_writes_on() {
    let (Some(old), Some(new)) = (database(), database()) else {
        return;
    };
    let mut raw = postgres::Client::connect(&old, postgres::NoTls).unwrap();
    raw.batch_execute(&schema_of_version(10)).unwrap();
    // A CMS's article under the triggers of version 10.
    raw.batch_execute(
        "INSERT INTO articles (id, title, content_html, published, published_us, authors)
             VALUES ('before', 'Lũ ở Hà Tĩnh', '<p>nước <b>dâng</b></p>',
                     '2024-05-01T08:00:00+07:00', 1714525200000000, '[\"Lan\"]');
         INSERT INTO article_categories (article_id, slug, name, published_us)
             VALUES ('before', 'thoi-su', 'Thời sự', 1714525200000000);
         INSERT INTO article_regions (article_id, slug, name, published_us)
             VALUES ('before', 'ha-tinh', 'Hà Tĩnh', 1714525200000000);
         INSERT INTO article_authors (article_id, slug, name, published_us)
             VALUES ('before', 'lan', 'Lan', 1714525200000000);",
    )
    .unwrap();
    let store = PostgresStore::open(&old).unwrap();
    drop(PostgresStore::open(&new).unwrap());
    assert_eq!(schema(&old), schema(&new));
    assert_eq!(store.audit().unwrap(), vec![]);

    // A CMS writes on: a second article in the same category and region,
    // its date changed, the first one deleted.
    raw.batch_execute(
        "INSERT INTO articles (id, title, body, published, published_us)
             VALUES ('after', 'Nước rút', 'nước rút dần', '2024-05-02T08:00:00+07:00', 1714611600000000);
         INSERT INTO article_categories (article_id, slug, name, published_us)
             VALUES ('after', 'thoi-su', 'Thời sự', 1714611600000000);
         INSERT INTO article_regions (article_id, slug, name, published_us)
             VALUES ('after', 'ha-tinh', 'Hà Tĩnh', 1714611600000000);",
    )
    .unwrap();
    let now = utc("2024-06-01T00:00:00Z");
    let search = FeedKey::Search("nuoc".into());
    assert_eq!(ids(&store, &search, now, 10), ["after", "before"]);
    let since = head(&store);
    raw.batch_execute(
        "UPDATE articles SET published = '2024-04-30T08:00:00+07:00',
             published_us = 1714438800000000 WHERE id = 'after';",
    )
    .unwrap();
    assert_eq!(ids(&store, &cat("thoi-su"), now, 10), ["before", "after"]);
    let (logged, _) = logged(&store, &since);
    assert!(
        logged.contains(&"after c thoi-su".to_string()),
        "{logged:?}"
    );
    let snap = store.snapshot().unwrap();
    assert_eq!(
        snap.pair("thoi-su", "ha-tinh", now)
            .unwrap()
            .map(|p| p.articles),
        Some(2)
    );
    drop(snap);
    raw.batch_execute("DELETE FROM articles WHERE id = 'before'")
        .unwrap();
    let snap = store.snapshot().unwrap();
    assert_eq!(
        snap.pair("thoi-su", "ha-tinh", now)
            .unwrap()
            .map(|p| p.articles),
        Some(1)
    );
    assert_eq!(snap.slugs(Facet::Author).unwrap(), Vec::<String>::new());
    drop(snap);
    assert_eq!(ids(&store, &search, now, 10), ["after"]);
    assert_eq!(store.audit().unwrap(), vec![]);
}
