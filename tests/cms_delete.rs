//! Issue 17, item 5: a CMS deleting an article from a SQLite connection
//! with foreign keys off (SQLite's default, and Python's `sqlite3`'s) takes
//! its link rows with it, as docs/schema.md promises (migration 008's trigger):
//!
//! - over real sockets: a delete from Python's `sqlite3` with its default
//!   settings takes the article's own category, region and author off `/`
//!   and the OPML list within a deadline, its category feed answers 404,
//!   the same article with the same names can be written again from
//!   Python, and `check` finds the store sound;
//! - a store with orphan link rows left by such a delete before the
//!   migration: `check` names them as orphans (not as bypassed triggers)
//!   and exits 1; `check --repair` removes them and rebuilds the catalog,
//!   after which the ghost category is gone and `check` passes.
//!
//! SQLite only: PostgreSQL enforces foreign keys on every connection.

use std::process::Command;
use std::time::Duration;

use chrono::Utc;

use crate::support::{Sandbox, Server, assert_success, client, get, stderr, stdout, wait_until};

/// The article's own names: on no other article of the sample.
const CATEGORY: (&str, &str) = ("chuyen-muc-rieng", "Chuyên mục riêng");
const REGION: (&str, &str) = ("vung-rieng", "Vùng riêng");
const AUTHOR: (&str, &str) = ("tac-gia-rieng", "Tác Giả Riêng");

/// Python's `sqlite3` with its defaults (no `PRAGMA foreign_keys`): `op`
/// is `delete ID`, or `insert ID PUBLISHED PUBLISHED_US` (the article and
/// its link rows, as docs/schema.md says a CMS writes them).
const CMS: &str = r#"
import sqlite3, sys
db, op, id = sys.argv[1:4]
c = sqlite3.connect(db)
assert c.execute('PRAGMA foreign_keys').fetchone()[0] == 0, 'foreign keys are on'
if op == 'delete':
    c.execute('DELETE FROM articles WHERE id = ?', (id,))
else:
    published, us = sys.argv[4], int(sys.argv[5])
    c.execute("INSERT INTO articles (id, title, authors, published, published_us) "
              "VALUES (?, 'Bài viết lại', '[\"Tác Giả Riêng\"]', ?, ?)", (id, published, us))
    for table, slug, name in [
        ('article_categories', 'chuyen-muc-rieng', 'Chuyên mục riêng'),
        ('article_categories', 'kinh-te', 'Kinh tế'),
        ('article_regions', 'vung-rieng', 'Vùng riêng'),
        ('article_authors', 'tac-gia-rieng', 'Tác Giả Riêng'),
    ]:
        c.execute(f'INSERT INTO {table} (article_id, slug, name, position, published_us) '
                  'VALUES (?, ?, ?, 0, ?)', (id, slug, name, us))
c.commit()
"#;

