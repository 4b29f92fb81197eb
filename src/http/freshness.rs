//! `Cache-Control`: how long a client or a cache in front of us may reuse
//! a response without asking again. Decided per request from the resource
//! alone, apart from rendering: a feed gets the site's short `max_age`
//! (SPEC: its `<ttl>` says the same); a past month's archive document gets
//! a day, as it changes only when one of its articles does.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use chrono::{DateTime, Utc};

use crate::config::Site;
use crate::feed::Month;
use crate::publish::Resource;

/// `max-age` of a past month's archive document.
pub const ARCHIVE_MAX_AGE: u64 = 86_400;

/// `max-age` of a resource, as of the instant the catalog describes (the
/// current month is the one of that instant in the site's offset).
pub fn max_age(site: &Site, resource: &Resource, as_of: DateTime<Utc>) -> u64 {
    match resource {
        Resource::Archive(_, month, _) if *month < Month::at(as_of, site.offset) => ARCHIVE_MAX_AGE,
        _ => site.max_age,
    }
}
