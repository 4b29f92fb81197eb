//! Property tests: whatever the article text holds, every feed is
//! well-formed and says what the article says.
//!
//! Articles are built from arbitrary Unicode mixed with the troublemakers
//! SPEC names: C0 and C1 control characters, noncharacters (`U+FFFE`),
//! `]]>`, `<script>` and other markup, `&`, quotes, emoji, Vietnamese
//! (composed and decomposed). They go through the library as the binary
//! uses it (validation, a temporary SQLite store, the catalog, feed
//! selection, rendering). Then, for the all feed, a category, a region and
//! a category within a region, in every format:
//!
//! - a validation failure happens only when the title has nothing left to
//!   show once control characters are dropped, or the id holds a control
//!   character (an id is a key: nothing can be dropped from it);
//! - feed-rs parses the feed, serde_json parses the JSON Feed;
//! - the items are the expected articles in SPEC's order, with guids
//!   `{id_prefix}{percent-encoded id}`;
//! - each title is the input title with control characters and
//!   noncharacters dropped and whitespace folded; summaries likewise, and
//!   an article without one gets the first words of its body (or, with
//!   a body of no words, its title);
//! - no character XML forbids or SPEC drops appears, raw or parsed;
//! - no `<script` survives in any HTML field;
//! - category and region labels are NFC, clean, and match their slugs.
//!
//! Case counts are modest (64) to keep the suite fast; raise them with
//! `PROPTEST_CASES=1000` when hunting.

use bantin::article::{Article, Body, FeedKey};
use bantin::feed::Catalog;
use bantin::render::{Format, render};
use bantin::store::Store;
use chrono::{DateTime, FixedOffset};
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

use crate::support::{expected, percent_encode, site_file};

/// One fragment of hostile text.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<char>().prop_map(String::from),
        prop::char::range('\u{0}', '\u{1f}').prop_map(String::from),
        prop::char::range('\u{7f}', '\u{9f}').prop_map(String::from),
        prop::sample::select(vec![
            "\u{fffe}",
            "\u{ffff}",
            "\u{fdd0}",
            "\u{1fffe}",
            "]]>",
            "<![CDATA[",
            "<script>alert(1)</script>",
            "<SCRIPT SRC=//x.example/x.js>",
            "&",
            "&amp;",
            "&#0;",
            "&lt;",
            "\"",
            "'",
            "🌾",
            "👩‍👩‍👧",
            "Hà Tĩnh",
            "Quốc phòng - An ninh",
            "Đức Thọ",
            "e\u{301}",
            "o\u{7}\u{323}",
            " ",
            "  ",
            "\r\n",
            "\t",
            "\u{a0}",
            "\u{2028}",
            "\n\n",
        ])
        .prop_map(str::to_string),
        "[a-zA-Zà-ỹ0-9 ]{1,8}",
    ]
}

/// Hostile text of up to `max` fragments.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..max).prop_map(|v| v.concat())
}

/// Hostile HTML: text plus markup a sanitizer must deal with.
fn html() -> impl Strategy<Value = String> {
    let markup = prop::sample::select(vec![
        "<p onclick=\"steal()\">",
        "</p>",
        "<a href=\"javascript:alert(1)\">",
        "<a href=\"data:text/html,<script>x</script>\">",
        "<img src=x onerror=alert(1)>",
        "<iframe src=\"//e.example\"></iframe>",
        "<style>*{}</style>",
        "<scr<script>ipt>alert(1)</script>",
        "<svg><script>alert(1)</script></svg>",
        "<b>",
        "</b>",
        "<!--",
        "-->",
        "<![CDATA[x]]>",
    ])
    .prop_map(str::to_string);
    prop::collection::vec(prop_oneof![piece(), markup], 0..16).prop_map(|v| v.concat())
}

/// A display name: hostile text behind a letter, so it always has a slug.
fn name() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["A", "đ", "Ư", "x", "ß", "9"]),
        text(5),
    )
        .prop_map(|(l, rest)| format!("{l}{rest}"))
}

