//! Which store a test runs on. SPEC: "Both stores pass one and the same test
//! suite". A test whose body takes the store as a parameter,
//!
//! ```ignore
//! each_store!(fn reimport_is_an_upsert);
//! fn reimport_is_an_upsert(store: StoreKind) {
//!     let sb = Sandbox::new(store);
//!     ...
//! }
//! ```
//!
//! becomes two tests, `reimport_is_an_upsert::sqlite` and
//! `reimport_is_an_upsert::postgres` (`each_store!(async fn name)` for an
//! async body, run on a multi-thread tokio runtime). Each is a test of its
//! own, so a failure names its store and `cargo test postgres` runs one
//! store. The PostgreSQL one gets a fresh database of the throwaway cluster
//! ([`crate::support::pg_cluster`]) and says it skipped where PostgreSQL is not
//! installed (under `CI` it fails instead).
//!
//! [`TestStore`] is the store a test made: its URL for the binary, a
//! connection (pool) through the library, and plain SQL as a CMS writes it.
//! The PostgreSQL client blocks on a runtime of its own, which panics on a
//! thread that drives tokio, so every PostgreSQL call here runs on a thread
//! of its own ([`off_runtime`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bantin::article::Article;
use bantin::store::Store;
use bantin::store::postgres::PostgresStore;
use bantin::store::sqlite::SqliteStore;

/// The two kinds of store SPEC names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `sqlite:PATH`, the embedded default.
    Sqlite,
    /// `postgres://…`, the store several replicas share.
    Postgres,
}

/// Make `name` a test on each store: `name::sqlite` and `name::postgres`,
/// each calling `fn name(store: StoreKind)` (or `async fn`, awaited on a
/// multi-thread runtime). The module shares the function's name (modules
/// and functions live in different namespaces).
macro_rules! each_store {
    (fn $name:ident) => {
        mod $name {
            use $crate::support::StoreKind;

            #[test]
            fn sqlite() {
                super::$name(StoreKind::Sqlite)
            }

            #[test]
            fn postgres() {
                if $crate::support::pg_cluster::available() {
                    super::$name(StoreKind::Postgres)
                }
            }
        }
    };
    (async fn $name:ident) => {
        mod $name {
            use $crate::support::StoreKind;

            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                super::$name(StoreKind::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                let available = tokio::task::spawn_blocking($crate::support::pg_cluster::available)
                    .await
                    .unwrap();
                if available {
                    super::$name(StoreKind::Postgres).await
                }
            }
        }
    };
}
pub(crate) use each_store;

/// Run `f` on a thread of its own: the PostgreSQL client blocks on a
/// runtime of its own, which it cannot do on a thread driving the tests'.
pub fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f)
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// One test's store.
#[derive(Debug, Clone)]
pub enum TestStore {
    /// A SQLite file (created with its schema on first open).
    Sqlite(PathBuf),
    /// The URL of a database of the throwaway cluster, schema in place.
    Postgres(String),
}

impl TestStore {
    /// A new store with no article: `store.db` in `dir`, or a fresh
    /// database. Only for a kind that can run here (see [`each_store!`]).
    pub fn new(kind: StoreKind, dir: &Path) -> TestStore {
        match kind {
            StoreKind::Sqlite => TestStore::Sqlite(dir.join("store.db")),
            StoreKind::Postgres => TestStore::Postgres(
                off_runtime(crate::support::pg_cluster::database_with_schema)
                    .expect("a PostgreSQL test where PostgreSQL is not installed"),
            ),
        }
    }

    /// A new store of that kind holding the sample articles.
    pub fn with_sample(kind: StoreKind, dir: &Path) -> TestStore {
        match kind {
            StoreKind::Sqlite => {
                let store = TestStore::new(kind, dir);
                store.upsert(&crate::support::sample_articles());
                store
            }
            StoreKind::Postgres => TestStore::Postgres(
                off_runtime(crate::support::pg_cluster::database_with_sample)
                    .expect("a PostgreSQL test where PostgreSQL is not installed"),
            ),
        }
    }

