//! `bantin serve`: the HTTP server.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{DEFAULT_STORE, StoreUrl};
use crate::http::app::App;
use crate::http::server::{Limits, run, shutdown_signal};
use crate::logging::LogFormat;

/// Serve every feed on `listen` until SIGINT or SIGTERM. On a fresh
/// checkout (default store, no file yet) first import the sample articles.
pub fn serve(
    url: &StoreUrl,
    site_path: &Path,
    listen: SocketAddr,
    log_format: LogFormat,
) -> anyhow::Result<ExitCode> {
    crate::logging::init(log_format);
    let site = super::load_site(site_path)?;
    if site.cdn != crate::config::Cdn::default() {
        let _ = super::output::err(format_args!(
            "bantin: warning: {}: [cdn] is read but not in force in this \
             version (docs/configuration.md)",
            site_path.display()
        ));
    }
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
    let base_url = site.base_url.clone();
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
        if let Some(warning) = elsewhere(&base_url, addr) {
            let _ = super::output::err(format_args!("bantin: warning: {warning}"));
        }
        run(app, listener, Limits::default(), shutdown_signal()).await;
        Ok::<_, anyhow::Error>(())
    });
    // A render still running in a blocking thread must not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served?;
    Ok(ExitCode::SUCCESS)
}

/// Why the links bantin writes would not lead to this server, when its
/// `base_url` is a loopback address (the sample's, a first try's) that
/// names another port, or this server listens beyond the loopback: every
/// link on `/`, in the feeds and in the OPML list goes to `base_url`.
fn elsewhere(base_url: &str, addr: SocketAddr) -> Option<String> {
    let uri: http::Uri = base_url.parse().ok()?;
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return None;
    }
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    if port != addr.port() {
        Some(format!(
            "the site's base_url {base_url} names port {port}, not {}: every link on /, in the \
             feeds and in the OPML list leads there (set base_url in the site file)",
            addr.port()
        ))
    } else if !addr.ip().is_loopback() {
        Some(format!(
            "listening on {addr} while the site's base_url {base_url} is a loopback address: \
             links lead other machines to themselves (set base_url in the site file)"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::elsewhere;

    #[test]
    fn links_elsewhere_are_named() {
        let at = |a: &str| a.parse().unwrap();
        let base = "http://127.0.0.1:8080";
        assert_eq!(elsewhere(base, at("127.0.0.1:8080")), None);
        assert!(
            elsewhere(base, at("127.0.0.1:8098"))
                .unwrap()
                .contains("port 8080, not 8098")
        );
        assert!(
            elsewhere(base, at("0.0.0.0:8080"))
                .unwrap()
                .contains("loopback")
        );
        assert!(elsewhere("http://localhost/", at("127.0.0.1:8080")).is_some());
        assert_eq!(elsewhere("http://[::1]:8080", at("[::1]:8080")), None);
        // A public base_url is the operator's choice (a proxy in front).
        assert_eq!(
            elsewhere("https://tin.example.vn", at("127.0.0.1:8098")),
            None
        );
    }
}
