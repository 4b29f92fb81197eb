//! Issue 20, what an operator meets first: the server's log lines (text
//! without colour when stderr is not a terminal, or JSON, each request
//! named with its client, bytes and User-Agent), the warning when
//! `base_url` leads elsewhere, and the completion scripts and manual page.

use std::collections::BTreeSet;
use std::process::Command;

use crate::support::{Bantin, Process, Sandbox, client, wait_until};

/// Every subcommand, as completions and the manual page must name them.
const SUBCOMMANDS: [&str; 9] = [
    "serve",
    "import",
    "remove",
    "dump",
    "build",
    "check",
    "migrate",
    "completions",
    "man",
];

/// The request lines of a log in `json` format, parsed.
fn json_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_name_each_request_with_its_client_bytes_and_user_agent() {
    let sample = Sandbox::with_sample();
    let url = sample.store_url();
    let server = tokio::task::spawn_blocking(move || {
        Process::serve(Bantin::on(&url).log("info").args(["--log-format", "json"]))
    })
    .await
    .unwrap();
    let c = client();
    let r = c
        .get(server.url("/feeds/all.rss"))
        .header(
            "User-Agent",
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers; )",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    let line = wait_until(std::time::Duration::from_secs(20), || {
        let log = server.stderr.lock().unwrap().clone();
        async move { log.contains("/feeds/all.rss") }
    })
    .await;
    assert!(
        line.is_some(),
        "no request line: {}",
        server.stderr.lock().unwrap()
    );
    let log = server.stderr.lock().unwrap().clone();
    let lines = json_lines(&log);
    assert!(!lines.is_empty(), "no JSON line in:\n{log}");
    for l in &lines {
        assert!(
            l["ts"].is_string() && l["level"].is_string() && l["msg"].is_string(),
            "{l}"
        );
    }
    let request = lines
        .iter()
        .find(|l| l["path"] == "/feeds/all.rss")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(request["msg"], "request");
    assert_eq!(request["level"], "info");
    assert_eq!(request["method"], "GET");
    assert_eq!(request["status"], 200);
    assert_eq!(request["bytes"], body.len() as u64);
    assert!(request["micros"].is_u64(), "{request}");
    assert!(
        request["client"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{request}"
    );
    assert_eq!(
        request["user_agent"],
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers; )"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn text_logs_to_a_pipe_have_no_colour_and_warn_of_links_elsewhere() {
    let sample = Sandbox::with_sample();
    let url = sample.store_url();
    let server = tokio::task::spawn_blocking(move || Process::serve(Bantin::on(&url).log("info")))
        .await
        .unwrap();
    let c = client();
    let r = c.get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let seen = wait_until(std::time::Duration::from_secs(20), || {
        let log = server.stderr.lock().unwrap().clone();
        async move { log.contains("request") }
    })
    .await;
    assert!(seen.is_some(), "{}", server.stderr.lock().unwrap());
    let log = server.stderr.lock().unwrap().clone();
    assert!(!log.contains('\u{1b}'), "escape codes on a pipe:\n{log}");
    let request = log.lines().find(|l| l.contains(" request")).unwrap();
    for field in [
        "client=127.0.0.1:",
        "method=GET",
        "path=/",
        "status=200",
        "bytes=",
        "user_agent=",
    ] {
        assert!(request.contains(field), "{field} missing: {request}");
    }
    // The sample's base_url is http://127.0.0.1:8080; this server is on
    // another port, which its links do not lead to.
    let port = server.base.rsplit(':').next().unwrap();
    let warning = log
        .lines()
        .find(|l| l.starts_with("bantin: warning:"))
        .unwrap_or_else(|| panic!("no warning:\n{log}"));
    assert!(
        warning.contains(&format!("names port 8080, not {port}")),
        "{warning}"
    );
}

/// `bantin ARGS` with no store or site, which must exit 0.
fn bantin(args: &[&str]) -> std::process::Output {
    Bantin::bare().args(args).ok()
}

#[test]
fn bash_completes_bantins_subcommands_and_flags() {
    let script = String::from_utf8(bantin(&["completions", "bash"]).stdout).unwrap();
    let complete = |words: &str, index: usize| -> String {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "eval \"$SCRIPT\"; COMP_WORDS=({words}); COMP_CWORD={index}; \
                 COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; \
                 _bantin bantin \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; echo \"${{COMPREPLY[*]}}\""
            ))
            .env("SCRIPT", &script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(complete("bantin ser", 1).trim(), "serve");
    let flags = complete("bantin dump --f", 2);
    assert!(flags.split_whitespace().any(|w| w == "--format"), "{flags}");
    let formats = complete("bantin dump --format ''", 3);
    for f in ["rss", "atom", "json"] {
        assert!(formats.split_whitespace().any(|w| w == f), "{formats}");
    }
}

