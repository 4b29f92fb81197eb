//! The store's common words (migration 8): the words listed in
//! `bantin_common_words` stay out of the keyword index, each article
//! keeping them as bits of `common_bits`; a writer lists the words common
//! in the first articles of an import.

use std::sync::Arc;

use super::pool::PgConn;
use super::words::WordMap;

/// A writer holds its first this many articles, counting their words
/// (made on its own thread, asking over its own connection), as a sample
/// of the words of what it writes, before it makes their rows (folding
/// their words again: 0.31 s with their rows, where keeping the words
/// took 50 MB); past them, rows are made on a thread (with a connection
/// of its own). A small import pays for neither. 5,000 articles: weeks of a busy newsroom, so
/// that a story of the week does not make its words common.
pub(super) const COMMON_SAMPLE: usize = 5_000;

/// A word in at least one in this many of the sample's articles is common:
/// its feed fills from the newest articles (a feed of 50 within about 250
/// rows) without the keyword index. On the bench corpus the words this
/// common hold 97% of the index's entries.
const COMMON_SHARE: usize = 5;

/// The store's common words (migration 8), with their bits.
pub(super) type Common = Arc<WordMap<u32>>;

/// The store's common words with their bits, as this transaction sees
/// them.
pub(super) fn common_words(conn: &mut PgConn) -> Result<WordMap<u32>, postgres::Error> {
    conn.query("SELECT word, bit FROM bantin_common_words", &[])?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                u32::try_from(r.try_get::<_, i32>(1)?).unwrap_or(0),
            ))
        })
        .collect()
}

/// The words of a sample common enough to list (see [`COMMON_SHARE`]) and
/// not listed yet, sorted: `counts` says in how many of its `articles`
/// each word is. A word with a digit is never listed: years and numbers
/// are common for a while and then rare, and a listed word's feed walks
/// the articles back to where it was common.
pub(super) fn common_in(
    counts: &WordMap<usize>,
    articles: usize,
    listed: &WordMap<u32>,
) -> Vec<String> {
    let mut common: Vec<String> = counts
        .iter()
        .filter(|(w, n)| {
            **n * COMMON_SHARE >= articles
                && !w.chars().any(char::is_numeric)
                && !listed.contains_key(*w)
        })
        .map(|(w, _)| w.clone())
        .collect();
    common.sort_unstable();
    common
}
