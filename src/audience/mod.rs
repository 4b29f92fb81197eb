//! The audience of each feed (SPEC "Audience"): how many subscribe through
//! an aggregator, as the aggregators' own User-Agents report it.
//!
//! Two parts are here so far: reading the counts from User-Agents, and
//! the polite-polling state. Counting per feed, keeping the counts in the
//! store, showing them (`/metrics`, `/`, `bantin stats`) and answering
//! 429 in the server are still to come (issue 21).

pub mod agents;
pub mod polite;
