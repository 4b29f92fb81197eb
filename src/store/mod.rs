//! The article store: the one interface every backend implements, so the
//! rest of bantin never sees SQL. SQLite is the embedded default
//! ([`sqlite::SqliteStore`]); [`postgres::PostgresStore`] is the one several
//! replicas share.

pub mod postgres;
mod row;
pub mod sqlite;

use chrono::{DateTime, Utc};

use crate::article::{Article, Facet, FeedKey};
use crate::config::StoreUrl;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store can't be opened or created at that location.
    #[error("cannot open store {url}: {reason}")]
    Open {
        /// The store URL, password redacted.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The SQLite backend reported an error.
    #[error("store: {0}")]
    Backend(#[from] rusqlite::Error),
    /// The PostgreSQL backend reported an error (a lost connection, a
    /// failed statement). Shown with its causes in one line, and not as a
    /// `source`: postgres says only "db error" and keeps the server's
    /// message in its source, which the cause chain would then repeat.
    #[error("store: {}", postgres::reason(.0))]
    Postgres(::postgres::Error),
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> StoreError {
        StoreError::Postgres(e)
    }
}

/// One display name of a category or region as the store holds it, with the
/// number of visible articles carrying it (for SPEC's slug-collision rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameUse {
    /// The name's slug.
    pub slug: String,
    /// The name as written.
    pub name: String,
    /// Visible articles carrying this exact name.
    pub articles: u64,
    /// The newest `published` instant among them.
    pub newest: Option<DateTime<Utc>>,
}

/// A category and region that share visible articles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// Category slug.
    pub category: String,
    /// Region slug.
    pub region: String,
    /// Visible articles in both.
    pub articles: u64,
    /// The newest `published` instant among them.
    pub newest: Option<DateTime<Utc>>,
}

/// A problem `bantin check` reports about a stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The article's id.
    pub id: String,
    /// What is wrong with it.
    pub reason: String,
}

/// An article store. Reads take `now` so that scheduled articles (published
/// in the future) stay out until their time without any write.
pub trait Store: Send {
    /// Insert or replace `articles` by id, all in one transaction.
    fn upsert(&mut self, articles: &[Article]) -> Result<(), StoreError>;
    /// Delete `ids` in one transaction; returns the ids that were not there.
    fn remove(&mut self, ids: &[String]) -> Result<Vec<String>, StoreError>;
    /// The newest `limit` visible articles of a feed, newest `published`
    /// instant first, ties by id in descending byte order. Rows that can't be
    /// decoded are left out (and logged); `check` reports them.
    fn feed(
        &self,
        key: &FeedKey,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError>;
    /// Every name of a facet carried by a visible article, with its use count.
    fn names(&self, facet: Facet, now: DateTime<Utc>) -> Result<Vec<NameUse>, StoreError>;
    /// The names of one slug carried by visible articles, with use counts.
    /// Backends override this with a query that reads that slug's rows only.
    fn names_of(
        &self,
        facet: Facet,
        slug: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<NameUse>, StoreError> {
        Ok(self
            .names(facet, now)?
            .into_iter()
            .filter(|u| u.slug == slug)
            .collect())
    }
    /// Every category/region pair sharing a visible article.
    fn pairs(&self, now: DateTime<Utc>) -> Result<Vec<Pair>, StoreError>;
    /// Number of visible articles, and the newest `published` instant among them.
    fn count(&self, now: DateTime<Utc>) -> Result<(u64, Option<DateTime<Utc>>), StoreError>;
    /// A token that changes whenever anyone commits a write to the store.
    fn change_token(&self) -> Result<u64, StoreError>;
    /// The earliest `published` instant after `now`, if any: when the next
    /// scheduled article becomes visible.
    fn next_scheduled(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Rows that break the documented schema rules (bad dates, slugs, JSON).
    fn audit(&self) -> Result<Vec<Problem>, StoreError>;
}

/// Open (creating if needed) the store a URL names.
pub fn open(url: &StoreUrl) -> Result<Box<dyn Store>, StoreError> {
    match url {
        StoreUrl::Sqlite(path) => Ok(Box::new(sqlite::SqliteStore::open(path)?)),
        StoreUrl::Postgres(u) => Ok(Box::new(postgres::PostgresStore::open(u)?)),
    }
}

/// Microseconds since the Unix epoch: the stored sort key of an instant.
pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}
