//! The audience of each feed (SPEC "Audience"): how many subscribe through
//! an aggregator, as the aggregators' own User-Agents report it.
//!
//! Only the parsing lives here so far; counting per feed, keeping the
//! counts in the store and showing them (`/metrics`, `/`, `bantin stats`)
//! are still to come (issue 21).

pub mod agents;
