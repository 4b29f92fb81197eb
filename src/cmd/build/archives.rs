//! Which archive documents (SPEC "Archives", RFC 5005 §4) a build renders,
//! and which it keeps from the last build without rendering them.
//!
//! Archives are most of a build: every article is in about five feeds, and
//! each feed has a document per month in three formats (at a million
//! articles, tens of gigabytes). A month's document changes only when an
//! article of that month in that feed does, or when the months beside it
//! change (its `prev-archive`/`next-archive` links). So a build over an
//! earlier one reads the change log from where that build stood, and
//! renders only the months the changes reach; it keeps the others as they
//! are. It renders every month when it cannot tell what changed: no earlier
//! build in the folder, a log trimmed past that build's position (or a bulk
//! import), or other inputs: another store, bantin binary, site file, or
//! display names.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::article::FeedKey;
use crate::config::{Site, StoreUrl};
use crate::feed::{ArchivePage, Catalog, Month};
use crate::publish::invalidation;
use crate::publish::resource::archive_folder;
use crate::store::{Changes, LogPosition, Snapshot};

/// Past this many log rows since the last build, render everything: reading
/// and sorting them would cost more than it saves.
const MAX_CHANGES: usize = 200_000;

/// What a build's documents were made from, kept in the manifest for the
/// next build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Since {
    /// [`inputs`] of that build.
    pub inputs: String,
    /// The instant that build rendered as of.
    pub as_of: DateTime<Utc>,
    /// The change log position of that build's snapshot.
    pub head: LogPosition,
}

impl Since {
    /// One line, tab-separated.
    pub fn to_text(&self) -> String {
        format!(
            "{}\t{}\t{}",
            self.inputs,
            self.as_of.to_rfc3339_opts(SecondsFormat::Micros, true),
            self.head.to_text()
        )
    }

    /// A line written by [`Since::to_text`].
    pub fn parse(text: &str) -> Option<Since> {
        let mut fields = text.splitn(3, '\t');
        let inputs = fields.next()?.to_string();
        let as_of = DateTime::parse_from_rfc3339(fields.next()?).ok()?.to_utc();
        let head = LogPosition::parse(fields.next()?)?;
        Some(Since {
            inputs,
            as_of,
            head,
        })
    }
}

/// A fingerprint of everything but the articles that archive bytes depend
/// on: the store (another one's log positions mean nothing here), this
/// bantin binary (its renderer), the site file as read, and the catalog's
/// display names and descriptions (a renamed category shows in every item
/// that carries it).
pub(super) fn inputs(url: &StoreUrl, site: &Site, catalog: &Catalog) -> String {
    let mut hash = Sha256::new();
    // The running binary: reading 15 MB costs some milliseconds, and
    // catches every change to how documents are rendered.
    match std::env::current_exe().and_then(std::fs::read) {
        Ok(bytes) => hash.update(&bytes),
        // Unknown binary: a fingerprint no later build matches.
        Err(_) => hash.update(Utc::now().to_rfc3339().as_bytes()),
    }
    hash.update(format!("{url}\n{site:?}\n").as_bytes());
    for facet in crate::article::Facet::ALL {
        for (slug, entry) in catalog.facet(facet) {
            hash.update(format!("{slug}\t{}\t{:?}\n", entry.name, entry.description).as_bytes());
        }
    }
    hex::encode(&hash.finalize()[..16])
}

/// What a build does with archives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Plan {
    /// Render every month of every feed.
    All,
    /// Render the months of these feeds that changes reach (and any month
    /// whose neighbours moved); keep every other archive document.
    Touched(BTreeMap<FeedKey, BTreeSet<Month>>),
}

