//! Servers for the HTTP tests:
//!
//! - [`Server`]: `bantin::http::server::run` in this process on port 0,
//!   with [`Limits`] chosen by the test, stopped through its shutdown future.
//! - [`Process`]: the real `bantin serve` on port 0, killed on drop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bantin::http::app::App;
use bantin::http::server::Limits;
use bantin::store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::{Bantin, Sandbox, site};

/// Limits for tests: generous, so that only the test that means to trip
/// one of them does.
pub fn test_limits() -> Limits {
    Limits {
        max_connections: 256,
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(10),
        write_timeout: Duration::from_secs(10),
        grace: Duration::from_secs(2),
    }
}

/// `bantin::http::server::run` in this process, on 127.0.0.1 and port 0.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    /// Its state: metrics and cache.
    pub app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Serve the sample site from `store` with [`test_limits`].
    pub async fn start(store: Box<dyn Store>) -> Server {
        Server::start_with(store, test_limits()).await
    }

    /// Serve the sample site from a new connection to `sample`'s store.
    pub async fn sample(sample: &Sandbox) -> Server {
        Server::start(sample.open()).await
    }

    /// Serve the sample site from `store` with `limits`.
    pub async fn start_with(store: Box<dyn Store>, limits: Limits) -> Server {
        // Off the runtime: the PostgreSQL client blocks on a runtime of its own.
        let app = tokio::task::spawn_blocking(move || App::new(site(), store))
            .await
            .unwrap();
        let app = Arc::new(app.expect("building the app"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        let task = tokio::spawn(bantin::http::server::run(
            app.clone(),
            listener,
            limits,
            shutdown,
        ));
        Server {
            addr,
            base: format!("http://{addr}"),
            app,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Ask the server to stop and wait until `run` returns.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("server stops within 10 s")
                .unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The real `bantin serve`, on 127.0.0.1 and port 0; killed on drop.
pub struct Process {
    child: Child,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    /// Everything it printed on stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

impl Process {
    /// `bantin --store sqlite:DB --site feeds/site.toml serve --listen 127.0.0.1:0`.
    pub fn start(db: &Path) -> Process {
        Process::start_url(&format!("sqlite:{}", db.display()))
    }

    /// `bantin --store URL --site feeds/site.toml serve --listen 127.0.0.1:0`.
    pub fn start_url(store: &str) -> Process {
        Process::serve(&Bantin::on(store))
    }

    /// `cmd serve --listen 127.0.0.1:0`, once it says where it listens.
    pub fn serve(cmd: &Bantin) -> Process {
        let mut child = cmd
            .clone()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting bantin serve");
        let stderr = child.stderr.take().unwrap();
        let seen = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let sink = seen.clone();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push_str(&line);
                sink.lock().unwrap().push('\n');
                if let Some(rest) = line.split(" on http://").nth(1) {
                    let _ = tx.send(rest.trim_end_matches('/').to_string());
                }
            }
        });
        let mut process = Process {
            child,
            base: String::new(),
            stderr: seen,
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(hostport) => process.base = format!("http://{hostport}"),
            Err(_) => panic!(
                "bantin serve did not say where it serves; stderr: {}",
                process.stderr.lock().unwrap()
            ),
        }
        process
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The lines it printed on stderr so far that contain `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send a signal (`TERM`, `INT`) with `kill`.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Wait up to `limit` for the process to exit.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
