//! The task that sends the purges: every [`Policy::every`] it takes the
//! waiting keys in batches and sends them one request at a time, while
//! this replica leads; the requests each kind of cache takes.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt, Full};

use super::backlog::Policy;
use super::purger::{Purger, Token};
use crate::config::Purge;
use crate::http::metrics::Metrics;
use crate::http::websub::Lead;
use crate::http::websub::sender::{HttpClient, http_client};

const USER_AGENT: &str = concat!("bantin/", env!("CARGO_PKG_VERSION"), " (CDN purge)");

/// The request that purges `keys` from `target` (SPEC "Behind a CDN"),
/// or `None` without a target.
pub fn request(
    target: &Purge,
    token: &Token,
    keys: &[String],
) -> Option<http::Request<Full<Bytes>>> {
    let builder = http::Request::builder().header(header::USER_AGENT, USER_AGENT);
    let (builder, body) = match target {
        Purge::None => return None,
        Purge::Varnish { url } => (
            builder
                .method(http::Method::from_bytes(b"PURGE").ok()?)
                .uri(url)
                .header("xkey", keys.join(" ")),
            Bytes::new(),
        ),
        Purge::Fastly { url, service } => (
            builder
                .method(http::Method::POST)
                .uri(format!("{url}/service/{service}/purge"))
                .header("surrogate-key", keys.join(" "))
                .header("fastly-key", &token.0)
                .header(header::ACCEPT, "application/json"),
            Bytes::new(),
        ),
        Purge::Cloudflare { url, service } => (
            builder
                .method(http::Method::POST)
                .uri(format!("{url}/zones/{service}/purge_cache"))
                .header(header::AUTHORIZATION, format!("Bearer {}", token.0))
                .header(header::CONTENT_TYPE, "application/json"),
            Bytes::from(serde_json::json!({ "tags": keys }).to_string()),
        ),
    };
    builder.body(Full::new(body)).ok()
}

/// Send one purge; `Err` says why it failed, in one line (never the
/// token: only the status or the connection's error is named).
async fn send(
    client: &HttpClient,
    target: &Purge,
    token: &Token,
    keys: &[String],
    timeout: Duration,
) -> Result<(), String> {
    let request = request(target, token, keys).ok_or("the purge request could not be made")?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| crate::store::causes(&e))?;
        let status = response.status();
        // Read (at most 64 KiB of) the answer so the connection is reused.
        let _ = http_body_util::Limited::new(response.into_body(), 64 * 1024)
            .collect()
            .await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("it answered {status}"))
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs_f64())),
    }
}

/// Where purges go, for log lines.
fn place(target: &Purge) -> &str {
    match target {
        Purge::None => "nowhere",
        Purge::Varnish { url } | Purge::Fastly { url, .. } | Purge::Cloudflare { url, .. } => url,
    }
}

/// Send the waiting purges until the task is aborted, counting them in
/// `metrics`, while `lead` says this replica is the one to send. Returns
/// at once without a purge target.
pub async fn purge(purger: Arc<Purger>, metrics: Arc<Metrics>, lead: Lead) {
    if purger.target == Purge::None {
        return;
    }
    let client = match http_client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("CDN: no HTTP client, no purges will be sent: {e}");
            return;
        }
    };
    let policy: Policy = purger.policy();
    let token = purger.token.lock().map(|t| t.clone()).unwrap_or_default();
    let place = place(&purger.target).to_string();
    let mut tick = tokio::time::interval(policy.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut down = false;
    loop {
        tick.tick().await;
        if !purger.backlog().due(Instant::now()) {
            continue;
        }
        // Asked only when there is something to purge.
        let asked = lead.clone();
        let leads = tokio::task::spawn_blocking(move || asked())
            .await
            .unwrap_or(false);
        if !leads {
            let mut backlog = purger.backlog();
            let dropped = backlog.clear();
            metrics.cdn_not_leader(dropped as u64);
            metrics.set_cdn_backlog(backlog.len(), backlog.overflows);
            continue;
        }
        loop {
            let batch = {
                let mut backlog = purger.backlog();
                if !backlog.due(Instant::now()) {
                    break;
                }
                backlog.take(policy.batch)
            };
            if batch.is_empty() {
                break;
            }
            let outcome = send(&client, &purger.target, &token, &batch, policy.timeout).await;
            let mut backlog = purger.backlog();
            match outcome {
                Ok(()) => {
                    backlog.sent(Instant::now());
                    metrics.set_cdn_backlog(backlog.len(), backlog.overflows);
                    drop(backlog);
                    metrics.cdn_purge(true);
                    if std::mem::take(&mut down) {
                        tracing::info!("CDN {place} takes purges again");
                    }
                    tracing::debug!("CDN: purged {}", batch.join(" "));
                }
                Err(why) => {
                    let keys = batch.len();
                    let wait = backlog.failed(batch, Instant::now(), &policy);
                    metrics.set_cdn_backlog(backlog.len(), backlog.overflows);
                    drop(backlog);
                    metrics.cdn_purge(false);
                    if std::mem::replace(&mut down, true) {
                        tracing::debug!(
                            "CDN: a purge of {keys} keys at {place} failed again: {why}; next try in {} s",
                            wait.as_secs_f64()
                        );
                    } else {
                        tracing::warn!(
                            "CDN: a purge of {keys} keys at {place} failed: {why}; retrying with \
                             backoff (further failures are logged at debug level until it answers)"
                        );
                    }
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cache_gets_its_own_request() {
        let keys = vec!["/feeds/all".to_string(), "/".to_string()];
        let token = Token::new("t0k".into());
        let v = Purge::Varnish {
            url: "http://127.0.0.1:6081/".into(),
        };
        let r = request(&v, &token, &keys).unwrap();
        assert_eq!(r.method().as_str(), "PURGE");
        assert_eq!(r.headers()["xkey"], "/feeds/all /");
        let f = Purge::Fastly {
            url: "https://api.fastly.com".into(),
            service: "SU1Z0isxPaozGVKXdv0eY".into(),
        };
        let r = request(&f, &token, &keys).unwrap();
        assert_eq!(
            r.uri(),
            "https://api.fastly.com/service/SU1Z0isxPaozGVKXdv0eY/purge"
        );
        assert_eq!(r.headers()["fastly-key"], "t0k");
        let c = Purge::Cloudflare {
            url: "https://api.cloudflare.com/client/v4".into(),
            service: "023e105f4ecef8ad9ca31a8372d0c353".into(),
        };
        let r = request(&c, &token, &keys).unwrap();
        assert_eq!(
            r.uri(),
            "https://api.cloudflare.com/client/v4/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache"
        );
        assert_eq!(r.headers()["authorization"], "Bearer t0k");
        assert!(request(&Purge::None, &token, &keys).is_none());
    }
}
