//! The cache of rendered feeds stays within the site's `cache_bytes`
//! (SPEC "Limits"), evicting the least recently used, counted in
//! `/metrics`: a crawler asking every feed in every format and coding does
//! not grow the server past it, and every feed is still served.

use std::sync::Arc;

use bantin::config::Site;
use bantin::http::app::App;

use crate::support::{Sandbox, client, feed_path, get, metric, sample_keys, test_limits};

#[tokio::test(flavor = "multi_thread")]
async fn a_crawler_asking_everything_stays_within_cache_bytes() {
    let sample = Sandbox::with_sample();
    let text = std::fs::read_to_string(crate::support::site_file()).unwrap();
    let bound: usize = 300_000;
    let text = format!("cache_bytes = {bound}\n{text}");
    let site = Site::parse(&text, "site.toml", crate::support::root().join("feeds")).unwrap();
    let store = sample.open();
    let app = Arc::new(App::new(site, store).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bantin::http::server::run(
        app.clone(),
        listener,
        test_limits(),
        async move {
            let _ = rx.await;
        },
    ));
    let c = client();
    let keys = sample_keys();
    for key in &keys {
        for ext in ["rss", "atom", "json"] {
            for coding in ["gzip", "br"] {
                let url = format!("{base}{}", feed_path(key, ext));
                let r = get(&c, &url, &[("accept-encoding", coding)]).await;
                assert_eq!(r.status, 200, "{url} {coding}");
            }
        }
    }
    let held = metric(&c, &base, "bantin_cache_bytes").await;
    assert!(
        held <= bound as u64,
        "the cache holds {held} bytes over its {bound}"
    );
    assert!(metric(&c, &base, "bantin_cache_evictions_total").await > 0);
    let _ = tx.send(());
    let _ = server.await;
}