/// Plan the archives of a build as of `now`, over one whose manifest said
/// `previous`.
pub(super) fn plan(
    snap: &dyn Snapshot,
    site: &Site,
    previous: Option<&str>,
    inputs: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Plan> {
    let Some(since) = previous.and_then(Since::parse) else {
        return Ok(Plan::All);
    };
    if since.inputs != inputs || since.as_of > now {
        return Ok(Plan::All);
    }
    let rows = match snap.changes(&since.head, MAX_CHANGES)? {
        Changes::Rows { rows, .. } => rows,
        Changes::Everything { .. } => return Ok(Plan::All),
    };
    // Articles scheduled before the last build that have come due since:
    // no log row says so.
    let due = snap.published_between(since.as_of, now)?;
    let ids: BTreeSet<String> = rows
        .iter()
        .map(|c| c.article_id.clone())
        .chain(due.iter().cloned())
        .collect();
    let placed = snap.placements(&ids.into_iter().collect::<Vec<_>>())?;
    let touched = invalidation::touched(&rows, &due, &placed, now);
    Ok(Plan::Touched(
        touched
            .feeds
            .into_iter()
            .map(|(key, instants)| {
                let months = instants
                    .into_iter()
                    .map(|t| Month::at(t, site.offset))
                    .collect();
                (key, months)
            })
            .collect(),
    ))
}

/// The months in which `key` has visible articles as of `now`, newest
/// first, each with its number of pages: one indexed query per month, and
/// a count of the feed's index over it.
pub(super) fn months(
    snap: &dyn Snapshot,
    site: &Site,
    key: &FeedKey,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<(Month, u32)>> {
    let mut out = Vec::new();
    if !site.archive_feeds.has(key) {
        return Ok(out);
    }
    let mut before = now + chrono::Duration::microseconds(1);
    while let Some(t) = snap.newest_before(key, before)? {
        let month = Month::at(t, site.offset);
        out.push((
            month,
            crate::feed::month_pages(snap, site, key, month, now)?,
        ));
        let start = month.start(site.offset);
        if start >= before {
            break; // cannot happen for a real month; never loop forever
        }
        before = start;
    }
    Ok(out)
}

/// The archive documents of the last build of a feed (any format
/// written), from their paths under [`archive_folder`].
pub(super) fn pages_in<'a>(
    paths: impl Iterator<Item = &'a str>,
    key: &FeedKey,
) -> BTreeSet<ArchivePage> {
    let folder = archive_folder(key);
    paths
        .filter_map(|p| p.strip_prefix(folder.as_str()))
        .filter_map(|name| ArchivePage::parse(name.split_once('.')?.0))
        .collect()
}

/// The months of the last build's archive documents of a feed, each with
/// its number of pages (its last page's number).
pub(super) fn months_in<'a>(
    paths: impl Iterator<Item = &'a str>,
    key: &FeedKey,
) -> BTreeMap<Month, u32> {
    let mut months = BTreeMap::new();
    for page in pages_in(paths, key) {
        let pages = months.entry(page.month).or_insert(0);
        *pages = page.number.max(*pages);
    }
    months
}

