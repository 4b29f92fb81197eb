//! Servers for the HTTP tests, and the clients that talk to them:
//!
//! - [`Sample`]: a temp folder and a store (SQLite or PostgreSQL) holding
//!   the sample articles; runs the real binary against that store
//!   (external writes, `dump`, `build`).
//! - [`Server`]: `bantin::http::server::run` in this process on port 0,
//!   with [`Limits`] chosen by the test, stopped through its shutdown future.
//! - [`Process`]: the real `bantin serve` on port 0, killed on drop.
//! - [`CountingStore`]: a store that counts snapshots and feed queries apart from the watcher's log reads,
//!   and can be told to fail, to see what a request makes the store do.
//! - [`fetch`]: one request with reqwest, bytes as sent (no decompression).

#![allow(dead_code)] // each module uses a different part

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bantin::article::{Article, Facet, FeedKey};
use bantin::config::Site;
use bantin::feed::Catalog;
use bantin::http::app::App;
use bantin::http::server::Limits;
use bantin::store::{
    Changes, LeftOut, LogPosition, Pair, Placement, Problem, SlugUse, Snapshot, Store, StoreError,
    Writer,
};
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use crate::stores::off_runtime;
use crate::stores::{StoreKind, TestStore};

/// The sample site file.
pub fn site_path() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/feeds/site.toml"))
}

/// The sample articles folder.
pub fn articles_path() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/feeds/articles"))
}

/// The sample site, loaded by bantin.
pub fn site() -> Site {
    Site::load(&site_path()).expect("loading feeds/site.toml")
}

/// The sample site file as plain TOML, read without bantin.
pub fn site_toml() -> toml::Table {
    std::fs::read_to_string(site_path())
        .unwrap()
        .parse()
        .unwrap()
}

/// The sample articles as the library reads them; panics on a bad record.
pub fn sample_articles() -> Vec<Article> {
    let batch = bantin::import::read_paths(&[articles_path()]);
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    batch.articles
}

/// The three feed extensions.
pub const EXTS: [&str; 3] = ["rss", "atom", "json"];

/// The content type SPEC gives each extension.
pub fn content_type(ext: &str) -> &'static str {
    match ext {
        "rss" => "application/rss+xml; charset=utf-8",
        "atom" => "application/atom+xml; charset=utf-8",
        "json" => "application/feed+json; charset=utf-8",
        other => panic!("no such format {other}"),
    }
}

/// A feed's URL path: `/feeds/{key}.{ext}`.
pub fn feed_path(key: &FeedKey, ext: &str) -> String {
    format!("/feeds/{}.{ext}", key.path())
}

/// A temp folder and a store of a kind (SQLite: `store.db` in the folder;
/// PostgreSQL: a fresh database), usually holding the sample articles; runs
/// the real binary against that store (external writes, `dump`, `build`).
pub struct Sample {
    dir: tempfile::TempDir,
    store: TestStore,
}

/// What the tests that run a body on each store in turn ([`on_both`]) call
/// their store.
pub type Backend = Sample;

impl Sample {
    /// A store of that kind holding the sample articles, imported through
    /// the library.
    pub fn on(kind: StoreKind) -> Sample {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let store = TestStore::with_sample(kind, dir.path());
        Sample { dir, store }
    }

    /// A store of that kind with no articles (its schema in place).
    pub fn empty_on(kind: StoreKind) -> Sample {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let store = TestStore::new(kind, dir.path());
        let sample = Sample { dir, store };
        if kind == StoreKind::Sqlite {
            drop(sample.open());
        }
        sample
    }

    /// The sample in a SQLite store: for the tests that are about SQLite
    /// (its file), and [`on_both`].
    pub fn new() -> Sample {
        Sample::on(StoreKind::Sqlite)
    }

    /// An empty SQLite store (see [`Sample::new`]).
    pub fn empty() -> Sample {
        Sample::empty_on(StoreKind::Sqlite)
    }

    /// The sample in a SQLite store.
    pub fn sqlite() -> Sample {
        Sample::new()
    }

    /// The sample in a PostgreSQL database; `None` (after saying so) where
    /// PostgreSQL is not installed.
    pub fn postgres() -> Option<Sample> {
        off_runtime(crate::pg_cluster::available).then(|| Sample::on(StoreKind::Postgres))
    }

