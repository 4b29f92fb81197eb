//! JSON Feed 1.1 (<https://www.jsonfeed.org/version/1.1/>) through serde.
//! Struct field order fixes the key order, so output is deterministic.
//! WebSub hubs are `hubs`; an archive month links the month before it with
//! `next_url` (JSON Feed has no `current` or archive marker).

use serde::Serialize;

use super::{Format, feed_url, history_links};
use crate::feed::Feed;

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: String,
    description: &'a str,
    language: &'a str,
    // JSON Feed's paging link: the previous month's archive (SPEC
    // "Archives"), or from the subscription feed its newest month.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<JsonHub<'a>>,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct JsonHub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    // JSON Feed requires content_html or content_text on every item.
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<JsonAuthor<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
}

#[derive(Serialize)]
struct JsonAuthor<'a> {
    name: &'a str,
}

fn rfc3339(d: chrono::DateTime<chrono::FixedOffset>) -> String {
    d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

pub(super) fn render(feed: &Feed) -> Vec<u8> {
    let items = feed
        .items
        .iter()
        .map(|i| JsonItem {
            id: &i.guid,
            url: &i.link,
            title: &i.title,
            summary: i.summary.as_deref(),
            content_html: i.content_html.as_deref(),
            content_text: if i.content_html.is_none() {
                Some(i.summary.as_deref().unwrap_or(&i.title))
            } else {
                None
            },
            image: i.image.as_deref(),
            date_published: rfc3339(i.published),
            date_modified: rfc3339(i.updated),
            authors: i.authors.iter().map(|n| JsonAuthor { name: n }).collect(),
            tags: i.terms.iter().map(|t| t.name.as_str()).collect(),
        })
        .collect();
    let json = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &feed.title,
        home_page_url: &feed.home_url,
        // The subscription URL on archives too: it identifies the feed.
        feed_url: feed_url(feed, Format::Json),
        description: &feed.description,
        language: &feed.language,
        next_url: history_links(feed, Format::Json)
            .into_iter()
            .find(|(rel, _)| *rel == "prev-archive")
            .map(|(_, url)| url),
        hubs: feed
            .hubs
            .iter()
            .map(|url| JsonHub {
                kind: "WebSub",
                url,
            })
            .collect(),
        items,
    };
    let mut out = serde_json::to_vec_pretty(&json).expect("serializing plain structs cannot fail");
    out.push(b'\n');
    out
}

/// What an item's `content_html` adds to the document beyond the
/// `content_text` that replaces it (its summary; both keys are twelve
/// characters on a line of their own), escaped as serde_json does: what
/// giving the item its summary instead saves.
pub(super) fn content_bytes(item: &crate::feed::Item) -> usize {
    item.content_html.as_deref().map_or(0, |html| {
        let text = item.summary.as_deref().unwrap_or(&item.title);
        json_len(html).saturating_sub(json_len(text))
    })
}

/// The length of `s` as a JSON string body: `"`, backslash and the short
/// control escapes take two bytes, other controls six (`\u00XX`).
fn json_len(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum()
}
