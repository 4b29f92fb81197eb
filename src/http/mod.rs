//! Serving feeds over HTTP/1.1 (hyper on tokio), exactly as SPEC's URL and
//! caching sections say. One file per concern, met by a request in this
//! order: [`server`] (connections and limits; [`connections`] makes room
//! at the cap) → [`router`] (limits, method,
//! route) → [`app`] and [`cache`] (the catalog, rendered representations;
//! [`watch`] and [`invalidation`] keep them in step with the store; [`websub`]
//! tells hubs what changed) → [`encoding`] (which
//! coding) → [`conditional`] (304 or not). [`representation`] and [`etag`]
//! are shared with `bantin build`.

pub mod app;
pub mod cache;
pub mod conditional;
mod connections;
pub mod encoding;
pub mod etag;
pub mod invalidation;
pub mod metrics;
pub mod representation;
pub mod router;
pub mod server;
pub mod watch;
pub mod websub;
