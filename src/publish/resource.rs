//! What is published: a [`Resource`] is one document in one format, named
//! by its URL; a [`Document`] is what one read of the store renders (a
//! feed, or one month of it or one page of a month over `archive_items`,
//! in every format; or a page). The server caches
//! resources under their URL, and `bantin build` writes each one to the
//! file of the same path, so both spell paths here and nowhere else.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::article::FeedKey;
use crate::feed::ArchivePage;
use crate::render::Format;

/// One published document in one format.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// A feed in a format: `/feeds/{key}.{ext}`.
    Feed(FeedKey, Format),
    /// One month of a feed, or one page of a month over `archive_items`
    /// (RFC 5005 archive document), in a format:
    /// `/feeds/{key}/archive/{YYYY-MM}.{ext}` (page 1) or
    /// `/feeds/{key}/archive/{YYYY-MM}-p{N}.{ext}` (page N >= 2).
    Archive(FeedKey, ArchivePage, Format),
    /// `/`, the site's list of feeds (`index.html` in a build).
    Index,
    /// `/feeds.opml`
    Opml,
    /// `/sitemap-news.xml`, the Google News sitemap (SPEC "Audience").
    NewsSitemap,
}

/// What one read renders: the formats of a feed, or of one archive
/// document of it (a month, or a page of one), come from one store read; the pages from the catalog alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Document {
    /// A feed.
    Feed(FeedKey),
    /// One month of a feed, or one page of a month.
    Archive(FeedKey, ArchivePage),
    /// `/`
    Index,
    /// `/feeds.opml`
    Opml,
    /// `/sitemap-news.xml`
    NewsSitemap,
}

impl Resource {
    /// The feed a feed or archive resource belongs to.
    pub fn key(&self) -> Option<&FeedKey> {
        match self {
            Resource::Feed(key, _) | Resource::Archive(key, _, _) => Some(key),
            Resource::Index | Resource::Opml | Resource::NewsSitemap => None,
        }
    }

    /// The document this resource is one format of.
    pub fn document(&self) -> Document {
        match self {
            Resource::Feed(key, _) => Document::Feed(key.clone()),
            Resource::Archive(key, page, _) => Document::Archive(key.clone(), *page),
            Resource::Index => Document::Index,
            Resource::Opml => Document::Opml,
            Resource::NewsSitemap => Document::NewsSitemap,
        }
    }

    /// Its format, for a feed or archive resource.
    pub fn format(&self) -> Option<Format> {
        match self {
            Resource::Feed(_, format) | Resource::Archive(_, _, format) => Some(*format),
            Resource::Index | Resource::Opml | Resource::NewsSitemap => None,
        }
    }

    /// Whether it is a keyword feed (its words are in its query string).
    pub fn is_search(&self) -> bool {
        matches!(self, Resource::Feed(FeedKey::Search(_), _))
    }

    /// The file `bantin build` writes it to, `/`-separated, relative to the
    /// output folder: its URL path without the leading `/` (`index.html`
    /// for `/`). Keyword feeds are not built.
    pub fn file(&self) -> String {
        match self {
            Resource::Feed(key, format) => format!("feeds/{}.{}", key.path(), format.ext()),
            Resource::Archive(key, page, format) => {
                format!("{}{page}.{}", archive_folder(key), format.ext())
            }
            Resource::Index => "index.html".to_string(),
            Resource::Opml => "feeds.opml".to_string(),
            Resource::NewsSitemap => "sitemap-news.xml".to_string(),
        }
    }
}

impl Document {
    /// Its resources: a feed's or an archive document's in every format,
    /// or the page.
    pub fn resources(&self) -> Vec<Resource> {
        match self {
            Document::Feed(key) => Format::ALL.map(|f| Resource::Feed(key.clone(), f)).to_vec(),
            Document::Archive(key, page) => Format::ALL
                .map(|f| Resource::Archive(key.clone(), *page, f))
                .to_vec(),
            Document::Index => vec![Resource::Index],
            Document::Opml => vec![Resource::Opml],
            Document::NewsSitemap => vec![Resource::NewsSitemap],
        }
    }
}

/// The folder of a feed's archive documents, relative to the output folder
/// (and to `/` in URLs), with its trailing `/`.
pub fn archive_folder(key: &FeedKey) -> String {
    format!("feeds/{}/archive/", key.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_mirror_the_urls() {
        let key = FeedKey::CategoryRegion("kinh-te".into(), "duc-tho".into());
        let month = crate::feed::Month::parse("2024-11").unwrap();
        let month = ArchivePage::first(month);
        assert_eq!(
            Resource::Archive(key.clone(), month, Format::Atom).file(),
            "feeds/category/kinh-te/region/duc-tho/archive/2024-11.atom"
        );
        let page = ArchivePage::new(month.month, 2).unwrap();
        assert_eq!(
            Resource::Archive(FeedKey::All, page, Format::Json).file(),
            "feeds/all/archive/2024-11-p2.json"
        );
        assert_eq!(
            Resource::Feed(key.clone(), Format::Rss).file(),
            "feeds/category/kinh-te/region/duc-tho.rss"
        );
        assert_eq!(Resource::Index.file(), "index.html");
        assert_eq!(Resource::Opml.file(), "feeds.opml");
        assert_eq!(Resource::NewsSitemap.file(), "sitemap-news.xml");
        for r in Document::Archive(key, month).resources() {
            assert_eq!(
                r.document(),
                Document::Archive(r.key().unwrap().clone(), month)
            );
        }
    }
}
