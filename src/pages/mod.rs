//! The non-feed documents: the `/` page for people, the OPML list for
//! feed readers (pure functions of the site and the catalog), and the
//! Google News sitemap (of the site and the recent articles' items).

mod index;
mod news;
mod opml;

pub use index::{content_security_policy, index_html, index_html_with_audience, static_index_html};
pub use news::{NEWS_MAX, NEWS_WINDOW, news_sitemap};
pub use opml::opml;

use chrono::{DateTime, FixedOffset, Utc};

use crate::article::{Facet, FeedKey};
use crate::config::Site;
use crate::feed::Catalog;
use crate::render::Format;

/// One feed as the page and the OPML list it.
struct Listed {
    key: FeedKey,
    title: String,
    articles: u64,
    newest: Option<DateTime<Utc>>,
}

/// URL of a feed in a format.
fn feed_url(site: &Site, key: &FeedKey, format: Format) -> String {
    format!("{}/feeds/{}.{}", site.base_url, key.path(), format.ext())
}

/// URL of a feed's archive of `month` in a format (SPEC "URLs").
fn archive_url(site: &Site, key: &FeedKey, month: crate::feed::Month, format: Format) -> String {
    format!(
        "{}/feeds/{}/archive/{month}.{}",
        site.base_url,
        key.path(),
        format.ext()
    )
}

/// The feeds worth listing, in five groups: everything, categories,
/// regions, the category/region pairs that share an article, and authors.
fn groups(catalog: &Catalog) -> [(&'static str, Vec<Listed>); 5] {
    let facet = |f: Facet| -> Vec<Listed> {
        catalog
            .facet(f)
            .values()
            .map(|e| Listed {
                key: match f {
                    Facet::Category => FeedKey::Category(e.slug.clone()),
                    Facet::Region => FeedKey::Region(e.slug.clone()),
                    Facet::Author => FeedKey::Author(e.slug.clone()),
                },
                title: e.name.clone(),
                articles: e.articles,
                newest: e.newest,
            })
            .collect()
    };
    let pairs = catalog
        .pairs
        .values()
        .map(|p| Listed {
            key: FeedKey::CategoryRegion(p.category.clone(), p.region.clone()),
            title: format!(
                "{} – {}",
                catalog.name(Facet::Category, &p.category),
                catalog.name(Facet::Region, &p.region)
            ),
            articles: p.articles,
            newest: p.newest,
        })
        .collect();
    [
        (
            "Tất cả",
            vec![Listed {
                key: FeedKey::All,
                title: "Tất cả bài viết".into(),
                articles: catalog.total,
                newest: catalog.newest,
            }],
        ),
        ("Chuyên mục", facet(Facet::Category)),
        ("Địa phương", facet(Facet::Region)),
        ("Chuyên mục theo địa phương", pairs),
        ("Tác giả", facet(Facet::Author)),
    ]
}

/// `dd/mm/yyyy HH:MM` in the site's offset, as Vietnamese readers write it.
fn local_date(d: DateTime<Utc>, offset: FixedOffset) -> String {
    d.with_timezone(&offset)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}
