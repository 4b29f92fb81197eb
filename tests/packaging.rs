//! Issue 20, packaging as docs/deployment.md shows it:
//!
//! - `cargo install --locked --path .` into a fresh `--root` gives a
//!   `bantin` that runs (under `CI`, or with `BANTIN_TEST_INSTALL=1`: it
//!   builds bantin once more; `--debug` so that CI, which keeps its target
//!   folder in `CARGO_TARGET_DIR`, reuses the test build's artifacts);
//! - the `Containerfile`: two stages, a non-root user, the store on a
//!   volume, and a `HEALTHCHECK` whose command, run as written against a
//!   real `bantin serve`, passes while it answers and fails once it is
//!   gone. Building and running the image needs `podman` and the base
//!   images from a registry: with `BANTIN_TEST_CONTAINER=1` that is done
//!   too (the machines CI runs on reach no image registry).

use std::process::Command;

use crate::support::{Process, Sandbox, root};

#[test]
fn cargo_install_locked_puts_a_working_bantin_in_its_root() {
    let asked = std::env::var_os("BANTIN_TEST_INSTALL").is_some_and(|v| v == "1");
    if std::env::var_os("CI").is_none() && !asked {
        eprintln!("SKIPPED cargo install: runs under CI or with BANTIN_TEST_INSTALL=1");
        return;
    }
    let into = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["install", "--locked", "--debug", "--quiet", "--path"])
        .arg(root())
        .arg("--root")
        .arg(into.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bantin = into.path().join("bin/bantin");
    let version = Command::new(&bantin).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!("bantin {}\n", env!("CARGO_PKG_VERSION"))
    );
    let sb = Sandbox::new();
    let site = root().join("feeds/site.toml");
    let import = Command::new(&bantin)
        .arg("--store")
        .arg(format!("sqlite:{}", sb.path("s.db").display()))
        .arg("--site")
        .arg(&site)
        .arg("import")
        .arg(root().join("feeds/articles"))
        .output()
        .unwrap();
    assert!(import.status.success(), "{import:?}");
}

/// The Containerfile's `HEALTHCHECK` command: the JSON array after `CMD`.
fn healthcheck(containerfile: &str) -> Vec<String> {
    let start = containerfile.find("HEALTHCHECK").expect("a HEALTHCHECK");
    let rest = &containerfile[start..];
    let cmd = &rest[rest.find("CMD [").unwrap() + 4..];
    let line = &cmd[..cmd.find('\n').unwrap()];
    serde_json::from_str(line).unwrap()
}

#[test]
fn the_containerfile_runs_as_a_user_with_the_store_on_a_volume_and_its_healthcheck_works() {
    let file = std::fs::read_to_string(root().join("Containerfile")).unwrap();
    let froms = file.lines().filter(|l| l.starts_with("FROM ")).count();
    assert_eq!(froms, 2, "a build stage and a runtime stage");
    assert!(file.contains("\nUSER bantin\n") && file.contains("useradd --system"));
    assert!(file.contains("\nVOLUME /var/lib/bantin\n"));
    assert!(file.contains("BANTIN_LISTEN=0.0.0.0:8080"));
    let check = healthcheck(&file);
    assert!(check.iter().any(|a| a.contains("/healthz")), "{check:?}");

    // Run as written, against a real server on the port it names.
    let sample = Sandbox::with_sample();
    let server = Process::start_url(&sample.store_url());
    let port = server.base.rsplit(':').next().unwrap().to_string();
    let run = |check: &[String]| {
        Command::new(&check[0])
            .args(check[1..].iter().map(|a| a.replace("8080", &port)))
            .status()
            .unwrap()
            .success()
    };
    assert!(run(&check), "the healthcheck fails on a healthy server");
    drop(server);
    assert!(!run(&check), "the healthcheck passes with no server");

    if std::env::var_os("BANTIN_TEST_CONTAINER").is_some_and(|v| v == "1") {
        build_and_run_the_image();
    }
}

/// `podman build` then `podman run`, until the container says healthy.
fn build_and_run_the_image() {
    let podman = |args: &[&str]| {
        let out = Command::new("podman").args(args).output().expect("podman");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let tag = "localhost/bantin-test:latest";
    let context = root();
    podman(&[
        "build",
        "-t",
        tag,
        "-f",
        "Containerfile",
        context.to_str().unwrap(),
    ]);
    let id = podman(&["run", "-d", "-p", "127.0.0.1::8080", tag]);
    let user = podman(&["exec", &id, "id", "-u"]);
    assert_ne!(user, "0", "the container runs as root");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        // `healthcheck run` exits 0 once the check passes.
        if Command::new("podman")
            .args(["healthcheck", "run", &id])
            .status()
            .is_ok_and(|s| s.success())
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never healthy");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    podman(&["rm", "-f", &id]);
}
