//! Imports too big to hold in memory, through the binary, on both stores
//! (issue 7, "Tests"):
//!
//! - An import killed (SIGKILL) halfway through a file of 15,000 articles,
//!   past the point where it stops logging row by row (bulk mode), leaves
//!   the store as it was: `check` is clean, the same articles, the same
//!   feed bytes; the next import works.
//! - `--strict` with one bad record at the end of such a file writes
//!   nothing and says so; the bad record is reported with its line.
//! - SQLite: the keyword index bantin writes for its imports (migration 5)
//!   is the one it makes of the rows the triggers queue for a CMS
//!   (migration 10), term for term, and stays exact through a CMS's
//!   updates and deletes, queued and then indexed (FTS5's integrity check,
//!   and searches for old and new words, both before and after).
//! - A progress line on a terminal (through `script`'s pseudo-terminal),
//!   rewritten in place and cleared before the summary; none when stderr is
//!   not a terminal.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Bantin, Sandbox};

/// Articles in the big files: more than a writer's bulk threshold (10,000).
const BIG: usize = 15_000;

/// A JSON Lines file of `n` generated articles of about 3 KB each (the
/// bench corpus's size), ids `big-00000`…, all in the category "Lưu trữ".
fn big_file(dir: &Path, n: usize, last_line: Option<&str>) -> PathBuf {
    let path = dir.join(format!("big-{n}.jsonl"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let words = [
        "đường",
        "Hà",
        "Tĩnh",
        "nông",
        "nghiệp",
        "bão",
        "lũ",
        "tỉnh",
        "người",
        "dân",
        "năm",
        "mới",
        "Kỳ",
        "Anh",
        "cảng",
        "Vũng",
        "Áng",
        "học",
        "sinh",
        "trường",
    ];
    for i in 0..n {
        // A linear congruential generator per article: every article its
        // own mix of the words.
        let mut x = (i as u64).wrapping_mul(2_654_435_761).wrapping_add(1);
        let body: String = (0..500)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                words[(x >> 33) as usize % words.len()]
            })
            .collect::<Vec<_>>()
            .join(" ");
        let line = serde_json::json!({
            "id": format!("big-{i:05}"),
            "title": format!("Bài lưu trữ số {i}"),
            "summary": format!("Tóm tắt bài {i}."),
            "body": body,
            "authors": [format!("Phóng viên {}", i % 40)],
            "categories": ["Lưu trữ"],
            "regions": [if i % 2 == 0 { "Hà Tĩnh" } else { "Kỳ Anh" }],
            "published": format!("2019-{:02}-{:02}T08:00:00+07:00", 1 + i % 12, 1 + i % 28),
        });
        writeln!(out, "{line}").unwrap();
    }
    if let Some(last) = last_line {
        writeln!(out, "{last}").unwrap();
    }
    out.flush().unwrap();
    path
}

