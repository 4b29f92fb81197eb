//! bantin publishes a newsroom's articles as RSS 2.0, Atom 1.0 and JSON Feed 1.1
//! feeds: one for everything, one per category, per region, per author and
//! per category within a region, a keyword feed per query, and each
//! subscription feed's archive month by month (RFC 5005). The binary in
//! `main.rs` is a thin shell over [`cmd`]; [`publish`] is what `serve`
//! ([`http`]) and `build` share.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod article;
pub mod audience;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod feed;
pub mod http;
pub mod import;
pub mod limits;
pub mod logging;
pub mod pages;
pub mod publish;
pub mod render;
pub mod sanitize;
pub mod search;
pub mod slug;
pub mod store;
pub mod text;
