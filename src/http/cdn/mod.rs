//! A cache in front of bantin (SPEC "Behind a CDN"): the header that
//! lists each response's keys ([`header_name`]; the values are made with
//! each rendering, `publish::rendering::cdn_keys`), and the purges sent
//! after a change: which keys ([`purger`]), the bounded backlog they wait
//! in ([`backlog`]) and the task that sends them ([`sender`]).
//!
//! What is purged: a document whose bytes changed, by its key. The
//! watcher invalidates what a write touches and renders again what the
//! cache held; a new rendering whose bytes differ from the one it replaces
//! is purged, one with the same bytes is not ([`Purger::replaced`]). A
//! touched document the cache did not hold (never asked of this replica,
//! or evicted) may still be held in front, and there is nothing to compare
//! it with: it is purged when touched ([`Purger::touched`]). So every
//! touched document is purged unless bantin knows its bytes did not
//! change: a cached feed whose oldest item is newer than the write
//! (`Rendered::reaches`), or a rendering made again with the same bytes.
//! An archive month a write reached is purged without a comparison: all
//! its pages share its key, and a write on page 2 leaves page 1 as it was.
//! A rendering made between a commit and the poll that reads it is purged
//! when touched, as WebSub pings it (see the `websub` module doc). Keyword
//! feeds share one key, `/feeds/search`, purged by any write that touches
//! a feed (bantin drops them all then too). A change that touches every
//! document (a bulk import read as a reload, a renamed display name)
//! purges `bantin`, the key every response carries.
//!
//! Keys wait in a set, sent every half second in batches of at most 256:
//! a burst of writes costs a few requests a second. A failure puts the
//! batch back and waits 1, 2, 4 … 60 s before the next try, for as long
//! as the cache is down; past [`Policy::capacity`] waiting keys, one purge
//! of `bantin` replaces them. Neither a slow nor a down cache delays a
//! response or a write: purges are sent by a task of their own. With
//! several replicas on one PostgreSQL store, only the one that leads
//! (`Store::lead`, the one that pings WebSub hubs) purges.

pub mod backlog;
pub mod purger;
pub mod sender;

use http::HeaderName;

pub use backlog::Policy;
pub use purger::{Purger, Token};
pub use sender::purge;

use crate::config::KeyHeader;

/// The header's name, made without a copy: every cached response asks.
pub fn header_name(header: KeyHeader) -> HeaderName {
    HeaderName::from_static(match header {
        KeyHeader::SurrogateKey => "surrogate-key",
        KeyHeader::Xkey => "xkey",
        KeyHeader::CacheTag => "cache-tag",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_configured_ones() {
        for h in [
            KeyHeader::SurrogateKey,
            KeyHeader::Xkey,
            KeyHeader::CacheTag,
        ] {
            assert!(header_name(h).as_str().eq_ignore_ascii_case(h.name()));
        }
    }
}
