//! Issue 9, the catalog's side of SPEC's "Limits": a row a CMS writes over
//! a limit is left out of feeds, and of everything that lists feeds too
//! (`/`, the OPML list, the names and counts they show), on both stores:
//!
//! - a CMS article with 20 categories and 20 regions (19 of each its own)
//!   changes no byte of the built `/` and OPML list, even as the newest
//!   article of the feeds it names; its own categories are unknown to
//!   `dump`; once the CMS cuts it back to 10 names, it is listed;
//! - the site's limits are the store's once `bantin migrate` (or `serve`)
//!   adopts them: a stricter `max_title_bytes` leaves a CMS article out of
//!   a build's catalog, SPEC's defaults take it back (the triggers' list is
//!   made again); `build` itself only reads;
//! - a running server that sees such a row arrive keeps it off `/` and the
//!   OPML list, while a row within the limits in the same transaction shows.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{
    Sandbox, Server, StoreKind, assert_success, client, each_store, get, quoted, wait_until,
};

/// Newer than every sample article, so that the CMS row is the newest
/// article of the feeds it names.
const PUBLISHED: &str = "2026-11-01T08:00:00+07:00";

/// An article as a CMS writes it: `names` categories and as many regions,
/// the first of each the sample's "Kinh tế" and "Hà Tĩnh", the others its
/// own ("{tag} chủ đề N", "{tag} vùng N"), and `title`.
fn cms_article(id: &str, tag: &str, title: &str, names: usize) -> String {
    let us = chrono::DateTime::parse_from_rfc3339(PUBLISHED)
        .unwrap()
        .timestamp_micros();
    let mut sql = format!(
        "INSERT INTO articles (id, title, authors, published, published_us)
         VALUES ({}, {}, '[]', '{PUBLISHED}', {us});",
        quoted(id),
        quoted(title)
    );
    sql.push_str(&crate::robustness::cms_link_rows(id, us, names, |i| {
        (format!("{tag} chủ đề {i}"), format!("{tag} vùng {i}"))
    }));
    sql
}

/// `bantin build` with `site` into a new folder `name`; its `/` and OPML list.
fn build(sb: &Sandbox, site: &Path, name: &str) -> (String, String) {
    let out: PathBuf = sb.path(name);
    let run = sb
        .bantin()
        .site(site)
        .args(["build", "--out", out.to_str().unwrap()])
        .output();
    assert_success(&run, "bantin build");
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    (read("index.html"), read("feeds.opml"))
}

each_store!(fn a_cms_row_over_a_limit_changes_nothing_that_lists_feeds);
fn a_cms_row_over_a_limit_changes_nothing_that_lists_feeds(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let site = crate::support::site_file();
    let before = build(&sb, &site, "before");
    sb.sql(&format!(
        "BEGIN; {} COMMIT;",
        cms_article("cms-nhieu-ten", "CMS", "Bài của CMS", 20)
    ));
    let held = build(&sb, &site, "held");
    // Not a name, not a count, not a "latest" date moved.
    assert_eq!(held.0, before.0, "index.html");
    assert_eq!(held.1, before.1, "feeds.opml");
    let dump = sb.run(&["dump", "--category", "cms-chu-de-5"]);
    assert_eq!(dump.status.code(), Some(1), "an unknown category");

    // Back within max_names_per_article: listed, its date the newest.
    sb.sql(
        "BEGIN;
         DELETE FROM article_categories WHERE article_id = 'cms-nhieu-ten' AND position >= 10;
         DELETE FROM article_regions WHERE article_id = 'cms-nhieu-ten' AND position >= 10;
         COMMIT;",
    );
    let (index, opml) = build(&sb, &site, "within");
    assert!(index.contains("CMS chủ đề 5"), "{index}");
    assert!(opml.contains("cms-chu-de-5"), "{opml}");
    assert!(!index.contains("CMS chủ đề 15"), "{index}");
    assert!(
        index.contains("01/11/2026 08:00"),
        "the newest article's date: {index}"
    );
    assert_success(
        &sb.run(&["dump", "--category", "cms-chu-de-5"]),
        "dump of a listed category",
    );
}

