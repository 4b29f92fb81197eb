//! Helpers shared by the test modules, one concern a file. Everything a
//! test needs is re-exported here: `use crate::support::{Sandbox, get}`.
//!
//! - `command`: [`Bantin`], the one builder for running the binary.
//! - `sandbox`: [`Sandbox`], a temp folder and a store, empty or holding
//!   the sample; [`on_both`] runs a body on each store in turn.
//! - `test_store`: [`TestStore`] and [`each_store!`], each test on each store.
//! - `pg_cluster`: the throwaway PostgreSQL cluster, one database a test.
//! - `serve`: servers on port 0, in process ([`Server`]) or `bantin serve`
//!   ([`Process`]).
//! - `client`: HTTP requests read to the end, `/metrics`, [`wait_until`].
//! - `counting`: [`CountingStore`], what a request makes the store do.
//! - `sample`: the sample publication and what SPEC expects of it, worked
//!   out without bantin.
//! - `asserts`: assertions on a command's exit and output, feed parsing.
//! - `python`: whether the Python readers are installed; skipping without.
//! - `browser`: [`Browser`], a headless Chromium over WebDriver.
//!
//! The Python scripts beside these files are the independent readers the
//! tests run: `feedparser_check.py`, `reader_check.py`, `websub_hub.py`.

#![allow(dead_code)] // each test module uses a different part

mod asserts;
mod browser;
mod client;
mod command;
mod counting;
pub mod pg_cluster;
mod python;
mod sample;
mod sandbox;
mod serve;
mod test_store;

pub use asserts::*;
pub use browser::*;
pub use client::*;
pub use command::*;
pub use counting::*;
pub use python::*;
pub use sample::*;
pub use sandbox::*;
pub use serve::*;
pub use test_store::*;
