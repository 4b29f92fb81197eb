//! The task that sends the queued pings: once a second it takes those
//! that are due, a few at a time, each a task of its own, while this
//! replica leads; and what it makes of each answer.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;

use super::publisher::Publisher;
use super::queue::Settled;
use crate::http::metrics::Metrics;

pub(crate) type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
pub(crate) type HttpClient = Client<Connector, Full<Bytes>>;

/// An HTTP/1.1 client for http and https hubs: rustls with *ring* and the
/// system's CA certificates. Without any (a bare container), https hubs
/// fail their handshake and say so in the log.
pub(crate) fn http_client() -> Result<HttpClient, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider.clone())
    {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(
                "no CA certificates ({e}): WebSub pings and CDN purges to https URLs will fail"
            );
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup: {e}"))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    let connector = builder.https_or_http().enable_http1().build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// The ping's body: `hub.mode=publish&hub.url={url}`, form-encoded.
fn form(url: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "publish")
        .append_pair("hub.url", url)
        .finish()
}

/// Send one ping; `Err` says why it failed, in one line.
async fn ping(client: &HttpClient, hub: &str, url: &str, timeout: Duration) -> Result<(), String> {
    let request = http::Request::post(hub)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(
            header::USER_AGENT,
            concat!("bantin/", env!("CARGO_PKG_VERSION"), " (WebSub publisher)"),
        )
        .body(Full::new(Bytes::from(form(url))))
        .map_err(|e| e.to_string())?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| crate::store::causes(&e))?;
        let status = response.status();
        // Read the answer so the connection can be reused; a hub says
        // little, and one that says more is not read past 64 KiB.
        let _ = http_body_util::Limited::new(response.into_body(), 64 * 1024)
            .collect()
            .await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the hub answered {status}"))
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs_f64())),
    }
}

/// Whether this replica sends the WebSub pings (`Store::lead`). Blocking.
pub type Lead = Arc<dyn Fn() -> bool + Send + Sync>;

/// Send the queued pings until the task is aborted, counting them in
/// `metrics`, while `lead` says this replica is the one to send. Returns
/// at once when the site names no hub.
pub async fn publish(publisher: Arc<Publisher>, metrics: Arc<Metrics>, lead: Lead) {
    if publisher.hubs.is_empty() {
        return;
    }
    let client = match http_client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("WebSub: no HTTP client, no pings will be sent: {e}");
            return;
        }
    };
    let policy = publisher.policy();
    let wire = Arc::new(Semaphore::new(policy.concurrency.max(1)));
    let mut tick = tokio::time::interval(policy.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Instant::now();
        if !publisher.queue().any_due(now) {
            continue;
        }
        // Asked only when there is something to send: an idle server
        // makes no query for it.
        let asked = lead.clone();
        let leads = tokio::task::spawn_blocking(move || asked())
            .await
            .unwrap_or(false);
        metrics.set_leader(leads);
        if !leads {
            let dropped = publisher.queue().clear_waiting();
            metrics.pings_not_leader(dropped as u64);
            metrics.set_ping_queue(publisher.len());
            continue;
        }
        let taken = publisher.queue().take_due(now, wire.available_permits());
        for (hub, url) in taken {
            // Free: no more were taken than there were permits, and only
            // this loop acquires them.
            let Ok(permit) = wire.clone().acquire_owned().await else {
                return;
            };
            let (publisher, metrics) = (publisher.clone(), metrics.clone());
            let client = client.clone();
            tokio::spawn(async move {
                let address = publisher.hubs.get(hub).cloned().unwrap_or_default();
                let outcome = ping(&client, &address, &url, policy.timeout).await;
                drop(permit);
                publisher.report(hub, &address, &url, outcome, &metrics);
            });
        }
    }
}

impl Publisher {
    /// Settle a ping that came back, count it and log what is worth a line.
    fn report(
        &self,
        hub: usize,
        address: &str,
        url: &str,
        outcome: Result<(), String>,
        metrics: &Metrics,
    ) {
        let ping = (hub, url.to_string());
        let mut queue = self.queue();
        let was_down = queue.down.contains(&hub);
        let settled = queue.settle(&ping, outcome.is_ok(), Instant::now(), &self.policy());
        if outcome.is_err() {
            queue.down.insert(hub);
        }
        metrics.set_ping_queue(queue.entries.len());
        drop(queue);
        match (settled, outcome) {
            (_, Ok(())) => {
                metrics.ping_sent();
                if was_down {
                    tracing::info!("WebSub hub {address} answers again");
                }
                tracing::debug!("WebSub: pinged {address} for {url}");
            }
            (Settled::GaveUp, Err(why)) => {
                metrics.ping_failed();
                metrics.ping_given_up();
                tracing::warn!(
                    "WebSub: gave up pinging {address} for {url} after {} tries: {why}",
                    self.policy().max_tries
                );
            }
            (settled, Err(why)) => {
                metrics.ping_failed();
                let wait = match settled {
                    Settled::Retry(w) => w,
                    _ => Duration::ZERO,
                };
                if was_down {
                    tracing::debug!(
                        "WebSub: ping to {address} for {url} failed again: {why}; next try in {} s",
                        wait.as_secs()
                    );
                } else {
                    tracing::warn!(
                        "WebSub hub {address} failed a ping for {url}: {why}; retrying with \
                         backoff (its further failures are logged at debug level until it answers)"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ping_is_the_publish_form() {
        assert_eq!(
            form("http://x.example/feeds/category/kinh-te.rss"),
            "hub.mode=publish&hub.url=http%3A%2F%2Fx.example%2Ffeeds%2Fcategory%2Fkinh-te.rss"
        );
    }
}
