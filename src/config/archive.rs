//! The site file's archive keys (SPEC "Archives"): what an archive
//! document's items carry, and which kinds of feed have archives.

/// What the items of an archive document carry (site key
/// `archive_content`). Archives hold every article of a feed, and each
/// article is in some five feeds: at a million articles their full bodies
/// make tens of gigabytes of static files (issue 23), while a reader
/// walking back through a feed's history wants the items (title, link,
/// date, summary), and the article's page has the rest. RFC 5005 leaves
/// it to the publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveContent {
    /// Each item's summary, as a subscription feed over `max_feed_bytes`
    /// gives its oldest items (the default).
    Summary,
    /// Each item's full content, as in the subscription feed.
    Full,
}

impl ArchiveContent {
    /// From the site file's value (`None`: the default).
    pub(super) fn parse(value: Option<&str>) -> Result<ArchiveContent, String> {
        match value {
            None | Some("summary") => Ok(ArchiveContent::Summary),
            Some("full") => Ok(ArchiveContent::Full),
            Some(other) => Err(format!("{other:?} is not \"summary\" or \"full\"")),
        }
    }
}

/// The kinds of feed that have monthly archives (site key
/// `archive_feeds`), in `serve` and `build` alike: a feed of another kind
/// links no `prev-archive`, and its archive URLs are 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveFeeds {
    /// The all feed.
    pub all: bool,
    /// Category feeds.
    pub category: bool,
    /// Region feeds.
    pub region: bool,
    /// Author feeds.
    pub author: bool,
    /// Category-within-region feeds.
    pub pair: bool,
}

impl Default for ArchiveFeeds {
    fn default() -> Self {
        ArchiveFeeds {
            all: true,
            category: true,
            region: true,
            author: true,
            pair: true,
        }
    }
}

impl ArchiveFeeds {
    /// The names the site file uses, in order.
    pub const NAMES: [&'static str; 5] = ["all", "category", "region", "author", "pair"];

    /// From the site file's list: known names, each once (`None`: the
    /// default, every kind).
    pub(super) fn parse(kinds: Option<&[String]>) -> Result<ArchiveFeeds, String> {
        let Some(kinds) = kinds else {
            return Ok(ArchiveFeeds::default());
        };
        let mut feeds = ArchiveFeeds {
            all: false,
            category: false,
            region: false,
            author: false,
            pair: false,
        };
        for kind in kinds {
            let slot = match kind.as_str() {
                "all" => &mut feeds.all,
                "category" => &mut feeds.category,
                "region" => &mut feeds.region,
                "author" => &mut feeds.author,
                "pair" => &mut feeds.pair,
                other => {
                    return Err(format!(
                        "{other:?} is not one of {}",
                        Self::NAMES.map(|n| format!("\"{n}\"")).join(", ")
                    ));
                }
            };
            if std::mem::replace(slot, true) {
                return Err(format!("{kind:?} is named twice"));
            }
        }
        Ok(feeds)
    }

    /// Whether the feed `key` has archives (keyword feeds never do).
    pub fn has(&self, key: &crate::article::FeedKey) -> bool {
        use crate::article::FeedKey;
        match key {
            FeedKey::All => self.all,
            FeedKey::Category(_) => self.category,
            FeedKey::Region(_) => self.region,
            FeedKey::Author(_) => self.author,
            FeedKey::CategoryRegion(..) => self.pair,
            FeedKey::Search(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Site;
    use std::path::PathBuf;

    const MINIMAL: &str = "title = \"T\"\nbase_url = \"https://example.vn\"\n";

    #[test]
    fn archive_feeds_name_kinds_of_feed_each_once() {
        use crate::article::FeedKey;
        let site = Site::parse(MINIMAL, "s.toml", PathBuf::new()).unwrap();
        assert_eq!(site.archive_feeds, ArchiveFeeds::default());
        let site = Site::parse(
            &format!("{MINIMAL}archive_feeds = [\"all\", \"author\"]\n"),
            "s.toml",
            PathBuf::new(),
        )
        .unwrap();
        assert!(site.archive_feeds.has(&FeedKey::All));
        assert!(site.archive_feeds.has(&FeedKey::Author("a".into())));
        assert!(!site.archive_feeds.has(&FeedKey::Category("c".into())));
        assert!(!site.archive_feeds.has(&FeedKey::Search("w".into())));
        for (list, reason) in [
            (
                "[\"all\", \"pairs\"]",
                "\"pairs\" is not one of \"all\", \"category\", \"region\", \"author\", \"pair\"",
            ),
            ("[\"all\", \"all\"]", "\"all\" is named twice"),
        ] {
            let msg = Site::parse(
                &format!("{MINIMAL}archive_feeds = {list}\n"),
                "s.toml",
                PathBuf::new(),
            )
            .unwrap_err()
            .to_string();
            assert_eq!(msg, format!("s.toml: `archive_feeds`: {reason}"));
        }
    }

    #[test]
    fn archive_content_defaults_to_summaries_and_names_a_bad_value() {
        let site = Site::parse(MINIMAL, "s.toml", PathBuf::new()).unwrap();
        assert_eq!(site.archive_content, ArchiveContent::Summary);
        for (text, want) in [
            ("summary", ArchiveContent::Summary),
            ("full", ArchiveContent::Full),
        ] {
            let site = Site::parse(
                &format!("{MINIMAL}archive_content = \"{text}\"\n"),
                "s.toml",
                PathBuf::new(),
            );
            assert_eq!(site.unwrap().archive_content, want);
        }
        let msg = Site::parse(
            &format!("{MINIMAL}archive_content = \"bodies\"\n"),
            "s.toml",
            PathBuf::new(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            msg,
            "s.toml: `archive_content`: \"bodies\" is not \"summary\" or \"full\""
        );
    }
}
