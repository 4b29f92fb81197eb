//! Helpers shared by the test modules: a sandbox folder with its own store
//! (SQLite or PostgreSQL, see `stores`), the `bantin` binary pointed at it, the sample publication, and
//! expectations computed from the article files without going through the
//! store or the renderers.

#![allow(dead_code)] // each module uses a different part

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use bantin::article::{Article, FeedKey};
use bantin::store::Store;
use chrono::{DateTime, FixedOffset};

pub use crate::stores::{StoreKind, TestStore};

/// The crate's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The sample site file, `feeds/site.toml`.
pub fn site_file() -> PathBuf {
    root().join("feeds/site.toml")
}

/// The sample articles, `feeds/articles/`.
pub fn articles_dir() -> PathBuf {
    root().join("feeds/articles")
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// A temporary folder and one store of a kind (SQLite: `store.db` in the
/// folder; PostgreSQL: a fresh database). Commands run with the folder as
/// their working directory and no `BANTIN_*` variables from the environment
/// of the test run.
pub struct Sandbox {
    dir: tempfile::TempDir,
    store: TestStore,
}

impl Sandbox {
    /// An empty sandbox on a store of that kind (a SQLite file is created
    /// on first use).
    pub fn on(kind: StoreKind) -> Sandbox {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let store = TestStore::new(kind, dir.path());
        Sandbox { dir, store }
    }

    /// A sandbox whose store holds the sample articles, imported through
    /// the library (the CLI import has its own tests).
    pub fn with_sample_on(kind: StoreKind) -> Sandbox {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let store = TestStore::with_sample(kind, dir.path());
        Sandbox { dir, store }
    }

    /// An empty sandbox on SQLite: for tests of what the store does not
    /// decide (renderers, parsers, URLs refused before a store is opened).
    pub fn new() -> Sandbox {
        Sandbox::on(StoreKind::Sqlite)
    }

    /// The sample on SQLite (see [`Sandbox::new`]).
    pub fn with_sample() -> Sandbox {
        Sandbox::with_sample_on(StoreKind::Sqlite)
    }

    /// The sandbox folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write `contents` to `name` (creating folders) and return its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// The store.
    pub fn store(&self) -> &TestStore {
        &self.store
    }

    /// The SQLite store's file (SQLite-only tests).
    pub fn db(&self) -> PathBuf {
        self.store.sqlite_file().to_path_buf()
    }

    /// The store's URL.
    pub fn store_url(&self) -> String {
        self.store.url()
    }

    /// The store, opened through the library, whichever its kind.
    pub fn connect(&self) -> Box<dyn Store> {
        self.store.open(1)
    }

    /// The SQLite store, opened through the library (SQLite-only tests).
    pub fn open(&self) -> bantin::store::sqlite::SqliteStore {
        bantin::store::sqlite::SqliteStore::open(&self.db()).expect("opening the sandbox store")
    }

    /// Read `paths` with the library's reader and upsert every good article;
    /// panics if any record is bad.
    pub fn import_lib(&self, paths: &[PathBuf]) {
        let batch = bantin::import::read_paths(paths);
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        self.store.upsert(&batch.articles);
    }

    /// Upsert articles through the library.
    pub fn upsert(&self, articles: &[Article]) {
        self.store.upsert(articles);
    }

    /// Run SQL as a CMS would (see [`TestStore::sql`]).
    pub fn sql(&self, sql: &str) {
        self.store.sql(sql);
    }

    /// Run one SQL statement as a CMS would; returns the rows it changed.
    pub fn execute(&self, sql: &str) -> u64 {
        self.store.execute(sql)
    }

    /// `bantin` with no global flags, run in the sandbox folder.
    pub fn bare(&self) -> Command {
        let mut cmd = Command::cargo_bin("bantin").expect("the bantin binary");
        cmd.current_dir(self.dir())
            .env_remove("BANTIN_STORE")
            .env_remove("BANTIN_SITE")
            .env_remove("BANTIN_LISTEN")
            .env_remove("RUST_LOG");
        cmd
    }

    /// `bantin --store THIS --site SITE ARGS...`.
    pub fn cmd_with_site(&self, site: &Path, args: &[&str]) -> Command {
        let mut cmd = self.bare();
        cmd.arg("--store")
            .arg(self.store_url())
            .arg("--site")
            .arg(site)
            .args(args);
        cmd
    }

    /// `bantin --store THIS --site feeds/site.toml ARGS...`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_with_site(&site_file(), args)
    }

    /// Run `bantin ARGS` against this store and the sample site.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// `bantin dump ARGS` against this store and the sample site; panics
    /// unless it succeeds.
    pub fn dump(&self, args: &[&str]) -> Vec<u8> {
        self.dump_with_site(&site_file(), args)
    }

    /// `bantin dump ARGS` with another site file; panics unless it succeeds.
    pub fn dump_with_site(&self, site: &Path, args: &[&str]) -> Vec<u8> {
        let mut all = vec!["dump"];
        all.extend_from_slice(args);
        let out = self.cmd_with_site(site, &all).output().unwrap();
        assert_success(&out, &format!("bantin dump {}", args.join(" ")));
        out.stdout
    }
}

/// Panic with the command's stderr unless it exited 0.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The command failed the way SPEC asks: a non-zero exit, and on stderr
/// exactly one line that contains every one of `needles`, and no panic.
pub fn assert_one_line_error(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, got success");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want one line on stderr, got {stderr:?}");
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} not in {:?}", lines[0]);
    }
}

