//! Issue 17, item 3: rows a CMS wrote that bantin can't read are left out,
//! never a 500 (SPEC "Limits"), on the real binary over real sockets:
//!
//! - SQLite: a Latin-1 title written with Python's `sqlite3` and
//!   `CAST(? AS TEXT)`, and a row whose id itself is Latin-1, beside the
//!   sample articles;
//! - both stores: a row whose `published` does not parse, one whose
//!   `updated` does not, and one whose `authors` JSON does not decode.
//!
//! Each such row, in the all feed, its category and its month archive:
//! those answer 200 with every sample article they hold and without it (a
//! keyword feed only it matches: 200, empty);
//! `/metrics` counts each row once; the server names each in one warning
//! line however often it is met; `check` names every one (a lossy id where
//! the id is not UTF-8), carries on, and still reports the row over a limit
//! after them; `dump` exits 0 with the good articles.

use bantin::article::{Article, FeedKey};

use std::time::Duration;

use crate::support::{
    Process, Sandbox, Server, SiteFacts, StoreKind, client, each_store, entry_ids, expected, get,
    guids, metric, off_runtime, parse, quoted, sample_articles, site_file, wait_until,
};

/// Late in the sample's newest month, so every row is in the all feed, the
/// category feed and the month archive: 2020-11-29 08:00 +07:00, a minute
/// apart.
fn published(minute: u32) -> (String, i64) {
    let text = format!("2020-11-29T08:{minute:02}:00+07:00");
    let us = chrono::DateTime::parse_from_rfc3339(&text)
        .unwrap()
        .timestamp_micros();
    (text, us)
}

/// A CMS row in "Kinh tế" with `published` text and instant from
/// [`published`]`(minute)`, `updated` and `authors` as given (SQL).
fn cms_row(
    id: &str,
    minute: u32,
    published_text: Option<&str>,
    updated: &str,
    authors: &str,
) -> String {
    let (text, us) = published(minute);
    let published_text = published_text.map_or(text, str::to_string);
    format!(
        "INSERT INTO articles (id, title, authors, published, updated, published_us)
         VALUES ({id}, 'Bài của CMS', {authors}, {published}, {updated}, {us});
         INSERT INTO article_categories (article_id, slug, name, position, published_us)
         VALUES ({id}, 'kinh-te', 'Kinh tế', 0, {us});",
        id = quoted(id),
        authors = quoted(authors),
        published = quoted(&published_text),
    )
}

/// The rows both stores can hold, with the words `check` names their fault by.
const BAD_ROWS: [(&str, &str); 3] = [
    ("cms-ngay-sai", "published"),
    ("cms-cap-nhat-sai", "updated"),
    ("cms-tac-gia-sai", "authors"),
];

/// The SQL of [`BAD_ROWS`], as a CMS writes them, onto `sql`.
fn bad_rows_sql(sql: &mut String) {
    sql.push_str(&cms_row("cms-ngay-sai", 1, Some("hôm qua"), "NULL", "[]"));
    sql.push_str(&cms_row(
        "cms-cap-nhat-sai",
        2,
        None,
        "'2020-13-45T00:00:00Z'",
        "[]",
    ));
    sql.push_str(&cms_row("cms-tac-gia-sai", 3, None, "NULL", "Nguyễn Văn A"));
}

/// Write [`BAD_ROWS`], and after them (in id order, which `check` follows)
/// a row over `max_names_per_article`.
fn write_bad_rows(sample: &Sandbox) {
    let mut sql = String::from("BEGIN;");
    bad_rows_sql(&mut sql);
    let (text, us) = published(4);
    sql.push_str(&format!(
        "INSERT INTO articles (id, title, authors, published, published_us)
         VALUES ('zz-qua-nhieu-ten', 'Bài nhiều tên', '[]', '{text}', {us});"
    ));
    sql.push_str(&crate::robustness::cms_link_rows(
        "zz-qua-nhieu-ten",
        us,
        20,
        |i| (format!("Chủ đề {i}"), format!("Vùng {i}")),
    ));
    sql.push_str("COMMIT;");
    sample.sql(&sql);
}

