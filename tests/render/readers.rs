//! Issue 20, what a feed reader shows of the sample:
//!
//! - a co-written article names all its authors: in RSS one `dc:creator`
//!   holding the names joined (newsboat shows only the last of several),
//!   in Atom one `<author>` each, in JSON Feed its `authors` list;
//! - an archive's title says its month ("… – lưu trữ 11/2020"), so a
//!   subscription to it is told apart from the feed's;
//! - no item of any feed of the sample links to a page bantin answers 404:
//!   the sample's articles link to the newspaper's own pages.

use std::path::Path;

use crate::support::{Sandbox, element_texts, site};

/// The sample's article by two authors (its byline "Trần Tuấn - Minh Hải").
const CO_WRITTEN: &str = "2020-11-28-thien-cam-chuan-bi-mua-du-lich";

/// The part of `feed` from the item with `id` in it to its end tag.
fn item_of<'a>(feed: &'a str, id: &str, end: &str) -> &'a str {
    let at = feed
        .find(id)
        .unwrap_or_else(|| panic!("{id} not in\n{feed}"));
    let rest = &feed[at..];
    &rest[..rest.find(end).unwrap()]
}

#[test]
fn a_co_written_article_names_every_author_in_every_format() {
    let sb = Sandbox::with_sample();
    let rss = String::from_utf8(sb.dump(&["--format", "rss"])).unwrap();
    assert_eq!(
        element_texts(item_of(&rss, CO_WRITTEN, "</item>"), "dc:creator"),
        ["Trần Tuấn, Minh Hải"]
    );
    let atom = String::from_utf8(sb.dump(&["--format", "atom"])).unwrap();
    assert_eq!(
        element_texts(item_of(&atom, CO_WRITTEN, "</entry>"), "name"),
        ["Trần Tuấn", "Minh Hải"]
    );
    let json: serde_json::Value = serde_json::from_slice(&sb.dump(&["--format", "json"])).unwrap();
    let item = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"].as_str().unwrap().ends_with(CO_WRITTEN))
        .unwrap();
    assert_eq!(
        item["authors"],
        serde_json::json!([{"name": "Trần Tuấn"}, {"name": "Minh Hải"}])
    );
}

/// Every JSON feed of a build under `dir`.
fn json_feeds(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_feeds(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn archives_say_their_month_and_no_item_links_to_a_bantin_404() {
    let sb = Sandbox::with_sample();
    let out = sb.path("site");
    sb.run_ok(&["build", "--out", out.to_str().unwrap()]);
    let title = site().title;
    let archive = std::fs::read_to_string(out.join("feeds/all/archive/2020-11.rss")).unwrap();
    assert_eq!(
        element_texts(&archive, "title").first().map(String::as_str),
        Some(format!("{title} – lưu trữ 11/2020").as_str())
    );
    let archive: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("feeds/category/kinh-te/archive/2020-10.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        archive["title"],
        format!("{title} – Kinh tế – lưu trữ 10/2020")
    );

    // What bantin answers under base_url is what the build holds.
    let base = site().base_url;
    let mut feeds = Vec::new();
    json_feeds(&out.join("feeds"), &mut feeds);
    let mut links = 0;
    for feed in &feeds {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(feed).unwrap()).unwrap();
        for item in doc["items"].as_array().unwrap() {
            let url = item["url"].as_str().unwrap();
            links += 1;
            if let Some(path) = url.strip_prefix(&base) {
                let file = match path.trim_start_matches('/') {
                    "" => "index.html",
                    p => p,
                };
                assert!(
                    out.join(file).is_file(),
                    "{}: item {url} leads to a 404",
                    feed.display()
                );
            }
        }
    }
    assert!(links > 32 * 3, "only {links} item links read");
}
