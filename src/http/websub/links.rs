//! The URLs WebSub speaks of: a feed's topic URL, the `Link` headers of
//! its response, and the feeds whose catalog entry moved.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use http::header::HeaderValue;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::article::FeedKey;
use crate::config::Site;
use crate::feed::Catalog;
use crate::render::Format;

/// The URL a feed is known by (its `rel="self"`, the `hub.url` of its
/// pings): `{base_url}/feeds/{path}.{ext}`, and a keyword feed's `?q=`, as
/// `render::feed_url` writes it in the feed.
pub fn topic(site: &Site, key: &FeedKey, format: Format) -> String {
    match key {
        FeedKey::Search(words) => format!(
            "{}/feeds/search.{}?q={}",
            site.base_url,
            format.ext(),
            words.replace(' ', "+")
        ),
        _ => format!("{}/feeds/{}.{}", site.base_url, key.path(), format.ext()),
    }
}

/// What a URL may not hold as is in a `Link` header's `<…>` (RFC 8288
/// §3: a URI-Reference): controls, non-ASCII (a keyword feed's words in
/// other scripts), space and the delimiters around it. Percent-encoding
/// them turns the IRI the feed carries into the same resource's URI.
const LINK_UNSAFE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>');

/// The `Link` header values of a subscription feed's response: one
/// `<hub>; rel="hub"` per hub, then `<self>; rel="self"`. None without hubs.
pub fn links(site: &Site, key: &FeedKey, format: Format) -> Vec<HeaderValue> {
    if site.hubs.is_empty() {
        return Vec::new();
    }
    let link = |url: &str, rel: &str| {
        let url = utf8_percent_encode(url, LINK_UNSAFE);
        HeaderValue::try_from(format!("<{url}>; rel=\"{rel}\"")).ok()
    };
    site.hubs
        .iter()
        .filter_map(|hub| link(hub, "hub"))
        .chain(link(&topic(site, key, format), "self"))
        .collect()
}

/// The feeds (all but keyword feeds) whose catalog entry differs between
/// two catalogs, or that only `new` lists: after a reload of everything,
/// the feeds that most likely changed. A feed gone from `new` is left out
/// (it is a 404 now: there is nothing for a hub to fetch).
pub fn moved(old: &Catalog, new: &Catalog) -> Vec<FeedKey> {
    let mut keys = Vec::new();
    if (old.total, old.newest) != (new.total, new.newest) {
        keys.push(FeedKey::All);
    }
    let facets = [
        (
            &old.categories,
            &new.categories,
            FeedKey::Category as fn(String) -> FeedKey,
        ),
        (&old.regions, &new.regions, FeedKey::Region),
        (&old.authors, &new.authors, FeedKey::Author),
    ];
    for (was, now, key) in facets {
        for (slug, entry) in now {
            if was.get(slug) != Some(entry) {
                keys.push(key(slug.clone()));
            }
        }
    }
    for ((c, r), pair) in &new.pairs {
        if old.pairs.get(&(c.clone(), r.clone())) != Some(pair) {
            keys.push(FeedKey::CategoryRegion(c.clone(), r.clone()));
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_name_each_hub_then_the_feed_as_the_feed_does() {
        let mut site = Site::parse(
            "title = \"T\"\nbase_url = \"http://n.example\"\n\
             hubs = [\"https://hub.example/\", \"http://h2.example/p?x=1\"]\n",
            "s.toml",
            std::path::PathBuf::new(),
        )
        .unwrap();
        let catalog = Catalog::default();
        for key in [
            FeedKey::All,
            FeedKey::CategoryRegion("kinh-te".into(), "duc-tho".into()),
            FeedKey::Search("bao lu".into()),
        ] {
            for format in Format::ALL {
                let feed = crate::feed::shape(&site, &catalog, &key, Vec::new());
                assert_eq!(
                    topic(&site, &key, format),
                    crate::render::feed_url(&feed, format)
                );
            }
        }
        let values: Vec<String> = links(&site, &FeedKey::Search("bao 北京".into()), Format::Rss)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            values,
            [
                "<https://hub.example/>; rel=\"hub\"",
                "<http://h2.example/p?x=1>; rel=\"hub\"",
                "<http://n.example/feeds/search.rss?q=bao+%E5%8C%97%E4%BA%AC>; rel=\"self\"",
            ]
        );
        site.hubs.clear();
        assert!(links(&site, &FeedKey::All, Format::Rss).is_empty());
    }
}