/// An article before validation; `i` makes ids unique.
fn raw_article(i: usize) -> impl Strategy<Value = Article> {
    let body = prop_oneof![
        Just(Body::None),
        text(12).prop_map(Body::Text),
        html().prop_map(Body::Html),
    ];
    (
        (text(8), text(6), prop::option::of(text(10)), body),
        (
            prop::collection::vec(text(4), 0..3),
            prop::collection::vec(name(), 1..3),
            prop::collection::vec(name(), 0..3),
        ),
        // 2000-01-01 .. 2020-09-13, any offset from -12:00 to +14:00.
        (
            946_684_800i64..1_600_000_000,
            -720i32..=840,
            prop::option::of(-1_000_000i64..10_000_000),
        ),
    )
        .prop_map(
            move |(
                (id, title, summary, body),
                (authors, categories, regions),
                (secs, mins, upd),
            )| {
                let offset = FixedOffset::east_opt(mins * 60).unwrap();
                let published = DateTime::from_timestamp(secs, 0)
                    .unwrap()
                    .with_timezone(&offset);
                let updated = upd.map_or(published, |d| published + chrono::Duration::seconds(d));
                Article {
                    id: format!("{i}:{id}"),
                    title,
                    summary,
                    body,
                    authors,
                    categories,
                    regions,
                    published,
                    updated,
                    url: None,
                    image: None,
                }
            },
        )
}

fn articles() -> impl Strategy<Value = Vec<Article>> {
    (1usize..=4).prop_flat_map(|n| (0..n).map(raw_article).collect::<Vec<_>>())
}

/// A character SPEC drops (control characters other than tab, LF and CR,
/// and noncharacters) or XML 1.0 forbids.
fn forbidden(c: char) -> bool {
    let cp = c as u32;
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || (0xFDD0..=0xFDEF).contains(&cp)
        || (cp & 0xFFFE) == 0xFFFE
}

/// What a one-line field shows: forbidden characters dropped, whitespace
/// folded to single spaces, nothing at either end.
fn shown(s: &str) -> String {
    let kept: String = s.chars().filter(|&c| !forbidden(c)).collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_clean(s: &str, what: &str) -> Result<(), TestCaseError> {
    if let Some(c) = s.chars().find(|&c| forbidden(c)) {
        return Err(TestCaseError::fail(format!(
            "{what}: forbidden {c:?} in {s:?}"
        )));
    }
    Ok(())
}

fn no_script(html: &str, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "{what}: <script survived in {html:?}"
    );
    Ok(())
}

/// Every string in a JSON value.
fn json_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            json_strings(x, out);
        }),
        _ => {}
    }
}

