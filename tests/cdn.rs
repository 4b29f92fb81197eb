//! Issue 22, SPEC "Behind a CDN": every document's response lists its key
//! and `bantin` in the configured header; after a write, exactly the keys
//! of the documents whose bytes changed are purged, through a real Varnish
//! (its `xkey` vmod) and through stand-ins for Fastly's and Cloudflare's
//! APIs; nginx keeps serving a stale feed while bantin is down.

use bantin::article::FeedKey;
use bantin::config::Site;

use crate::support::{
    FORMATS, Sandbox, Server, client, feed_path, fetch, get, root, sample_keys, site_file,
    test_limits,
};

/// The sample's site file with these lines added at its top and `[cdn]`
/// table at its end.
fn site_with(top: &str, cdn: &str) -> Site {
    let text = std::fs::read_to_string(site_file()).unwrap();
    Site::parse(
        &format!("{top}\n{text}\n[cdn]\n{cdn}\n"),
        "site.toml",
        root().join("feeds"),
    )
    .unwrap()
}

// Every kind of document carries its key and `bantin`, on 200, 304 and
// HEAD, in every format and coding; a keyword feed's key is
// `/feeds/search`, an archive page's its month's.
#[tokio::test(flavor = "multi_thread")]
async fn every_document_lists_its_key_in_every_format_and_coding() {
    let sample = Sandbox::with_sample();
    let server = Server::start_site(
        sample.open(),
        site_with("", "key_header = \"Surrogate-Key\""),
        test_limits(),
    )
    .await;
    let c = client();
    let mut paths: Vec<(String, String)> = Vec::new();
    for key in sample_keys() {
        for ext in FORMATS {
            paths.push((feed_path(&key, ext), format!("/feeds/{}", key.path())));
        }
    }
    for ext in FORMATS {
        paths.push((
            format!("/feeds/all/archive/2020-11.{ext}"),
            "/feeds/all/archive/2020-11".into(),
        ));
        paths.push((
            format!("/feeds/search.{ext}?q=b%C3%A3o"),
            "/feeds/search".into(),
        ));
    }
    paths.push(("/".into(), "/".into()));
    paths.push(("/feeds.opml".into(), "/feeds.opml".into()));
    for (path, key) in &paths {
        let want = format!("{key} bantin");
        let url = server.url(path);
        for coding in ["identity", "gzip", "br", "zstd"] {
            let r = get(&c, &url, &[("accept-encoding", coding)]).await;
            assert_eq!(r.status, 200, "{path}");
            assert_eq!(r.header("surrogate-key").as_deref(), Some(&*want), "{path}");
            let again = get(
                &c,
                &url,
                &[("accept-encoding", coding), ("if-none-match", &r.etag())],
            )
            .await;
            assert_eq!(again.status, 304, "{path}");
            assert_eq!(again.header("surrogate-key").as_deref(), Some(&*want));
            let head = fetch(&c, "HEAD", &url, &[("accept-encoding", coding)]).await;
            assert_eq!(head.header("surrogate-key").as_deref(), Some(&*want));
        }
    }
    // Neither errors nor the server's own endpoints are documents.
    for path in ["/feeds/category/nothing-here.rss", "/healthz", "/metrics"] {
        let r = get(&c, &server.url(path), &[]).await;
        assert_eq!(r.header("surrogate-key"), None, "{path}");
    }
    server.stop().await;
}

// Cloudflare's Cache-Tag is comma-separated; without `key_header` no
// response names a key.
#[tokio::test(flavor = "multi_thread")]
async fn cache_tag_is_comma_separated_and_no_header_means_none() {
    let sample = Sandbox::with_sample();
    let server = Server::start_site(
        sample.open(),
        site_with("", "key_header = \"Cache-Tag\""),
        test_limits(),
    )
    .await;
    let c = client();
    let r = get(&c, &server.url("/feeds/all/archive/2020-11.json"), &[]).await;
    assert_eq!(
        r.header("cache-tag").as_deref(),
        Some("/feeds/all/archive/2020-11,bantin")
    );
    server.stop().await;
    let server = Server::sample(&sample).await;
    let key = FeedKey::All;
    let r = get(&c, &server.url(&feed_path(&key, "rss")), &[]).await;
    assert_eq!(r.status, 200);
    for name in ["surrogate-key", "xkey", "cache-tag"] {
        assert_eq!(r.header(name), None);
    }
    server.stop().await;
}

/// The sample's site file with `[cdn]` lines, written into the sandbox.
fn site_file_with(sample: &Sandbox, top: &str, cdn: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(site_file()).unwrap();
    sample.write("site.toml", format!("{top}\n{text}\n[cdn]\n{cdn}\n"))
}

// `bantin build` with `key_header` writes an nginx map; the documented
// static configuration with it sends, for every kind of built document and
// its `.gz`, the keys `bantin serve` sends for the same URL.
#[tokio::test(flavor = "multi_thread")]
async fn a_static_build_sends_the_keys_serve_sends_through_nginx() {
    use crate::deploy::{doc_blocks, free_port, nginx_binary, start_nginx};
    let Some(nginx) = nginx_binary("the static site's CDN keys") else {
        return;
    };
    let sample = Sandbox::with_sample();
    let site = site_file_with(&sample, "", "key_header = \"Surrogate-Key\"");
    let public = sample.path("public");
    let built = sample
        .bantin()
        .site(&site)
        .args(["build", "--out", public.to_str().unwrap()])
        .ok_async()
        .await;
    assert!(built.status.success());
    for dir in [sample.dir(), public.as_path()] {
        let _ = std::process::Command::new("chmod")
            .arg("-R")
            .arg("a+rX")
            .arg(dir)
            .status();
    }
    let blocks = doc_blocks("docs/deployment.md", "static-nginx-cdn", "nginx");
    assert_eq!(blocks.len(), 1);
    let config = blocks[0].replace("/srv/bantin/public", &public.display().to_string());
    let port = free_port();
    let (_nginx, _dir) = start_nginx(nginx, &config, port);
    let server = Server::start_site(
        sample.open(),
        site_with("", "key_header = \"Surrogate-Key\""),
        test_limits(),
    )
    .await;
    let c = client();
    let mut paths = vec![
        "/".to_string(),
        "/feeds.opml".into(),
        "/feeds/all/archive/2020-11.rss".into(),
    ];
    for key in sample_keys() {
        paths.push(feed_path(&key, "atom"));
    }
    for path in &paths {
        let served = get(&c, &server.url(path), &[]).await;
        let keys = served.header("surrogate-key").unwrap();
        for coding in ["identity", "gzip"] {
            let r = get(
                &c,
                &format!("http://127.0.0.1:{port}{path}"),
                &[("accept-encoding", coding)],
            )
            .await;
            assert_eq!(r.status, 200, "{path}");
            assert!(r.body.len() > 10);
            assert_eq!(
                r.header("surrogate-key"),
                Some(keys.clone()),
                "{path} {coding}"
            );
        }
    }
    // The map itself is not for the public.
    let r = get(
        &c,
        &format!("http://127.0.0.1:{port}/.bantin-keys.nginx"),
        &[],
    )
    .await;
    assert_eq!(r.status, 403);
    server.stop().await;
}
