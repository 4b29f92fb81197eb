//! The burst window (SPEC "Burst window"), over real sockets on both stores:
//! a burst of 200 articles between two polls reaches a feed reader
//! (Python's feedparser) whole, though the site's feeds hold 50 items; an
//! article older than the window does not ride along; `dump` gives the
//! same bytes. Without feedparser the reader half says it skipped (under
//! `CI` it fails).

use std::process::{Command, Stdio};

use chrono::{Duration, Utc};

use crate::support::{Server, article, client, get, on_both};

/// The number of entries and the ids feedparser reads in `body`, or `None`
/// where feedparser is missing (outside CI).
fn feedparser_ids(body: &[u8]) -> Option<Vec<String>> {
    let script = "import sys, feedparser\n\
                  d = feedparser.parse(sys.stdin.buffer.read())\n\
                  assert not d.bozo, d.bozo_exception\n\
                  print('\\n'.join(e.id for e in d.entries))";
    let child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        assert!(std::env::var_os("CI").is_none(), "CI must have python3");
        eprintln!("SKIPPED: no python3");
        return None;
    };
    use std::io::Write;
    // A python that stops at its import leaves the pipe closed early.
    let _ = child.stdin.take().unwrap().write_all(body);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'feedparser'") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Python's feedparser: pip install feedparser"
        );
        eprintln!("SKIPPED: python3 feedparser is not installed (pip install feedparser)");
        return None;
    }
    assert!(out.status.success(), "feedparser: {stderr}");
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_200_between_two_polls_reaches_the_reader_whole() {
    on_both(|backend| async move {
        let server = Server::start(backend.pool(2)).await;
        let c = client();
        let url = server.url("/feeds/category/xa-hoi.rss");
        let before = get(&c, &url, &[]).await;
        assert_eq!(before.status, 200);

        // 200 articles in the last 40 minutes (the window is 60), and one
        // from two hours ago that the window does not reach.
        let now = Utc::now();
        let mut burst = Vec::new();
        for i in 0..200 {
            let at = (now - Duration::seconds(12 * i64::from(i) + 30)).to_rfc3339();
            burst.push(article(
                &format!("burst-{i:03}"),
                &["Xã hội"],
                &["Kỳ Anh"],
                &at,
            ));
        }
        let old = (now - Duration::hours(2)).to_rfc3339();
        burst.push(article("hai-gio-truoc", &["Xã hội"], &["Kỳ Anh"], &old));
        backend.upsert(burst);

        let shown = crate::support::wait_until(std::time::Duration::from_secs(5), || async {
            get(&c, &url, &[]).await.text().contains("burst-000")
        })
        .await;
        assert!(shown.is_some(), "{}", backend.store_url());
        let after = get(&c, &url, &[]).await;
        let text = after.text();
        for i in 0..200 {
            assert!(
                text.contains(&format!("burst-{i:03}")),
                "burst-{i:03} missing"
            );
        }
        assert!(
            !text.contains("hai-gio-truoc"),
            "an article older than the window"
        );
        if let Some(ids) = feedparser_ids(&after.body) {
            let burst_ids = ids.iter().filter(|id| id.contains("burst-")).count();
            assert_eq!(burst_ids, 200, "feedparser read {} entries", ids.len());
        }
        server.stop().await;
    })
    .await;
}

#[test]
fn dump_holds_the_burst_too_and_limit_turns_it_off() {
    let sb = crate::support::Sandbox::with_sample();
    let now = Utc::now();
    let burst: Vec<_> = (0..80)
        .map(|i| {
            let at = (now - Duration::seconds(20 * i + 5)).to_rfc3339();
            article(&format!("burst-{i:02}"), &["Kinh tế"], &[], &at)
        })
        .collect();
    sb.upsert(&burst);
    let full = String::from_utf8(sb.dump(&["--category", "kinh-te"])).unwrap();
    assert_eq!(full.matches("<item>").count(), 80);
    let limited = String::from_utf8(sb.dump(&["--category", "kinh-te", "--limit", "50"])).unwrap();
    assert_eq!(limited.matches("<item>").count(), 50);
}
