//! bantin's integration tests: one binary, one module per area. Helpers
//! live in `support/` (its `mod.rs` lists them); each module's doc lists the
//! behaviours it covers.

/// Shared helpers: the command builder, sandbox stores, servers, clients,
/// expectations worked out from the files.
mod support;

/// The binary as users run it: import, remove, dump, check, flags, errors.
mod cli;

/// The sample feeds read back by other parsers; golden files.
mod render;

/// Property tests: hostile text in every field still gives valid feeds.
mod props;

/// Issue 20: `cargo install` and the Containerfile.
mod packaging;

/// Issue 20: the page at `/` for a person, in a real browser too.
mod page;

/// Issue 20: `bantin migrate`, and commands that only read a read-only store.
mod read_only;

/// Every URL of SPEC, live store changes, and what a cached request costs.
mod http;

/// Conditional GET, caching headers and content negotiation.
mod conditional;

/// Size limits, timeouts, the connection cap, garbage, shutdown.
mod limits;

/// `bantin build` against the served bytes.
mod build;

/// Reading article files: slugs, the text layout, JSON Lines, folders.
mod import;

/// Imports bigger than memory: killed halfway, --strict at the end, the
/// keyword index bantin writes, the progress line.
mod import_scale;

/// Issue 9 on the command line: hostile records, limits, closed streams.
mod robustness;

/// Rows a CMS writes over a limit: out of `/`, the OPML list and counts.
mod held;

/// Rows a CMS writes that bantin can't read: left out, counted, named.
mod unreadable;

/// A real feed reader (Python's feedparser) subscribing over HTTP.
mod reader;

/// SPEC "Audience": the news sitemap, polite polling, subscriber counts.
mod audience;

/// Selection, order, limits and display names, as dumps show them.
mod store;

/// The PostgreSQL store: the same feeds and suite as SQLite, served live.
mod postgres;

/// Two replicas, a CMS, imports and removes on one PostgreSQL database.
mod replicas;

/// The docs' roles and grants, nginx configurations and systemd unit, run.
mod deploy;

/// 100,000 articles imported into PostgreSQL, in CI.
mod scale;

/// PostgreSQL stopped and started again under a running server.
mod outage;

/// Writes cost only the feeds they touch, on both stores.
mod writes;

/// Monthly archives walked, cached and kept in step, on both stores.
mod archives;

/// The SQLite file deleted or replaced under a running server.
mod file_swap;

/// Keyword feeds: folding, every word, markup, limits, freshness.
mod search;

/// The burst window: a burst between two polls reaches the reader whole.
mod burst;

/// The cache of rendered feeds within `cache_bytes`.
mod cache_bound;

/// WebSub: Link headers, publish pings to a real hub, retries, one leader.
mod websub;

/// Issue 17: a CMS deleting from Python's `sqlite3` (foreign keys off);
/// orphan link rows, `check --repair`.
mod cms_delete;

/// Issue 17: a damaged SQLite file, seen by `check` and `/healthz`.
mod damage;

/// Issue 20: log lines, the base_url warning, completions, the manual page.
mod operators;
