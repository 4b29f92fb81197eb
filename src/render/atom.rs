//! Atom 1.0 (RFC 4287). The feed's id is its subscription URL; entry ids
//! are the item guids. A feed-level author (the site) covers entries
//! without one, as RFC 4287 section 4.1.2 requires. WebSub hubs are
//! `link rel="hub"`; archive documents (RFC 5005 §4) carry `fh:archive` and
//! their `current`/`prev-archive`/`next-archive` links.

use std::collections::BTreeMap;

use atom_syndication::{Category, Content, Entry, Generator, Link, Person, Text, WriteConfig};

use super::{
    Format, HISTORY_NS, SY_NS, empty_feed_updated, feed_url, history_links, image_type, self_url,
    term_scheme, update_schedule,
};
use crate::feed::Feed;

pub(super) fn render(feed: &Feed) -> Vec<u8> {
    let entries: Vec<Entry> = feed
        .items
        .iter()
        .map(|i| {
            let mut links = vec![Link {
                href: i.link.clone(),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Default::default()
            }];
            if let Some(url) = &i.image {
                links.push(Link {
                    href: url.clone(),
                    rel: "enclosure".into(),
                    mime_type: image_type(url).map(str::to_string),
                    ..Default::default()
                });
            }
            Entry {
                id: i.guid.clone(),
                title: Text::plain(i.title.clone()),
                updated: i.updated,
                published: Some(i.published),
                authors: i
                    .authors
                    .iter()
                    .map(|n| Person {
                        name: n.clone(),
                        ..Default::default()
                    })
                    .collect(),
                summary: i.summary.clone().map(Text::plain),
                content: i.content_html.clone().map(|html| Content {
                    value: Some(html),
                    content_type: Some("html".into()),
                    ..Default::default()
                }),
                categories: i
                    .terms
                    .iter()
                    .map(|t| Category {
                        term: t.slug.clone(),
                        scheme: Some(term_scheme(feed, t.facet)),
                        label: Some(t.name.clone()),
                    })
                    .collect(),
                links,
                ..Default::default()
            }
        })
        .collect();
    let mut links = vec![
        Link {
            href: self_url(feed, Format::Atom),
            rel: "self".into(),
            mime_type: Some(Format::Atom.media_type().into()),
            ..Default::default()
        },
        Link {
            href: feed.home_url.clone(),
            rel: "alternate".into(),
            mime_type: Some("text/html".into()),
            ..Default::default()
        },
    ];
    links.extend(feed.hubs.iter().map(|hub| Link {
        href: hub.clone(),
        rel: "hub".into(),
        ..Default::default()
    }));
    links.extend(
        history_links(feed, Format::Atom)
            .into_iter()
            .map(|(rel, href)| Link {
                href,
                rel: rel.into(),
                mime_type: Some(Format::Atom.media_type().into()),
                ..Default::default()
            }),
    );
    // `fh:archive` is written into the head below: atom_syndication puts
    // extension elements after the entries, and RFC 5005 wants it in the
    // head, where a reader meets it before the items.
    // Likewise `sy:` (how often to poll, as `Cache-Control` says) on a
    // subscription feed; archives are not polled.
    let namespaces = match feed.archive {
        Some(_) => BTreeMap::from([("fh".to_string(), HISTORY_NS.to_string())]),
        None => BTreeMap::from([("sy".to_string(), SY_NS.to_string())]),
    };
    let atom = atom_syndication::Feed {
        // Every document of the feed, archives too, is the same logical
        // feed (RFC 5005), so they share the subscription feed's id.
        id: feed_url(feed, Format::Atom),
        title: Text::plain(feed.title.clone()),
        subtitle: Some(Text::plain(feed.description.clone())),
        updated: feed.updated.unwrap_or_else(|| empty_feed_updated(feed)),
        authors: vec![Person {
            name: site_name(feed),
            uri: Some(feed.home_url.clone()),
            ..Default::default()
        }],
        generator: Some(Generator {
            value: "bantin".into(),
            ..Default::default()
        }),
        lang: Some(feed.language.clone()),
        links,
        entries,
        namespaces,
        ..Default::default()
    };
    let config = WriteConfig {
        write_document_declaration: true,
        indent_size: Some(2),
    };
    let written = atom
        .write_with_config(Vec::new(), config)
        .expect("writing to a Vec cannot fail");
    let written = match feed.archive {
        // Before the first entry (titles are escaped, so this exact line
        // can't occur earlier), or the end of an entry-less document.
        Some(_) => super::xml::insert_before(
            written,
            &[b"\n  <entry>", b"\n</feed>"],
            b"\n  <fh:archive/>",
        ),
        None => {
            let (period, frequency) = update_schedule(feed.max_age);
            super::xml::insert_before(
                written,
                &[b"\n  <entry>", b"\n</feed>"],
                format!(
                    "\n  <sy:updatePeriod>{period}</sy:updatePeriod>\n  \
                     <sy:updateFrequency>{frequency}</sy:updateFrequency>"
                )
                .as_bytes(),
            )
        }
    };
    let mut out = super::xml::hex_refs(&written, Some("content"));
    out.push(b'\n');
    out
}

/// The bytes an entry's `content` adds to the document, exactly as the
/// writer lays it out (its line, indented four spaces; the HTML escaped
/// with the five XML entities): what giving it its summary instead saves.
pub(super) fn content_bytes(item: &crate::feed::Item) -> usize {
    item.content_html.as_deref().map_or(0, |html| {
        let escapes: usize = html
            .bytes()
            .map(|b| match b {
                b'<' | b'>' => "&lt;".len() - 1,
                b'&' => "&amp;".len() - 1,
                b'\'' | b'"' => "&apos;".len() - 1,
                _ => 0,
            })
            .sum();
        "\n    <content type=\"html\"></content>".len() + html.len() + escapes
    })
}

/// The publication's name: the all feed's title, before any ` – ` suffix.
fn site_name(feed: &Feed) -> String {
    feed.title
        .split(" – ")
        .next()
        .unwrap_or(&feed.title)
        .to_string()
}
