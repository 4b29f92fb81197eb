//! Issue 22, SPEC "Behind a CDN": every document's response lists its key
//! and `bantin` in the configured header; after a write, exactly the keys
//! of the documents whose bytes changed are purged, through a real Varnish
//! (its `xkey` vmod) and through stand-ins for Fastly's and Cloudflare's
//! APIs; nginx keeps serving a stale feed while bantin is down.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bantin::article::FeedKey;
use bantin::config::Site;

use crate::support::{
    FORMATS, Process, Sandbox, Server, client, feed_path, fetch, get, root, sample_keys, site_file,
    test_limits, wait_until,
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
    paths.push(("/sitemap-news.xml".into(), "/sitemap-news.xml".into()));
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

/// What a stand-in API answers a request with.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// No answer at all (the client times out).
    Hang,
}

/// A request a stand-in received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: http::HeaderMap,
    body: Vec<u8>,
    /// The status it was answered with (`None`: no answer).
    answered: Option<u16>,
}

/// A local HTTP server standing in for Fastly's or Cloudflare's API:
/// records every request, answers the scripted answers in turn, then 200.
struct StandIn {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    task: tokio::task::JoinHandle<()>,
}

impl StandIn {
    async fn start(script: &[Answer]) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (s, q) = (seen.clone(), script.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (seen, script) = (s.clone(), q.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| {
                            let (seen, script) = (seen.clone(), script.clone());
                            async move {
                                let (parts, body) = req.into_parts();
                                let body = http_body_util::BodyExt::collect(body)
                                    .await
                                    .map(|b| b.to_bytes().to_vec())
                                    .unwrap_or_default();
                                let answer = script
                                    .lock()
                                    .unwrap()
                                    .pop_front()
                                    .unwrap_or(Answer::Status(200));
                                let answered = match answer {
                                    Answer::Status(s) => Some(s),
                                    Answer::Hang => None,
                                };
                                seen.lock().unwrap().push(Seen {
                                    method: parts.method.to_string(),
                                    path: parts.uri.path().to_string(),
                                    headers: parts.headers,
                                    body,
                                    answered,
                                });
                                let status = match answer {
                                    Answer::Status(s) => s,
                                    Answer::Hang => {
                                        tokio::time::sleep(Duration::from_secs(120)).await;
                                        200
                                    }
                                };
                                let mut r = http::Response::new(http_body_util::Full::new(
                                    bytes::Bytes::from_static(b"{\"status\":\"ok\"}"),
                                ));
                                *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                                Ok::<_, std::convert::Infallible>(r)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        StandIn {
            base,
            seen,
            script,
            task,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Answer the next requests with these.
    fn then(&self, answers: &[Answer]) {
        self.script.lock().unwrap().extend(answers.iter().copied());
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The keys a request purges, as its kind of API names them.
fn keys_of(seen: &Seen) -> Vec<String> {
    if let Some(v) = seen.headers.get("surrogate-key") {
        return v.to_str().unwrap().split(' ').map(str::to_string).collect();
    }
    if let Some(v) = seen.headers.get("xkey") {
        return v.to_str().unwrap().split(' ').map(str::to_string).collect();
    }
    let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
    body["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// The keys purged with a 2xx answer among these requests.
fn purged(seen: &[Seen]) -> BTreeSet<String> {
    seen.iter()
        .filter(|s| s.answered.is_some_and(|a| (200..300).contains(&a)))
        .flat_map(keys_of)
        .collect()
}

/// A labelled sample's value in `/metrics` text.
fn sample_value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
}

/// The keys of every document an article in this new category and
/// region, published in `month`, is in.
fn keys_of_new(category: &str, region: &str, month: &str) -> BTreeSet<String> {
    let (c, r) = (
        bantin::slug::slugify(category),
        bantin::slug::slugify(region),
    );
    let feeds = [
        "/feeds/all".to_string(),
        format!("/feeds/category/{c}"),
        format!("/feeds/region/{r}"),
        format!("/feeds/category/{c}/region/{r}"),
    ];
    let mut keys: BTreeSet<String> = feeds
        .iter()
        .flat_map(|f| [f.clone(), format!("{f}/archive/{month}")])
        .collect();
    keys.extend(["/feeds/search", "/", "/feeds.opml"].map(String::from));
    keys
}

/// The sample's site file with `[cdn]` purging to Fastly's stand-in.
const TOKEN: &str = "tok-S3CRET-2b7f";

// Fastly's stand-in gets, after a write, exactly the keys of the
// documents it changed (POST /service/{id}/purge, Surrogate-Key,
// Fastly-Key from BANTIN_CDN_TOKEN), after a first answer of 500 is
// retried; a write that leaves a cached feed's bytes as they were does not
// purge it; the token is in no log line, at debug level.
#[tokio::test(flavor = "multi_thread")]
async fn fastly_purges_exactly_what_a_write_changed_with_the_token_from_the_environment() {
    let sample = Sandbox::with_sample();
    let api = StandIn::start(&[Answer::Status(500)]).await;
    let site = site_file_with(
        &sample,
        "",
        &format!(
            "key_header = \"Surrogate-Key\"\npurge = \"fastly\"\npurge_url = \"{}/\"\n\
             service = \"SU1Z0isxPaozGVKXdv0eY\"",
            api.base
        ),
    );
    let server = Process::serve(
        sample
            .bantin()
            .site(&site)
            .env("BANTIN_CDN_TOKEN", TOKEN)
            .log("debug"),
    );
    let c = client();
    // A feed held in every format, which a no-op write will leave as it is.
    let held = sample_keys()
        .into_iter()
        .find(|k| matches!(k, FeedKey::Category(_)))
        .unwrap();
    for ext in FORMATS {
        assert_eq!(
            get(&c, &server.url(&feed_path(&held, ext)), &[])
                .await
                .status,
            200
        );
    }
    sample.upsert([crate::support::article(
        "cdn-fastly-1",
        &["Thử CDN"],
        &["Vùng CDN"],
        "2026-12-01T08:00:00+07:00",
    )]);
    let want = keys_of_new("Thử CDN", "Vùng CDN", "2026-12");
    let took = wait_until(Duration::from_secs(30), || async {
        purged(&api.seen()) == want
    })
    .await;
    assert!(
        took.is_some(),
        "purged {:?}, want {want:?}",
        purged(&api.seen())
    );
    let seen = api.seen();
    assert_eq!(seen.first().unwrap().answered, Some(500));
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert_eq!(s.path, "/service/SU1Z0isxPaozGVKXdv0eY/purge");
        assert_eq!(s.headers["fastly-key"], TOKEN);
        assert!(keys_of(s).len() <= 256);
        // Only what the write reached: no other feed, no purge of everything.
        for k in keys_of(s) {
            assert!(want.contains(&k), "{k} purged");
        }
    }
    // A CMS saving an article of the held feed without a change: the feed
    // renders to the same bytes and is not purged; what bantin did not
    // hold is.
    let metrics = || async { get(&c, &server.url("/metrics"), &[]).await.text() };
    let renders = sample_value(&metrics().await, "bantin_renders_total");
    let before = api.seen().len();
    let FeedKey::Category(cat) = &held else {
        unreachable!()
    };
    let n = sample.execute(&format!(
        "UPDATE articles SET title = title WHERE id = (SELECT article_id FROM article_categories \
         WHERE slug = '{cat}' ORDER BY article_id LIMIT 1)"
    ));
    assert_eq!(n, 1);
    let settled = wait_until(Duration::from_secs(30), || async {
        let text = metrics().await;
        let sent = sample_value(&text, "bantin_cdn_purges_total{result=\"ok\"}")
            + sample_value(&text, "bantin_cdn_purges_total{result=\"error\"}");
        sample_value(&text, "bantin_renders_total") >= renders + 3
            && sample_value(&text, "bantin_cdn_purge_backlog") == 0
            && sent as usize == api.seen().len()
            && api.seen().len() > before
    })
    .await;
    assert!(settled.is_some(), "the no-op write was not purged");
    let after = purged(&api.seen()[before..]);
    assert!(after.contains("/feeds/all"), "{after:?}");
    assert!(
        !after.contains(&format!("/feeds/{}", held.path())),
        "a feed whose bytes did not change was purged: {after:?}"
    );
    let text = metrics().await;
    assert!(sample_value(&text, "bantin_cdn_purges_total{result=\"error\"}") >= 1);
    assert!(sample_value(&text, "bantin_cdn_purges_total{result=\"ok\"}") >= 2);
    let log = server.stderr.lock().unwrap().clone();
    assert!(log.contains("CDN"), "{log}");
    assert!(!log.contains(TOKEN), "the token is in the log");
}

/// `app` served in this process on port 0: its base URL, and what stops it.
async fn serve_app(
    app: bantin::http::app::App,
) -> (String, Arc<bantin::http::app::App>, impl Drop) {
    let app = Arc::new(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bantin::http::server::run(
        app.clone(),
        listener,
        test_limits(),
        async move {
            let _ = rx.await;
        },
    ));
    struct Stop(Option<tokio::sync::oneshot::Sender<()>>);
    impl Drop for Stop {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(());
            }
        }
    }
    (base, app, Stop(Some(tx)))
}

// Cloudflare's stand-in: a purge that times out and one answered 503 are
// tried again with backoff until one goes through (POST
// /zones/{id}/purge_cache, `{"tags": […]}`, the bearer token); while the
// API is down, writes pile up past the backlog's bound, which becomes one
// purge of `bantin`. Responses meanwhile are as quick as ever.
#[tokio::test(flavor = "multi_thread")]
async fn cloudflare_retries_errors_and_timeouts_and_bounds_its_backlog() {
    use bantin::http::cdn::{Policy, Token};
    let sample = Sandbox::with_sample();
    let api = StandIn::start(&[Answer::Hang, Answer::Status(503)]).await;
    let site = site_with(
        "",
        &format!(
            "key_header = \"Cache-Tag\"\npurge = \"cloudflare\"\npurge_url = \"{}\"\n\
             service = \"023e105f4ecef8ad9ca31a8372d0c353\"",
            api.base
        ),
    );
    let store = sample.open();
    let app = tokio::task::spawn_blocking(move || bantin::http::app::App::new(site, store))
        .await
        .unwrap()
        .unwrap()
        .with_cdn_token(Token::new(TOKEN.into()))
        .with_purge_policy(Policy {
            every: Duration::from_millis(100),
            first_retry: Duration::from_millis(200),
            max_retry: Duration::from_millis(400),
            capacity: 20,
            timeout: Duration::from_millis(500),
            ..Policy::default()
        });
    let (base, app, _stop) = serve_app(app).await;
    let c = client();
    sample.upsert([crate::support::article(
        "cdn-cf-1",
        &["Thử CF"],
        &["Vùng CF"],
        "2026-12-02T08:00:00+07:00",
    )]);
    let want = keys_of_new("Thử CF", "Vùng CF", "2026-12");
    let took = wait_until(Duration::from_secs(30), || async {
        purged(&api.seen()) == want
    })
    .await;
    assert!(took.is_some(), "purged {:?}", purged(&api.seen()));
    let seen = api.seen();
    let answers: Vec<Option<u16>> = seen.iter().map(|s| s.answered).collect();
    assert_eq!(answers, [None, Some(503), Some(200)]);
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert_eq!(
            s.path,
            "/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache"
        );
        assert_eq!(s.headers["authorization"], format!("Bearer {TOKEN}"));
        assert_eq!(s.headers["content-type"], "application/json");
        // The same keys each time: a retry is the same purge.
        assert_eq!(keys_of(s).into_iter().collect::<BTreeSet<_>>(), want);
    }
    // The API down: three writes' keys pass the bound of 20 and become one
    // purge of everything, sent once it answers again.
    api.then(&[Answer::Status(503); 4]);
    let before = api.seen().len();
    for (i, name) in ["Một", "Hai", "Ba"].iter().enumerate() {
        sample.upsert([crate::support::article(
            &format!("cdn-cf-{}", i + 2),
            &[&format!("Thử {name}")],
            &[&format!("Vùng {name}")],
            "2026-12-03T08:00:00+07:00",
        )]);
        // A response while purges fail is not held up by them.
        let r = get(&c, &format!("{base}/feeds/all.rss"), &[]).await;
        assert_eq!(r.status, 200);
    }
    let everything = wait_until(Duration::from_secs(30), || async {
        api.seen()[before..]
            .iter()
            .any(|s| s.answered == Some(200) && keys_of(s) == ["bantin"])
    })
    .await;
    assert!(
        everything.is_some(),
        "{:?}",
        api.seen()[before..].iter().map(keys_of).collect::<Vec<_>>()
    );
    let text = get(&c, &format!("{base}/metrics"), &[]).await.text();
    assert!(sample_value(&text, "bantin_cdn_purge_overflows_total") >= 1);
    assert!(sample_value(&text, "bantin_cdn_purges_total{result=\"error\"}") >= 5);
    assert!(app.purges_waiting() <= 20);
}

/// varnishd as a child in the foreground, with its own work folder;
/// stopped (TERM, then KILL) when dropped.
struct Varnish {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Varnish {
    /// The path of varnishd, or `None` (said, and a failure under CI)
    /// where Varnish is not installed.
    fn binary() -> Option<&'static str> {
        let found = ["/usr/sbin/varnishd", "/usr/bin/varnishd"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        if found.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have varnish and varnish-modules"
            );
            eprintln!("SKIPPED: Varnish is not installed");
        }
        found
    }

    /// Start varnishd on `port` with contrib/'s VCL, its backend the
    /// bantin on `backend`.
    fn start(varnishd: &str, port: u16, backend: u16) -> Varnish {
        let vcl = std::fs::read_to_string(root().join("contrib/varnish/bantin.vcl")).unwrap();
        assert!(vcl.contains(".port = \"8080\";"));
        let vcl = vcl.replace(".port = \"8080\";", &format!(".port = \"{backend}\";"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bantin.vcl");
        std::fs::write(&file, vcl).unwrap();
        let child = std::process::Command::new(varnishd)
            .arg("-F")
            // No privilege separation: the test runs as whoever runs it.
            .args(["-j", "none"])
            .arg("-n")
            .arg(dir.path().join("work"))
            .args(["-a", &format!("127.0.0.1:{port}")])
            .arg("-f")
            .arg(&file)
            .args(["-s", "malloc,64m"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut varnish = Varnish {
            child,
            port,
            _dir: dir,
        };
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = varnish.child.try_wait() {
                panic!("varnishd exited: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "varnishd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        varnish
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Varnish {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether Varnish answered from its cache: `X-Varnish` then names this
/// request and the one that fetched the object.
fn varnish_hit(r: &crate::support::Reply) -> bool {
    r.header("x-varnish")
        .is_some_and(|v| v.split_whitespace().count() == 2)
}

// A real Varnish with contrib/'s VCL in front of `bantin serve` (keys in
// `xkey`, purges by PURGE): a reader polling through it sees a new
// article, a CMS's direct SQL edit of it and its removal within seconds
// of each write, while every feed the writes did not touch stays a
// Varnish hit throughout.
#[tokio::test(flavor = "multi_thread")]
async fn a_reader_through_varnish_sees_each_write_at_once_and_untouched_feeds_stay_hits() {
    let Some(varnishd) = Varnish::binary() else {
        return;
    };
    let sample = Sandbox::with_sample();
    let port = crate::deploy::free_port();
    let site = site_file_with(
        &sample,
        "",
        &format!(
            "key_header = \"xkey\"\npurge = \"varnish\"\npurge_url = \"http://127.0.0.1:{port}/\""
        ),
    );
    let server = Process::serve(sample.bantin().site(&site));
    let backend: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    let varnish = tokio::task::spawn_blocking(move || Varnish::start(varnishd, port, backend))
        .await
        .unwrap();
    let c = client();
    // The write goes to the first sample article's category and region.
    let first = crate::support::sample_articles().remove(0);
    let (cat, reg) = (first.categories[0].clone(), first.regions[0].clone());
    let touched = format!("/feeds/category/{}.rss", bantin::slug::slugify(&cat));
    let untouched: Vec<String> = sample_keys()
        .into_iter()
        .filter(|k| match k {
            FeedKey::Category(c) => *c != bantin::slug::slugify(&cat),
            FeedKey::Region(r) => *r != bantin::slug::slugify(&reg),
            _ => false,
        })
        .flat_map(|k| FORMATS.map(|ext| feed_path(&k, ext)))
        .collect();
    assert!(untouched.len() >= 6);
    for path in untouched.iter().chain([&touched]) {
        let miss = get(&c, &varnish.url(path), &[]).await;
        assert_eq!(miss.status, 200, "{path}");
        assert!(!varnish_hit(&miss), "{path}");
        assert!(
            varnish_hit(&get(&c, &varnish.url(path), &[]).await),
            "{path}"
        );
        assert_eq!(miss.header("xkey"), None, "keys are not for readers");
    }
    let still_hits = || async {
        for path in &untouched {
            let r = get(&c, &varnish.url(path), &[]).await;
            assert!(
                varnish_hit(&r),
                "{path} was purged: {:?}",
                r.header("x-varnish")
            );
        }
    };
    let shows = |needle: String| {
        let url = varnish.url(&touched);
        let c = c.clone();
        move || {
            let (url, c, needle) = (url.clone(), c.clone(), needle.clone());
            async move { get(&c, &url, &[]).await.text().contains(&needle) }
        }
    };
    let deadline = Duration::from_secs(10);

    // A new article, through bantin's own import path.
    let mut new = crate::support::article(
        "cdn-varnish-1",
        &[&cat],
        &[&reg],
        "2026-12-05T08:00:00+07:00",
    );
    new.title = "Lũ về Hương Khê".into();
    sample.upsert([new]);
    let took = wait_until(deadline, shows("Lũ về Hương Khê".into())).await;
    eprintln!("through Varnish: a new article shown after {took:?}");
    assert!(
        took.is_some(),
        "the new article never showed through Varnish"
    );
    still_hits().await;

    // A CMS edits it with SQL.
    let n = sample.execute("UPDATE articles SET title = 'Lũ đã rút' WHERE id = 'cdn-varnish-1'");
    assert_eq!(n, 1);
    let took = wait_until(deadline, shows("Lũ đã rút".into())).await;
    eprintln!("through Varnish: a CMS's SQL edit shown after {took:?}");
    assert!(
        took.is_some(),
        "the CMS's edit never showed through Varnish"
    );
    still_hits().await;

    // It is removed.
    sample.run_async(&["remove", "cdn-varnish-1"]).await;
    let gone = {
        let url = varnish.url(&touched);
        let c = c.clone();
        move || {
            let (url, c) = (url.clone(), c.clone());
            async move { !get(&c, &url, &[]).await.text().contains("cdn-varnish-1") }
        }
    };
    let took = wait_until(deadline, gone).await;
    eprintln!("through Varnish: a removal shown after {took:?}");
    assert!(
        took.is_some(),
        "the removed article stayed in Varnish's copy"
    );
    still_hits().await;
    let text = get(&c, &server.url("/metrics"), &[]).await.text();
    assert!(sample_value(&text, "bantin_cdn_purges_total{result=\"ok\"}") >= 3);
    assert_eq!(
        sample_value(&text, "bantin_cdn_purges_total{result=\"error\"}"),
        0
    );
}

// nginx as the cache (docs/deployment.md's `cdn-nginx` block): with
// `stale_while_revalidate` and `stale_if_error` set and bantin stopped,
// nginx keeps serving the feed it holds, stale, with bantin's bytes.
#[tokio::test(flavor = "multi_thread")]
async fn nginx_keeps_serving_a_stale_feed_while_bantin_is_stopped() {
    use crate::deploy::{doc_blocks, free_port, nginx_binary, start_nginx};
    let Some(nginx) = nginx_binary("nginx as the cache in front") else {
        return;
    };
    let sample = Sandbox::with_sample();
    let mut site = crate::support::site_toml();
    site.insert("max_age".into(), 1.into());
    site.insert("stale_while_revalidate".into(), 60.into());
    site.insert("stale_if_error".into(), 86400.into());
    let site = sample.write("site.toml", toml::to_string(&site).unwrap());
    let server = Process::serve(sample.bantin().site(&site));
    let blocks = doc_blocks("docs/deployment.md", "cdn-nginx", "nginx");
    assert_eq!(blocks.len(), 1);
    let cache = tempfile::tempdir().unwrap();
    let _ = std::process::Command::new("chmod")
        .arg("777")
        .arg(cache.path())
        .status();
    let backend = server.base.trim_start_matches("http://");
    let config = blocks[0]
        .replace(
            "/var/cache/nginx/bantin",
            &cache.path().display().to_string(),
        )
        .replace("http://127.0.0.1:8080", &format!("http://{backend}"));
    let port = free_port();
    let (_nginx, _dir) = start_nginx(nginx, &config, port);
    let c = client();
    let url = format!("http://127.0.0.1:{port}/feeds/all.rss");
    let direct = get(&c, &server.url("/feeds/all.rss"), &[]).await;
    assert_eq!(
        direct.header("cache-control").as_deref(),
        Some("public, max-age=1, stale-while-revalidate=60, stale-if-error=86400")
    );
    let first = get(&c, &url, &[]).await;
    assert_eq!(first.status, 200);
    assert!(first.body == direct.body);
    let cached = wait_until(Duration::from_secs(10), || async {
        get(&c, &url, &[]).await.header("x-cache-status").as_deref() == Some("HIT")
    })
    .await;
    assert!(cached.is_some(), "nginx never answered from its cache");
    drop(server);
    // bantin is gone: once the copy is past its max-age, nginx says it
    // serves it stale (or while it tries to update it), with its bytes.
    let stale = wait_until(Duration::from_secs(20), || async {
        let r = get(&c, &url, &[]).await;
        assert_eq!(
            r.status, 200,
            "nginx answered {} with bantin stopped",
            r.status
        );
        assert!(r.body == direct.body);
        matches!(
            r.header("x-cache-status").as_deref(),
            Some("STALE" | "UPDATING")
        )
    })
    .await;
    assert!(stale.is_some(), "nginx never served its stale copy");
    for _ in 0..5 {
        let r = get(&c, &url, &[]).await;
        assert_eq!(r.status, 200);
        assert!(r.body == direct.body);
    }
}

// Two replicas on one PostgreSQL store: the one that leads (the one that
// pings WebSub hubs) purges; the other drops its keys.
#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_on_one_postgresql_store_purge_once() {
    use bantin::http::cdn::Token;
    let Some(backend) = Sandbox::sample_on_postgres() else {
        return;
    };
    let api = StandIn::start(&[]).await;
    let cdn = format!(
        "key_header = \"Surrogate-Key\"\npurge = \"fastly\"\npurge_url = \"{}\"\n\
         service = \"replicas\"",
        api.base
    );
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let (site, store) = (site_with("", &cdn), backend.pool(2));
        let app = tokio::task::spawn_blocking(move || bantin::http::app::App::new(site, store))
            .await
            .unwrap()
            .unwrap()
            .with_cdn_token(Token::new(TOKEN.into()));
        replicas.push(serve_app(app).await);
    }
    backend.upsert([crate::support::article(
        "cdn-replicas-1",
        &["Thử Bản Sao"],
        &["Vùng Bản Sao"],
        "2026-12-04T08:00:00+07:00",
    )]);
    let want = keys_of_new("Thử Bản Sao", "Vùng Bản Sao", "2026-12");
    let c = client();
    let metrics = |base: String| {
        let c = c.clone();
        async move { get(&c, &format!("{base}/metrics"), &[]).await.text() }
    };
    // Both replicas have read the write once the follower dropped its
    // keys and the leader's are all purged.
    let settled = wait_until(Duration::from_secs(30), || async {
        let mut dropped = 0;
        for (base, _, _) in &replicas {
            dropped += sample_value(
                &metrics(base.clone()).await,
                "bantin_cdn_purges_not_leader_total",
            );
        }
        purged(&api.seen()) == want && dropped > 0
    })
    .await;
    assert!(settled.is_some(), "purged {:?}", purged(&api.seen()));
    let mut senders = 0;
    let mut sent = 0;
    for (base, _, _) in &replicas {
        let text = metrics(base.clone()).await;
        let ok = sample_value(&text, "bantin_cdn_purges_total{result=\"ok\"}");
        senders += usize::from(ok > 0);
        sent += ok;
    }
    assert_eq!(senders, 1, "one replica purges");
    assert_eq!(sent as usize, api.seen().len());
}

// Fastly and Cloudflare need the token from the environment: without it
// `bantin serve` refuses to start, in one line naming the variable.
#[test]
fn a_purge_api_without_its_token_is_refused_at_start() {
    let sample = Sandbox::with_sample();
    for purge in ["fastly", "cloudflare"] {
        let site = site_file_with(
            &sample,
            "",
            &format!(
                "purge = \"{purge}\"\npurge_url = \"https://api.example\"\nservice = \"abc123\""
            ),
        );
        let out = sample
            .bantin()
            .site(&site)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .output();
        assert!(!out.status.success(), "{purge}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("BANTIN_CDN_TOKEN"), "{err}");
        assert!(err.contains(purge), "{err}");
    }
}
