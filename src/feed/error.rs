//! Why a feed can't be made: a slug no visible article carries (404), or the store.

use crate::store::StoreError;

/// Why a feed can't be made.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A slug that no visible article carries.
    #[error("no {facet} with slug {slug:?}")]
    UnknownSlug {
        /// `category`, `region` or `author`.
        facet: &'static str,
        /// The slug asked for.
        slug: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