    /// The temp folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path in the temp folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The store.
    pub fn store_of(&self) -> &TestStore {
        &self.store
    }

    /// Which kind of store it is.
    pub fn kind(&self) -> StoreKind {
        self.store.kind()
    }

    /// The SQLite store's file (SQLite-only tests).
    pub fn db(&self) -> PathBuf {
        self.store.sqlite_file().to_path_buf()
    }

    /// The store's URL.
    pub fn store_url(&self) -> String {
        self.store.url()
    }

    /// The store's URL (the name [`Backend`] users know).
    pub fn url(&self) -> String {
        self.store.url()
    }

    /// Fold the WAL into the main file, so that the file alone is the store
    /// (SQLite only).
    pub fn checkpoint(&self) {
        rusqlite::Connection::open(self.db())
            .unwrap()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
    }

    /// A new connection to the store, one reader.
    pub fn open(&self) -> Box<dyn Store> {
        self.store.open(1)
    }

    /// A new connection (pool) to the store, with at most `readers` readers.
    pub fn store(&self, readers: u32) -> Box<dyn Store> {
        self.store.open(readers)
    }

    /// Upsert through a connection of its own, off the runtime.
    pub fn upsert(&self, articles: impl AsRef<[Article]>) {
        self.store.upsert(articles.as_ref());
    }

    /// Run SQL as a CMS would, on a connection of its own (both dialects).
    pub fn sql(&self, sql: &str) {
        self.store.sql(sql);
    }

    /// Run one statement as a CMS would; the rows it changed.
    pub fn execute(&self, sql: &str) -> u64 {
        self.store.execute(sql)
    }

    /// What the store lists as of now.
    pub fn listing(&self) -> Listing {
        let store = self.store.clone();
        off_runtime(move || {
            let store = store.open(1);
            let now = Utc::now();
            let catalog = Catalog::load(store.snapshot().unwrap().as_ref(), &site(), now).unwrap();
            let names = |m: &BTreeMap<String, bantin::feed::Entry>| {
                m.iter()
                    .map(|(slug, e)| (slug.clone(), e.name.clone()))
                    .collect()
            };
            Listing {
                categories: names(&catalog.categories),
                regions: names(&catalog.regions),
                pairs: catalog.pairs.keys().cloned().collect(),
            }
        })
    }

    /// `bantin --store THIS --site feeds/site.toml ARGS`, run to the end.
    pub fn bantin(&self, args: &[&str]) -> Output {
        let mut cmd = std::process::Command::new(bin());
        cmd.arg("--store")
            .arg(self.store_url())
            .arg("--site")
            .arg(site_path())
            .args(args)
            .current_dir(self.dir())
            .env_remove("BANTIN_STORE")
            .env_remove("BANTIN_SITE")
            .env("RUST_LOG", "warn");
        cmd.output().expect("running bantin")
    }

    /// [`Sample::bantin`], panicking unless it exits 0.
    pub fn bantin_ok(&self, args: &[&str]) -> Output {
        let out = self.bantin(args);
        assert!(
            out.status.success(),
            "bantin {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// [`Sample::bantin_ok`] on a blocking thread, for async tests.
    pub async fn bantin_async(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let url = self.store_url();
        let dir = self.dir().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(bin())
                .arg("--store")
                .arg(url)
                .arg("--site")
                .arg(site_path())
                .args(&args)
                .current_dir(dir)
                .env_remove("BANTIN_STORE")
                .env_remove("BANTIN_SITE")
                .env("RUST_LOG", "warn")
                .output()
                .expect("running bantin");
            assert!(
                out.status.success(),
                "bantin {args:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            out
        })
        .await
        .unwrap()
    }
}

/// The `bantin` binary.
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("bantin")
}

/// Limits for tests: generous, so that only the test that means to trip
/// one of them does.
pub fn test_limits() -> Limits {
    Limits {
        max_connections: 256,
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(10),
        write_timeout: Duration::from_secs(10),
        grace: Duration::from_secs(2),
    }
}