each_store!(fn the_sites_limits_are_the_ones_the_catalog_holds_cms_rows_to);
fn the_sites_limits_are_the_ones_the_catalog_holds_cms_rows_to(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let default_site = crate::support::site_file();
    let mut strict = std::fs::read_to_string(&default_site).unwrap();
    // Top-level keys go before the first table of the site file.
    strict.insert_str(0, "max_title_bytes = 40\n");
    let strict_site = sb.write("strict.toml", strict);
    sb.sql(&format!(
        "BEGIN; {} COMMIT;",
        cms_article(
            "cms-tieu-de-dai",
            "Dài",
            "Một tiêu đề dài hơn bốn mươi byte của bài viết",
            2
        )
    ));
    let adopt = |site: &Path| {
        let out = sb.bantin().site(site).arg("migrate").output();
        assert_success(&out, "bantin migrate");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (index, _) = build(&sb, &default_site, "defaults");
    assert!(index.contains("Dài chủ đề 1"), "{index}");
    // `build` only reads: the stricter limits are not the store's yet.
    let (index, _) = build(&sb, &strict_site, "strict-unadopted");
    assert!(index.contains("Dài chủ đề 1"), "{index}");
    assert!(adopt(&strict_site).contains("adopted the limits"));
    let (index, opml) = build(&sb, &strict_site, "strict");
    assert!(!index.contains("Dài chủ đề 1"), "{index}");
    assert!(!opml.contains("dai-chu-de-1"), "{opml}");
    assert!(adopt(&default_site).contains("adopted the limits"));
    let (index, _) = build(&sb, &default_site, "defaults-again");
    assert!(index.contains("Dài chủ đề 1"), "{index}");
}

each_store!(async fn a_server_keeps_a_cms_row_over_a_limit_off_its_lists);
async fn a_server_keeps_a_cms_row_over_a_limit_off_its_lists(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let (index_url, opml_url) = (server.url("/"), server.url("/feeds.opml"));
    assert_eq!(get(&c, &index_url, &[]).await.status, 200);
    let sql = format!(
        "BEGIN; {} {} COMMIT;",
        cms_article("cms-nhieu-ten", "CMS", "Bài của CMS", 20),
        cms_article("cms-mot-ten", "Mới", "Bài mới của CMS", 2)
    );
    sample.sql(&sql);
    let seen = wait_until(Duration::from_secs(10), || {
        let (c, url) = (c.clone(), index_url.clone());
        async move { get(&c, &url, &[]).await.text().contains("Mới chủ đề 1") }
    })
    .await;
    assert!(seen.is_some(), "the row within the limits never showed");
    let index = get(&c, &index_url, &[]).await.text();
    let opml = get(&c, &opml_url, &[]).await.text();
    assert!(!index.contains("CMS chủ đề"), "{index}");
    assert!(!opml.contains("cms-chu-de"), "{opml}");
    let feed = get(&c, &server.url("/feeds/category/cms-chu-de-3.rss"), &[]).await;
    assert_eq!(feed.status, 404);
    server.stop().await;
}

// Issue 17: a CMS row of a thousand categories, a thousand regions and a
// thousand authors costs the store and the server what a row just over
// the limit does. The store keeps `max_names_per_article + 1` links of
// each kind (the server went from 13 MB to 5 GB in 3 s on its million
// pairs, and PostgreSQL replicas could no longer start); the server keeps
// answering, a row written after it shows, and a server started on the
// store with the row in it starts and answers.
each_store!(async fn a_cms_row_of_a_thousand_names_costs_what_the_limits_allow);
async fn a_cms_row_of_a_thousand_names_costs_what_the_limits_allow(store: StoreKind) {
    const NAMES: usize = 1000;
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    // A second replica on the same store (on SQLite, a second server on
    // the file): the row costs each what it costs one.
    let second = Server::sample(&sample).await;
    let c = client();
    let index_url = server.url("/");
    assert_eq!(get(&c, &index_url, &[]).await.status, 200);
    assert_eq!(get(&c, &second.url("/"), &[]).await.status, 200);

    let us = chrono::DateTime::parse_from_rfc3339(PUBLISHED)
        .unwrap()
        .timestamp_micros();
    let authors: Vec<String> = (0..NAMES).map(|i| format!("Tác giả {i}")).collect();
    let mut sql = format!(
        "BEGIN; INSERT INTO articles (id, title, authors, published, published_us)
         VALUES ('cms-ngan-ten', 'Nghìn tên', {}, '{PUBLISHED}', {us});",
        quoted(&serde_json::to_string(&authors).unwrap())
    );
    // Every category with every region is a million pairs.
    sql.push_str(&crate::robustness::cms_link_rows(
        "cms-ngan-ten",
        us,
        NAMES,
        |i| (format!("Nghìn chủ đề {i}"), format!("Nghìn vùng {i}")),
    ));
    for (i, name) in authors.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO article_authors (article_id, slug, name, position, published_us)
             VALUES ('cms-ngan-ten', {}, {}, {i}, {us});",
            quoted(&bantin::slug::slugify(name)),
            quoted(name)
        ));
    }
    sql.push_str("COMMIT;");
    sample.sql(&sql);
    // A row within the limits, written after it, shows: the server got
    // through the big one.
    sample.sql(&format!(
        "BEGIN; {} COMMIT;",
        cms_article("cms-sau-do", "Sau", "Bài sau đó", 2)
    ));
    let seen = wait_until(Duration::from_secs(20), || {
        let (c, url) = (c.clone(), index_url.clone());
        async move { get(&c, &url, &[]).await.text().contains("Sau chủ đề 1") }
    })
    .await;
    assert!(
        seen.is_some(),
        "a row written after the big one never showed"
    );
    let second_url = second.url("/");
    let seen = wait_until(Duration::from_secs(20), || {
        let (c, url) = (c.clone(), second_url.clone());
        async move { get(&c, &url, &[]).await.text().contains("Sau chủ đề 1") }
    })
    .await;
    assert!(
        seen.is_some(),
        "the second replica never showed the row after"
    );
    let index = get(&c, &second_url, &[]).await.text();
    assert!(!index.contains("Nghìn chủ đề"), "{index}");
    second.stop().await;
    let index = get(&c, &index_url, &[]).await.text();
    assert!(!index.contains("Nghìn chủ đề"), "{index}");
    assert!(!index.contains("Tác giả 5"), "{index}");
    let feed = get(&c, &server.url("/feeds/category/nghin-chu-de-5.rss"), &[]).await;
    assert_eq!(feed.status, 404);
    server.stop().await;

    // A server starting on the store as it is now starts and answers.
    let again = Server::sample(&sample).await;
    let index = get(&c, &again.url("/"), &[]).await;
    assert_eq!(index.status, 200);
    assert!(index.text().contains("Sau chủ đề 1"));
    again.stop().await;

    // What the store kept: max_names_per_article (16) + 1 links of each.
    for table in ["article_categories", "article_regions", "article_authors"] {
        let kept = sample.execute(&format!(
            "DELETE FROM {table} WHERE article_id = 'cms-ngan-ten'"
        ));
        assert_eq!(kept, 17, "{table}");
    }
}

