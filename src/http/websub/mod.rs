//! WebSub publishing (W3C Recommendation, 2018; SPEC "WebSub"): the
//! `Link` headers a subscription feed's response carries ([`links`]), and
//! the publish pings `bantin serve` sends its hubs when a feed's bytes
//! change: what changed ([`publisher`]), the queue of pings ([`queue`])
//! and the task that sends them ([`sender`]).
//!
//! A ping is `POST {hub}` with the form `hub.mode=publish&hub.url={feed
//! URL}`. The Recommendation leaves publishing to each hub; this is the
//! form PubSubHubbub 0.4 named and public hubs accept. The hub then fetches
//! the feed and sends it to its subscribers, so a ping carries no content
//! and one ping covers any number of changes made before the hub fetches.
//!
//! Pings go through a bounded queue keyed by (hub, feed URL): a feed that
//! changes again before its ping goes out is pinged once, and a change
//! made while its ping is on the wire gets a ping of its own afterwards
//! (the hub may have fetched before it). Once a second the sender takes
//! the pings that are due, a few at a time, each a task of its own so that
//! a slow hub holds no one else up. A ping that fails (no connection, a
//! timeout, an answer other than 2xx) is tried again after 2 s, 4 s, 8 s…
//! (at most 5 minutes apart), and given up after [`Policy::max_tries`].
//! Logs stay quiet while a hub is down: one warning when it stops
//! answering, one line when it answers again, and one per ping given up;
//! the retries in between are at debug level. `/metrics` counts the rest.
//!
//! What changed: the watcher invalidates the feeds a write touches and
//! renders again those the cache held; a new rendering whose bytes differ
//! from the one it replaces is a change ([`Publisher::replaced`]). A feed
//! the cache did not hold has nothing to compare with, so being touched is
//! its change ([`Publisher::touched`]). One case needs care: a feed
//! rendered between a commit and the poll that reads it may already hold
//! the write, and its re-render would then compare equal. Renders note the
//! poll generation after taking their store snapshot; a touched feed
//! rendered since the poll before this one is pinged when touched, and its
//! re-render is not pinged again.
//!
//! With several replicas on one PostgreSQL store, only the one holding the
//! store's lead ([`crate::store::Store::lead`]) sends; the others drop
//! their pings. Every replica renders the same bytes from the same store,
//! so the leader's pings are the ones all of them would send.

pub mod links;
pub mod publisher;
pub mod queue;
pub mod sender;

pub use links::{links, moved, topic};
pub use publisher::Publisher;
pub use queue::{Policy, Settled};
pub use sender::{Lead, publish};
