//! What the docs tell an operator to run, run:
//!
//! - the roles and grants, as docs/postgresql.md writes them (read from
//!   between its `replicas-roles` markers), on the throwaway cluster: the owner applies
//!   the migrations; the runtime role imports, serves (its password never
//!   printed), removes, checks and trims the change log, and may not change
//!   the schema; on a database whose migrations were not applied it refuses
//!   to start in one line and creates nothing; the CMS role writes articles
//!   through the triggers (a replica shows them) and nothing else; a
//!   replica holds at most cores + 5 connections;
//! - the load balancer's nginx configuration, as docs/deployment.md writes
//!   it (between its `replicas-nginx` markers, addresses and port
//!   replaced), in front of two replicas: the same bytes as a replica
//!   sends, `/metrics` and `/healthz` refused to the public, and requests
//!   still served with one replica gone (where nginx is installed; it says
//!   it skipped otherwise);
//! - the static site's nginx configuration (its `static-nginx` markers)
//!   over `bantin build` of the sample: the built bytes, gzip to a client
//!   that takes it, `Vary: Accept-Encoding` on every document (`/` and
//!   `feeds.opml` too) whatever the client asked, the build's manifest
//!   refused;
//! - `contrib/bantin.service` passes `systemd-analyze verify` (where
//!   systemd is installed; skipped otherwise).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Bantin, Process, Reply, Sandbox, articles_dir, bin, client, get, root};

/// The code blocks of `lang` in the document `doc` (a path from the
/// repository's root) between `<!-- NAME -->` and `<!-- /NAME -->`.
pub fn doc_blocks(doc: &str, name: &str, lang: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(doc)).unwrap();
    let start = text
        .find(&format!("<!-- {name} -->"))
        .unwrap_or_else(|| panic!("{doc} has no <!-- {name} --> marker"));
    let end = text[start..]
        .find(&format!("<!-- /{name} -->"))
        .unwrap_or_else(|| panic!("{doc}'s <!-- {name} --> marker is not closed"))
        + start;
    let mut blocks = Vec::new();
    let mut rest = &text[start..end];
    let fence = format!("```{lang}\n");
    while let Some(i) = rest.find(&fence) {
        let body = &rest[i + fence.len()..];
        let close = body.find("```").expect("a closed code block");
        blocks.push(body[..close].to_string());
        rest = &body[close..];
    }
    blocks
}

/// A database session as `user` (the cluster trusts local connections).
fn session(port: u16, user: &str, db: &str) -> postgres::Client {
    postgres::Client::connect(
        &format!("postgres://{user}@127.0.0.1:{port}/{db}"),
        postgres::NoTls,
    )
    .unwrap_or_else(|e| panic!("connecting as {user} to {db}: {e}"))
}

/// Run SQL as `psql` would: statement by statement, each in a transaction
/// of its own (`CREATE DATABASE` can't run in one with others).
fn run_script(client: &mut postgres::Client, sql: &str, what: &str) {
    let text: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    for statement in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        client
            .batch_execute(statement)
            .unwrap_or_else(|e| panic!("{what}: {statement}: {e}"));
    }
}

/// The server's message of a failed statement.
fn refused(r: Result<u64, postgres::Error>) -> String {
    match r {
        Ok(n) => panic!("allowed ({n} rows)"),
        Err(e) => e
            .as_db_error()
            .map_or(e.to_string(), |d| d.message().to_string()),
    }
}

