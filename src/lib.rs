//! bantin publishes a newsroom's articles as RSS 2.0, Atom 1.0 and JSON Feed 1.1
//! feeds: one for everything, one per category, per region and per category
//! within a region. The binary in `main.rs` is a thin shell over [`cmd`].
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
pub mod render;
pub mod sanitize;
pub mod search;
pub mod slug;
pub mod store;
pub mod text;