fn check_feed(
    bytes: &[u8],
    format: Format,
    key: &FeedKey,
    want: &[Article],
    id_prefix: &str,
) -> Result<(), TestCaseError> {
    let what = format!("{key:?} {format:?}");
    let text =
        std::str::from_utf8(bytes).map_err(|e| TestCaseError::fail(format!("{what}: {e}")))?;
    assert_clean(text, &what)?;
    let feed = feed_rs::parser::parse(bytes)
        .map_err(|e| TestCaseError::fail(format!("{what}: feed-rs: {e}\n{text}")))?;
    let ids: Vec<&str> = feed.entries.iter().map(|e| e.id.as_str()).collect();
    let want_ids: Vec<String> = want
        .iter()
        .map(|a| format!("{id_prefix}{}", percent_encode(&a.id)))
        .collect();
    prop_assert_eq!(ids, want_ids, "{}", what);
    for (e, a) in feed.entries.iter().zip(want) {
        let title = e.title.as_ref().map_or("", |t| t.content.as_str());
        prop_assert_eq!(title, shown(&a.title), "{}", what);
        assert_clean(title, &what)?;
        prop_assert_eq!(e.published, Some(a.published.to_utc()), "{}", what);
        if let Some(content) = &e.content {
            let body = content.body.as_deref().unwrap_or("");
            assert_clean(body, &what)?;
            // JSON Feed's content_text is plain text, where `<script` is
            // just words; HTML content must not have it.
            if content.content_type.as_str().contains("html") {
                no_script(body, &what)?;
            }
        }
        let summary = e.summary.as_ref().map(|s| s.content.as_str());
        if let Some(s) = summary {
            assert_clean(s, &what)?;
        }
        // RSS descriptions are HTML: the plain summary, escaped. Atom and
        // JSON carry it as plain text.
        let summary = match (format, summary) {
            (Format::Rss, Some(s)) => {
                no_script(s, &what)?;
                Some(unescape(s))
            }
            (_, s) => s.map(str::to_string),
        };
        let lede = a.summary.as_deref().map(shown).filter(|s| !s.is_empty());
        match (lede, summary) {
            (Some(lede), summary) => prop_assert_eq!(summary, Some(lede), "{}", what),
            // Without a lede, the summary is the first words of the body
            // (the lead image's figure has none) or, failing those, the
            // title; an item with neither body nor image has none.
            (None, summary) => {
                let body_words: Vec<String> = e
                    .content
                    .as_ref()
                    .and_then(|c| c.body.as_deref())
                    // JSON Feed's `content_text` stands in for a missing
                    // body (the summary or the title), so holds no body.
                    .filter(|_| content_is_html(e))
                    .map(bantin::text::html_text)
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                let has_body = !matches!(a.body, Body::None);
                match summary {
                    None => prop_assert!(
                        !has_body || body_words.is_empty(),
                        "{}: no summary for an item with a body",
                        what
                    ),
                    Some(s) if s == shown(&a.title) && body_words.is_empty() => {}
                    Some(s) => {
                        let words: Vec<&str> = s.trim_end_matches('…').split_whitespace().collect();
                        prop_assert!(
                            !words.is_empty() && words.len() <= bantin::text::EXCERPT_WORDS,
                            "{}: excerpt {:?}",
                            what,
                            s
                        );
                        // The last word may have lost a `…` of its own.
                        let n = words.len();
                        let same = body_words.len() >= n
                            && body_words[..n - 1] == words[..n - 1]
                            && body_words[n - 1].starts_with(words[n - 1]);
                        prop_assert!(
                            same,
                            "{}: excerpt {:?} is not the first words of {:?}",
                            what,
                            s,
                            body_words
                        );
                    }
                }
            }
        }
        let authors: Vec<&str> = e.authors.iter().filter_map(|p| p.name.as_deref()).collect();
        let want_authors: Vec<String> = a
            .authors
            .iter()
            .map(|n| shown(n).nfc().collect::<String>())
            .filter(|n| !n.is_empty())
            .collect();
        // RSS names every author in one `dc:creator`, joined (readers such
        // as newsboat show only the last of several).
        let want_authors = match format {
            Format::Rss if !want_authors.is_empty() => vec![want_authors.join(", ")],
            _ => want_authors,
        };
        prop_assert_eq!(authors, want_authors, "{}", what);
        for p in &e.authors {
            assert_clean(p.name.as_deref().unwrap_or(""), &what)?;
        }
        for c in &e.categories {
            let label = c.label.as_deref().unwrap_or(&c.term);
            assert_clean(label, &what)?;
            prop_assert_eq!(
                label.nfc().collect::<String>(),
                label,
                "{} label not NFC",
                what
            );
            if format == Format::Atom {
                prop_assert_eq!(bantin::slug::slugify(label), c.term.clone(), "{}", what);
            }
        }
        if format == Format::Atom {
            let mut terms: Vec<String> = c_terms(e);
            let mut want_terms: Vec<String> = a
                .categories
                .iter()
                .chain(&a.regions)
                .map(|n| bantin::slug::slugify(n))
                .collect();
            terms.sort();
            terms.dedup();
            want_terms.sort();
            want_terms.dedup();
            prop_assert_eq!(terms, want_terms, "{}", what);
        }
    }
    if format == Format::Json {
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| TestCaseError::fail(format!("{what}: serde_json: {e}")))?;
        let mut strings = Vec::new();
        json_strings(&v, &mut strings);
        for s in &strings {
            assert_clean(s, &what)?;
        }
        for item in v["items"].as_array().unwrap() {
            if let Some(h) = item["content_html"].as_str() {
                no_script(h, &what)?;
            }
        }
    }
    Ok(())
}