/// Blocking HTTP for a synchronous test (the PostgreSQL client must not
/// run on a thread that drives tokio; this one drives it only in here).
struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    fn new() -> Http {
        Http {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: client(),
        }
    }

    fn get(&self, url: &str) -> Reply {
        self.get_with(url, &[])
    }

    fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> Reply {
        self.runtime.block_on(get(&self.client, url, headers))
    }

    /// Poll `url` until its body holds `needle`; how long it took.
    fn until_shown(&self, url: &str, needle: &str, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.get(url).text().contains(needle) {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// Where the roles and grants are written.
const ROLES_DOC: &str = "docs/postgresql.md";
/// Where both nginx configurations are written.
const DEPLOY_DOC: &str = "docs/deployment.md";

#[test]
fn the_documented_roles_and_grants_give_each_role_what_it_needs_and_no_more() {
    let Some(port) = crate::support::pg_cluster::port() else {
        return;
    };
    let sql = doc_blocks(ROLES_DOC, "replicas-roles", "sql");
    let sh = doc_blocks(ROLES_DOC, "replicas-roles", "sh");
    assert_eq!(
        (sql.len(), sh.len()),
        (2, 1),
        "{ROLES_DOC}'s roles section changed shape"
    );
    assert!(sh[0].contains("bantin_owner") && sh[0].contains(" migrate"));
    let url = |user: &str, password: &str, db: &str| {
        format!("postgres://{user}:{password}@127.0.0.1:{port}/{db}")
    };
    let (owner, app, cms) = (
        url("bantin_owner", "change-me-1", "news"),
        url("bantin", "change-me-2", "news"),
        url("cms", "change-me-3", "news"),
    );

    // 1. As a superuser; 2. the owner migrates; 3. the owner grants.
    run_script(
        &mut session(port, "postgres", "postgres"),
        &sql[0],
        "step 1",
    );
    Bantin::on(&owner).args(["migrate"]).ok();
    let mut as_owner = postgres::Client::connect(&owner, postgres::NoTls).unwrap();
    run_script(&mut as_owner, &sql[1], "step 3");

    // The runtime role: import, serve, remove, check, trim.
    Bantin::on(&app)
        .args(["import", articles_dir().to_str().unwrap()])
        .ok();
    let replica = Process::start_url(&app);
    let http = Http::new();
    let all = replica.url("/feeds/all.rss");
    assert_eq!(http.get(&all).status, 200);

    // The CMS: an article, its links, an edit, through the triggers.
    let published = "2024-06-02T09:00:00+07:00";
    let us = chrono::DateTime::parse_from_rfc3339(published)
        .unwrap()
        .timestamp_micros();
    let mut as_cms = postgres::Client::connect(&cms, postgres::NoTls).unwrap();
    as_cms
        .batch_execute(&format!(
            "BEGIN;
             INSERT INTO articles (id, title, authors, published, published_us)
             VALUES ('cms-quyen', 'Bài của CMS', '[\"Tòa soạn\"]', '{published}', {us});
             INSERT INTO article_categories (article_id, slug, name, position, published_us)
             VALUES ('cms-quyen', 'thoi-su', 'Thời sự', 0, {us});
             INSERT INTO article_authors (article_id, slug, name, position, published_us)
             VALUES ('cms-quyen', 'toa-soan', 'Tòa soạn', 0, {us});
             UPDATE articles SET title = 'Bài của CMS, sửa' WHERE id = 'cms-quyen';
             COMMIT;"
        ))
        .expect("the CMS's transaction");
    assert!(
        http.until_shown(&all, "Bài của CMS, sửa", Duration::from_secs(10))
            .is_some(),
        "the replica never showed the CMS's article"
    );
    let mut ids: Vec<String> = crate::support::sample_articles()
        .into_iter()
        .map(|a| a.id)
        .collect();
    ids.sort();
    Bantin::on(&app).args(["remove", &ids[0]]).ok();
    Bantin::on(&app).args(["check"]).ok();
    {
        use bantin::store::Store;
        let store = bantin::store::postgres::PostgresStore::open(&app).unwrap();
        store
            .trim_log(chrono::Utc::now())
            .expect("trimming the change log as bantin");
    }

    // A replica's connections: read connections for a burst of cold feeds,
    // the change log's, the listener's, the writers' (trimming).
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let paths: Vec<String> = ["thoi-su", "kinh-te", "xa-hoi", "the-thao", "giao-duc"]
        .iter()
        .flat_map(|c| ["rss", "atom", "json"].map(|e| format!("/feeds/category/{c}.{e}")))
        .collect();
    http.runtime.block_on(async {
        let gets: Vec<_> = paths
            .iter()
            .map(|p| {
                let (c, u) = (http.client.clone(), replica.url(p));
                tokio::spawn(async move { get(&c, &u, &[]).await.status })
            })
            .collect();
        for g in gets {
            assert_eq!(g.await.unwrap(), 200);
        }
    });
    let held: i64 = session(port, "postgres", "postgres")
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'bantin'",
            &[],
        )
        .unwrap()
        .get(0);
    eprintln!("deploy: a replica on {cores} cores held {held} connections");
    assert!(
        held as usize <= cores + 5,
        "a replica holds {held} connections on {cores} cores"
    );
    let log = replica.stderr.lock().unwrap().clone();
    assert!(!log.contains("change-me"), "a password in the log: {log}");
    assert!(log.contains("postgres://bantin:***@"), "{log}");
    drop(replica);

    // And no more.
    let mut as_app = session(port, "bantin", "news");
    assert!(refused(as_app.execute("CREATE TABLE x (y INT)", &[])).contains("permission denied"));
    assert!(
        refused(as_app.execute("DROP TRIGGER bantin_articles_changed ON articles", &[]))
            .contains("must be owner")
    );
    for statement in [
        "DELETE FROM bantin_log",
        "UPDATE bantin_counts SET delta = 0",
        "DELETE FROM bantin_migrations",
        "CREATE TABLE x (y INT)",
        "ALTER TABLE articles DISABLE TRIGGER USER",
    ] {
        let why = refused(as_cms.execute(statement, &[]));
        assert!(
            why.contains("permission denied") || why.contains("must be owner"),
            "{statement}: {why}"
        );
    }
    // What a bulk import runs before it commits, as the tables' owner
    // whoever imports: the runtime role gets the planner's statistics (and
    // PostgreSQL lets only the owner run ANALYZE itself).
    as_app
        .batch_execute("SELECT bantin_settle()")
        .expect("bantin_settle as the runtime role");
    let analyzed = crate::support::pg_cluster::analyzed_article_tables(&mut as_app);
    assert_eq!(
        analyzed, 4,
        "bantin_settle as the runtime role analyzed nothing"
    );
    // Neither may create temporary tables but bantin (import stages there).
    assert!(
        refused(as_cms.execute("CREATE TEMP TABLE t (y INT)", &[])).contains("permission denied")
    );

    // Bantin upgraded, step 2 forgotten: the runtime role refuses in one
    // line and leaves the database as it was.
    session(port, "postgres", "postgres")
        .batch_execute("CREATE DATABASE news_next OWNER bantin_owner")
        .unwrap();
    // A command that migrates can't; one that only reads says to migrate.
    for (args, says) in [
        (&["remove", "x"][..], "permission denied for schema public"),
        (&["dump"][..], "run `bantin migrate`"),
    ] {
        let out = Bantin::on(&url("bantin", "change-me-2", "news_next"))
            .args(args)
            .output();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("change-me"), "{err}");
    }
    let created: i64 = session(port, "bantin_owner", "news_next")
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(created, 0);

    nginx_in_front(&app, &http);
}