/// Run [`CMS`] with `args`; `false` (after saying so) where there is no
/// python3 outside CI. Panics with Python's error if the script fails.
fn python_cms(args: &[&str]) -> bool {
    let out = Command::new("python3")
        .arg("-c")
        .arg(CMS)
        .args(args)
        .output();
    let Ok(out) = out else {
        assert!(std::env::var_os("CI").is_none(), "CI must have python3");
        eprintln!("SKIPPED: no python3");
        return false;
    };
    assert!(
        out.status.success(),
        "python3 sqlite3 {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delete_from_pythons_sqlite3_takes_the_articles_names_off_the_lists() {
    let sample = Sandbox::with_sample();
    let id = "bai-cua-cms";
    let published = Utc::now() - chrono::Duration::minutes(1);
    let mut a = crate::support::article(
        id,
        &[CATEGORY.1, "Kinh tế"],
        &[REGION.1],
        &published.to_rfc3339(),
    );
    a.authors = vec![AUTHOR.1.to_string()];
    sample.upsert([a]);
    let server = Server::sample(&sample).await;
    let c = client();
    let (index, opml) = (server.url("/"), server.url("/feeds.opml"));
    let feed = server.url(&format!("/feeds/category/{}.rss", CATEGORY.0));
    let listed = |c: &reqwest::Client| {
        let (c, index, opml) = (c.clone(), index.clone(), opml.clone());
        async move {
            let page = get(&c, &index, &[]).await.text();
            let list = get(&c, &opml, &[]).await.text();
            [CATEGORY, REGION, AUTHOR]
                .iter()
                .any(|(slug, name)| page.contains(name) || list.contains(slug))
        }
    };
    assert!(
        listed(&c).await,
        "the article's names are listed to begin with"
    );
    assert_eq!(get(&c, &feed, &[]).await.status, 200);

    let db = sample.db().display().to_string();
    if !python_cms(&[&db, "delete", id]) {
        return;
    }
    let gone = wait_until(Duration::from_secs(10), || {
        let c = c.clone();
        async move { !listed(&c).await }
    })
    .await;
    assert!(
        gone.is_some(),
        "a deleted article's names stayed on / or the OPML list"
    );
    assert_eq!(get(&c, &feed, &[]).await.status, 404, "its category feed");
    let all = get(&c, &server.url("/feeds/all.rss"), &[]).await.text();
    assert!(!all.contains(id), "{all}");

    // The same article with the same names: no primary key stands in the way.
    let us = published.timestamp_micros().to_string();
    python_cms(&[&db, "insert", id, &published.to_rfc3339(), &us]);
    let back = wait_until(Duration::from_secs(10), || {
        let (c, feed) = (c.clone(), feed.clone());
        async move { get(&c, &feed, &[]).await.status == 200 }
    })
    .await;
    assert!(back.is_some(), "the article written again never showed");
    assert!(listed(&c).await);
    server.stop().await;
    let check = sample.run(&["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn check_names_orphans_left_before_the_migration_and_repair_removes_them() {
    let sb = Sandbox::with_sample();
    let id = "bai-se-xoa";
    let mut a =
        crate::support::article(id, &[CATEGORY.1], &[REGION.1], "2020-10-06T08:00:00+07:00");
    a.authors = vec![AUTHOR.1.to_string()];
    sb.upsert(&[a]);
    // A delete with foreign keys off (SQLite's default; the bundled
    // SQLite of the tests' CMS turns them on) on a store as migration 007
    // left it (no delete trigger); bantin's next open makes the trigger
    // again, as migration 008 did: the orphans stay behind.
    sb.sql(&format!(
        "PRAGMA foreign_keys = OFF;
         DROP TRIGGER bantin_articles_links_deleted;
         DELETE FROM articles WHERE id = '{id}';"
    ));
    let orphans = |table: &str| {
        sb.store().strings(&format!(
            "SELECT article_id FROM {table} WHERE article_id = '{id}'"
        ))
    };
    assert_eq!(orphans("article_categories"), vec![id]);
    // `migrate` makes the trigger again (read-only commands refuse a
    // store whose triggers differ); the orphans stay behind.
    assert_success(&sb.run(&["migrate"]), "migrate");
    // The ghost: an empty feed of a category no article carries.
    assert_success(
        &sb.run(&["dump", "--category", CATEGORY.0]),
        "dump of the ghost",
    );
    assert_eq!(
        sb.store()
            .strings("SELECT name FROM sqlite_master WHERE name = 'bantin_articles_links_deleted'"),
        vec!["bantin_articles_links_deleted"],
        "bantin's open makes a dropped trigger again"
    );

    let out = sb.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for table in ["article_categories", "article_regions", "article_authors"] {
        assert!(
            err.lines()
                .any(|l| l.contains(table) && l.contains("1 row(s)") && l.contains(id)),
            "{table}: {err}"
        );
    }
    assert!(err.contains("--repair"), "{err}");
    assert!(
        !err.contains("bypassed"),
        "orphans blamed on the triggers: {err}"
    );
    let out = sb.run(&["check", "--repair"]);
    assert_success(&out, "check --repair");
    let text = stdout(&out);
    assert!(
        text.contains("article_categories: removed 1 orphan row(s)"),
        "{text}"
    );
    assert!(text.contains("catalog counts rebuilt"), "{text}");
    assert!(text.ends_with("ok\n"), "{text}");
    assert_eq!(stderr(&out), "");
    for table in ["article_categories", "article_regions", "article_authors"] {
        assert!(orphans(table).is_empty(), "{table}");
    }
    let dump = sb.run(&["dump", "--category", CATEGORY.0]);
    assert_eq!(dump.status.code(), Some(1), "the ghost category is gone");
    let again = sb.run(&["check", "--repair"]);
    assert!(
        stdout(&again).contains("nothing to repair"),
        "{}",
        stdout(&again)
    );
}
