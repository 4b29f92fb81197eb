//! The SQLite file under a running server's feet (issue 9), with the real
//! binary over real sockets:
//!
//! - Deleted (or renamed away): `/healthz` says 503 and why within a
//!   second or so; cached feeds keep answering; a cold feed is 503 with
//!   `Retry-After` (the server does not go on reading the unlinked file).
//! - A new store imported at the same path: the server opens it alone and
//!   serves its articles, not a mix with the old file's.
//! - Replaced by another file while running (a restored copy): the same.

use std::time::Duration;

use crate::support::{Process, Sandbox, client, get, wait_until};

/// Remove a SQLite store and its WAL files.
fn delete_store(db: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_store_file_is_noticed_and_a_new_one_at_its_path_is_served() {
    let sample = Sandbox::with_sample();
    let server = Process::start(&sample.db());
    let c = client();
    let cached = server.url("/feeds/all.rss");
    assert_eq!(get(&c, &cached, &[]).await.status, 200);

    delete_store(&sample.db());
    let health = server.url("/healthz");
    let noticed = wait_until(Duration::from_secs(5), || async {
        let r = get(&c, &health, &[]).await;
        r.status == 503 && r.text().contains("deleted")
    })
    .await;
    assert!(
        noticed.is_some(),
        "/healthz did not notice the deleted file"
    );
    // Stale beats an error for what is cached; nothing new is read from the
    // unlinked file.
    assert_eq!(get(&c, &cached, &[]).await.status, 200);
    let cold = get(&c, &server.url("/feeds/all.json"), &[]).await;
    assert_eq!(cold.status, 503);
    assert!(cold.header("retry-after").is_some());

    // A new import at the same path.
    let file = sample.path("new.jsonl");
    std::fs::write(
        &file,
        crate::support::jsonl_article(
            "chi-mot-bai-moi",
            "Kinh tế",
            "Đức Thọ",
            "2021-01-02T08:00:00+07:00",
        ),
    )
    .unwrap();
    sample.run_ok(&["import", file.to_str().unwrap()]);
    let back = wait_until(Duration::from_secs(5), || async {
        let text = get(&c, &cached, &[]).await.text();
        get(&c, &health, &[]).await.status == 200
            && text.contains("chi-mot-bai-moi")
            && !text.contains("phoi-hop-bao-ve-dai-hoi")
    })
    .await;
    assert!(
        back.is_some(),
        "the server did not serve the new file alone: {}",
        server.stderr.lock().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_file_replaced_by_another_is_reopened() {
    let sample = Sandbox::with_sample();
    let other = Sandbox::with_schema();
    let file = other.path("one.jsonl");
    std::fs::write(
        &file,
        crate::support::jsonl_article(
            "tu-ban-sao",
            "Xã hội",
            "Kỳ Anh",
            "2021-02-01T08:00:00+07:00",
        ),
    )
    .unwrap();
    other.run_ok(&["import", file.to_str().unwrap()]);
    let server = Process::start(&sample.db());
    let c = client();
    let url = server.url("/feeds/all.atom");
    assert!(!get(&c, &url, &[]).await.text().contains("tu-ban-sao"));

    // A restored copy moved into place (rename is atomic): another inode.
    other.checkpoint();
    std::fs::rename(other.db(), sample.path("incoming.db")).unwrap();
    delete_store(&sample.db());
    std::fs::rename(sample.path("incoming.db"), sample.db()).unwrap();
    let swapped = wait_until(Duration::from_secs(5), || async {
        get(&c, &url, &[]).await.text().contains("tu-ban-sao")
    })
    .await;
    assert!(
        swapped.is_some(),
        "the replaced file was not served: {}",
        server.stderr.lock().unwrap()
    );
    assert_eq!(get(&c, &server.url("/healthz"), &[]).await.status, 200);
}