/// `bantin::http::server::run` in this process, on 127.0.0.1 and port 0.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    /// Its state: metrics and cache.
    pub app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Serve the sample site from `store` with [`test_limits`].
    pub async fn start(store: Box<dyn Store>) -> Server {
        Server::start_with(store, test_limits()).await
    }

    /// Serve the sample site from a new connection to `sample`'s store.
    pub async fn sample(sample: &Sample) -> Server {
        Server::start(sample.open()).await
    }

    /// Serve the sample site from `store` with `limits`.
    pub async fn start_with(store: Box<dyn Store>, limits: Limits) -> Server {
        // Off the runtime: the PostgreSQL client blocks on a runtime of its own.
        let app = tokio::task::spawn_blocking(move || App::new(site(), store))
            .await
            .unwrap();
        let app = Arc::new(app.expect("building the app"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        let task = tokio::spawn(bantin::http::server::run(
            app.clone(),
            listener,
            limits,
            shutdown,
        ));
        Server {
            addr,
            base: format!("http://{addr}"),
            app,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Ask the server to stop and wait until `run` returns.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("server stops within 10 s")
                .unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The real `bantin serve`, on 127.0.0.1 and port 0; killed on drop.
pub struct Process {
    child: Child,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    /// Everything it printed on stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

impl Process {
    /// `bantin --store sqlite:DB --site feeds/site.toml serve --listen 127.0.0.1:0`.
    pub fn start(db: &Path) -> Process {
        Process::start_url(&format!("sqlite:{}", db.display()))
    }

    /// `bantin --store URL --site feeds/site.toml serve --listen 127.0.0.1:0`.
    pub fn start_url(store: &str) -> Process {
        Process::start_logging(store, "warn")
    }

    /// [`Process::start_url`] with `RUST_LOG` set to `log`.
    pub fn start_logging(store: &str, log: &str) -> Process {
        Process::spawn(std::process::Command::new(bin()), store, log)
    }

    /// [`Process::start_logging`] with `args` after `serve`'s.
    pub fn start_with_args(store: &str, log: &str, args: &[&str]) -> Process {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(args);
        Process::spawn(cmd, store, log)
    }

    /// [`Process::start_url`] under an open-file limit of `files`, soft and
    /// hard (so that `serve` can't raise it).
    pub fn start_with_file_limit(store: &str, files: u32) -> Process {
        let mut sh = std::process::Command::new("bash");
        sh.arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
            .arg(bin());
        Process::spawn(sh, store, "warn")
    }

    /// Run `cmd` with `bantin`'s serve arguments appended.
    fn spawn(mut cmd: std::process::Command, store: &str, log: &str) -> Process {
        let mut child = cmd
            .arg("--store")
            .arg(store)
            .arg("--site")
            .arg(site_path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("BANTIN_STORE")
            .env_remove("BANTIN_SITE")
            .env("RUST_LOG", log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting bantin serve");
        let stderr = child.stderr.take().unwrap();
        let seen = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let sink = seen.clone();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push_str(&line);
                sink.lock().unwrap().push('\n');
                if let Some(rest) = line.split(" on http://").nth(1) {
                    let _ = tx.send(rest.trim_end_matches('/').to_string());
                }
            }
        });
        let mut process = Process {
            child,
            base: String::new(),
            stderr: seen,
        };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(hostport) => process.base = format!("http://{hostport}"),
            Err(_) => panic!(
                "bantin serve did not say where it serves; stderr: {}",
                process.stderr.lock().unwrap()
            ),
        }
        process
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send a signal (`TERM`, `INT`) with `kill`.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Wait up to `limit` for the process to exit.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the [`CountingStore`] saw.
#[derive(Debug, Default)]
pub struct Calls {
    /// Snapshots and writers asked for, and audits: everything but the
    /// watcher's reads of the change log.
    pub all: AtomicU64,
    /// Feed queries.
    pub feed: AtomicU64,
    /// The watcher's reads of the change log.
    pub log_reads: AtomicU64,
    /// When set, every method fails.
    pub fail: AtomicBool,
    /// Milliseconds every feed query takes on top of its own time.
    pub feed_delay_ms: AtomicU64,
}

impl Calls {
    /// Snapshots and writers asked for, and audits.
    pub fn all(&self) -> u64 {
        self.all.load(Ordering::SeqCst)
    }

    /// Feed queries.
    pub fn feed(&self) -> u64 {
        self.feed.load(Ordering::SeqCst)
    }
}

/// A store that counts what is asked of it (and can be told to fail or to
/// be slow), over a real store.
pub struct CountingStore {
    inner: Box<dyn Store>,
    calls: Arc<Calls>,
}

impl CountingStore {
    /// Wrap a store; the counters are shared with the caller.
    pub fn new(inner: Box<dyn Store>) -> (CountingStore, Arc<Calls>) {
        let calls = Arc::new(Calls::default());
        (
            CountingStore {
                inner,
                calls: calls.clone(),
            },
            calls,
        )
    }

    fn count(&self) -> Result<(), StoreError> {
        self.calls.all.fetch_add(1, Ordering::SeqCst);
        self.check()
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.calls.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Open {
                url: "sqlite:counting".into(),
                reason: "the test made the store fail".into(),
            });
        }
        Ok(())
    }
}

/// A snapshot that counts feed queries.
struct CountingSnapshot<'a> {
    inner: Box<dyn Snapshot + 'a>,
    calls: Arc<Calls>,
}

impl Snapshot for CountingSnapshot<'_> {
    fn feed_span(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError> {
        self.calls.feed.fetch_add(1, Ordering::SeqCst);
        let delay = self.calls.feed_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        self.inner.feed_span(key, from, upto, limit)
    }
    fn newest_before(
        &self,
        key: &FeedKey,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.newest_before(key, before)
    }
    fn oldest_between(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.oldest_between(key, from, upto)
    }
    fn slugs(&self, facet: Facet) -> Result<Vec<String>, StoreError> {
        self.inner.slugs(facet)
    }
    fn slug_use(
        &self,
        facet: Facet,
        slug: &str,
        now: DateTime<Utc>,
    ) -> Result<SlugUse, StoreError> {
        self.inner.slug_use(facet, slug, now)
    }
    fn pair_keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.pair_keys()
    }
    fn pair(&self, c: &str, r: &str, now: DateTime<Utc>) -> Result<Option<Pair>, StoreError> {
        self.inner.pair(c, r, now)
    }
    fn total(&self, now: DateTime<Utc>) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        self.inner.total(now)
    }
    fn next_scheduled(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.next_scheduled(now)
    }
    fn published_between(
        &self,
        after: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        self.inner.published_between(after, upto)
    }
    fn log_head(&self) -> Result<LogPosition, StoreError> {
        self.inner.log_head()
    }
    fn changes(&self, since: &LogPosition, max: usize) -> Result<Changes, StoreError> {
        self.inner.changes(since, max)
    }
    fn placements(&self, ids: &[String]) -> Result<Vec<Placement>, StoreError> {
        self.inner.placements(ids)
    }

    fn left_out(&self, ids: &[String], now: DateTime<Utc>) -> Result<Vec<LeftOut>, StoreError> {
        self.inner.left_out(ids, now)
    }
}

