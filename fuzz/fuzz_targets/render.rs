//! Rendering an arbitrary article in all three formats: whatever text it
//! holds, every accepted article gives an RSS and an Atom document that
//! parse as XML and a JSON Feed that parses as JSON, each with one item.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use bantin::article::{Article, Body, FeedKey};
use bantin::config::Site;
use bantin::feed::{Catalog, shape};
use bantin::limits::admitted;
use bantin::render::{Format, render};
use chrono::{DateTime, FixedOffset};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    id: String,
    title: String,
    summary: Option<String>,
    body: Option<(bool, String)>,
    authors: Vec<String>,
    categories: Vec<String>,
    regions: Vec<String>,
    published: (i64, i32),
    updated: (i64, i32),
    url: Option<String>,
    image: Option<String>,
}

static SITE: LazyLock<Site> = LazyLock::new(|| {
    Site::parse(
        "title = \"Báo <&> ]]>\"\nbase_url = \"http://x.example\"\ntimezone = \"+07:00\"\n",
        "fuzz.toml",
        Default::default(),
    )
    .unwrap()
});

fn date((secs, offset): (i64, i32)) -> Option<DateTime<FixedOffset>> {
    let offset = FixedOffset::east_opt(offset % 86_400)?;
    Some(DateTime::from_timestamp(secs, 0)?.with_timezone(&offset))
}

fuzz_target!(|input: Input| {
    let (Some(published), Some(updated)) = (date(input.published), date(input.updated)) else {
        return;
    };
    let body = match input.body {
        None => Body::None,
        Some((true, html)) => Body::Html(html),
        Some((false, text)) => Body::Text(text),
    };
    let article = Article {
        id: input.id,
        title: input.title,
        summary: input.summary,
        body,
        authors: input.authors,
        categories: input.categories,
        regions: input.regions,
        published,
        updated,
        url: input.url,
        image: input.image,
    };
    let Ok(article) = article.validated() else {
        return;
    };
    if !admitted(&article, &SITE.limits) {
        return;
    }
    let feed = shape(&SITE, &Catalog::default(), &FeedKey::All, vec![article]);
    for format in Format::ALL {
        let bytes = render(&feed, format);
        let text = std::str::from_utf8(&bytes).expect("feeds are UTF-8");
        match format {
            Format::Json => {
                let v: serde_json::Value = serde_json::from_str(text)
                    .unwrap_or_else(|e| panic!("JSON Feed does not parse: {e}\n{text}"));
                assert_eq!(v["items"].as_array().map(Vec::len), Some(1), "{text}");
            }
            Format::Rss | Format::Atom => {
                let doc = roxmltree::Document::parse(text)
                    .unwrap_or_else(|e| panic!("{format:?} does not parse: {e}\n{text}"));
                let item = if format == Format::Rss {
                    "item"
                } else {
                    "entry"
                };
                let n = doc
                    .descendants()
                    .filter(|n| n.tag_name().name() == item)
                    .count();
                assert_eq!(n, 1, "{text}");
            }
        }
    }
});
