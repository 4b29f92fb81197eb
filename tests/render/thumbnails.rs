//! Thumbnails (issue 10 item 6, SPEC "For aggregators"): an RSS item whose
//! article has an `image` carries `<media:content url medium="image"/>` and
//! `<media:thumbnail url/>` in the Media RSS namespace, and the readers'
//! parsers find them: feed-rs (as Feedly-like Rust readers would) and
//! Python's feedparser (`media_content`, `media_thumbnail`). Items without
//! an image carry none, and a feed without images declares no `media`
//! namespace.

use std::process::Command;

use super::hostile::{hostile, hostile_site};
use crate::support::{Sandbox, parse, python_can_import};

const MEDIA: &str = "http://search.yahoo.com/mrss/";

/// (guid suffix, media:content url, its medium, media:thumbnail url).
type Media = (String, Option<String>, Option<String>, Option<String>);

/// The Media RSS of every RSS item, read with roxmltree by namespace.
fn media_of(rss: &str) -> Vec<Media> {
    let doc = roxmltree::Document::parse(rss).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("item"))
        .map(|item| {
            let child = |name: &str| item.children().find(|c| c.has_tag_name((MEDIA, name)));
            let guid = item
                .children()
                .find(|c| c.has_tag_name("guid"))
                .and_then(|g| g.text())
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            let content = child("content");
            (
                guid,
                content.and_then(|c| c.attribute("url")).map(str::to_string),
                content
                    .and_then(|c| c.attribute("medium"))
                    .map(str::to_string),
                child("thumbnail")
                    .and_then(|c| c.attribute("url"))
                    .map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn an_rss_item_with_an_image_carries_media_content_and_a_thumbnail() {
    let sb = hostile();
    let rss = String::from_utf8(sb.dump_with_site(&hostile_site(), &["--format", "rss"])).unwrap();
    let images = [
        ("amp-lt-cdata", "https://example.com/img.jpg?w=640&h=480"),
        ("markdown-ish", "https://example.com/a%20b.png"),
    ];
    let media = media_of(&rss);
    assert_eq!(media.len(), 11);
    for (guid, content, medium, thumbnail) in &media {
        match images.iter().find(|(id, _)| id == guid) {
            Some((_, url)) => {
                assert_eq!(content.as_deref(), Some(*url), "{guid}");
                assert_eq!(medium.as_deref(), Some("image"), "{guid}");
                assert_eq!(thumbnail.as_deref(), Some(*url), "{guid}");
            }
            None => assert_eq!((content, thumbnail), (&None, &None), "{guid}"),
        }
    }
    // Empty elements, as Media RSS writes them.
    assert!(
        rss.contains("<media:thumbnail url=\"https://example.com/img.jpg?w=640&#x26;h=480\"/>"),
        "{rss}"
    );

    let feed = parse(rss.as_bytes());
    let entry = feed
        .entries
        .iter()
        .find(|e| e.id.ends_with("/amp-lt-cdata"))
        .unwrap();
    let thumbnails: Vec<String> = entry
        .media
        .iter()
        .flat_map(|m| &m.thumbnails)
        .map(|t| t.image.uri.clone())
        .collect();
    assert_eq!(thumbnails, [images[0].1], "feed-rs thumbnails");
    let contents: Vec<String> = entry
        .media
        .iter()
        .flat_map(|m| &m.content)
        .filter_map(|c| c.url.as_ref().map(|u| u.to_string()))
        .collect();
    assert_eq!(contents, [images[0].1], "feed-rs media content");
}

#[test]
fn a_feed_without_images_declares_no_media_namespace() {
    let sb = Sandbox::new();
    sb.upsert(&[crate::support::article(
        "a",
        &["Kinh tế"],
        &[],
        "2020-10-01T08:00:00+07:00",
    )]);
    let rss = String::from_utf8(sb.dump(&["--format", "rss"])).unwrap();
    assert!(!rss.contains("mrss"), "{rss}");
}

#[test]
fn python_feedparser_finds_the_thumbnail() {
    if !python_can_import(
        "feedparser",
        "feedparser",
        "python_feedparser_finds_the_thumbnail",
    ) {
        return;
    }
    let sb = hostile();
    let path = sb.write(
        "all.rss",
        sb.dump_with_site(&hostile_site(), &["--format", "rss"]),
    );
    let script = r#"
import json, sys, feedparser
d = feedparser.parse(sys.argv[1])
assert not d.bozo, d.bozo_exception
for e in d.entries:
    print(json.dumps([e.id.rsplit("/", 1)[-1],
                      [m.get("url") for m in e.get("media_content", [])],
                      [m.get("medium") for m in e.get("media_content", [])],
                      [m.get("url") for m in e.get("media_thumbnail", [])]]))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    crate::support::assert_success(&out, "feedparser");
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = rows
        .iter()
        .find(|r| r[0] == "amp-lt-cdata")
        .expect("the item with an image");
    let url = "https://example.com/img.jpg?w=640&h=480";
    assert_eq!(row[1], serde_json::json!([url]));
    assert_eq!(row[2], serde_json::json!(["image"]));
    assert_eq!(row[3], serde_json::json!([url]));
    let without = rows.iter().find(|r| r[0] == "no-body").unwrap();
    assert_eq!(without[3], serde_json::json!([]));
}
