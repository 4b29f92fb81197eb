//! `Cache-Control`: how long a client or a cache in front of us may reuse
//! a response without asking again. Decided per request from the resource
//! alone, apart from rendering: a feed gets the site's short `max_age`
//! (SPEC: its `<ttl>` says the same); a past month's archive document gets
//! a day, as it changes only when one of its articles does.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use chrono::{DateTime, Utc};
use http::HeaderValue;

use crate::config::Site;
use crate::feed::Month;
use crate::publish::Resource;

/// `max-age` of a past month's archive document.
pub const ARCHIVE_MAX_AGE: u64 = 86_400;

/// `max-age` of a resource, as of the instant the catalog describes (the
/// current month is the one of that instant in the site's offset).
pub fn max_age(site: &Site, resource: &Resource, as_of: DateTime<Utc>) -> u64 {
    match resource {
        Resource::Archive(_, page, _) if page.month < Month::at(as_of, site.offset) => {
            ARCHIVE_MAX_AGE
        }
        _ => site.max_age,
    }
}

/// The `Cache-Control` value of a response reusable for `max_age` seconds,
/// with the site's RFC 5861 extensions: how long a cache in front may
/// serve it stale while it fetches a fresh copy, and while bantin answers
/// errors or not at all.
pub fn cache_control(site: &Site, max_age: u64) -> String {
    let mut value = format!("public, max-age={max_age}");
    if site.stale_while_revalidate > 0 {
        value.push_str(&format!(
            ", stale-while-revalidate={}",
            site.stale_while_revalidate
        ));
    }
    if site.stale_if_error > 0 {
        value.push_str(&format!(", stale-if-error={}", site.stale_if_error));
    }
    value
}

/// The two `Cache-Control` values nearly every response carries (a feed's
/// and a past month's), made once: a cached hit only clones one.
#[derive(Debug, Clone)]
pub struct CacheControls {
    max_age: u64,
    feed: HeaderValue,
    archive: HeaderValue,
}

impl CacheControls {
    /// The values of `site`.
    pub fn new(site: &Site) -> CacheControls {
        CacheControls {
            max_age: site.max_age,
            feed: header(site, site.max_age),
            archive: header(site, ARCHIVE_MAX_AGE),
        }
    }

    /// The value for `max_age` seconds.
    pub fn value(&self, site: &Site, max_age: u64) -> HeaderValue {
        match max_age {
            m if m == self.max_age => self.feed.clone(),
            ARCHIVE_MAX_AGE => self.archive.clone(),
            m => header(site, m),
        }
    }
}

fn header(site: &Site, max_age: u64) -> HeaderValue {
    // Digits, letters, commas and spaces: always a valid header value.
    HeaderValue::from_str(&cache_control(site, max_age))
        .unwrap_or_else(|_| HeaderValue::from_static("public"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::FeedKey;
    use crate::render::Format;

    #[test]
    fn a_past_month_keeps_a_day_and_everything_else_the_site_max_age() {
        let site = Site::parse(
            "title = \"T\"\nbase_url = \"http://n.example\"\nmax_age = 300\n",
            "s.toml",
            std::path::PathBuf::new(),
        )
        .unwrap();
        let month = |s: &str| crate::feed::ArchivePage::first(Month::parse(s).unwrap());
        let archive = |m: &str| Resource::Archive(FeedKey::All, month(m), Format::Atom);
        // 2024-12-01 00:30 in the site's offset (+07:00 by default) is
        // still November in UTC: the site's offset decides.
        let as_of = DateTime::parse_from_rfc3339("2024-11-30T17:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(max_age(&site, &archive("2024-11"), as_of), ARCHIVE_MAX_AGE);
        assert_eq!(max_age(&site, &archive("2024-12"), as_of), 300);
        // Every page of a past month keeps a day.
        let page = crate::feed::ArchivePage::new(Month::parse("2024-10").unwrap(), 3).unwrap();
        let page = Resource::Archive(FeedKey::All, page, Format::Json);
        assert_eq!(max_age(&site, &page, as_of), ARCHIVE_MAX_AGE);
        let feed = Resource::Feed(FeedKey::All, Format::Rss);
        assert_eq!(max_age(&site, &feed, as_of), 300);
        assert_eq!(max_age(&site, &Resource::Index, as_of), 300);
        assert_eq!(cache_control(&site, 300), "public, max-age=300");
    }

    #[test]
    fn stale_extensions_follow_the_site_file() {
        let site = Site::parse(
            "title = \"T\"\nbase_url = \"http://n.example\"\n\
             stale_while_revalidate = 60\nstale_if_error = 86400\n",
            "s.toml",
            std::path::PathBuf::new(),
        )
        .unwrap();
        assert_eq!(
            cache_control(&site, 300),
            "public, max-age=300, stale-while-revalidate=60, stale-if-error=86400"
        );
    }
}
