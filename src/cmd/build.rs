//! `bantin build`: every URL as a static file.

use std::path::Path;
use std::process::ExitCode;

use crate::config::StoreUrl;

/// Write every feed, `index.html` and `feeds.opml` under `out`.
pub fn build(_url: &StoreUrl, _site: &Path, _out: &Path) -> anyhow::Result<ExitCode> {
    anyhow::bail!("build is not built yet")
}