/// What a user can see of a store: `check`'s report (which counts the
/// articles and the slugs) and the bytes of the all feed.
fn seen(url: &str) -> (String, Vec<u8>) {
    let check = Bantin::on(url).args(["check"]).output();
    assert!(
        check.status.success(),
        "check is not clean: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let dump = Bantin::on(url)
        .args(["dump", "--format", "json", "--limit", "500"])
        .output();
    assert!(dump.status.success());
    (
        String::from_utf8_lossy(&check.stdout).into_owned(),
        dump.stdout,
    )
}

/// The number of articles `check` counted.
fn articles(check: &str) -> u64 {
    check
        .lines()
        .find_map(|l| {
            l.strip_suffix(" regions")
                .and(l.split(" visible articles").next())
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in {check:?}"))
}

/// How far the process has read `file`: the offset of its descriptor.
fn read_offset(pid: u32, file: &Path) -> Option<u64> {
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()? {
        let fd = fd.ok()?;
        if std::fs::read_link(fd.path()).ok().as_deref() == Some(file) {
            let info = std::fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .ok()?;
            return info
                .lines()
                .find_map(|l| l.strip_prefix("pos:"))
                .and_then(|p| p.trim().parse().ok());
        }
    }
    None
}

fn backends() -> Vec<Sandbox> {
    let mut all = vec![Sandbox::with_sample()];
    all.extend(Sandbox::sample_on_postgres());
    all
}

#[test]
fn an_import_killed_halfway_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let file = big_file(dir.path(), BIG, None);
    let size = std::fs::metadata(&file).unwrap().len();
    for backend in backends() {
        let url = backend.store_url();
        let before = seen(&url);
        let mut child = Bantin::on(&url)
            .args(["import", file.to_str().unwrap()])
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Past the middle of the file, the writer has written (in its
        // transaction) far more than the bulk threshold.
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            assert!(
                child.try_wait().unwrap().is_none(),
                "{url}: the import ended before it could be killed; make the file bigger"
            );
            if read_offset(child.id(), &file).is_some_and(|pos| pos >= size * 3 / 4) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{url}: the import never got halfway"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap(); // SIGKILL: no destructor, no rollback of ours
        child.wait().unwrap();
        assert_eq!(seen(&url), before, "{url}: the killed import left traces");
        // The store takes the next import (no lock or flag left behind).
        let small = big_file(dir.path(), 3, None);
        let out = Bantin::on(&url)
            .args(["import", small.to_str().unwrap()])
            .output();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "imported 3, rejected 0\n"
        );
        assert_eq!(articles(&seen(&url).0), articles(&before.0) + 3, "{url}");
    }
}

#[test]
fn strict_with_a_bad_record_at_the_end_of_a_big_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = big_file(dir.path(), BIG, Some(r#"{"id":"late","title":"t"}"#));
    for backend in backends() {
        let url = backend.store_url();
        let before = seen(&url);
        let out = Bantin::on(&url)
            .args(["import", "--strict", file.to_str().unwrap()])
            .output();
        assert_eq!(out.status.code(), Some(1), "{url}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "imported 0, rejected 1 (--strict: nothing written)\n"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "{}:{}: missing field `published`\n",
                file.display(),
                BIG + 1
            )
        );
        assert_eq!(seen(&url), before, "{url}: --strict wrote something");
    }
}

/// The keyword index's words and how many articles hold each, as FTS5
/// lists them.
fn index_words(db: &Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, bantin_search, row)")
        .unwrap();
    conn.prepare("SELECT term, doc FROM temp.words ORDER BY term")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn integrity_check(db: &Path) {
    rusqlite::Connection::open(db)
        .unwrap()
        .execute_batch("INSERT INTO bantin_search (bantin_search) VALUES ('integrity-check')")
        .unwrap_or_else(|e| panic!("the keyword index is damaged: {e}"));
}

/// Ids of the articles of a keyword feed, through the library.
fn search(db: &Path, query: &str) -> Vec<String> {
    use bantin::store::Store;
    let store = bantin::store::sqlite::SqliteStore::open(db).unwrap();
    let key = bantin::article::FeedKey::Search(bantin::search::words(query).join(" "));
    store
        .snapshot()
        .unwrap()
        .feed(&key, chrono::Utc::now(), 50)
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect()
}

#[test]
fn sqlite_bantins_keyword_index_is_the_one_made_for_a_cms_and_stays_exact() {
    use bantin::store::Store;
    let dir = tempfile::tempdir().unwrap();
    // 12,000 articles: bantin's writer in bulk mode, its own index text.
    let file = big_file(dir.path(), 12_000, None);
    let ours = dir.path().join("ours.db");
    let url = format!("sqlite:{}", ours.display());
    let out = Bantin::on(&url)
        .args(["import", file.to_str().unwrap()])
        .output();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 12000, rejected 0\n"
    );
    integrity_check(&ours);
    // The same articles written as a CMS writes them: the triggers queue
    // them, bantin indexes them.
    let cms = dir.path().join("cms.db");
    bantin::store::sqlite::SqliteStore::open(&cms).unwrap();
    {
        let mut conn = rusqlite::Connection::open(&cms).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute("ATTACH DATABASE ?1 AS ours", [ours.to_str().unwrap()])
            .unwrap();
        tx.execute_batch(
            "INSERT INTO articles SELECT * FROM ours.articles;
             INSERT INTO article_categories SELECT * FROM ours.article_categories;
             INSERT INTO article_regions SELECT * FROM ours.article_regions;
             INSERT INTO article_authors SELECT * FROM ours.article_authors;",
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let indexed = bantin::store::sqlite::SqliteStore::open(&cms)
        .unwrap()
        .index_queued()
        .unwrap();
    assert_eq!(indexed, 12_000);
    assert_eq!(index_words(&ours), index_words(&cms));
    // A CMS edits and deletes articles bantin indexed: queued, they are
    // found by their new words and not by their old ones, and once
    // indexed, the index holds exactly the new ones.
    let conn = rusqlite::Connection::open(&ours).unwrap();
    conn.execute_batch(
        "UPDATE articles SET body = 'Xuồng cứu hộ đến Hương Khê' WHERE id = 'big-00007';
         DELETE FROM articles WHERE id IN ('big-00008', 'big-00009');
         UPDATE articles SET title = title || ' mới' WHERE id LIKE 'big-001%';",
    )
    .unwrap();
    for queued in [true, false] {
        if !queued {
            bantin::store::sqlite::SqliteStore::open(&ours)
                .unwrap()
                .index_queued()
                .unwrap();
        }
        integrity_check(&ours);
        assert_eq!(search(&ours, "xuong cuu ho"), ["big-00007"]);
        let lu_tru = search(&ours, "luu tru");
        assert!(!lu_tru.is_empty());
        assert!(
            !lu_tru
                .iter()
                .any(|id| id == "big-00008" || id == "big-00009")
        );
        assert_eq!(search(&ours, "duong bao").len(), 50);
        assert_eq!(search(&ours, "xuong"), ["big-00007"]);
    }
    let mut cms_edit = index_words(&ours);
    cms_edit.retain(|(w, _)| w == "xuong");
    assert_eq!(cms_edit, [("xuong".to_string(), 1)]);
}

#[test]
fn a_terminal_gets_a_progress_line_and_a_pipe_gets_none() {
    let has_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("SKIPPED: the progress test needs `script` (util-linux)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = big_file(dir.path(), 6_000, None);
    let url = format!("sqlite:{}", dir.path().join("tty.db").display());
    let shown = dir.path().join("tty.log");
    let out = Bantin::on(&url)
        .args(["import", file.to_str().unwrap()])
        .in_terminal(&shown)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&shown).unwrap();
    let erase = "\r\x1b[K";
    assert!(
        text.contains(&format!("{erase}importing: ")) && text.contains(" records ("),
        "no progress line on the terminal: {text:?}"
    );
    assert!(text.contains("/s), 0 rejected"), "{text:?}");
    // The line is erased before the summary, which stands alone.
    assert!(
        text.contains(&format!("{erase}imported 6000, rejected 0\r\n")),
        "{text:?}"
    );
    // Not a terminal: only the summary, nothing on stderr.
    let url = format!("sqlite:{}", dir.path().join("pipe.db").display());
    let out = Bantin::on(&url)
        .args(["import", file.to_str().unwrap()])
        .output();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 6000, rejected 0\n"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// Articles whose stored words are not the set `bantin_words` gives.
fn words_out_of_step(url: &str) -> Vec<String> {
    let mut db = postgres::Client::connect(url, postgres::NoTls).unwrap();
    db.query(
        "SELECT id FROM articles WHERE words IS NULL
             OR NOT (words @> bantin_words(title, summary, body, content_html)
                     AND words <@ bantin_words(title, summary, body, content_html))
         ORDER BY id",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn postgres_words_are_bantin_words_whoever_writes() {
    let Some(url) = crate::support::off_runtime(crate::support::pg_cluster::database) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Text in many scripts, marks composed and not, HTML, the sample.
    let texts = [
        "Đường ĐƯỜNG đường, Hà-Tĩnh: bão số 3!",
        "Đu\u{31b}\u{300}o\u{31b}ng decomposed, İstanbul ǅemal Straße Æsir œuvre ĳ",
        "日本語のテキスト 한국어 ΣΊΣΥΦΟΣ Ελληνικά русский ЙОД",
        "a\u{a0}b\u{2014}c\u{2019}d 1\u{2009}000 x²³ ½ ① 🇻🇳 e\u{200d}f",
    ];
    let lines: Vec<String> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({"id": format!("w{i}"), "title": t, "summary": t,
                "content_html": format!("<p>{t} &amp; <b>x</b></p>"),
                "categories": ["Kinh tế"], "published": "2020-01-01T00:00:00Z"})
            .to_string()
        })
        .collect();
    let file = dir.path().join("words.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = Bantin::on(&url)
        .args(["import", file.to_str().unwrap()])
        .output();
    assert!(out.status.success(), "{out:?}");
    let sample = Bantin::on(&url)
        .args(["import", crate::support::articles_dir().to_str().unwrap()])
        .output();
    assert!(sample.status.success(), "{sample:?}");
    assert_eq!(words_out_of_step(&url), Vec::<String>::new());
    // A CMS writes no words: the trigger makes them, and again when the
    // text changes.
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    db.batch_execute(
        "INSERT INTO articles (id, title, body, published, published_us)
             VALUES ('cms', 'Xuồng cứu hộ', 'đến Hương Khê', '2020-01-02T00:00:00Z', 1577923200000000);
         UPDATE articles SET content_html = '<p>Lũ rút ở Vũ Quang: Xuôi</p>' WHERE id = 'w0';
         UPDATE articles SET words = ARRAY['sai'] WHERE id = 'w1';",
    )
    .unwrap();
    assert_eq!(words_out_of_step(&url), Vec::<String>::new());
    let found: Vec<String> = db
        .query(
            "SELECT id FROM articles WHERE words @> ARRAY['xuoi', 'quang'] ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(found, ["w0"]);
}
