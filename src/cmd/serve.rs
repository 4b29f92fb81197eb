//! `bantin serve`: the HTTP server.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{DEFAULT_STORE, StoreUrl};
use crate::http::app::App;
use crate::http::server::{Limits, run, shutdown_signal};

/// Serve every feed on `listen` until SIGINT or SIGTERM. On a fresh
/// checkout (default store, no file yet) first import the sample articles.
pub fn serve(url: &StoreUrl, site_path: &Path, listen: SocketAddr) -> anyhow::Result<ExitCode> {
    init_logging();
    let site = super::load_site(site_path)?;
    let first_run = *url == StoreUrl::parse(DEFAULT_STORE)?
        && matches!(url, StoreUrl::Sqlite(p) if !p.exists());
    // A read connection per core (and one more), so that cold renders use
    // every core.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let store = super::open_store_with(url, u32::try_from(cores + 1).unwrap_or(4))?;
    if first_run {
        let dir = site.articles_dir();
        let batch = crate::import::read_paths_with(std::slice::from_ref(&dir), &site.limits);
        for r in &batch.rejected {
            let _ = super::output::err(r);
        }
        store.upsert(&batch.articles)?;
        let _ = super::output::err(format_args!(
            "bantin: created {url} and imported {} articles from {} ({} rejected)",
            batch.articles.len(),
            dir.display(),
            batch.rejected.len()
        ));
    }
    super::adopt_limits(store.as_ref(), &site, url);
    let app = Arc::new(App::new(site, store)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        let _ = super::output::err(format_args!("bantin: serving {url} on http://{addr}/"));
        run(app, listener, Limits::default(), shutdown_signal()).await;
        Ok::<_, anyhow::Error>(())
    });
    // A render still running in a blocking thread must not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served?;
    Ok(ExitCode::SUCCESS)
}

/// Request logs and warnings to stderr; `RUST_LOG` tunes them (default info).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
