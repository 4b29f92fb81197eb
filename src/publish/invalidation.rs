//! What a batch of changes touches (for the server's cache and for the
//! archives `bantin build` renders again): which feeds may now read differently,
//! and which parts of the catalog (counts, names, pairs) to read again.
//!
//! An article touches every feed it was in before a change and every feed
//! it is in after: the all feed, each of its old and new categories,
//! regions and authors, and each pair of an old-or-new category with an old-or-new
//! region. "Before" comes from the change log's old rows, "after" from where
//! the article stands now ([`Placement`]). An article that was never visible
//! (scheduled, before and after) touches nothing until it comes due.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::article::{Facet, FeedKey};
use crate::feed::CatalogTouch;
use crate::store::{Change, Placement};

/// The feeds and catalog parts a batch touches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    /// Each touched feed, with the `published` instants of the articles
    /// that touch it (a cached feed whose oldest item is newer than all of
    /// them, and that is full, cannot have changed).
    pub feeds: BTreeMap<FeedKey, Vec<DateTime<Utc>>>,
    /// What to read again in the catalog.
    pub catalog: CatalogTouch,
}

#[derive(Default)]
struct Article {
    categories: BTreeSet<String>,
    regions: BTreeSet<String>,
    authors: BTreeSet<String>,
    instants: Vec<DateTime<Utc>>,
}

/// The touches of `changes` (log rows) and of `due` (ids of scheduled
/// articles that became visible), given where the articles stand now, for a
/// catalog as of `now`.
pub fn touched(
    changes: &[Change],
    due: &[String],
    now_placed: &[Placement],
    now: DateTime<Utc>,
) -> Touched {
    let mut articles: BTreeMap<&str, Article> = BTreeMap::new();
    for c in changes {
        let a = articles.entry(&c.article_id).or_default();
        a.instants.extend(c.published);
        match (c.facet, &c.slug) {
            (Some(Facet::Category), Some(slug)) => {
                a.categories.insert(slug.clone());
            }
            (Some(Facet::Region), Some(slug)) => {
                a.regions.insert(slug.clone());
            }
            (Some(Facet::Author), Some(slug)) => {
                a.authors.insert(slug.clone());
            }
            _ => {}
        }
    }
    for id in due {
        articles.entry(id).or_default();
    }
    for p in now_placed {
        if let Some(a) = articles.get_mut(p.id.as_str()) {
            a.instants.push(p.published);
            a.categories.extend(p.categories.iter().cloned());
            a.regions.extend(p.regions.iter().cloned());
            a.authors.extend(p.authors.iter().cloned());
        }
    }
    let mut out = Touched::default();
    for a in articles.values() {
        // Only the instants visible as of `now` count: a change among
        // scheduled rows shows nowhere yet.
        let seen: Vec<DateTime<Utc>> = a.instants.iter().copied().filter(|t| *t <= now).collect();
        if seen.is_empty() {
            continue;
        }
        let mut touch = |key: FeedKey| {
            out.feeds
                .entry(key)
                .or_default()
                .extend(seen.iter().copied());
        };
        touch(FeedKey::All);
        for c in &a.categories {
            touch(FeedKey::Category(c.clone()));
            out.catalog.slugs.insert((Facet::Category, c.clone()));
        }
        for r in &a.regions {
            touch(FeedKey::Region(r.clone()));
            out.catalog.slugs.insert((Facet::Region, r.clone()));
        }
        for u in &a.authors {
            touch(FeedKey::Author(u.clone()));
            out.catalog.slugs.insert((Facet::Author, u.clone()));
        }
        for c in &a.categories {
            for r in &a.regions {
                touch(FeedKey::CategoryRegion(c.clone(), r.clone()));
                out.catalog.pairs.insert((c.clone(), r.clone()));
            }
        }
        out.catalog.total = true;
    }
    for instants in out.feeds.values_mut() {
        instants.sort();
        instants.dedup();
    }
    out
}

/// Whether a batch touches the Google News sitemap: an article that was
/// or is now published within its 48 hours before `now` (a change among
/// older articles can't show in it).
pub fn touches_news(touched: &Touched, now: DateTime<Utc>) -> bool {
    let since = now.checked_sub_signed(crate::pages::NEWS_WINDOW);
    touched
        .feeds
        .get(&FeedKey::All)
        .is_some_and(|instants| instants.iter().any(|t| since.is_none_or(|s| *t > s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn change(id: &str, facet: Option<Facet>, slug: Option<&str>, at: &str) -> Change {
        Change {
            article_id: id.into(),
            facet,
            slug: slug.map(str::to_string),
            published: Some(t(at)),
        }
    }

    #[test]
    fn a_move_touches_the_old_and_the_new_feeds_and_nothing_else() {
        let at = "2024-01-01T00:00:00Z";
        let changes = [
            change("a", Some(Facet::Category), Some("kinh-te"), at),
            change("a", Some(Facet::Category), Some("xa-hoi"), at),
        ];
        let placed = [Placement {
            id: "a".into(),
            published: t(at),
            categories: vec!["xa-hoi".into()],
            regions: vec!["duc-tho".into()],
            authors: vec![],
        }];
        let touched = touched(&changes, &[], &placed, t("2025-01-01T00:00:00Z"));
        let keys: Vec<String> = touched.feeds.keys().map(FeedKey::path).collect();
        assert_eq!(
            keys,
            [
                "all",
                "category/kinh-te",
                "category/xa-hoi",
                "region/duc-tho",
                "category/kinh-te/region/duc-tho",
                "category/xa-hoi/region/duc-tho",
            ]
        );
        assert!(touched.catalog.total);
        assert_eq!(touched.catalog.pairs.len(), 2);
    }

    #[test]
    fn a_scheduled_article_touches_nothing_until_it_is_due() {
        let later = "2030-01-01T00:00:00Z";
        let changes = [change("s", None, None, later)];
        let placed = [Placement {
            id: "s".into(),
            published: t(later),
            categories: vec!["kinh-te".into()],
            regions: vec![],
            authors: vec!["thu-ha".into()],
        }];
        let now = t("2025-01-01T00:00:00Z");
        assert_eq!(touched(&changes, &[], &placed, now), Touched::default());
        let due = touched(&[], &["s".to_string()], &placed, t(later));
        assert!(due.feeds.contains_key(&FeedKey::Category("kinh-te".into())));
        assert!(due.feeds.contains_key(&FeedKey::Author("thu-ha".into())));
        assert_eq!(due.feeds.len(), 3);
    }

    #[test]
    fn a_removed_article_touches_the_feeds_it_was_in() {
        let at = "2024-01-01T00:00:00Z";
        let changes = [
            change("gone", None, None, at),
            change("gone", Some(Facet::Region), Some("ky-anh"), at),
        ];
        let touched = touched(&changes, &[], &[], t("2025-01-01T00:00:00Z"));
        assert!(
            touched
                .feeds
                .contains_key(&FeedKey::Region("ky-anh".into()))
        );
        assert!(touched.feeds.contains_key(&FeedKey::All));
    }
}
