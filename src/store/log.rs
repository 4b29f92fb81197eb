//! The types the change log speaks: where a reader stands in it
//! ([`LogPosition`]), what it says happened ([`Changes`], [`Change`]), and
//! where an article stands now ([`Placement`]), the answers the server's
//! watcher turns into the feeds a write touched. Each backend writes and
//! reads its own log (SQLite: `bantin_log` by `seq`; PostgreSQL: by
//! transaction snapshot) and speaks these.

use chrono::{DateTime, Utc};

use crate::article::Facet;

/// Where a reader of the change log stands: everything before it has been
/// read. Opaque; only the backend that made it understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPosition(pub(crate) Position);

impl LogPosition {
    /// The position as one line of text, for a reader that keeps it between
    /// runs (`bantin build`'s manifest); [`LogPosition::parse`] reads it.
    pub fn to_text(&self) -> String {
        match &self.0 {
            Position::Seq(seq) => format!("seq {seq}"),
            Position::Snapshot(snapshot) => format!("snapshot {snapshot}"),
        }
    }

    /// A position written by [`LogPosition::to_text`]; `None` for any other
    /// text (a hand-edited file must not reach the store as SQL input of
    /// the wrong shape).
    pub fn parse(text: &str) -> Option<LogPosition> {
        if let Some(seq) = text.strip_prefix("seq ") {
            return seq.parse().ok().map(|s| LogPosition(Position::Seq(s)));
        }
        let snapshot = text.strip_prefix("snapshot ")?;
        // pg_snapshot's text form: xmin:xmax:xip,xip,...
        let well_formed = snapshot.split(':').count() == 3
            && snapshot
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b':' || b == b',');
        well_formed.then(|| LogPosition(Position::Snapshot(snapshot.to_string())))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Position {
    /// SQLite: the last `seq` read (one writer at a time, so `seq` order is
    /// commit order).
    Seq(i64),
    /// PostgreSQL: the snapshot (`pg_current_snapshot()` as text) of the
    /// last read: a row is new if its transaction was not visible in it.
    Snapshot(String),
}

/// One row of the change log: an article row or a link row as it was
/// before a change or is after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The article's id.
    pub article_id: String,
    /// `None` for the article's own row, else the facet of the link row.
    pub facet: Option<Facet>,
    /// The link row's slug.
    pub slug: Option<String>,
    /// The row's `published_us` then.
    pub published: Option<DateTime<Utc>>,
}

/// What the log says happened since a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    /// These rows, in order; the reader now stands at `next`.
    Rows {
        /// The rows.
        rows: Vec<Change>,
        /// The new position.
        next: LogPosition,
    },
    /// Anything may have changed: the log was trimmed past the position, a
    /// bulk import logged "everything", or there were more rows than asked
    /// for. The reader should reload everything, and stands at `next`.
    Everything {
        /// The new position.
        next: LogPosition,
    },
}

/// Where an article stands now: what its feeds are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The article's id.
    pub id: String,
    /// Its `published` instant.
    pub published: DateTime<Utc>,
    /// Its category slugs.
    pub categories: Vec<String>,
    /// Its region slugs.
    pub regions: Vec<String>,
    /// Its author slugs.
    pub authors: Vec<String>,
}

/// A log row's `facet` column: `Ok(None)` for an article row, `Err(())` for
/// "everything".
pub(crate) fn logged_facet(code: &str) -> Result<Option<Facet>, ()> {
    match code {
        "a" => Ok(None),
        "c" => Ok(Some(Facet::Category)),
        "r" => Ok(Some(Facet::Region)),
        "u" => Ok(Some(Facet::Author)),
        _ => Err(()),
    }
}
