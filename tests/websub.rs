//! WebSub (SPEC "For aggregators", issue 10 item 3), end to end over real
//! sockets, with a real hub and a real subscriber (Flask-WebSub, run by
//! `tests/support/websub_hub.py`) on loopback:
//!
//! - a subscription feed's response names each hub and itself in `Link`
//!   headers (a keyword feed's with its `?q=`); an archive's names none;
//!   the subscriber discovers hub and topic from them;
//! - a write to the store makes `bantin serve` send the hub exactly one
//!   publish (`hub.mode=publish&hub.url=…`, form-encoded) per changed feed
//!   and format, and none for cached feeds the write did not touch; the
//!   hub fetches the feed and the subscriber receives the new bytes;
//! - a write that gives the same bytes again sends no publish;
//! - a hub that refuses connections is tried again with growing waits,
//!   given up after the last try, counted in `/metrics`, and never holds
//!   up requests or later writes; `bantin serve` logs it once, not once
//!   per retry;
//! - with two replicas on one PostgreSQL store, only one pings (and the
//!   lead passes to another replica when its holder's session ends).
//!
//! Without python3 and Flask-WebSub (`pip install flask-websub celery`) the
//! hub tests say they skipped; with `CI` set they fail instead.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bantin::article::{Article, FeedKey};
use bantin::http::app::App;
use bantin::http::websub::Policy;
use bantin::store::Store;
use bantin::store::postgres::PostgresStore;
use chrono::Utc;
use tokio::sync::oneshot;

use crate::support::{
    Bantin, Process, Sandbox, article, client, get, metric, python_can_import, site, test_limits,
    wait_until,
};

/// Generous: the machine running the tests is shared and loaded.
const DEADLINE: Duration = Duration::from_secs(60);

/// Long enough after the last expected publish for a duplicate (or a
/// stray ping) to show: several of the sender's one-second batches.
const SETTLE: Duration = Duration::from_secs(4);

/// Whether python3 can run Flask-WebSub with Celery; `false` (after saying
/// so) outside CI, a failure under `CI`.
fn hub_available() -> bool {
    python_can_import("flask_websub, celery", "flask-websub celery", "websub")
}

/// `tests/support/websub_hub.py`: the hub at `{base}/hub`, the subscriber's
/// callbacks, and the test routes. Stops when dropped.
struct Hub {
    child: Child,
    base: String,
}