/// SQLite: what Python's `sqlite3` writes for a Latin-1 `bytes` cast to
/// TEXT, once in a title (`cms-latin1`) and once in an id (`caf\xe9`).
fn write_latin1_rows(sample: &Sandbox) {
    write_latin1(
        sample,
        "((b\"cms-latin1\", b\"\\xe9t\\xe9\"), (b\"caf\\xe9\", b\"Caf\\xe9\"))",
        "",
    );
}

/// SQLite: Python's `sqlite3` writes `rows`, a Python tuple of (id, title)
/// `bytes` pairs, in "Kinh tế" and then `more` (SQL, `?1` the id).
fn write_latin1(sample: &Sandbox, rows: &str, more: &str) {
    let (text, us) = published(5);
    let script = r#"
import sqlite3, sys
db, published, us, rows, more = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
c = sqlite3.connect(db)
for id, title in eval(rows):
    c.execute("INSERT INTO articles (id, title, authors, published, published_us) "
              "VALUES (CAST(? AS TEXT), CAST(? AS TEXT), '[]', ?, ?)", (id, title, published, us))
    c.execute("INSERT INTO article_categories (article_id, slug, name, position, published_us) "
              "VALUES (CAST(? AS TEXT), 'kinh-te', 'Kinh tế', 0, ?)", (id, us))
    if more:
        c.execute(more, (id, us))
    us += 1
c.commit()
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(sample.db())
        .arg(&text)
        .arg(us.to_string())
        .arg(rows)
        .arg(more)
        .output()
        .expect("running python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The sample articles of November 2020 in the site's offset (+07:00).
fn november(articles: &[Article]) -> Vec<Article> {
    let mut v: Vec<Article> = articles
        .iter()
        .filter(|a| a.published.format("%Y-%m").to_string() == "2020-11")
        .cloned()
        .collect();
    crate::support::spec_order(&mut v);
    v
}

each_store!(async fn rows_bantin_cant_read_are_left_out_counted_and_named);
async fn rows_bantin_cant_read_are_left_out_counted_and_named(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    write_bad_rows(&sample);
    // Ids as `check` prints them, and as they would show in a feed.
    let mut bad: Vec<(String, &str)> = BAD_ROWS
        .iter()
        .map(|(id, field)| (format!("{id:?}"), *field))
        .collect();
    if store == StoreKind::Sqlite {
        write_latin1_rows(&sample);
        bad.push(("\"cms-latin1\"".into(), "title"));
        bad.push(("\"caf\u{fffd}\"".into(), "id"));
    }

    let url = sample.store_url();
    let server = tokio::task::spawn_blocking(move || Process::start_url(&url))
        .await
        .unwrap();
    let c = client();
    let facts = SiteFacts::read(&site_file());
    let articles = sample_articles();
    let kinh_te = FeedKey::Category("kinh-te".into());
    let feeds = [
        (
            "/feeds/all.rss",
            expected(&articles, &FeedKey::All, facts.items_per_feed),
        ),
        (
            "/feeds/category/kinh-te.atom",
            expected(&articles, &kinh_te, facts.items_per_feed),
        ),
        ("/feeds/all/archive/2020-11.json", november(&articles)),
    ];
    // Twice: the second time from the cache, which now keeps them.
    for _ in 0..2 {
        for (path, want) in &feeds {
            let r = get(&c, &server.url(path), &[]).await;
            assert_eq!(
                r.status,
                200,
                "{path}: {}",
                String::from_utf8_lossy(&r.body)
            );
            let text = String::from_utf8_lossy(&r.body);
            for id in ["cms-", "caf", "zz-qua"] {
                assert!(
                    !text.contains(&format!("/articles/{id}")),
                    "{path} holds {id}"
                );
            }
            assert_eq!(
                entry_ids(&parse(&r.body)),
                guids(&facts.id_prefix, want),
                "{path}"
            );
        }
    }
    // A keyword feed whose words only the unreadable rows hold ("Bài của
    // CMS", and the Latin-1 title's neighbour "Café" on SQLite).
    let search = get(&c, &server.url("/feeds/search.rss?q=cms"), &[]).await;
    assert_eq!(
        search.status,
        200,
        "{}",
        String::from_utf8_lossy(&search.body)
    );
    assert!(parse(&search.body).entries.is_empty(), "{}", search.text());
    // The row over a limit is not an unreadable one.
    let unreadable = metric(&c, &server.base, "bantin_unreadable_rows_total").await;
    assert_eq!(unreadable, bad.len() as u64);
    let log = server.stderr.lock().unwrap().clone();
    for (id, _) in &bad {
        let named = log
            .lines()
            .filter(|l| l.contains("left out of every feed") && l.contains(id.trim_matches('"')))
            .count();
        assert_eq!(named, 1, "{id} named {named} times:\n{log}");
    }
    drop(server);

    let check = off_runtime({
        let check = sample.bantin().arg("check").clone();
        move || check.output()
    });
    assert_eq!(check.status.code(), Some(1));
    let err = String::from_utf8_lossy(&check.stderr).to_string();
    for (id, field) in &bad {
        let line = err
            .lines()
            .find(|l| l.contains(&format!("article {id}:")))
            .unwrap_or_else(|| panic!("check does not name {id}:\n{err}"));
        assert!(line.contains(field), "{line}");
    }
    assert!(
        // 20 written; the store keeps max_names_per_article + 1 (issue 17).
        err.contains("\"zz-qua-nhieu-ten\": field `categories`: 17 names"),
        "the row over a limit after them:\n{err}"
    );

    let dump = sample.run(&["dump"]);
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    assert_eq!(
        entry_ids(&parse(&dump.stdout)),
        guids(&facts.id_prefix, &feeds[0].1)
    );
}

/// A category only unreadable rows carry.
const GHOST: (&str, &str) = ("chuyen-muc-hong", "Chuyên mục hỏng");

/// The `/` page's article total ("Có N bài viết").
fn total(index: &str) -> u64 {
    let (_, rest) = index.split_once("Có ").expect("the page says its total");
    rest.split(' ').next().unwrap().parse().expect("a total")
}

/// The `/` page's row of a feed title: its count, date and archive link.
fn row<'a>(index: &'a str, title: &str) -> Option<&'a str> {
    // The title ends at the archive link's `<br>`, or the cell's end.
    let start = index.find(&format!("<tr><td>{title}<"))?;
    index[start..].split("</tr>").next()
}