/// The path of nginx, or `None` (said, and a failure under CI) where it
/// is not installed.
fn nginx_binary(what: &str) -> Option<&'static Path> {
    let found = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have nginx for {what}"
        );
        eprintln!("SKIPPED: {what} (nginx is not installed)");
    }
    found
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start nginx with `server` (a documented `server` block, made to listen
/// on `port`) as its one site; stopped when the result is dropped.
fn start_nginx(nginx: &Path, server: &str, port: u16) -> (Nginx, tempfile::TempDir) {
    assert!(server.contains("listen 80;"));
    let server = server.replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    let dir = tempfile::tempdir().unwrap();
    // nginx's workers run as `nobody` when started as root.
    let _ = Command::new("chmod").arg("755").arg(dir.path()).status();
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("nginx.conf"),
        format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n\
             access_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
             {server}\n}}\n"
        ),
    )
    .unwrap();
    let test = Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&test.stderr)
    );
    let server = Nginx(
        Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nginx did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, dir)
}

/// The load balancer's nginx configuration in front of two replicas of
/// `store`.
fn nginx_in_front(store: &str, http: &Http) {
    let Some(nginx) = nginx_binary("the load balancer's nginx configuration") else {
        return;
    };
    let blocks = doc_blocks(DEPLOY_DOC, "replicas-nginx", "nginx");
    assert_eq!(blocks.len(), 1);
    let replicas = [Process::start_url(store), Process::start_url(store)];
    let port = free_port();
    let mut config = blocks[0].clone();
    for (from, replica) in ["10.0.0.11:8080", "10.0.0.12:8080"].iter().zip(&replicas) {
        assert!(
            config.contains(from),
            "{from} not in {DEPLOY_DOC}'s nginx block"
        );
        config = config.replace(from, replica.base.trim_start_matches("http://"));
    }
    let (_server, _dir) = start_nginx(nginx, &config, port);
    let front = format!("http://127.0.0.1:{port}");
    let direct = http.get(&replicas[0].url("/feeds/all.atom"));
    let through = http.get(&format!("{front}/feeds/all.atom"));
    assert_eq!(through.status, 200);
    assert_eq!(through.etag(), direct.etag());
    assert!(through.body == direct.body);
    // Not for the public (this client is not in the private network): a
    // replica's own figures and health stay behind the balancer.
    assert_eq!(http.get(&replicas[0].url("/healthz")).text(), "ok\n");
    for path in ["/metrics", "/healthz"] {
        assert_eq!(http.get(&format!("{front}{path}")).status, 403, "{path}");
    }
    // One replica gone: nginx takes the other.
    let [first, second] = replicas;
    drop(first);
    for _ in 0..10 {
        let r = http.get(&format!("{front}/feeds/all.atom"));
        assert_eq!(r.status, 200, "through nginx with a replica gone");
        assert_eq!(r.etag(), direct.etag());
    }
    drop(second);
}