/// stdout/stderr as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// Parse a feed with feed-rs, a parser independent of the writers.
pub fn parse(bytes: &[u8]) -> feed_rs::model::Feed {
    feed_rs::parser::parse(bytes).unwrap_or_else(|e| {
        panic!(
            "feed-rs rejects the feed: {e}\n{}",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// The feed formats, as `--format` and file extensions spell them.
pub const FORMATS: [&str; 3] = ["rss", "atom", "json"];

/// `dump` arguments for a feed key.
pub fn key_args(key: &FeedKey) -> Vec<String> {
    match key {
        FeedKey::All => vec![],
        FeedKey::Category(c) => vec!["--category".into(), c.clone()],
        FeedKey::Region(r) => vec!["--region".into(), r.clone()],
        FeedKey::CategoryRegion(c, r) => {
            vec!["--category".into(), c.clone(), "--region".into(), r.clone()]
        }
        FeedKey::Author(u) => vec!["--author".into(), u.clone()],
        FeedKey::Search(_) => unreachable!("dump has no keyword feeds"),
    }
}

/// The sample site file's fields, read with the `toml` crate rather than
/// through bantin's own `Site`.
pub struct SiteFacts {
    /// `title`
    pub title: String,
    /// `base_url`, no trailing slash
    pub base_url: String,
    /// `id_prefix`, or its default `{base_url}/articles/`
    pub id_prefix: String,
    /// `items_per_feed`
    pub items_per_feed: usize,
    /// The whole table.
    pub table: toml::Table,
}

impl SiteFacts {
    /// Read a site file.
    pub fn read(path: &Path) -> SiteFacts {
        let table: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
        let base_url = table["base_url"]
            .as_str()
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        SiteFacts {
            title: table["title"].as_str().unwrap().to_string(),
            id_prefix: table
                .get("id_prefix")
                .and_then(|v| v.as_str())
                .map_or_else(|| format!("{base_url}/articles/"), str::to_string),
            items_per_feed: table
                .get("items_per_feed")
                .and_then(|v| v.as_integer())
                .unwrap_or(50) as usize,
            base_url,
            table,
        }
    }

    /// The site file's display name for a slug, if it sets one.
    pub fn name(&self, table: &str, slug: &str) -> Option<String> {
        self.table
            .get(table)?
            .get(slug)?
            .get("name")?
            .as_str()
            .map(str::to_string)
    }
}

/// The sample articles as the library reads them from their files.
pub fn sample_articles() -> Vec<Article> {
    let batch = bantin::import::read_paths(&[articles_dir()]);
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    batch.articles
}

/// Whether `a` belongs in the feed `key`, by slugs of its names.
pub fn belongs(a: &Article, key: &FeedKey) -> bool {
    let has = |names: &[String], slug: &str| names.iter().any(|n| bantin::slug::slugify(n) == slug);
    match key {
        FeedKey::All => true,
        FeedKey::Category(c) => has(&a.categories, c),
        FeedKey::Region(r) => has(&a.regions, r),
        FeedKey::CategoryRegion(c, r) => has(&a.categories, c) && has(&a.regions, r),
        FeedKey::Author(u) => has(&a.authors, u),
        FeedKey::Search(_) => unreachable!("keyword feeds are tested in `search`"),
    }
}

/// SPEC's item order: newest `published` instant first, ties by id in
/// descending byte order.
pub fn spec_order(articles: &mut [Article]) {
    articles.sort_by(|a, b| {
        b.published
            .timestamp_micros()
            .cmp(&a.published.timestamp_micros())
            .then_with(|| b.id.as_bytes().cmp(a.id.as_bytes()))
    });
}

/// The articles of feed `key`, in SPEC's order, at most `limit`.
pub fn expected(articles: &[Article], key: &FeedKey, limit: usize) -> Vec<Article> {
    let mut v: Vec<Article> = articles
        .iter()
        .filter(|a| belongs(a, key))
        .cloned()
        .collect();
    spec_order(&mut v);
    v.truncate(limit);
    v
}

/// Every category slug and region slug the articles carry.
pub fn slugs(articles: &[Article]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut cats = BTreeSet::new();
    let mut regs = BTreeSet::new();
    for a in articles {
        cats.extend(a.categories.iter().map(|n| bantin::slug::slugify(n)));
        regs.extend(a.regions.iter().map(|n| bantin::slug::slugify(n)));
    }
    (cats, regs)
}

/// RFC 3986 percent-encoding of everything but unreserved characters: how
/// SPEC has ids appear in guids.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of every `<tag>…</tag>` element (no attributes) in `xml`.
pub fn element_texts(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let end = after.find(&close).expect("element is closed");
        out.push(after[..end].to_string());
        rest = &after[end + close.len()..];
    }
    out
}

/// Parse an RFC 3339 date.
pub fn date(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

/// A minimal valid article, for building cases in code.
pub fn article(id: &str, categories: &[&str], regions: &[&str], published: &str) -> Article {
    let published = date(published);
    Article {
        id: id.to_string(),
        title: format!("Bài {id}"),
        summary: None,
        body: bantin::article::Body::None,
        authors: vec![],
        categories: categories.iter().map(|s| s.to_string()).collect(),
        regions: regions.iter().map(|s| s.to_string()).collect(),
        published,
        updated: published,
        url: None,
        image: None,
    }
    .validated()
    .unwrap()
}

/// The ids of the entries of a parsed feed.
pub fn entry_ids(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries.iter().map(|e| e.id.clone()).collect()
}

/// The guids SPEC gives these articles.
pub fn guids(prefix: &str, articles: &[Article]) -> Vec<String> {
    articles
        .iter()
        .map(|a| format!("{prefix}{}", percent_encode(&a.id)))
        .collect()
}
