//! Serving the published documents (`publish/`) over HTTP/1.1 (hyper on
//! tokio), exactly as SPEC's URL and caching sections say. One file per
//! concern, met by a request in this order:
//!
//! 1. [`server`]: connections and their limits ([`connections`] makes room
//!    at the cap), the panic guard;
//! 2. [`router`]: size limits, `Host`, method, route, and the response;
//! 3. [`app`]: the resource's rendering, from the [`cache`] or rendered by
//!    the `scheduler` (one render per resource however many ask);
//! 4. [`encoding`]: which coding; [`conditional`]: 304, 412 or 200;
//!    [`freshness`]: `Cache-Control`.
//!
//! Beside requests, the `watch`er reads the store's change log and
//! invalidates what a change touches, and [`websub`] tells hubs which
//! feeds changed. [`metrics`] counts all of it for `/metrics`, with the process's own
//! figures from `process`.

pub mod app;
pub mod cache;
pub mod conditional;
mod connections;
pub mod encoding;
pub mod freshness;
mod health;
pub mod metrics;
mod process;
pub mod router;
mod scheduler;
pub mod server;
mod state;
mod tracked;
mod watch;
pub mod websub;
