//! Issue 17, item 7: a damaged SQLite file is seen. Garbage over the page
//! of an index (`articles_feed`, which the all feed walks) in a real store
//! file:
//!
//! - `bantin check` runs SQLite's `PRAGMA quick_check`, names the damage
//!   and exits 1 (on a sound file it says the check passed);
//! - a running `bantin serve` asked for the all feed answers 500, and
//!   `/healthz` answers 503 with the reason within a deadline; the damage
//!   is logged once, however many requests meet it.
//!
//! SQLite only: PostgreSQL's pages are its own to check.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use crate::support::{Process, Sandbox, client, get, stderr, wait_until};

/// Overwrite the start of the root page of index `name` (its b-tree page
/// header and first cells) with garbage. The WAL is folded into the file
/// first, so that the file alone holds the page.
fn damage_index(sample: &Sandbox, name: &str) {
    sample.checkpoint();
    let db = sample.db();
    let (root, page_size): (i64, i64) = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let root = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap();
        let size = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        (root, size)
    };
    assert!(root > 1, "{name} has its own page");
    let mut file = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    let at = u64::try_from((root - 1) * page_size).unwrap();
    file.seek(SeekFrom::Start(at)).unwrap();
    file.write_all(&[0xA5; 64]).unwrap();
    file.sync_all().unwrap();
}

/// Commit something that touches no article table: every connection to the
/// file drops its page cache at its next read (a WAL reader keeps its cache
/// only while nobody commits), so a server that read the page before reads
/// it again.
fn commit_elsewhere(db: &Path) {
    rusqlite::Connection::open(db)
        .unwrap()
        .execute_batch("CREATE TABLE cms_scratch (x); DROP TABLE cms_scratch;")
        .unwrap();
}

#[test]
fn check_runs_quick_check_and_names_a_damaged_index() {
    let sample = Sandbox::with_sample();
    let sound = sample.run(&["check"]);
    assert!(sound.status.success(), "{}", stderr(&sound));
    let text = String::from_utf8_lossy(&sound.stdout).to_string();
    assert!(text.contains("PRAGMA quick_check: ok"), "{text}");

    damage_index(&sample, "articles_feed");
    let out = sample.run(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("damaged (PRAGMA quick_check)"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // `--repair` leaves a damaged file alone and says why.
    let out = sample.run(&["check", "--repair"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not repaired"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_meeting_a_damaged_index_says_so_on_healthz_and_logs_it_once() {
    let sample = Sandbox::with_sample();
    // The file alone holds the store before anyone reads it.
    sample.checkpoint();
    // Request lines logged too: the log is read up to a request of ours.
    let server = Process::serve(sample.bantin().log("info"));
    let c = client();
    let health = server.url("/healthz");
    assert_eq!(get(&c, &health, &[]).await.status, 200);

    damage_index(&sample, "articles_feed");
    commit_elsewhere(&sample.db());
    let all = server.url("/feeds/all.rss");
    let status = get(&c, &all, &[]).await.status;
    assert!(
        status == 500 || status == 503,
        "the all feed answered {status}"
    );
    let seen = wait_until(Duration::from_secs(10), || {
        let (c, health) = (c.clone(), health.clone());
        async move { get(&c, &health, &[]).await.status == 503 }
    })
    .await;
    assert!(seen.is_some(), "/healthz stayed 200 on a damaged store");
    for _ in 0..3 {
        let status = get(&c, &all, &[]).await.status;
        assert!(
            status == 500 || status == 503,
            "the all feed answered {status}"
        );
    }
    let reply = get(&c, &health, &[]).await;
    assert_eq!(reply.status, 503);
    let text = reply.text();
    assert!(text.starts_with("store damaged: "), "{text}");
    assert!(text.contains("malformed"), "{text}");
    // Every line before this request's is in once this one's is.
    assert_eq!(
        get(&c, &server.url("/the-last-request"), &[]).await.status,
        404
    );
    let logged = wait_until(Duration::from_secs(10), || async {
        server.stderr.lock().unwrap().contains("/the-last-request")
    })
    .await;
    assert!(logged.is_some());
    let log = server.stderr.lock().unwrap().clone();
    assert_eq!(
        log.matches("the store's data is damaged").count(),
        1,
        "{log}"
    );
}
