//! Assertions on a finished command and on feed bytes.

use std::process::Output;

/// Panic with the command's stderr unless it exited 0.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The command failed the way SPEC asks: a non-zero exit, and on stderr
/// exactly one line that contains every one of `needles`, and no panic.
pub fn assert_one_line_error(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, got success");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want one line on stderr, got {stderr:?}");
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} not in {:?}", lines[0]);
    }
}

/// stdout/stderr as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// Parse a feed with feed-rs, a parser independent of the writers.
pub fn parse(bytes: &[u8]) -> feed_rs::model::Feed {
    feed_rs::parser::parse(bytes).unwrap_or_else(|e| {
        panic!(
            "feed-rs rejects the feed: {e}\n{}",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// The ids of the entries of a parsed feed.
pub fn entry_ids(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries.iter().map(|e| e.id.clone()).collect()
}

/// The text of every `<tag>…</tag>` element (no attributes) in `xml`.
pub fn element_texts(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let end = after.find(&close).expect("element is closed");
        out.push(after[..end].to_string());
        rest = &after[end + close.len()..];
    }
    out
}