#[test]
fn zsh_and_fish_scripts_name_every_subcommand() {
    let zsh = String::from_utf8(bantin(&["completions", "zsh"]).stdout).unwrap();
    let fish = String::from_utf8(bantin(&["completions", "fish"]).stdout).unwrap();
    assert!(zsh.starts_with("#compdef bantin"), "{zsh}");
    for sub in SUBCOMMANDS {
        assert!(zsh.contains(&format!("'{sub}:")), "zsh: {sub}");
        assert!(
            fish.contains(&format!("-a \"{sub}\"")),
            "fish: {sub}\n{fish}"
        );
    }
}

#[test]
fn the_manual_page_renders_without_warnings_and_names_every_subcommand() {
    let page = bantin(&["man"]).stdout;
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), &page).unwrap();
    // groff with every warning on: the page is valid roff.
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-P-cbou", "-ww"])
        .arg(path.path())
        .output()
        .expect("groff (Debian's groff-base)");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warnings");
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "NAME",
        "SYNOPSIS",
        "COMMANDS",
        "--store",
        "--site",
        "--log-format",
        "--listen",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
    // One page: every subcommand is described in it, none sent elsewhere.
    for sub in SUBCOMMANDS {
        assert!(
            text.contains(&format!("   bantin {sub}\n")),
            "{sub}:\n{text}"
        );
    }
    assert!(!text.contains("bantin-serve(1)"), "{text}");
    assert!(text.contains("(rss, atom, json)"), "{text}");
}

/// Reads Prometheus text on stdin with `prometheus_client`'s own parser and
/// prints each sample as one JSON line: family, type, sample name, labels,
/// value. A line the parser refuses fails the script.
const PROMETHEUS_PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        print(json.dumps([family.name, family.type, s.name, s.labels, s.value]))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn metrics_parse_with_prometheus_client_and_carry_durations_process_and_build() {
    let test = "metrics_parse_with_prometheus_client_and_carry_durations_process_and_build";
    if !crate::support::python_can_import("prometheus_client", "prometheus-client", test) {
        return;
    }
    let sample = Sandbox::with_sample();
    let url = sample.store_url();
    let started = std::time::SystemTime::now();
    let server = tokio::task::spawn_blocking(move || Process::start_url(&url))
        .await
        .unwrap();
    let c = client();
    // One request of each route kind.
    for (path, status) in [
        ("/feeds/all.rss", 200),
        ("/feeds/all/archive/2020-10.rss", 200),
        ("/feeds/search.rss?q=lúa", 200),
        ("/", 200),
        ("/feeds.opml", 200),
        ("/nope", 404),
    ] {
        let r = c.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
    }
    let text = c
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut child = Command::new("python3")
        .args(["-c", PROMETHEUS_PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<(String, String, String, serde_json::Value, f64)> =
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let value = |sample: &str, labels: &[(&str, &str)]| -> Option<f64> {
        samples
            .iter()
            .find(|(_, _, name, l, _)| name == sample && labels.iter().all(|(k, v)| l[*k] == *v))
            .map(|s| s.4)
    };
    // The histogram: one series per route kind, a bounded set; each kind
    // asked above counted once at least, in its count and its +Inf bucket.
    let kinds: BTreeSet<String> = samples
        .iter()
        .filter(|(family, kind, ..)| {
            family == "bantin_http_request_duration_seconds" && kind == "histogram"
        })
        .map(|s| s.3["route"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["archive", "feed", "other", "page", "search"]
            .map(String::from)
            .into(),
        "{text}"
    );
    for kind in ["feed", "archive", "search", "other"] {
        let count = value(
            "bantin_http_request_duration_seconds_count",
            &[("route", kind)],
        );
        assert!(count >= Some(1.0), "{kind}: {count:?}\n{text}");
        assert_eq!(
            value(
                "bantin_http_request_duration_seconds_bucket",
                &[("route", kind), ("le", "+Inf")]
            ),
            count,
            "{kind}"
        );
    }
    assert!(
        value(
            "bantin_http_request_duration_seconds_count",
            &[("route", "page")]
        ) >= Some(2.0)
    );
    assert_eq!(
        value(
            "bantin_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0),
        "{text}"
    );
    // The server's own process: some memory, its listening socket and
    // store among its open files, and started after this test did (less
    // a second: the boot time /proc gives is whole seconds).
    let rss = value("process_resident_memory_bytes", &[]).unwrap_or(0.0);
    assert!(rss > 1e6, "resident memory {rss}");
    let fds = value("process_open_fds", &[]).unwrap_or(0.0);
    assert!(fds >= 4.0, "open fds {fds}");
    assert!(value("process_cpu_seconds_total", &[]).unwrap_or(-1.0) >= 0.0);
    let start = value("process_start_time_seconds", &[]).unwrap_or(0.0);
    let since = started
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        start >= since - 1.5 && start <= now + 1.0,
        "start time {start}, test began {since}"
    );
}