// Issue 17, item 3: unreadable rows are left out of every list too. Rows a
// CMS writes while the server runs are out of `/` and the OPML list from
// the write on (a category only they carry is listed nowhere, and the
// categories they share keep their counts); a row the CMS rewrites
// readable comes back; rows already stored when the server starts are
// out of the lists once a render has met them.
each_store!(async fn unreadable_rows_are_out_of_the_lists);
async fn unreadable_rows_are_out_of_the_lists(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let (index_url, opml_url) = (server.url("/"), server.url("/feeds.opml"));
    let before = get(&c, &index_url, &[]).await.text();
    let kinh_te = row(&before, "Kinh tế").expect("Kinh tế on /").to_string();

    // The bad rows, each also in a category of its own; and a readable
    // row in a new category, to know when the server has read the write.
    let mut sql = String::from("BEGIN;");
    bad_rows_sql(&mut sql);
    for (id, _) in BAD_ROWS {
        sql.push_str(&format!(
            "INSERT INTO article_categories (article_id, slug, name, position, published_us)
             SELECT id, '{}', '{}', 1, published_us FROM articles WHERE id = {};",
            GHOST.0,
            GHOST.1,
            quoted(id)
        ));
    }
    let (text, us) = published(9);
    sql.push_str(&format!(
        "INSERT INTO articles (id, title, authors, published, published_us)
         VALUES ('cms-doc-duoc', 'Bài đọc được', '[]', '{text}', {us});
         INSERT INTO article_categories (article_id, slug, name, position, published_us)
         VALUES ('cms-doc-duoc', 'tin-moi', 'Tin mới', 0, {us});
         COMMIT;"
    ));
    sample.sql(&sql);
    if store == StoreKind::Sqlite {
        let ghost = format!(
            "INSERT INTO article_categories (article_id, slug, name, position, published_us) \
             VALUES (CAST(? AS TEXT), '{}', '{}', 1, ?)",
            GHOST.0, GHOST.1
        );
        write_latin1(&sample, "((b\"cms-latin1\", b\"\\xe9t\\xe9\"),)", &ghost);
    }
    let shown = |needle: &'static str, present: bool| {
        let (c, url) = (c.clone(), index_url.clone());
        wait_until(Duration::from_secs(30), move || {
            let (c, url) = (c.clone(), url.clone());
            async move { get(&c, &url, &[]).await.text().contains(needle) == present }
        })
    };
    assert!(
        shown("Tin mới", true).await.is_some(),
        "the readable row never showed"
    );
    if store == StoreKind::Sqlite {
        // The Latin-1 row's write comes after: wait for it to be read.
        let seen = wait_until(Duration::from_secs(30), || {
            let (c, base) = (c.clone(), server.base.clone());
            async move { metric(&c, &base, "bantin_unreadable_rows_total").await >= 4 }
        })
        .await;
        assert!(seen.is_some(), "the Latin-1 row was never met");
    }
    let index = get(&c, &index_url, &[]).await.text();
    let opml = get(&c, &opml_url, &[]).await.text();
    assert_eq!(total(&index), total(&before) + 1, "{index}");
    assert_eq!(row(&index, "Kinh tế"), Some(kinh_te.as_str()));
    assert!(!index.contains(GHOST.1), "{index}");
    assert!(!opml.contains(GHOST.0), "{opml}");
    let ghost = get(
        &c,
        &server.url(&format!("/feeds/category/{}.rss", GHOST.0)),
        &[],
    )
    .await;
    assert_eq!(ghost.status, 404);

    // The CMS mends one: it is listed and counted again.
    sample.sql(&format!(
        "UPDATE articles SET published = '{}' WHERE id = 'cms-ngay-sai';",
        published(1).0
    ));
    assert!(
        shown(GHOST.1, true).await.is_some(),
        "the mended row never showed"
    );
    let index = get(&c, &index_url, &[]).await.text();
    assert_eq!(total(&index), total(&before) + 2, "{index}");
    server.stop().await;

    // A new server meets the rest when it renders the feeds they are in.
    sample.sql("UPDATE articles SET published = 'hôm qua' WHERE id = 'cms-ngay-sai';");
    let server = Server::sample(&sample).await;
    let index_url = server.url("/");
    assert!(get(&c, &index_url, &[]).await.text().contains(GHOST.1));
    assert_eq!(
        get(&c, &server.url("/feeds/all.rss"), &[]).await.status,
        200
    );
    let gone = wait_until(Duration::from_secs(30), || {
        let (c, url) = (c.clone(), index_url.clone());
        async move { !get(&c, &url, &[]).await.text().contains(GHOST.1) }
    })
    .await;
    assert!(gone.is_some(), "rows met by a render stayed on /");
    let index = get(&c, &index_url, &[]).await.text();
    assert_eq!(total(&index), total(&before) + 1, "{index}");
    server.stop().await;

    // So does a build: its pages come after the feeds that met them.
    let out = sample.path("site");
    sample.run_ok(&["build", "--out", out.to_str().unwrap()]);
    let built = std::fs::read_to_string(out.join("index.html")).unwrap();
    let opml = std::fs::read_to_string(out.join("feeds.opml")).unwrap();
    // The served page but for its search box (a static site has none).
    assert_eq!(built, crate::build::without_search(&index));
    assert!(!opml.contains(GHOST.0), "{opml}");
}
