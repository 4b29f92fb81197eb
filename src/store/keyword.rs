//! Keyword feeds checked against their text, both stores: an index offers
//! candidates (SQLite's FTS5 may offer false ones, a queued article any
//! word), and an article is in the feed only if its visible text holds
//! every word ([`crate::search::matches`]).

use super::StoreError;
use crate::article::Article;

/// One round of a keyword feed's candidates, newest first.
pub(crate) struct Candidates {
    /// The articles the index offers (and, on SQLite, those written since
    /// it was last brought up to date), to be checked against their text.
    pub articles: Vec<Article>,
    /// Whether there are no more: the index gave fewer than asked.
    pub exhausted: bool,
}

/// A keyword feed from an index that may offer false candidates: ask
/// `fetch` for `limit` candidates and more, keep those whose text holds
/// every word, until `limit` are kept, the candidates run out, or the
/// budget is spent: then the feed holds what the last round kept (rows:
/// no round asks more than the budget leaves; time: the backends interrupt
/// a statement past it, and the round before counts).
pub(crate) fn verified_search(
    words: &str,
    limit: usize,
    budget: crate::search::Budget,
    mut fetch: impl FnMut(usize) -> Result<Candidates, StoreError>,
) -> Result<Vec<Article>, StoreError> {
    let wanted: Vec<&str> = words.split(' ').filter(|w| !w.is_empty()).collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut best: Vec<Article> = Vec::new();
    let mut read = 0usize;
    let mut ask = limit.saturating_add(8).min(budget.rows.max(1));
    let started = std::time::Instant::now();
    loop {
        let round = match fetch(ask) {
            Ok(round) => round,
            Err(e) if e.is_timeout() => {
                tracing::debug!("keyword feed `{words}` over its time budget: {e}");
                break;
            }
            Err(e) => return Err(e),
        };
        read = read.saturating_add(round.articles.len());
        let mut kept: Vec<Article> = round
            .articles
            .into_iter()
            .filter(|a| crate::search::matches(a, &wanted))
            .collect();
        if kept.len() >= limit || round.exhausted {
            kept.truncate(limit);
            return Ok(kept);
        }
        best = kept;
        if started.elapsed() >= budget.time {
            tracing::debug!("keyword feed `{words}` over its time budget");
            break;
        }
        let next = ask.saturating_mul(4).min(budget.rows.saturating_sub(read));
        if next <= ask {
            tracing::debug!(
                "keyword feed `{words}` over its budget of {} rows",
                budget.rows
            );
            break;
        }
        ask = next;
    }
    best.truncate(limit);
    Ok(best)
}
