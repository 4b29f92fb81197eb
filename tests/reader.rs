//! A feed reader subscribing to a running `bantin serve` (issue 3, "Done
//! when"): Python's feedparser, over real HTTP, fetches every feed that `/`
//! advertises with `<link rel="alternate">` and that `/feeds.opml` lists,
//! finds each well-formed (no bozo) with entries and a title, and gets 304
//! when it polls again with the validators it kept.
//!
//! Without feedparser installed this test says it skipped; with `CI` set it
//! fails instead (`.ci/run` installs feedparser).

use std::process::Command;

use crate::support::{Process, Sandbox, StoreKind, each_store, python_can_import, site};

each_store!(fn a_feed_reader_subscribes_to_every_listed_feed_and_polls_with_304s);
fn a_feed_reader_subscribes_to_every_listed_feed_and_polls_with_304s(store: StoreKind) {
    if !python_can_import(
        "feedparser",
        "feedparser",
        "a_feed_reader_subscribes_to_every_listed_feed_and_polls_with_304s",
    ) {
        return;
    }
    let sample = Sandbox::with_sample_on(store);
    let server = Process::start_url(&sample.store_url());
    let script = crate::support::script("reader_check.py");
    let out = Command::new("python3")
        .arg(script)
        .args([&server.base, &site().base_url])
        .output()
        .expect("running reader_check.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "reader check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // all + 8 categories + 13 regions + the pairs that share articles.
    let checked: usize = stdout
        .trim()
        .strip_prefix("checked ")
        .and_then(|s| s.strip_suffix(" feeds"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(checked > 22, "only {checked} feeds checked: {stdout}");
}