impl Hub {
    fn start() -> Hub {
        let script = crate::support::script("websub_hub.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting websub_hub.py");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(base) = line.strip_prefix("listening on ") {
                    let _ = tx.send(base.to_string());
                }
            }
        });
        let base = rx
            .recv_timeout(DEADLINE)
            .expect("websub_hub.py says where it listens");
        Hub { child, base }
    }

    /// The hub's URL, as the site file names it.
    fn url(&self) -> String {
        format!("{}/hub", self.base)
    }

    /// Subscribe the subscriber to what `feed_url` advertises; returns the
    /// (hub, topic) it discovered.
    async fn subscribe(&self, feed_url: &str) -> (String, String) {
        let resp = client()
            .post(format!("{}/test/subscribe", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("url={}", form_value(feed_url)))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body = resp.text().await.unwrap();
        assert!(status.is_success(), "subscribing: {status} {body}");
        let found: serde_json::Value = serde_json::from_str(&body).unwrap();
        (
            found["hub_url"].as_str().unwrap().to_string(),
            found["topic_url"].as_str().unwrap().to_string(),
        )
    }

    async fn events(&self) -> serde_json::Value {
        let text = get(&client(), &format!("{}/test/events", self.base), &[])
            .await
            .text();
        serde_json::from_str(&text).unwrap()
    }

    /// The `hub.url` of every publish the hub received, in order.
    async fn published(&self) -> Vec<String> {
        self.events().await["publishes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["form"]["hub.url"][0].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// The bodies the subscriber received for `topic`, in order.
    async fn delivered(&self, topic: &str) -> Vec<Vec<u8>> {
        use base64::Engine;
        self.events().await["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["topic"] == topic)
            .map(|n| {
                base64::engine::general_purpose::STANDARD
                    .decode(n["body"].as_str().unwrap())
                    .unwrap()
            })
            .collect()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        // Closing its standard input stops it; kill it in case it hangs.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `s` as a form value.
fn form_value(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `bantin::http::server::run` in this process, with the sample site's
/// `hubs` and `base_url` set (the server binds first, so that `base_url`
/// can be its own address and the hub can fetch what it advertises).
struct Served {
    base: String,
    app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    /// Serve `store` with these hubs; `base_url` is the server's own
    /// address unless given (replicas behind one name share theirs).
    async fn start(
        store: Box<dyn Store>,
        hubs: Vec<String>,
        base_url: Option<String>,
        policy: Policy,
    ) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut site = site();
        site.base_url = base_url.unwrap_or_else(|| base.clone());
        site.hubs = hubs;
        // Off the runtime: the PostgreSQL client blocks on a runtime of its own.
        let app = tokio::task::spawn_blocking(move || App::new(site, store))
            .await
            .unwrap()
            .expect("building the app")
            .with_ping_policy(policy);
        let app = Arc::new(app);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(bantin::http::server::run(
            app.clone(),
            listener,
            test_limits(),
            async move {
                let _ = rx.await;
            },
        ));
        Served {
            base,
            app,
            shutdown: Some(tx),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The absolute URL the feed is known by (`base_url` + path).
    fn topic(&self, path: &str) -> String {
        format!("{}{path}", self.app.site.base_url)
    }

    async fn metric(&self, name: &str) -> u64 {
        metric(&client(), &self.base, name).await
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("server stops within 10 s")
            .unwrap();
    }
}

/// The paths of a feed in every format.
fn paths(key: &FeedKey) -> Vec<String> {
    ["rss", "atom", "json"]
        .iter()
        .map(|ext| format!("/feeds/{}.{ext}", key.path()))
        .collect()
}

/// A new article of *Kinh tế* in *Đức Thọ*, published a minute ago, and
/// the feeds it is in (so the feeds a write of it touches).
fn news(id: &str) -> (Article, Vec<FeedKey>) {
    let at = (Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let a = article(id, &["Kinh tế"], &["Đức Thọ"], &at);
    let keys = vec![
        FeedKey::All,
        FeedKey::Category("kinh-te".into()),
        FeedKey::Region("duc-tho".into()),
        FeedKey::CategoryRegion("kinh-te".into(), "duc-tho".into()),
    ];
    (a, keys)
}

/// Feeds of the sample the article of [`news`] is not in.
fn untouched() -> Vec<FeedKey> {
    vec![
        FeedKey::Category("xa-hoi".into()),
        FeedKey::Region("ky-anh".into()),
    ]
}

fn count(urls: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for u in urls {
        *m.entry(u.clone()).or_default() += 1;
    }
    m
}

/// Wait until the hub has `n` publishes (or the deadline), then a while
/// more so that any extra one shows too.
async fn publishes(hub: &Hub, n: usize) -> Vec<String> {
    wait_until(DEADLINE, || async { hub.published().await.len() >= n }).await;
    tokio::time::sleep(SETTLE).await;
    hub.published().await
}

/// The sample served in process with one hub, where the hub can run here.
async fn served_with_a_hub() -> Option<(Hub, Sandbox, Served)> {
    if !hub_available() {
        return None;
    }
    let hub = Hub::start();
    let sample = Sandbox::with_sample();
    let server = Served::start(sample.open(), vec![hub.url()], None, Policy::default()).await;
    Some((hub, sample, server))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_feed_names_its_hub_and_itself_and_an_archive_names_no_hub() {
    let Some((hub, _sample, server)) = served_with_a_hub().await else {
        return;
    };
    let c = client();

    // Link headers: each hub, then the feed itself, as the feed names it.
    let reply = get(&c, &server.url("/feeds/category/kinh-te.atom"), &[]).await;
    assert_eq!(reply.status, 200);
    let links: Vec<String> = reply
        .headers
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let own = server.topic("/feeds/category/kinh-te.atom");
    assert_eq!(
        links,
        [
            format!("<{}>; rel=\"hub\"", hub.url()),
            format!("<{own}>; rel=\"self\"")
        ]
    );
    assert!(reply.text().contains(&format!("href=\"{own}\"")));
    let search = get(
        &c,
        &server.url("/feeds/search.json?q=B%C3%83O+l%C5%A9"),
        &[],
    )
    .await;
    let self_link = search.headers.get_all("link").iter().next_back().unwrap();
    assert_eq!(
        self_link.to_str().unwrap(),
        format!(
            "<{}>; rel=\"self\"",
            server.topic("/feeds/search.json?q=bao+lu")
        )
    );
    // An archive names no hub: the JSON feed's next_url is its newest month.
    let json: serde_json::Value = serde_json::from_str(
        &get(&c, &server.url("/feeds/category/xa-hoi.json"), &[])
            .await
            .text(),
    )
    .unwrap();
    let archive = json["next_url"]
        .as_str()
        .expect("the feed links its archive");
    let archive_path = archive.strip_prefix(&server.app.site.base_url).unwrap();
    let archived = get(&c, &server.url(archive_path), &[]).await;
    assert_eq!(archived.status, 200);
    assert!(archived.headers.get("link").is_none());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_publishes_each_changed_feed_once_and_the_subscriber_gets_it() {
    let Some((hub, sample, server)) = served_with_a_hub().await else {
        return;
    };
    let c = client();

    let own = server.topic("/feeds/category/kinh-te.atom");

    // The subscriber finds hub and topic in those headers and subscribes.
    let (found_hub, topic) = hub
        .subscribe(&server.topic("/feeds/category/kinh-te.atom"))
        .await;
    assert_eq!(
        (found_hub.as_str(), topic.as_str()),
        (hub.url().as_str(), own.as_str())
    );

    // Cache every format of the feeds the write touches but two, and of
    // feeds it does not touch: the cached ones are compared byte for byte,
    // an uncached one is pinged because it was touched. The other is asked
    // for right after the write, before the server has read its change
    // log (most runs): rendered with the write already, it compares equal
    // when rendered again, yet must be pinged.
    let (new, touched) = news("websub-moi");
    let uncached = ["/feeds/all.json", "/feeds/region/duc-tho.json"];
    for key in touched.iter().chain(&untouched()) {
        for path in paths(key) {
            if !uncached.contains(&path.as_str()) {
                assert_eq!(get(&c, &server.url(&path), &[]).await.status, 200, "{path}");
            }
        }
    }
    assert!(hub.published().await.is_empty(), "nothing changed yet");

    let store = sample.open();
    tokio::task::spawn_blocking(move || store.upsert(&[new]).unwrap())
        .await
        .unwrap();
    let early = get(&c, &server.url(uncached[1]), &[]).await;
    assert!(early.text().contains("websub-moi"));
    let expected: Vec<String> = touched
        .iter()
        .flat_map(paths)
        .map(|p| server.topic(&p))
        .collect();
    let got = publishes(&hub, expected.len()).await;
    assert_eq!(
        count(&got),
        count(&expected),
        "one publish per changed feed and format"
    );
    let events = hub.events().await;
    for p in events["publishes"].as_array().unwrap() {
        assert_eq!(p["content_type"], "application/x-www-form-urlencoded");
        let url = p["form"]["hub.url"][0].as_str().unwrap();
        assert_eq!(
            p["body"].as_str().unwrap(),
            format!("hub.mode=publish&hub.url={}", form_urlencoded_value(url))
        );
    }

    // The hub fetched the feed and the subscriber got the new bytes.
    let current = get(&c, &server.url("/feeds/category/kinh-te.atom"), &[]).await;
    assert!(current.text().contains("websub-moi"));
    let delivered = wait_until(DEADLINE, || async {
        !hub.delivered(&topic).await.is_empty()
    })
    .await;
    assert!(delivered.is_some(), "no content reached the subscriber");
    assert_eq!(
        hub.delivered(&topic).await,
        std::slice::from_ref(&current.body)
    );
    assert_eq!(server.metric("bantin_websub_pings_sent_total").await, 12);
    assert_eq!(server.metric("bantin_websub_ping_failures_total").await, 0);
    assert_eq!(server.metric("bantin_websub_queue_length").await, 0);
    assert_eq!(server.metric("bantin_websub_leader").await, 1);

    // A CMS rewrites the article as it was (bantin's own writer skips
    // unchanged articles, the store's triggers do not): every feed it is
    // in is touched, all are cached now, and they render the same bytes,
    // so no hub hears of it.
    for path in paths(&FeedKey::All) {
        get(&c, &server.url(&path), &[]).await;
    }
    let renders = server.metric("bantin_renders_total").await;
    let before = hub.published().await.len();
    let db = sample.db();
    tokio::task::spawn_blocking(move || {
        rusqlite::Connection::open(db)
            .unwrap()
            .execute_batch("UPDATE articles SET title = title WHERE id = 'websub-moi'")
            .unwrap()
    })
    .await
    .unwrap();
    let rendered = wait_until(DEADLINE, || async {
        server.metric("bantin_renders_total").await >= renders + 12
    })
    .await;
    assert!(rendered.is_some(), "the write was not rendered again");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        hub.published().await.len(),
        before,
        "same bytes, no publish"
    );
    assert_eq!(hub.delivered(&topic).await.len(), 1);
    server.stop().await;
}

/// A form value as `application/x-www-form-urlencoded` writes it.
fn form_urlencoded_value(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The WebSub lines of a server's `/metrics`, for failure messages.
async fn websub_metrics(base: &str) -> String {
    get(&client(), &format!("{base}/metrics"), &[])
        .await
        .text()
        .lines()
        .filter(|l| l.starts_with("bantin_websub"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An http URL on loopback where nothing listens: connections are refused.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hub_that_is_down_is_retried_with_backoff_counted_and_never_blocks() {
    let sample = Sandbox::with_sample();
    // Short waits so that the test sees the last try: 0.4 s, 0.8 s, 1.6 s.
    let policy = Policy {
        every: Duration::from_millis(100),
        first_retry: Duration::from_millis(400),
        max_tries: 4,
        ..Policy::default()
    };
    let server = Served::start(sample.open(), vec![refused_url()], None, policy).await;
    let c = client();
    let (new, touched) = news("hub-down");
    let pings = (touched.len() * 3) as u64;
    let started = Instant::now();
    let store = sample.open();
    tokio::task::spawn_blocking(move || store.upsert(&[new]).unwrap())
        .await
        .unwrap();

    // The write is served whatever the hub does, and requests answer
    // while the pings wait for their next try.
    let shown = wait_until(DEADLINE, || async {
        get(&c, &server.url("/feeds/all.rss"), &[])
            .await
            .text()
            .contains("hub-down")
    })
    .await;
    assert!(shown.is_some(), "the write never showed");
    let retrying = wait_until(DEADLINE, || async {
        server.metric("bantin_websub_ping_failures_total").await >= pings
    })
    .await;
    assert!(retrying.is_some(), "the pings were never tried");
    assert!(server.metric("bantin_websub_queue_length").await > 0);
    let asked = Instant::now();
    let reply = get(&c, &server.url("/feeds/region/duc-tho.atom"), &[]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("hub-down"));
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );

    let gave_up = wait_until(DEADLINE, || async {
        server.metric("bantin_websub_pings_given_up_total").await >= pings
    })
    .await;
    assert!(
        gave_up.is_some(),
        "the pings were never given up:\n{}",
        websub_metrics(&server.base).await
    );
    // Four tries each, with 0.4 + 0.8 + 1.6 s of waiting between them.
    assert!(
        started.elapsed() >= Duration::from_millis(2800),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        server.metric("bantin_websub_pings_given_up_total").await,
        pings
    );
    assert_eq!(
        server.metric("bantin_websub_ping_failures_total").await,
        4 * pings
    );
    assert_eq!(server.metric("bantin_websub_pings_sent_total").await, 0);
    assert_eq!(server.metric("bantin_websub_queue_length").await, 0);

    // A later change is queued and tried like the first.
    let (later, _) = news("hub-still-down");
    let store = sample.open();
    tokio::task::spawn_blocking(move || store.upsert(&[later]).unwrap())
        .await
        .unwrap();
    let tried = wait_until(DEADLINE, || async {
        server.metric("bantin_websub_ping_failures_total").await > 4 * pings
    })
    .await;
    assert!(tried.is_some(), "a later change was never pinged");
    server.stop().await;
}

/// `bantin serve` on port 0 with the sample site and these hubs, and the
/// folder of its site file.
fn serve_with_hubs(db: &std::path::Path, hubs: &[String]) -> (Process, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let site_file = dir.path().join("site.toml");
    // Top-level keys come before the file's tables.
    let listed: Vec<String> = hubs.iter().map(|h| format!("{h:?}")).collect();
    let text = format!(
        "hubs = [{}]\n{}",
        listed.join(", "),
        std::fs::read_to_string(crate::support::site_file()).unwrap()
    );
    std::fs::write(&site_file, text).unwrap();
    let process = Process::serve(
        Bantin::on(&format!("sqlite:{}", db.display()))
            .site(&site_file)
            // Info: the level a newsroom runs at; retries must stay quiet there.
            .log("info"),
    );
    (process, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn bantin_serve_logs_a_hub_that_is_down_once_not_per_retry() {
    let sample = Sandbox::with_sample();
    let hub = refused_url();
    let (server, _site) = serve_with_hubs(&sample.db(), std::slice::from_ref(&hub));
    let c = client();
    let (new, touched) = news("log-quiet");
    let pings = (touched.len() * 3) as u64;
    // An external write, as a newsroom's import is.
    let file = sample.path("news.jsonl");
    std::fs::write(
        &file,
        crate::support::jsonl_article(
            "log-quiet",
            "Kinh tế",
            "Đức Thọ",
            &new.published.to_rfc3339(),
        ),
    )
    .unwrap();
    sample.run_async(&["import", file.to_str().unwrap()]).await;
    // Every ping tried twice at least: the first try and a retry 2 s later.
    let retried = wait_until(DEADLINE, || async {
        metric(&c, &server.base, "bantin_websub_ping_failures_total").await >= 2 * pings
    })
    .await;
    assert!(
        retried.is_some(),
        "no retries; stderr:\n{}",
        server.stderr.lock().unwrap()
    );
    assert_eq!(
        metric(&c, &server.base, "bantin_websub_pings_sent_total").await,
        0
    );
    let lines = server.log_lines("WebSub");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains(&hub) && lines[0].contains("retrying with backoff"),
        "{}",
        lines[0]
    );
}

/// Wait up to `limit` for `check` (blocking).
fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn one_postgresql_replica_leads_and_another_takes_over_when_its_session_ends() {
    let Some(url) = crate::support::pg_cluster::database() else {
        return;
    };
    let a = PostgresStore::open(&url).unwrap();
    let b = PostgresStore::open(&url).unwrap();
    assert!(a.lead(), "the first to ask leads");
    assert!(!b.lead(), "only one leads");
    assert!(a.lead() && !b.lead(), "and keeps leading");

    // A replica that stops: its session ends and the lock with it.
    drop(a);
    assert!(eventually(DEADLINE, || b.lead()), "nobody took over");

    // A replica whose connection dies (killed by the server here): the
    // lead passes to the next one that asks, and the old leader, back,
    // finds it taken.
    let c = PostgresStore::open(&url).unwrap();
    assert!(!c.lead());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_locks
             WHERE locktype = 'advisory' AND granted
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .unwrap();
    assert_eq!(killed.len(), 1, "one session holds the lead");
    assert!(eventually(DEADLINE, || c.lead()), "nobody took over");
    assert!(!b.lead(), "two leaders");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_on_one_postgresql_store_publish_once() {
    if !hub_available() {
        return;
    }
    let Some(backend) = Sandbox::sample_on_postgres() else {
        return;
    };
    let hub = Hub::start();
    let first = Served::start(backend.pool(2), vec![hub.url()], None, Policy::default()).await;
    // Replicas behind one name: both advertise the first's address.
    let second = Served::start(
        backend.pool(2),
        vec![hub.url()],
        Some(first.app.site.base_url.clone()),
        Policy::default(),
    )
    .await;
    let (new, touched) = news("hai-ban-sao");
    backend.upsert(vec![new]);
    let expected: Vec<String> = touched
        .iter()
        .flat_map(paths)
        .map(|p| first.topic(&p))
        .collect();
    let got = publishes(&hub, expected.len()).await;
    assert_eq!(
        count(&got),
        count(&expected),
        "one publish per feed, not per replica"
    );
    let mut leaders = 0;
    let mut dropped = 0;
    for server in [&first, &second] {
        leaders += server.metric("bantin_websub_leader").await;
        dropped += server.metric("bantin_websub_pings_not_leader_total").await;
    }
    assert_eq!(leaders, 1);
    assert_eq!(
        dropped,
        expected.len() as u64,
        "the other replica drops its pings"
    );
    first.stop().await;
    second.stop().await;
}