/// The months of `now` (newest first, with their pages) whose documents
/// must be rendered, given the months `before` (the last build's, with
/// theirs) and those the changes reach: a reached month, a new one, one
/// whose neighbour on either side is another month than before, one whose
/// pages are not those of before, and one whose later neighbour has
/// another number of pages (its first page links that month's last).
pub(super) fn to_render(
    now: &[(Month, u32)],
    before: &BTreeMap<Month, u32>,
    reached: &BTreeSet<Month>,
) -> BTreeSet<Month> {
    let now_map: BTreeMap<Month, u32> = now.iter().copied().collect();
    let neighbours = |map: &BTreeMap<Month, u32>, m: Month| {
        (
            map.range(..m).next_back().map(|(m, _)| *m),
            map.range((std::ops::Bound::Excluded(m), std::ops::Bound::Unbounded))
                .next()
                .map(|(m, pages)| (*m, *pages)),
        )
    };
    now.iter()
        .filter(|(m, pages)| {
            reached.contains(m)
                || before.get(m) != Some(pages)
                || neighbours(&now_map, *m) != neighbours(before, *m)
        })
        .map(|(m, _)| *m)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    fn set(months: &[&str]) -> BTreeSet<Month> {
        months.iter().map(|s| m(s)).collect()
    }

    #[test]
    fn since_reads_back_and_refuses_other_text() {
        let since = Since {
            inputs: "abc".into(),
            as_of: DateTime::parse_from_rfc3339("2024-11-02T03:04:05.000006Z")
                .unwrap()
                .to_utc(),
            head: LogPosition::parse("seq 42").unwrap(),
        };
        assert_eq!(Since::parse(&since.to_text()), Some(since));
        let pg = LogPosition::parse("snapshot 10:20:11,12").unwrap();
        assert_eq!(LogPosition::parse(&pg.to_text()), Some(pg));
        for bad in [
            "",
            "abc",
            "abc\tnot a date\tseq 1",
            "abc\t2024-11-02T03:04:05Z\tseq x",
            "abc\t2024-11-02T03:04:05Z\tsnapshot 1:2:3'; DROP TABLE articles; --",
            "abc\t2024-11-02T03:04:05Z\tsnapshot 1:2",
        ] {
            assert_eq!(Since::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn archive_paths_mirror_the_urls_and_read_back() {
        use crate::publish::Resource;
        use crate::render::Format;
        let key = FeedKey::CategoryRegion("kinh-te".into(), "duc-tho".into());
        let p =
            Resource::Archive(key.clone(), ArchivePage::first(m("2024-11")), Format::Atom).file();
        assert_eq!(
            p,
            "feeds/category/kinh-te/region/duc-tho/archive/2024-11.atom"
        );
        let other = Resource::Archive(
            FeedKey::Category("kinh-te".into()),
            ArchivePage::first(m("2024-10")),
            Format::Rss,
        )
        .file();
        let written = [
            p.as_str(),
            other.as_str(),
            "feeds/category/kinh-te/region/duc-tho.rss",
        ];
        assert_eq!(months_in(written.into_iter(), &key), single(&["2024-11"]));
    }

    /// Months of one page each.
    fn single(months: &[&str]) -> BTreeMap<Month, u32> {
        months.iter().map(|s| (m(s), 1)).collect()
    }

    /// Months of one page each, newest first.
    fn now_of(months: &[&str]) -> Vec<(Month, u32)> {
        months.iter().map(|s| (m(s), 1)).collect()
    }

    #[test]
    fn a_month_whose_later_neighbour_gains_a_page_is_rendered() {
        // March's first page links May's last page: May going from one
        // page to two moves that link; January's links do not move.
        let before = single(&["2024-01", "2024-03", "2024-05"]);
        let now = [(m("2024-05"), 2), (m("2024-03"), 1), (m("2024-01"), 1)];
        assert_eq!(
            to_render(&now, &before, &set(&["2024-05"])),
            set(&["2024-03", "2024-05"])
        );
        // Pages read back from the last build's paths.
        use crate::publish::Resource;
        use crate::render::Format;
        let key = FeedKey::All;
        let page = |n| ArchivePage::new(m("2024-05"), n).unwrap();
        let p2 = Resource::Archive(key.clone(), page(2), Format::Rss).file();
        assert_eq!(p2, "feeds/all/archive/2024-05-p2.rss");
        let p1 = Resource::Archive(key.clone(), page(1), Format::Json).file();
        let got = months_in([p2.as_str(), p1.as_str()].into_iter(), &key);
        assert_eq!(got, BTreeMap::from([(m("2024-05"), 2)]));
    }

    #[test]
    fn only_reached_new_and_relinked_months_are_rendered() {
        let before = single(&["2024-01", "2024-03", "2024-05"]);
        let now = now_of(&["2024-05", "2024-03", "2024-01"]);
        // Nothing reached: nothing to render.
        assert!(to_render(&now, &before, &BTreeSet::new()).is_empty());
        // An article changed in March: March only.
        assert_eq!(
            to_render(&now, &before, &set(&["2024-03"])),
            set(&["2024-03"])
        );
        // A first article in April: April, and its neighbours, whose links move.
        let now = now_of(&["2024-05", "2024-04", "2024-03", "2024-01"]);
        assert_eq!(
            to_render(&now, &before, &set(&["2024-04"])),
            set(&["2024-03", "2024-04", "2024-05"])
        );
        // March's last article went: January and May now link each other.
        let now = now_of(&["2024-05", "2024-01"]);
        assert_eq!(
            to_render(&now, &before, &set(&["2024-03"])),
            set(&["2024-01", "2024-05"])
        );
    }
}