    /// Which kind it is.
    pub fn kind(&self) -> StoreKind {
        match self {
            TestStore::Sqlite(_) => StoreKind::Sqlite,
            TestStore::Postgres(_) => StoreKind::Postgres,
        }
    }

    /// The store URL, as `--store` takes it.
    pub fn url(&self) -> String {
        match self {
            TestStore::Sqlite(path) => format!("sqlite:{}", path.display()),
            TestStore::Postgres(url) => url.clone(),
        }
    }

    /// The SQLite file; panics on PostgreSQL (for the tests that are about
    /// the file itself).
    pub fn sqlite_file(&self) -> &Path {
        match self {
            TestStore::Sqlite(path) => path,
            TestStore::Postgres(url) => panic!("a SQLite-only test got {url}"),
        }
    }

    /// A new connection (pool) to the store, with at most `readers` read
    /// connections.
    pub fn open(&self, readers: u32) -> Box<dyn Store> {
        match self {
            TestStore::Sqlite(path) => Box::new(
                SqliteStore::open_with(path, readers).expect("opening the test's SQLite store"),
            ),
            TestStore::Postgres(url) => {
                let url = url.clone();
                off_runtime(move || {
                    Box::new(
                        PostgresStore::open_with(&url, readers)
                            .expect("opening the test's PostgreSQL store"),
                    ) as Box<dyn Store>
                })
            }
        }
    }

    /// Upsert `articles` through the library, in one transaction.
    pub fn upsert(&self, articles: &[Article]) {
        let (me, articles) = (self.clone(), articles.to_vec());
        off_runtime(move || me.open(1).upsert(&articles).expect("upserting"));
    }

    /// Run SQL statements as a CMS would, on a connection of their own, in
    /// one batch. The SQL must read the same in both dialects.
    pub fn sql(&self, sql: &str) {
        match self {
            TestStore::Sqlite(path) => cms_sqlite(path)
                .execute_batch(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            TestStore::Postgres(url) => {
                let (url, sql) = (url.clone(), sql.to_string());
                off_runtime(move || {
                    postgres::Client::connect(&url, postgres::NoTls)
                        .expect("connecting as a CMS")
                        .batch_execute(&sql)
                        .unwrap_or_else(|e| panic!("{sql}: {e}"))
                })
            }
        }
    }

    /// Run one SQL statement as a CMS would; returns the rows it changed.
    pub fn execute(&self, sql: &str) -> u64 {
        match self {
            TestStore::Sqlite(path) => cms_sqlite(path)
                .execute(sql, [])
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                as u64,
            TestStore::Postgres(url) => {
                let (url, sql) = (url.clone(), sql.to_string());
                off_runtime(move || {
                    postgres::Client::connect(&url, postgres::NoTls)
                        .expect("connecting as a CMS")
                        .execute(sql.as_str(), &[])
                        .unwrap_or_else(|e| panic!("{sql}: {e}"))
                })
            }
        }
    }
}

impl TestStore {
    /// The first column of every row a query returns, as text.
    pub fn strings(&self, sql: &str) -> Vec<String> {
        match self {
            TestStore::Sqlite(path) => {
                let conn = cms_sqlite(path);
                let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                stmt.query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            TestStore::Postgres(url) => {
                let (url, sql) = (url.clone(), sql.to_string());
                off_runtime(move || {
                    postgres::Client::connect(&url, postgres::NoTls)
                        .unwrap()
                        .query(sql.as_str(), &[])
                        .unwrap_or_else(|e| panic!("{sql}: {e}"))
                        .iter()
                        .map(|r| r.get(0))
                        .collect()
                })
            }
        }
    }
}

fn cms_sqlite(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("opening the SQLite file as a CMS");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

/// SQL text for a string literal, quotes doubled (both dialects).
pub fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
