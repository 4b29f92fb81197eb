//! The audience of each feed (SPEC "Audience"): how many subscribe through
//! an aggregator, as the aggregators' own User-Agents report it, how many
//! read it directly, and how each fetcher polls.
//!
//! - `agents`: counts and fetcher names read from User-Agents.
//! - `polite`: polite polling's state (the 429 rule).
//! - `tally`: counting off the request path, flushed to the store in
//!   batches.
//! - `report`: the counts as `/metrics`, `/` and `bantin stats` show them.

pub mod agents;
pub mod polite;
pub mod report;
pub mod tally;