impl Store for CountingStore {
    fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        self.count()?;
        Ok(Box::new(CountingSnapshot {
            inner: self.inner.snapshot()?,
            calls: self.calls.clone(),
        }))
    }

    fn log_snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        self.calls.log_reads.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.inner.log_snapshot()
    }

    fn writer(&self) -> Result<Box<dyn Writer + '_>, StoreError> {
        self.count()?;
        self.inner.writer()
    }

    fn audit(&self) -> Result<Vec<Problem>, StoreError> {
        self.count()?;
        self.inner.audit()
    }

    fn trim_log(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.inner.trim_log(before)
    }
}

/// Run a test body on SQLite, then on PostgreSQL where it is installed.
pub async fn on_both<F, Fut>(test: F)
where
    F: Fn(Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    test(Sample::sqlite()).await;
    if let Some(pg) = Sample::postgres() {
        test(pg).await;
    }
}

/// An HTTP client that sends only what the test asks for: no proxy, no
/// `Accept-Encoding` of its own, no decompression.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A response, read to the end.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Header fields.
    pub headers: HeaderMap,
    /// The body as sent.
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value as text; `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("header is text").to_string())
    }

    /// The `ETag` value; panics when absent.
    pub fn etag(&self) -> String {
        self.header("etag").expect("response has an ETag")
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("body is UTF-8")
    }
}

/// Send one request with these header fields and read the whole response.
pub async fn fetch(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client.request(method, url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap().to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// `GET url` with these header fields.
pub async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Reply {
    fetch(client, "GET", url, headers).await
}

/// The value of an unlabelled metric in `/metrics`.
pub async fn metric(client: &reqwest::Client, base: &str, name: &str) -> u64 {
    let text = get(client, &format!("{base}/metrics"), &[]).await.text();
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// A body decoded from its `Content-Encoding` (`None`: identity).
pub fn decode(coding: Option<&str>, body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match coding {
        None => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("valid gzip");
        }
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .expect("valid brotli");
        }
        Some("zstd") => out = zstd::decode_all(body).expect("valid zstd"),
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

/// Poll `check` every 25 ms until it returns true or `limit` has passed;
/// returns how long it took, or `None` on timeout.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The feeds a store holds, as bantin lists them: display names by slug,
/// and the category/region pairs that share a visible article.
pub struct Listing {
    /// Category names by slug.
    pub categories: BTreeMap<String, String>,
    /// Region names by slug.
    pub regions: BTreeMap<String, String>,
    /// (category slug, region slug) of every pair sharing an article.
    pub pairs: Vec<(String, String)>,
}

impl Listing {
    /// A category and a region that are both known but share no article.
    pub fn empty_pair(&self) -> FeedKey {
        for c in self.categories.keys() {
            for r in self.regions.keys() {
                if !self.pairs.iter().any(|(pc, pr)| pc == c && pr == r) {
                    return FeedKey::CategoryRegion(c.clone(), r.clone());
                }
            }
        }
        panic!("every category shares an article with every region");
    }
}

/// The feeds of the sample worth fetching, worked out from the article
/// files without bantin's catalog: all, each category, each region, each
/// pair sharing an article.
pub fn sample_keys() -> Vec<FeedKey> {
    let (mut cats, mut regs, mut pairs, mut authors) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    for a in sample_articles() {
        authors.extend(a.authors.iter().map(|n| bantin::slug::slugify(n)));
        let c: Vec<String> = a
            .categories
            .iter()
            .map(|n| bantin::slug::slugify(n))
            .collect();
        let r: Vec<String> = a.regions.iter().map(|n| bantin::slug::slugify(n)).collect();
        for x in &c {
            for y in &r {
                pairs.insert((x.clone(), y.clone()));
            }
        }
        cats.extend(c);
        regs.extend(r);
    }
    let mut keys = vec![FeedKey::All];
    keys.extend(cats.into_iter().map(FeedKey::Category));
    keys.extend(regs.into_iter().map(FeedKey::Region));
    keys.extend(
        pairs
            .into_iter()
            .map(|(c, r)| FeedKey::CategoryRegion(c, r)),
    );
    keys.extend(authors.into_iter().map(FeedKey::Author));
    keys
}

/// Whether `article` belongs in feed `key`, by the slugs of its names.
pub fn belongs(article: &Article, key: &FeedKey) -> bool {
    let has = |names: &[String], slug: &str| names.iter().any(|n| bantin::slug::slugify(n) == slug);
    match key {
        FeedKey::All => true,
        FeedKey::Category(c) => has(&article.categories, c),
        FeedKey::Region(r) => has(&article.regions, r),
        FeedKey::CategoryRegion(c, r) => has(&article.categories, c) && has(&article.regions, r),
        FeedKey::Author(u) => has(&article.authors, u),
        FeedKey::Search(_) => unreachable!("keyword feeds are tested in `search`"),
    }
}

/// A JSON Lines record of a minimal article.
pub fn jsonl_article(id: &str, category: &str, region: &str, published: &str) -> String {
    serde_json::json!({
        "id": id,
        "title": format!("Tin thử {id}"),
        "summary": "Bài viết thêm vào trong lúc máy chủ đang chạy.",
        "categories": [category],
        "regions": [region],
        "published": published,
    })
    .to_string()
        + "\n"
}
