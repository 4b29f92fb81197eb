//! [`Sandbox`]: a temporary folder and one store of a kind (SQLite:
//! `store.db` in the folder; PostgreSQL: a fresh database of the throwaway
//! cluster), empty or holding the sample articles. A test reaches the store
//! through the library ([`Sandbox::open`]), as a CMS does ([`Sandbox::sql`]),
//! or through the binary run in the folder ([`Sandbox::bantin`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use bantin::article::{Article, FeedKey};
use bantin::feed::Catalog;
use bantin::store::Store;
use chrono::Utc;

use crate::support::{Bantin, StoreKind, TestStore, assert_success, off_runtime, site, site_file};

/// A temporary folder and one store of a kind; see the module doc.
pub struct Sandbox {
    dir: tempfile::TempDir,
    store: TestStore,
}

impl Sandbox {
    /// An empty sandbox on a store of that kind (a SQLite file is created,
    /// with its schema, on first use).
    pub fn on(kind: StoreKind) -> Sandbox {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let store = TestStore::new(kind, dir.path());
        Sandbox { dir, store }
    }

    /// A store of that kind with no articles, its schema in place.
    pub fn with_schema_on(kind: StoreKind) -> Sandbox {
        let sandbox = Sandbox::on(kind);
        if kind == StoreKind::Sqlite {
            drop(sandbox.open());
        }
        sandbox
    }

    /// A sandbox whose store holds the sample articles, imported through
    /// the library (the CLI import has its own tests).
    pub fn with_sample_on(kind: StoreKind) -> Sandbox {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let store = TestStore::with_sample(kind, dir.path());
        Sandbox { dir, store }
    }

    /// An empty sandbox on SQLite: for tests of what the store does not
    /// decide (renderers, parsers, URLs refused before a store is opened),
    /// and of the SQLite file itself.
    pub fn new() -> Sandbox {
        Sandbox::on(StoreKind::Sqlite)
    }

    /// An empty SQLite store, its schema in place (see [`Sandbox::new`]).
    pub fn with_schema() -> Sandbox {
        Sandbox::with_schema_on(StoreKind::Sqlite)
    }

    /// The sample on SQLite (see [`Sandbox::new`]).
    pub fn with_sample() -> Sandbox {
        Sandbox::with_sample_on(StoreKind::Sqlite)
    }

    /// The sample in a PostgreSQL database; `None` (after saying so) where
    /// PostgreSQL is not installed.
    pub fn sample_on_postgres() -> Option<Sandbox> {
        off_runtime(crate::support::pg_cluster::available)
            .then(|| Sandbox::with_sample_on(StoreKind::Postgres))
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

    /// The store, opened through the library with one reader, whichever
    /// its kind.
    pub fn open(&self) -> Box<dyn Store> {
        self.store.open(1)
    }

    /// The store, opened through the library with at most `readers` read
    /// connections.
    pub fn pool(&self, readers: u32) -> Box<dyn Store> {
        self.store.open(readers)
    }

    /// Fold the WAL into the main file, so that the file alone is the store
    /// (SQLite only).
    pub fn checkpoint(&self) {
        rusqlite::Connection::open(self.db())
            .unwrap()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
    }

    /// Read `paths` with the library's reader and upsert every good article;
    /// panics if any record is bad.
    pub fn import_lib(&self, paths: &[PathBuf]) {
        let batch = bantin::import::read_paths(paths);
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        self.store.upsert(&batch.articles);
    }

    /// Upsert articles through the library, off the runtime.
    pub fn upsert(&self, articles: impl AsRef<[Article]>) {
        self.store.upsert(articles.as_ref());
    }

    /// Run SQL as a CMS would (see [`TestStore::sql`]).
    pub fn sql(&self, sql: &str) {
        self.store.sql(sql);
    }

    /// Run one SQL statement as a CMS would; returns the rows it changed.
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

    /// `bantin` with no global flags, run in the sandbox folder.
    pub fn bare(&self) -> Bantin {
        let mut cmd = Bantin::bare();
        cmd.dir(self.dir());
        cmd
    }

    /// `bantin --store THIS --site feeds/site.toml`, run in the sandbox
    /// folder.
    pub fn bantin(&self) -> Bantin {
        let mut cmd = Bantin::on(&self.store_url());
        cmd.dir(self.dir());
        cmd
    }

    /// Run `bantin ARGS` against this store and the sample site, whatever
    /// its exit.
    pub fn run(&self, args: &[&str]) -> Output {
        self.bantin().args(args).output()
    }

    /// [`Sandbox::run`], panicking unless it exits 0.
    pub fn run_ok(&self, args: &[&str]) -> Output {
        self.bantin().args(args).ok()
    }

    /// [`Sandbox::run_ok`] on a blocking thread, for async tests.
    pub async fn run_async(&self, args: &[&str]) -> Output {
        self.bantin().args(args).ok_async().await
    }

    /// `bantin dump ARGS` against this store and the sample site; panics
    /// unless it succeeds.
    pub fn dump(&self, args: &[&str]) -> Vec<u8> {
        self.dump_with_site(&site_file(), args)
    }

    /// `bantin dump ARGS` with another site file; panics unless it succeeds.
    pub fn dump_with_site(&self, site: &Path, args: &[&str]) -> Vec<u8> {
        let out = self.bantin().site(site).arg("dump").args(args).output();
        assert_success(&out, &format!("bantin dump {}", args.join(" ")));
        out.stdout
    }
}

/// Run a test body on SQLite, then on PostgreSQL where it is installed.
pub async fn on_both<F, Fut>(test: F)
where
    F: Fn(Sandbox) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    test(Sandbox::with_sample()).await;
    if let Some(pg) = Sandbox::sample_on_postgres() {
        test(pg).await;
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
