//! RSS 2.0 (<https://www.rssboard.org/rss-specification>) with the `atom`
//! namespace for links (self, WebSub hubs, and the RFC 5005 archive links,
//! as its appendix B has RSS use them, with `fh:archive` on archives),
//! `content:encoded` for the body and one `dc:creator` naming every author
//! ("Thanh Giang, Xuân Liệu"). Dates are
//! RFC 822 in the site's offset.
//!
//! The lead image travels in `content:encoded` (as a `<figure>`) for every
//! reader, and as Media RSS (<https://www.rssboard.org/media-rss>)
//! `media:content medium="image"` and `media:thumbnail` for the readers that
//! show thumbnails from it (Feedly, Inoreader, NetNewsWire); not as an
//! `<enclosure>`: RSS requires an enclosure's byte length, which we don't
//! know without fetching the image, and validators flag a made-up one.

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel, Guid, Item};

use super::{
    Format, HISTORY_NS, SY_NS, history_links, self_url, term_scheme, ttl_minutes, update_schedule,
};
use crate::feed::Feed;
use crate::text::escape_html;

pub(super) fn render(feed: &Feed) -> Vec<u8> {
    let items: Vec<Item> = feed
        .items
        .iter()
        .map(|i| Item {
            title: Some(i.title.clone()),
            link: Some(i.link.clone()),
            // RSS readers treat description as HTML, so plain text is escaped.
            description: i.summary.as_deref().map(escape_html),
            guid: Some(Guid {
                value: i.guid.clone(),
                permalink: false,
            }),
            pub_date: Some(rfc822(i.published)),
            content: i.content_html.clone(),
            categories: i
                .terms
                .iter()
                .map(|t| Category {
                    name: t.name.clone(),
                    domain: Some(term_scheme(feed, t.facet)),
                })
                .collect(),
            // One `dc:creator` with every name: readers given several
            // (newsboat, and others that read the element as one value)
            // show only the last.
            dublin_core_ext: (!i.authors.is_empty()).then(|| DublinCoreExtension {
                creators: vec![i.authors.join(", ")],
                ..Default::default()
            }),
            extensions: i.image.as_deref().map(media).unwrap_or_default(),
            ..Default::default()
        })
        .collect();
    let mut namespaces = BTreeMap::new();
    if feed.items.iter().any(|i| i.image.is_some()) {
        namespaces.insert("media".to_string(), MEDIA_NS.to_string());
    }
    let mut links = vec![Link {
        href: self_url(feed, Format::Rss),
        rel: "self".into(),
        mime_type: Some(Format::Rss.media_type().into()),
        ..Default::default()
    }];
    links.extend(feed.hubs.iter().map(|hub| Link {
        href: hub.clone(),
        rel: "hub".into(),
        ..Default::default()
    }));
    links.extend(
        history_links(feed, Format::Rss)
            .into_iter()
            .map(|(rel, href)| Link {
                href,
                rel: rel.into(),
                mime_type: Some(Format::Rss.media_type().into()),
                ..Default::default()
            }),
    );
    let mut extensions = ExtensionMap::new();
    if feed.archive.is_some() {
        namespaces.insert("fh".to_string(), HISTORY_NS.to_string());
        let archive = BTreeMap::from([(
            "archive".to_string(),
            vec![empty_element("fh:archive", &[])],
        )]);
        extensions.insert("fh".to_string(), archive);
    } else {
        // How often to poll, for readers that read the syndication module
        // rather than `<ttl>`; archives are not polled.
        let (period, frequency) = update_schedule(feed.max_age);
        namespaces.insert("sy".to_string(), SY_NS.to_string());
        let text = |name: &str, value: String| Extension {
            name: name.to_string(),
            value: Some(value),
            ..Default::default()
        };
        let schedule = BTreeMap::from([
            (
                "updatePeriod".to_string(),
                vec![text("sy:updatePeriod", period.to_string())],
            ),
            (
                "updateFrequency".to_string(),
                vec![text("sy:updateFrequency", frequency.to_string())],
            ),
        ]);
        extensions.insert("sy".to_string(), schedule);
    }
    let channel = Channel {
        title: feed.title.clone(),
        link: feed.home_url.clone(),
        description: feed.description.clone(),
        language: Some(feed.language.clone()),
        last_build_date: feed.updated.map(rfc822),
        generator: Some("bantin".into()),
        docs: Some("https://www.rssboard.org/rss-specification".into()),
        ttl: Some(ttl_minutes(feed.max_age).to_string()),
        atom_ext: Some(AtomExtension { links }),
        extensions,
        items,
        namespaces,
        ..Default::default()
    };
    let written = channel
        .pretty_write_to(Vec::new(), b' ', 2)
        .expect("writing to a Vec cannot fail");
    let written =
        super::xml::collapse_empty(written, &["media:content", "media:thumbnail", "fh:archive"]);
    let mut out = super::xml::hex_refs(&written, None);
    out.push(b'\n');
    out
}

/// The bytes an item's `content:encoded` adds to the document, exactly as
/// the writer lays it out (its line, indented six spaces; one CDATA section,
/// split at each `]]>`): what giving the item its summary instead saves.
pub(super) fn content_bytes(item: &crate::feed::Item) -> usize {
    item.content_html.as_deref().map_or(0, |html| {
        "\n      <content:encoded><![CDATA[]]></content:encoded>".len()
            + html.len()
            + html.matches("]]>").count() * "]]><![CDATA[".len()
    })
}

/// The Media RSS namespace.
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// An element with attributes and no content, in an extension namespace.
fn empty_element(name: &str, attrs: &[(&str, &str)]) -> Extension {
    Extension {
        name: name.to_string(),
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

/// An item's Media RSS elements for its lead image: the image itself and,
/// for lists, the same image as the thumbnail (we have no smaller one).
fn media(url: &str) -> ExtensionMap {
    let elements = BTreeMap::from([
        (
            "content".to_string(),
            vec![empty_element(
                "media:content",
                &[("url", url), ("medium", "image")],
            )],
        ),
        (
            "thumbnail".to_string(),
            vec![empty_element("media:thumbnail", &[("url", url)])],
        ),
    ]);
    BTreeMap::from([("media".to_string(), elements)])
}

/// RFC 822 as RSS uses it (four-digit year, two-digit day, numeric offset).
fn rfc822(d: chrono::DateTime<chrono::FixedOffset>) -> String {
    d.format("%a, %d %b %Y %H:%M:%S %z").to_string()
}
