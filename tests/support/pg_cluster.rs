//! A throwaway PostgreSQL cluster for the PostgreSQL tests: started once per
//! run of the test binary (initdb and pg_ctl from the postgresql package, on
//! a free loopback port, in a temp folder), one fresh database per test.
//!
//! A watchdog shell outlives the test process by a second, then stops the
//! cluster and deletes its folder, however the tests ended. As root (initdb
//! refuses root) the cluster belongs to the `postgres` user.
//!
//! Without PostgreSQL installed, [`database`] returns `None` after printing
//! `SKIPPED: ...`; under `CI` it panics instead: CI must run these tests.
//!
//! [`database_with_schema`] clones a database that already holds bantin's
//! schema instead of running the migrations in each one (0.2 s), and
//! [`database_with_sample`] one that also holds the sample articles; a
//! thread keeps a few clones ready: the suite makes a database for most of
//! its tests.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use bantin::store::Store;
use bantin::store::postgres::PostgresStore;

/// A running cluster.
struct Cluster {
    port: u16,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();

/// Where initdb and pg_ctl are: PATH first, then Debian's versioned folders
/// (newest first).
fn bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program` run as the cluster's owner: `postgres` when we are root.
fn as_owner(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Where PostgreSQL's programs are, or `None` after saying the tests skip
/// (a panic under `CI`).
fn programs() -> Option<PathBuf> {
    let bin = bin_dir();
    if bin.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("CI must have PostgreSQL: apt-get install postgresql");
        }
        eprintln!("SKIPPED: PostgreSQL tests need initdb and pg_ctl (apt-get install postgresql)");
    }
    bin
}

/// A cluster's folder, data and port: made by `initdb`, started and stopped
/// with `pg_ctl`, and stopped and deleted by a watchdog when the test
/// process is gone, however it ended.
struct Instance {
    bin: PathBuf,
    root: bool,
    dir: PathBuf,
    data: PathBuf,
    port: u16,
}

impl Instance {
    /// `initdb` in a new temp folder; not started.
    fn init(bin: PathBuf) -> Instance {
        let root = is_root();
        let dir = tempfile::Builder::new()
            .prefix("bantin-pg-")
            .tempdir()
            .unwrap()
            .keep();
        if root {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:postgres").arg(&dir);
                    c
                },
                "chown",
            );
        }
        let data = dir.join("data");
        let pg_ctl = bin.join("pg_ctl");
        // The watchdog first, so that even a failed start is cleaned up.
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {owner}'{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            owner = if root { "runuser -u postgres -- " } else { "" },
            pg_ctl = pg_ctl.display(),
            data = data.display(),
            dir = dir.display(),
        );
        // Detached: `setsid -f` (or a background subshell) returns at once and
        // leaves the loop running on its own, out of the test's process group,
        // so a Ctrl-C to the tests does not kill it.
        let detached = |mut cmd: Command| {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let mut setsid = Command::new("setsid");
        setsid.args(["-f", "sh", "-c", &stop]);
        let mut background = Command::new("sh");
        background.args(["-c", &format!("({stop}) &")]);
        assert!(
            detached(setsid) || detached(background),
            "starting the cluster's watchdog"
        );

        let mut initdb = as_owner(root, &bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
        ]);
        run(initdb, "initdb");
        Instance {
            bin,
            root,
            dir,
            data,
            port: free_port(),
        }
    }

    fn pg_ctl(&self) -> Command {
        let mut c = as_owner(self.root, &self.bin.join("pg_ctl"));
        c.arg("-D").arg(&self.data).stdin(Stdio::null());
        c
    }

    /// Start the server on its port and wait until it accepts connections.
    fn start(&self) {
        let mut start = self.pg_ctl();
        start
            .arg("-l")
            .arg(self.dir.join("log"))
            .arg("-w")
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off",
                self.port,
                self.dir.display()
            ))
            .arg("start");
        let started = start.output().expect("running pg_ctl");
        if !started.status.success() {
            panic!(
                "pg_ctl start failed: {}{}\n{}",
                String::from_utf8_lossy(&started.stdout),
                String::from_utf8_lossy(&started.stderr),
                self.log()
            );
        }
    }

    /// Stop the server: `fast` (clients disconnected, a clean shutdown) or
    /// `immediate`.
    fn stop(&self, mode: &str) {
        let mut stop = self.pg_ctl();
        stop.args(["-m", mode, "-w", "stop"]);
        run(stop, "pg_ctl stop");
    }

    /// The server's log so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

fn start() -> Option<Cluster> {
    let instance = Instance::init(programs()?);
    instance.start();
    Some(Cluster {
        port: instance.port,
    })
}

/// A cluster of one test's own, which it may stop and start again (the
/// shared one serves every other test): for outages, and for a server log
/// that only that test writes to. Stopped and deleted on drop.
pub struct PrivateCluster {
    instance: Instance,
}

impl PrivateCluster {
    /// A new cluster, started; `None` (after saying so) where PostgreSQL is
    /// not installed, a panic under `CI`.
    pub fn start() -> Option<PrivateCluster> {
        let instance = Instance::init(programs()?);
        instance.start();
        Some(PrivateCluster { instance })
    }

    /// A fresh, empty database (see [`database`]).
    pub fn database(&self) -> String {
        create(self.instance.port, None)
    }

    /// Stop it (`pg_ctl -m fast`: every client is disconnected).
    pub fn stop(&self) {
        self.instance.stop("fast");
    }

    /// Start it again, on the same port, and wait until it accepts
    /// connections.
    pub fn restart(&self) {
        self.instance.start();
    }

    /// The server's log so far (every session's errors, deadlocks included).
    pub fn log(&self) -> String {
        self.instance.log()
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let mut stop = self.instance.pg_ctl();
        let _ = stop
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.instance.dir);
    }
}

/// Whether the PostgreSQL tests can run: the cluster is started (on first
/// call). `false` after printing `SKIPPED: ...`; panics under `CI` instead.
/// Blocking, but safe on a thread that drives tokio (no database client).
pub fn available() -> bool {
    CLUSTER.get_or_init(start).is_some()
}

/// The shared cluster's port (it trusts every local connection, so any
/// role created there logs in without its password), or `None` when the
/// tests must skip.
pub fn port() -> Option<u16> {
    Some(CLUSTER.get_or_init(start).as_ref()?.port)
}

/// The URL of a fresh, empty database, or `None` when the tests must skip.
///
/// The database collates by an ICU locale where the server has ICU, so that
/// the schema's `COLLATE "C"` columns are what gives byte order, not the
/// database's default.
pub fn database() -> Option<String> {
    let cluster = CLUSTER.get_or_init(start).as_ref()?;
    Some(create(cluster.port, None))
}

/// The URL of a fresh database holding bantin's schema and no article, or
/// `None` when the tests must skip. Not for tests of the migrations
/// themselves: use [`database`].
pub fn database_with_schema() -> Option<String> {
    static SPARES: OnceLock<Arc<Spares>> = OnceLock::new();
    let cluster = CLUSTER.get_or_init(start).as_ref()?;
    let spares = SPARES.get_or_init(|| {
        let url = create(cluster.port, None);
        // Migrate, then close every connection: a template must have none
        // while it is copied.
        drop(PostgresStore::open(&url).expect("migrating the template"));
        Spares::start(cluster.port, name_of(&url))
    });
    Some(spares.take())
}

/// The URL of a fresh database holding the sample articles (imported
/// through the library), or `None` when the tests must skip.
pub fn database_with_sample() -> Option<String> {
    static SPARES: OnceLock<Arc<Spares>> = OnceLock::new();
    let cluster = CLUSTER.get_or_init(start).as_ref()?;
    let spares = SPARES.get_or_init(|| {
        let url = database_with_schema().expect("the cluster runs");
        let store = PostgresStore::open(&url).expect("opening the template");
        store
            .upsert(&crate::support::sample_articles())
            .expect("importing the sample into the template");
        drop(store);
        Spares::start(cluster.port, name_of(&url))
    });
    Some(spares.take())
}

/// Copies of a template database made ahead of demand by a thread of their
/// own: on a cluster busy with the other tests a copy takes from 0.05 to
/// 1 s (it waits for two checkpoints), which a test would otherwise wait
/// for.
struct Spares {
    port: u16,
    template: String,
    ready: Mutex<VecDeque<String>>,
    changed: Condvar,
    /// The maker died (its panic is on stderr): takers make their own.
    dead: AtomicBool,
}

impl Spares {
    /// Copies kept ready.
    const AHEAD: usize = 3;

    fn start(port: u16, template: String) -> Arc<Spares> {
        let spares = Arc::new(Spares {
            port,
            template,
            ready: Mutex::new(VecDeque::new()),
            changed: Condvar::new(),
            dead: AtomicBool::new(false),
        });
        let maker = spares.clone();
        std::thread::spawn(move || {
            let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| maker.make()));
            if made.is_err() {
                maker.dead.store(true, Ordering::SeqCst);
                maker.changed.notify_all();
            }
        });
        spares
    }

    /// Keep [`Spares::AHEAD`] copies ready, for as long as the tests run.
    fn make(&self) {
        loop {
            {
                let mut ready = self.ready.lock().unwrap();
                while ready.len() >= Self::AHEAD {
                    ready = self.changed.wait(ready).unwrap();
                }
            }
            let url = create(self.port, Some(&self.template));
            self.ready.lock().unwrap().push_back(url);
            self.changed.notify_all();
        }
    }

    /// A ready copy, waiting for one if needed.
    fn take(&self) -> String {
        let mut ready = self.ready.lock().unwrap();
        loop {
            if let Some(url) = ready.pop_front() {
                self.changed.notify_all();
                return url;
            }
            if self.dead.load(Ordering::SeqCst) {
                drop(ready);
                return create(self.port, Some(&self.template));
            }
            ready = self.changed.wait(ready).unwrap();
        }
    }
}

fn name_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

/// `CREATE DATABASE` on the cluster at `port`: from `template0` (with an ICU
/// collation where the server has ICU), or as a copy of `template`.
fn create(port: u16, template: Option<&str>) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let mut client =
        postgres::Client::connect(&admin, postgres::NoTls).expect("connecting to the cluster");
    match template {
        // FILE_COPY: a copy of the files, twice as fast as the default
        // (WAL-logged block by block) for databases this small.
        // (The option is PostgreSQL 15's; older servers copy files anyway.)
        Some(t) => {
            let copy = format!("CREATE DATABASE {name} TEMPLATE {t}");
            if client
                .batch_execute(&format!("{copy} STRATEGY FILE_COPY"))
                .is_err()
            {
                client
                    .batch_execute(&copy)
                    .expect("copying the template database");
            }
        }
        None => {
            let icu = format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'en'"
            );
            if client.batch_execute(&icu).is_err() {
                client
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("creating a test database");
            }
        }
    }
    format!("postgres://postgres@127.0.0.1:{port}/{name}")
}

/// How many of the four article tables have the planner's statistics
/// (`pg_stats` shows a role only the columns it may read).
pub fn analyzed_article_tables(db: &mut postgres::Client) -> i64 {
    db.query_one(
        "SELECT count(DISTINCT tablename) FROM pg_stats WHERE schemaname = 'public'
         AND tablename IN ('articles', 'article_categories', 'article_regions', 'article_authors')",
        &[],
    )
    .unwrap()
    .get(0)
}