#[test]
fn the_documented_static_site_config_serves_the_build_with_vary() {
    let Some(nginx) = nginx_binary("the static site's nginx configuration") else {
        return;
    };
    let blocks = doc_blocks(DEPLOY_DOC, "static-nginx", "nginx");
    assert_eq!(blocks.len(), 1);
    let sample = Sandbox::with_sample();
    let public = sample.path("public");
    sample.run_ok(&["build", "--out", public.to_str().unwrap()]);
    // nginx's workers run as `nobody` when started as root.
    for dir in [sample.dir(), public.as_path()] {
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("a+rX")
            .arg(dir)
            .status();
    }
    let mut config = blocks[0].clone();
    assert!(config.contains("root /srv/bantin/public;"));
    config = config.replace(
        "root /srv/bantin/public;",
        &format!("root {};", public.display()),
    );
    let port = free_port();
    let (_server, _dir) = start_nginx(nginx, &config, port);
    let http = Http::new();
    let front = format!("http://127.0.0.1:{port}");
    for (path, file, ctype) in [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/feeds.opml", "feeds.opml", "text/x-opml; charset=utf-8"),
        (
            "/feeds/all.rss",
            "feeds/all.rss",
            "application/rss+xml; charset=utf-8",
        ),
        (
            "/feeds/all.json",
            "feeds/all.json",
            "application/feed+json; charset=utf-8",
        ),
    ] {
        let built = std::fs::read(public.join(file)).unwrap();
        let gz = std::fs::read(public.join(format!("{file}.gz"))).unwrap();
        let plain = http.get_with(&format!("{front}{path}"), &[]);
        assert_eq!(plain.status, 200, "{path}");
        assert!(plain.body == built, "{path}: not the built bytes");
        assert_eq!(
            plain.header("content-type").as_deref(),
            Some(ctype),
            "{path}"
        );
        let zipped = http.get_with(&format!("{front}{path}"), &[("accept-encoding", "gzip")]);
        assert_eq!(
            zipped.header("content-encoding").as_deref(),
            Some("gzip"),
            "{path}"
        );
        assert!(zipped.body == gz, "{path}: not the built .gz");
        // A cache in between must keep the two apart: every answer says
        // it depends on Accept-Encoding, once.
        for r in [&plain, &zipped] {
            let vary: Vec<_> = r.headers.get_all("vary").iter().collect();
            assert_eq!(vary, ["Accept-Encoding"], "{path}");
        }
    }
    let feed = http.get_with(&format!("{front}/feeds/all.rss"), &[]);
    assert_eq!(
        feed.header("access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(
        feed.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        http.get_with(&format!("{front}/.bantin-build"), &[]).status,
        403
    );
    for path in ["/metrics", "/healthz", "/feeds/search.rss?q=bao"] {
        assert_eq!(
            http.get_with(&format!("{front}{path}"), &[]).status,
            404,
            "{path}"
        );
    }
}

/// nginx's master process, stopped on drop (a test that fails too): TERM,
/// so that it stops its workers (a KILL would leave them running).
struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
    else {
        eprintln!("SKIPPED: contrib/bantin.service (systemd-analyze is not installed)");
        return;
    };
    let unit = std::fs::read_to_string(root().join("contrib/bantin.service")).unwrap();
    // verify wants the program to exist: point it at the one built here.
    assert!(unit.contains("ExecStart=/usr/local/bin/bantin "));
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("bantin.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/bantin", &bin().display().to_string()),
    )
    .unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
    for key in [
        "DynamicUser=yes",
        "StateDirectory=bantin",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
    ] {
        assert!(unit.lines().any(|l| l == key), "{key} not in the unit");
    }
}
