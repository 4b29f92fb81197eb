//! `max_feed_bytes` (issue 9, SPEC "Limits") on real output: the sample
//! publication dumped with a limit well under its all feed's size.
//!
//! - In every format the identity body is within the limit, holds every
//!   item it holds without a limit, in the same order, none cut: the
//!   oldest items carry their summary and no content, the newer ones their
//!   content unchanged.
//! - No more items than needed lose their content: giving one more item
//!   back its content passes the limit.
//! - A limit no feed can meet leaves every item with its summary only.

use bantin::article::FeedKey;
use bantin::config::Site;
use bantin::feed::Catalog;
use bantin::render::{Format, render};

use crate::support::{FORMATS, Sandbox, parse, root, site_file};

/// The sample site file with `max_feed_bytes = limit`, written in `sb`.
fn limited_site(sb: &Sandbox, limit: usize) -> std::path::PathBuf {
    let text = std::fs::read_to_string(site_file()).unwrap();
    sb.write("site.toml", format!("max_feed_bytes = {limit}\n{text}"))
}

/// Per entry: (id, content body if any, summary if any).
fn entries(bytes: &[u8]) -> Vec<(String, Option<String>, Option<String>)> {
    parse(bytes)
        .entries
        .into_iter()
        .map(|e| {
            (
                e.id,
                e.content.and_then(|c| c.body).filter(|b| !b.is_empty()),
                e.summary.map(|s| s.content),
            )
        })
        .collect()
}

/// Between the sample all feed's size in every format (47–56 KB) and its
/// size with summaries only (30–33 KB).
const LIMIT: usize = 40_000;

#[test]
fn an_oversized_feed_gives_its_oldest_items_their_summary_until_it_fits() {
    let sb = Sandbox::with_sample();
    let site = limited_site(&sb, LIMIT);
    for format in FORMATS {
        let unlimited = sb.dump(&["--format", format]);
        assert!(
            unlimited.len() > LIMIT,
            "{format}: the sample is too small for this test"
        );
        let limited = sb.dump_with_site(&site, &["--format", format]);
        assert!(limited.len() <= LIMIT, "{format}: {} bytes", limited.len());

        let full = entries(&unlimited);
        let fitted = entries(&limited);
        let ids = |v: &[(String, Option<String>, Option<String>)]| -> Vec<String> {
            v.iter().map(|e| e.0.clone()).collect()
        };
        assert_eq!(ids(&fitted), ids(&full), "{format}: every item, in order");
        // JSON Feed's content_text stands in for a missing content_html;
        // feed-rs reads both as content, so tell them apart by the HTML.
        let has_html = |e: &(String, Option<String>, Option<String>)| {
            e.1.as_deref().is_some_and(|b| b.contains("<p>"))
        };
        let kept = fitted.iter().take_while(|e| has_html(e)).count();
        assert!(kept > 0 && kept < fitted.len(), "{format}: kept {kept}");
        for (f, u) in fitted.iter().zip(&full).take(kept) {
            assert_eq!(f, u, "{format}: a newer item keeps its content");
        }
        for (f, u) in fitted.iter().zip(&full).skip(kept) {
            assert!(
                !has_html(f),
                "{format}: {} kept its content after an older one lost it",
                f.0
            );
            assert!(f.2.is_some(), "{format}: {} has no summary", f.0);
            assert_eq!(f.2, u.2, "{format}: {} has its own summary", f.0);
        }
    }
}

#[test]
fn no_more_items_than_needed_lose_their_content() {
    let sb = Sandbox::with_sample();
    let text = std::fs::read_to_string(site_file()).unwrap();
    let site = Site::parse(
        &format!("max_feed_bytes = {LIMIT}\n{text}"),
        "site.toml",
        root().join("feeds"),
    )
    .unwrap();
    let store = sb.open();
    let now = chrono::Utc::now();
    let catalog = Catalog::load(store.snapshot().unwrap().as_ref(), &site, now).unwrap();
    let feed = bantin::feed::load(
        store.snapshot().unwrap().as_ref(),
        &site,
        &catalog,
        &FeedKey::All,
        now,
        site.items_per_feed,
    )
    .unwrap();
    for format in Format::ALL {
        let out = render(&feed, format);
        assert!(out.len() <= LIMIT);
        // The items that kept their content: a newest-first prefix.
        let kept = entries(&out)
            .iter()
            .take_while(|e| e.1.as_deref().is_some_and(|b| b.contains("<p>")))
            .count();
        assert!(
            kept > 0 && kept < feed.items.len(),
            "{format:?}: kept {kept}"
        );
        let mut one_more = feed.clone();
        for item in &mut one_more.items[kept + 1..] {
            item.content_html = None;
        }
        one_more.max_bytes = usize::MAX;
        let bigger = render(&one_more, format).len();
        assert!(
            bigger > LIMIT,
            "{format:?}: {kept} kept; one more would be {bigger} bytes"
        );
    }
}

#[test]
fn a_limit_no_feed_can_meet_leaves_every_item_with_its_summary() {
    let sb = Sandbox::with_sample();
    let site = limited_site(&sb, 16_384);
    for format in FORMATS {
        let limited = sb.dump_with_site(&site, &["--format", format]);
        let full = entries(&sb.dump(&["--format", format]));
        let fitted = entries(&limited);
        assert_eq!(fitted.len(), full.len(), "{format}");
        for (f, u) in fitted.iter().zip(&full) {
            assert!(
                !f.1.as_deref().is_some_and(|b| b.contains("<p>")),
                "{format}: {}",
                f.0
            );
            assert_eq!(f.2, u.2, "{format}: {}", f.0);
        }
    }
}