// Issue 17: a CMS row whose `updated` leaves 0001-9999 in the site's
// offset is left out of feeds, and so of everything that lists them: its
// own category is on neither `/` nor the OPML list.
each_store!(fn a_cms_row_dated_past_9999_in_the_sites_offset_is_off_the_lists);
fn a_cms_row_dated_past_9999_in_the_sites_offset_is_off_the_lists(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let site = crate::support::site_file();
    let before = build(&sb, &site, "before");
    sb.sql(&format!(
        "BEGIN; {}
         UPDATE articles SET updated = '9999-12-31T23:59:59Z' WHERE id = 'cms-cuoi-cung';
         COMMIT;",
        cms_article("cms-cuoi-cung", "Cuối", "Bài cuối cùng", 2)
    ));
    let after = build(&sb, &site, "after");
    assert_eq!(after.0, before.0, "index.html");
    assert_eq!(after.1, before.1, "feeds.opml");
    // The same row dated within the range is listed: the test above is
    // not passing for another reason.
    sb.sql("UPDATE articles SET updated = '2026-11-02T08:00:00+07:00' WHERE id = 'cms-cuoi-cung'");
    let (index, opml) = build(&sb, &site, "fixed");
    assert!(index.contains("Cuối chủ đề 1"), "{index}");
    assert!(opml.contains("cuoi-chu-de-1"), "{opml}");
}
