//! `bantin serve`: the HTTP server.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use crate::config::StoreUrl;

/// Serve every feed on `listen` until SIGINT or SIGTERM.
pub fn serve(_url: &StoreUrl, _site: &Path, _listen: SocketAddr) -> anyhow::Result<ExitCode> {
    anyhow::bail!("serve is not built yet")
}
