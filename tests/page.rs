//! Issue 20, the page at `/` for a person, as HTML and in a real browser
//! (headless Chromium over WebDriver):
//!
//! - before any table it says, in Vietnamese, which feed to take if unsure
//!   (the all feed, with its copy button), names reader apps, and offers
//!   the OPML list;
//! - the category × region and author tables are folded (`<details>`);
//! - every feed leads to its archives: its row links its newest month,
//!   which answers, and whose chain goes on to the month before;
//! - in Chromium, a copy button puts the feed's URL on the clipboard (read
//!   back), no Content Security Policy violation is logged, and at 390 px
//!   (a phone) the document, folded tables opened, is no wider than the
//!   window.

use std::time::Duration;

use crate::support::{Browser, Sandbox, Server, client, get, site, wait_until};

/// The `href`s of the links with `class="arc"`.
fn archive_links(page: &str) -> Vec<String> {
    page.split("<a class=\"arc\" href=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].replace("&amp;", "&"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_advises_first_folds_the_long_tables_and_leads_to_every_feeds_archives() {
    let sample = Sandbox::with_sample();
    let server = Server::sample(&sample).await;
    let c = client();
    let page = get(&c, &server.url("/"), &[]).await.text();
    let first_table = page.find("<table").unwrap();
    let base = site().base_url;
    for advice in [
        "Chưa biết chọn nguồn tin nào?",
        &format!("data-url=\"{base}/feeds/all.rss\""),
        "Feedly",
        "NetNewsWire",
        "newsboat",
        &format!("href=\"{base}/feeds.opml\""),
    ] {
        let at = page
            .find(advice)
            .unwrap_or_else(|| panic!("{advice} not on the page"));
        assert!(at < first_table, "{advice} comes after the first table");
    }
    for folded in ["Chuyên mục theo địa phương", "Tác giả"] {
        assert!(
            page.contains(&format!("<details><summary>{folded} (")),
            "{folded} not folded"
        );
    }
    // One archive link a feed row: all, categories, regions, pairs, authors.
    let links = archive_links(&page);
    let rows = page.matches("<tr><td>").count();
    assert_eq!(links.len(), rows, "a feed without its archive link");
    for link in &links {
        let path = link.strip_prefix(&base).unwrap();
        let r = get(&c, &server.url(path), &[]).await;
        assert_eq!(r.status, 200, "{link}");
    }
    // The chain goes on: the all feed's newest month links the one before.
    let all = &links[0];
    assert!(all.ends_with("/feeds/all/archive/2020-11.rss"), "{all}");
    let month = get(&c, &server.url("/feeds/all/archive/2020-11.rss"), &[])
        .await
        .text();
    assert!(
        month.contains("/feeds/all/archive/2020-10.rss\" rel=\"prev-archive\""),
        "{month}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn in_a_browser_a_copy_button_copies_and_the_page_fits_a_phone_with_no_csp_violation() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let sample = Sandbox::with_sample();
    let server = Server::sample(&sample).await;
    browser.open(&format!("{}/", server.base)).await;
    // Reading the clipboard back needs the page's origin granted it (a
    // permission is set for the document open now).
    for name in ["clipboard-read", "clipboard-write"] {
        browser
            .call(
                "POST",
                "/permissions",
                Some(serde_json::json!({"descriptor": {"name": name}, "state": "granted"})),
            )
            .await;
    }
    let button = ".start button[data-url]";
    browser.click(button).await;
    let copied = || async {
        browser
            .eval(&format!(
                "return document.querySelector('{button}').getAttribute('data-copied')"
            ))
            .await
    };
    let done = wait_until(Duration::from_secs(20), || async {
        copied().await.is_string()
    })
    .await;
    let console = browser.console().await;
    assert!(done.is_some(), "the button copied nothing: {console:?}");
    let want = format!("{}/feeds/all.rss", site().base_url);
    assert_eq!(copied().await, want.as_str());
    let clipboard = browser
        .call(
            "POST",
            "/execute/async",
            Some(serde_json::json!({
                "script": "var done = arguments[arguments.length - 1];\
                           navigator.clipboard.readText().then(done, function (e) { done('error: ' + e) });",
                "args": []
            })),
        )
        .await;
    assert_eq!(
        clipboard.as_str(),
        Some(want.as_str()),
        "the clipboard holds {clipboard}"
    );

    // A phone: 390 CSS pixels wide, every folded table opened.
    browser.resize(390, 844).await;
    browser.open(&format!("{}/", server.base)).await;
    let widths = browser
        .eval(
            "document.querySelectorAll('details').forEach(function (d) { d.open = true });\
             return [document.documentElement.scrollWidth, window.innerWidth,\
                     document.querySelectorAll('details[open]').length];",
        )
        .await;
    let [scroll, window, opened] = [0, 1, 2].map(|i| widths[i].as_u64().unwrap());
    assert!(opened >= 2, "{widths}");
    assert!(window <= 420, "the window is {window} px wide");
    assert!(
        scroll <= window,
        "at {window} px the page is {scroll} px wide: it scrolls sideways"
    );
    let violations: Vec<String> = console
        .into_iter()
        .chain(browser.console().await)
        .filter(|m| m.contains("Content Security Policy"))
        .collect();
    assert!(violations.is_empty(), "{violations:?}");
    server.stop().await;
}
