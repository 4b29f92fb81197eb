//! Issue 20, what an operator meets first: the server's log lines (text
//! without colour when stderr is not a terminal, or JSON, each request
//! named with its client, bytes and User-Agent), the warning when
//! `base_url` leads elsewhere, and the completion scripts and manual page.

use std::process::Command;

use crate::support::{Bantin, Process, Sandbox, client, wait_until};

/// Every subcommand, as completions and the manual page must name them.
const SUBCOMMANDS: [&str; 8] = [
    "serve",
    "import",
    "remove",
    "dump",
    "build",
    "check",
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
