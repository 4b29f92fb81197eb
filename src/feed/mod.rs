//! Feeds as data: which articles a feed holds, in which order, under which
//! names, with every date in the site's offset. The result, [`Feed`], is
//! format-neutral; `render` turns it into RSS, Atom or JSON Feed.
//!
//! One file per concern: [`catalog`] (the slugs of every facet, category,
//! region and author, and the pairs, with names and counts), [`held`]
//! (visible rows over the site's limits, uncounted), [`select`] (a feed's
//! articles: newest, burst window, one month or one page of it),
//! [`shape`] (articles into items and a titled feed), [`month`] (archive
//! months, their pages, and the documents beside them).
//!
//! Nothing here reads the clock except through the `now` it is handed, and
//! nothing iterates a hash map, so the same store gives the same feed.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod catalog;
mod error;
mod held;
mod month;
mod select;
mod shape;

pub use catalog::{Catalog, CatalogTouch, Entry};
pub use error::FeedError;
pub use month::{Archive, ArchivePage, Month};
pub use select::{burst_start, load, load_alone, load_archive, month_pages};
pub use shape::{Feed, Item, Term, search_title, shape};