/// Plain text from escaped text: the five entities `escape_html` writes.
fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Whether feed-rs read an entry's content as HTML (JSON Feed's
/// `content_text` is plain).
fn content_is_html(e: &feed_rs::model::Entry) -> bool {
    e.content
        .as_ref()
        .is_some_and(|c| c.content_type.as_str().contains("html"))
}

fn c_terms(e: &feed_rs::model::Entry) -> Vec<String> {
    e.categories.iter().map(|c| c.term.clone()).collect()
}

/// 64 cases, or `PROPTEST_CASES` when set.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_article_text_gives_well_formed_feeds_that_say_what_it_says(raw in articles()) {
        let mut valid = Vec::new();
        for a in raw {
            let show = shown(&a.title);
            match a.clone().validated() {
                Ok(v) => {
                    prop_assert!(!show.is_empty(), "accepted a title with nothing to show: {:?}", a.title);
                    prop_assert!(!a.id.chars().any(char::is_control), "accepted a control character in id {:?}", a.id);
                    valid.push(v);
                }
                Err(e) => prop_assert!(
                    show.is_empty() || a.id.chars().any(char::is_control),
                    "rejected {:?}: {}", a, e
                ),
            }
        }
        prop_assume!(!valid.is_empty());

        let dir = tempfile::tempdir().unwrap();
        let store = bantin::store::sqlite::SqliteStore::open(&dir.path().join("p.db")).unwrap();
        store.upsert(&valid).unwrap();
        let site = bantin::config::Site::load(&site_file()).unwrap();
        let now = chrono::Utc::now();
        let catalog = Catalog::load(store.snapshot().unwrap().as_ref(), &site, now).unwrap();

        let first = &valid[0];
        let cat = bantin::slug::slugify(&first.categories[0]);
        let mut keys = vec![FeedKey::All, FeedKey::Category(cat.clone())];
        if let Some(r) = first.regions.first() {
            let reg = bantin::slug::slugify(r);
            keys.push(FeedKey::Region(reg.clone()));
            keys.push(FeedKey::CategoryRegion(cat, reg));
        }
        for key in keys {
            let feed = bantin::feed::load(store.snapshot().unwrap().as_ref(), &site, &catalog, &key, now, site.items_per_feed).unwrap();
            let want = expected(&valid, &key, site.items_per_feed);
            for format in Format::ALL {
                check_feed(&render(&feed, format), format, &key, &want, &site.id_prefix)?;
            }
        }
    }
}

/// An absolute URL with hostile text in its path and query.
fn url() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["http://e.example/", "https://ảnh.example/a/"]),
        text(5),
        prop::option::of(text(4)),
        prop::sample::select(vec!["", ".jpg", ".PNG", ".webp?x=1&y=2"]),
    )
        .prop_map(|(base, path, query, ext)| match query {
            Some(q) => format!("{base}{path}{ext}?q={q}"),
            None => format!("{base}{path}{ext}"),
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_article_link_or_image_gives_well_formed_feeds(
        raw in raw_article(0),
        link in prop::option::of(url()),
        image in prop::option::of(url()),
    ) {
        let raw = Article { title: format!("T{}", raw.title), url: link, image, ..raw };
        // A URL the parser refuses is reported, not published.
        let Ok(article) = raw.validated() else { return Ok(()) };
        let dir = tempfile::tempdir().unwrap();
        let store = bantin::store::sqlite::SqliteStore::open(&dir.path().join("p.db")).unwrap();
        store.upsert(std::slice::from_ref(&article)).unwrap();
        let site = bantin::config::Site::load(&site_file()).unwrap();
        let now = chrono::Utc::now();
        let catalog = Catalog::load(store.snapshot().unwrap().as_ref(), &site, now).unwrap();
        let feed = bantin::feed::load(store.snapshot().unwrap().as_ref(), &site, &catalog, &FeedKey::All, now, 50).unwrap();
        for format in Format::ALL {
            let want = std::slice::from_ref(&article);
            check_feed(&render(&feed, format), format, &FeedKey::All, want, &site.id_prefix)?;
        }
    }
}
