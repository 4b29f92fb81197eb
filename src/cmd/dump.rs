//! `bantin dump`: one feed on stdout, the same bytes the server sends.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::article::FeedKey;
use crate::config::StoreUrl;
use crate::feed::FeedError;
use crate::render::{Format, render};

/// Write the feed `key` to stdout.
pub fn dump(
    url: &StoreUrl,
    site: &Path,
    key: FeedKey,
    format: Format,
    limit: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let site = super::load_site(site)?;
    let store = super::open_read_only(url)?;
    let now = chrono::Utc::now();
    let snap = store.snapshot()?;
    let feed = match crate::feed::load_alone(
        snap.as_ref(),
        &site,
        &key,
        now,
        limit.unwrap_or(site.items_per_feed),
        limit.is_none(),
    ) {
        Ok(feed) => feed,
        Err(e @ FeedError::UnknownSlug { .. }) => {
            super::output::err(format_args!("bantin: error: {e}"))?;
            return Ok(super::failed());
        }
        Err(e) => return Err(e.into()),
    };
    let bytes = render(&feed, format);
    let mut out = std::io::stdout().lock();
    match out.write_all(&bytes).and_then(|()| out.flush()) {
        // `bantin dump | head` is fine: the reader has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
        Ok(()) => Ok(ExitCode::SUCCESS),
    }
}
