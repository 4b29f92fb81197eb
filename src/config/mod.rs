//! The site file (`feeds/site.toml`) and the store URL, parsed once and
//! validated into [`Site`] and [`StoreUrl`]: the rest of the program never
//! sees raw configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::FixedOffset;
use serde::Deserialize;

use crate::limits::SiteLimits;

mod archive;
mod cdn;
pub use archive::{ArchiveContent, ArchiveFeeds};
pub use cdn::{Cdn, KeyHeader, Purge};

/// Why the site file or a store URL is unusable. Each renders as one line
/// naming the file (and line) or the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The site file can't be read. The I/O error is part of the message,
    /// not a `source`, so a cause chain names it once.
    #[error("{path}: {error}{}", missing_hint(error))]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The site file is not valid TOML or has a field of the wrong type.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The path as given.
        path: String,
        /// 1-based line of the error.
        line: usize,
        /// The parser's message, on one line.
        message: String,
    },
    /// A field has a value SPEC does not allow.
    #[error("{path}: `{field}`: {reason}")]
    Invalid {
        /// The path as given.
        path: String,
        /// The field, dotted (`categories.kinh-te.name`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The store URL names no store bantin knows.
    #[error("store URL {0:?}: expected sqlite:PATH or postgres://USER@HOST:PORT/DB")]
    StoreUrl(String),
}

/// Where a site file is missing, how to name another: commands run in
/// another folder look for `feeds/site.toml` there.
fn missing_hint(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::NotFound {
        " (name the site file with --site PATH or BANTIN_SITE)"
    } else {
        ""
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    title: String,
    #[serde(default)]
    description: String,
    base_url: String,
    #[serde(default = "default_language")]
    language: String,
    #[serde(default = "default_timezone")]
    timezone: String,
    #[serde(default = "default_items")]
    items_per_feed: i64,
    #[serde(default = "default_max_age")]
    max_age: i64,
    id_prefix: Option<String>,
    #[serde(default = "default_burst_window")]
    burst_window: i64,
    #[serde(default)]
    hubs: Vec<String>,
    archive_items: Option<i64>,
    archive_content: Option<String>,
    archive_feeds: Option<Vec<String>>,
    max_id_bytes: Option<i64>,
    max_title_bytes: Option<i64>,
    max_summary_bytes: Option<i64>,
    max_body_bytes: Option<i64>,
    max_names_per_article: Option<i64>,
    max_feed_bytes: Option<i64>,
    cache_bytes: Option<i64>,
    #[serde(default)]
    categories: BTreeMap<String, RawNamed>,
    #[serde(default)]
    regions: BTreeMap<String, RawNamed>,
    #[serde(default)]
    polite_polling: bool,
    news_name: Option<String>,
    #[serde(default)]
    stale_while_revalidate: i64,
    #[serde(default)]
    stale_if_error: i64,
    cdn: Option<cdn::RawCdn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamed {
    name: String,
    description: Option<String>,
}

fn default_language() -> String {
    "vi".into()
}
fn default_timezone() -> String {
    "+07:00".into()
}
fn default_items() -> i64 {
    50
}
fn default_max_age() -> i64 {
    300
}
fn default_burst_window() -> i64 {
    60
}

/// SPEC: a feed holds at most this many items, burst window included.
pub const MAX_FEED_ITEMS: usize = 500;

/// At most this many articles in one archive document, and the default of
/// the site's `archive_items`: a month of the all feed of a busy newsroom
/// is some thousands; the bound keeps a render's memory in check whatever
/// the store holds. A month with more is paged (SPEC "Archives").
pub const MAX_ARCHIVE_ITEMS: usize = 20_000;

/// The longest `burst_window`, in minutes: a week. Articles older than
/// that are what archives are for, and the 500-item cap would cut a longer
/// window short on any busy site anyway.
pub const MAX_BURST_WINDOW_MINUTES: i64 = 7 * 24 * 60;

/// The longest `max_id_bytes`: an id percent-encoded (three bytes per byte
/// at worst) in its default link `{base_url}/articles/{id}` must stay under
/// 8 KiB, the URI length bantin's own server (and most others) accepts.
pub const MAX_ID_BYTES_CEILING: i64 = 2048;

/// The largest byte limit a site may set, 1 GiB: past it a single article
/// or feed would not fit the memory of the machines bantin runs on.
const BYTES_CEILING: i64 = 1 << 30;

/// A category or region as the site file names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// Display name, NFC.
    pub name: String,
    /// Optional feed description.
    pub description: Option<String>,
}

/// The validated site file.
#[derive(Debug, Clone)]
pub struct Site {
    /// Title of the all feed; other feeds append their names to it.
    pub title: String,
    /// Description of the all feed.
    pub description: String,
    /// Absolute http(s) URL, without a trailing slash.
    pub base_url: String,
    /// `base_url` parsed, for resolving relative links in article HTML.
    pub base: ammonia::Url,
    /// BCP 47 language tag.
    pub language: String,
    /// The offset every date in a feed is written in.
    pub offset: FixedOffset,
    /// At most this many items per feed (1 to [`MAX_FEED_ITEMS`]).
    pub items_per_feed: usize,
    /// `Cache-Control: max-age` seconds; RSS `<ttl>` is this in minutes.
    pub max_age: u64,
    /// Prefix of every guid and Atom entry id.
    pub id_prefix: String,
    /// Articles published this recently are in a feed beyond
    /// `items_per_feed` (SPEC "Burst window"); at most a week, 0 for none.
    pub burst_window: chrono::TimeDelta,
    /// WebSub hubs to advertise and ping: absolute http(s) URLs in their
    /// serialized form, without duplicates, in the site file's order.
    pub hubs: Vec<String>,
    /// Articles in one archive document, at most (1 to
    /// [`MAX_ARCHIVE_ITEMS`]): a month with more is paged.
    pub archive_items: usize,
    /// What an archive document's items carry.
    pub archive_content: ArchiveContent,
    /// The kinds of feed that have archives.
    pub archive_feeds: ArchiveFeeds,
    /// Sizes articles and feeds must keep to (SPEC "Limits").
    pub limits: SiteLimits,
    /// Overrides keyed by slug.
    pub categories: BTreeMap<String, Named>,
    /// Overrides keyed by slug.
    pub regions: BTreeMap<String, Named>,
    /// Folder of the site file: `articles/` beside it is the sample store.
    pub dir: PathBuf,
    /// Refuse unconditional re-fetches within `max_age` (SPEC "Audience").
    pub polite_polling: bool,
    /// The publication's name in the news sitemap (default: `title`).
    pub news_name: String,
    /// `stale-while-revalidate` seconds in `Cache-Control`, 0 for none.
    pub stale_while_revalidate: u64,
    /// `stale-if-error` seconds in `Cache-Control`, 0 for none.
    pub stale_if_error: u64,
    /// A cache in front of bantin, if the site file names one.
    pub cdn: Cdn,
}

impl Site {
    /// Read and validate a site file.
    pub fn load(path: &Path) -> Result<Site, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: shown.clone(),
            error,
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Site::parse(&text, &shown, dir)
    }

    /// Validate site-file text; `shown` names it in errors.
    pub fn parse(text: &str, shown: &str, dir: PathBuf) -> Result<Site, ConfigError> {
        let raw: RawSite = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: shown.to_string(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: e.message().replace('\n', " "),
        })?;
        let invalid = |field: &str, reason: String| ConfigError::Invalid {
            path: shown.to_string(),
            field: field.to_string(),
            reason,
        };
        let title = crate::text::clean_line(&raw.title);
        if title.is_empty() {
            return Err(invalid("title", "must not be empty".into()));
        }
        let base_url = raw.base_url.trim_end_matches('/').to_string();
        let base = match ammonia::Url::parse(&format!("{base_url}/")) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => u,
            _ => {
                return Err(invalid(
                    "base_url",
                    format!("{:?} is not an absolute http(s) URL", raw.base_url),
                ));
            }
        };
        let offset = parse_offset(&raw.timezone).ok_or_else(|| {
            invalid(
                "timezone",
                format!("{:?} is not an offset like +07:00", raw.timezone),
            )
        })?;
        let items_per_feed = within(
            &invalid,
            "items_per_feed",
            raw.items_per_feed,
            1,
            MAX_FEED_ITEMS as i64,
        )?;
        if raw.max_age < 0 || raw.max_age > 31_536_000 {
            return Err(invalid(
                "max_age",
                format!("{} is not between 0 and 31536000", raw.max_age),
            ));
        }
        if raw.language.trim().is_empty()
            || !raw
                .language
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(invalid(
                "language",
                format!("{:?} is not a language tag like vi or en-US", raw.language),
            ));
        }
        let categories = named_overrides(&raw.categories, "categories", &invalid)?;
        let regions = named_overrides(&raw.regions, "regions", &invalid)?;
        let id_prefix = raw
            .id_prefix
            .clone()
            .unwrap_or_else(|| format!("{base_url}/articles/"));
        let minutes = within(
            &invalid,
            "burst_window",
            raw.burst_window,
            0,
            MAX_BURST_WINDOW_MINUTES,
        )?;
        let burst_window = chrono::TimeDelta::try_minutes(minutes)
            .ok_or_else(|| invalid("burst_window", format!("{minutes} minutes is out of range")))?;
        let hubs = hubs(&raw.hubs, &invalid)?;
        let archive_items = match raw.archive_items {
            None => MAX_ARCHIVE_ITEMS,
            Some(n) => {
                let n = within(&invalid, "archive_items", n, 1, MAX_ARCHIVE_ITEMS as i64)?;
                usize::try_from(n).unwrap_or(MAX_ARCHIVE_ITEMS)
            }
        };
        let archive_content = ArchiveContent::parse(raw.archive_content.as_deref())
            .map_err(|reason| invalid("archive_content", reason))?;
        let archive_feeds = ArchiveFeeds::parse(raw.archive_feeds.as_deref())
            .map_err(|reason| invalid("archive_feeds", reason))?;
        let limits = limits(&raw, offset, &invalid)?;
        // A stale copy a day or a week old is what a CDN serves while the
        // origin is down; a year is the RFC's own ceiling for max-age.
        let stale_while_revalidate = within(
            &invalid,
            "stale_while_revalidate",
            raw.stale_while_revalidate,
            0,
            31_536_000,
        )?;
        let stale_if_error = within(
            &invalid,
            "stale_if_error",
            raw.stale_if_error,
            0,
            31_536_000,
        )?;
        let news_name = match raw.news_name.as_deref().map(crate::text::clean_line) {
            Some(n) if n.is_empty() => {
                return Err(invalid("news_name", "must not be empty".into()));
            }
            Some(n) => n,
            None => title.clone(),
        };
        let cdn = match &raw.cdn {
            Some(c) => c.validate(&invalid)?,
            None => Cdn::default(),
        };
        Ok(Site {
            title,
            description: crate::text::clean_line(&raw.description),
            base_url,
            base,
            language: raw.language,
            offset,
            items_per_feed: usize::try_from(items_per_feed).unwrap_or(MAX_FEED_ITEMS),
            max_age: raw.max_age as u64,
            id_prefix,
            burst_window,
            hubs,
            archive_items,
            archive_content,
            archive_feeds,
            limits,
            categories,
            regions,
            dir,
            polite_polling: raw.polite_polling,
            news_name,
            stale_while_revalidate: stale_while_revalidate as u64,
            stale_if_error: stale_if_error as u64,
            cdn,
        })
    }

    /// The `articles/` folder beside the site file.
    pub fn articles_dir(&self) -> PathBuf {
        self.dir.join("articles")
    }
}

/// `value` if it lies in `min..=max`, else an error naming `field`.
fn within(
    invalid: &dyn Fn(&str, String) -> ConfigError,
    field: &str,
    value: i64,
    min: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            field,
            format!("{value} is not between {min} and {max}"),
        ))
    }
}

/// The limits SPEC's site file sets, each checked against its range; an
/// absent key takes SPEC's default.
fn limits(
    raw: &RawSite,
    offset: FixedOffset,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<SiteLimits, ConfigError> {
    let d = SiteLimits::default();
    let get = |field: &str, value: Option<i64>, default: usize, min: i64, max: i64| match value {
        None => Ok(default),
        Some(v) => {
            within(invalid, field, v, min, max).map(|v| usize::try_from(v).unwrap_or(usize::MAX))
        }
    };
    let cache_bytes = match raw.cache_bytes {
        None => d.cache_bytes,
        Some(v) => within(invalid, "cache_bytes", v, 0, i64::MAX)?.unsigned_abs(),
    };
    Ok(SiteLimits {
        max_id_bytes: get(
            "max_id_bytes",
            raw.max_id_bytes,
            d.max_id_bytes,
            1,
            MAX_ID_BYTES_CEILING,
        )?,
        max_title_bytes: get(
            "max_title_bytes",
            raw.max_title_bytes,
            d.max_title_bytes,
            1,
            BYTES_CEILING,
        )?,
        max_summary_bytes: get(
            "max_summary_bytes",
            raw.max_summary_bytes,
            d.max_summary_bytes,
            1,
            BYTES_CEILING,
        )?,
        max_body_bytes: get(
            "max_body_bytes",
            raw.max_body_bytes,
            d.max_body_bytes,
            1,
            BYTES_CEILING,
        )?,
        max_names_per_article: get(
            "max_names_per_article",
            raw.max_names_per_article,
            d.max_names_per_article,
            1,
            1024,
        )?,
        // A feed must hold at least its channel and one item's summary.
        max_feed_bytes: get(
            "max_feed_bytes",
            raw.max_feed_bytes,
            d.max_feed_bytes,
            16 * 1024,
            BYTES_CEILING,
        )?,
        cache_bytes,
        offset,
    })
}

/// WebSub hubs: absolute http(s) URLs, serialized; duplicates refused (each
/// would be pinged twice).
fn hubs(
    raw: &[String],
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for hub in raw {
        let url = match ammonia::Url::parse(hub) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => u.to_string(),
            _ => {
                return Err(invalid(
                    "hubs",
                    format!("{hub:?} is not an absolute http(s) URL"),
                ));
            }
        };
        if out.contains(&url) {
            return Err(invalid("hubs", format!("{hub:?} is listed twice")));
        }
        out.push(url);
    }
    Ok(out)
}

fn named_overrides(
    raw: &BTreeMap<String, RawNamed>,
    table: &str,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<BTreeMap<String, Named>, ConfigError> {
    let mut out = BTreeMap::new();
    for (slug, named) in raw {
        let name = crate::slug::normalize_name(&named.name);
        let derived = crate::slug::slugify(&name);
        if derived != *slug {
            return Err(invalid(
                &format!("{table}.{slug}.name"),
                format!("{name:?} has slug {derived:?}, not {slug:?}"),
            ));
        }
        let description = named.description.as_deref().map(crate::text::clean_line);
        out.insert(slug.clone(), Named { name, description });
    }
    Ok(out)
}

fn line_of(text: &str, byte: usize) -> usize {
    text.as_bytes()
        .get(..byte)
        .unwrap_or(text.as_bytes())
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// `+07:00`, `-05:30`, `Z` or `UTC`.
fn parse_offset(s: &str) -> Option<FixedOffset> {
    if s == "Z" || s == "UTC" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Where the articles live. Its `Debug` never shows a password.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite:PATH`; the file is created if missing.
    Sqlite(PathBuf),
    /// `postgres://USER@HOST:PORT/DB`.
    Postgres(String),
}

/// The site file used when neither `--site` nor `BANTIN_SITE` is given.
pub const DEFAULT_SITE: &str = "feeds/site.toml";

/// The store used when neither `--store` nor `BANTIN_STORE` is given.
pub const DEFAULT_STORE: &str = "sqlite:bantin.db";

impl StoreUrl {
    /// Parse a store URL.
    pub fn parse(s: &str) -> Result<StoreUrl, ConfigError> {
        if let Some(path) = s.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(ConfigError::StoreUrl(s.to_string()));
            }
            Ok(StoreUrl::Sqlite(PathBuf::from(path)))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(StoreUrl::Postgres(s.to_string()))
        } else {
            Err(ConfigError::StoreUrl(redact(s)))
        }
    }
}

/// `s` with any `:password@` replaced by `:***@`.
fn redact(s: &str) -> String {
    match (s.find("://"), s.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &s[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}:***{}", &s[..scheme + 3 + colon], &s[at..]),
                None => s.to_string(),
            }
        }
        _ => s.to_string(),
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            StoreUrl::Postgres(u) => write!(f, "{}", redact(u)),
        }
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "title = \"T\"\nbase_url = \"http://x.example/\"\n";

    #[test]
    fn defaults_fill_in_and_trailing_slash_goes() {
        let site = Site::parse(MINIMAL, "s.toml", PathBuf::new()).unwrap();
        assert_eq!(site.base_url, "http://x.example");
        assert_eq!(site.id_prefix, "http://x.example/articles/");
        assert_eq!(site.items_per_feed, 50);
        assert_eq!(site.offset, FixedOffset::east_opt(7 * 3600).unwrap());
    }

    #[test]
    fn limits_burst_window_and_hubs_default_as_spec_shows() {
        let site = Site::parse(MINIMAL, "s.toml", PathBuf::new()).unwrap();
        assert_eq!(site.limits, SiteLimits::default());
        assert_eq!(site.limits.max_id_bytes, 200);
        assert_eq!(site.limits.max_title_bytes, 1000);
        assert_eq!(site.limits.max_summary_bytes, 4096);
        assert_eq!(site.limits.max_body_bytes, 1_048_576);
        assert_eq!(site.limits.max_names_per_article, 16);
        assert_eq!(site.limits.max_feed_bytes, 2_097_152);
        assert_eq!(site.limits.cache_bytes, 268_435_456);
        assert_eq!(site.burst_window, chrono::TimeDelta::minutes(60));
        assert!(site.hubs.is_empty());
    }

    #[test]
    fn audience_and_cdn_keys_default_and_are_read() {
        let site = Site::parse(MINIMAL, "s.toml", PathBuf::new()).unwrap();
        assert!(!site.polite_polling);
        assert_eq!(site.news_name, "T");
        assert_eq!((site.stale_while_revalidate, site.stale_if_error), (0, 0));
        assert_eq!(site.cdn, Cdn::default());
        let text = format!(
            "{MINIMAL}polite_polling = true\nnews_name = \"Báo Hà Tĩnh\"\n\
             stale_while_revalidate = 60\nstale_if_error = 86400\n\
             [cdn]\nkey_header = \"Cache-Tag\"\npurge = \"cloudflare\"\n\
             purge_url = \"https://api.cloudflare.com/client/v4/\"\nservice = \"abc123\"\n"
        );
        let site = Site::parse(&text, "s.toml", PathBuf::new()).unwrap();
        assert!(site.polite_polling);
        assert_eq!(site.news_name, "Báo Hà Tĩnh");
        assert_eq!(
            (site.stale_while_revalidate, site.stale_if_error),
            (60, 86_400)
        );
        assert_eq!(site.cdn.key_header, Some(KeyHeader::CacheTag));
        assert_eq!(
            site.cdn.purge,
            Purge::Cloudflare {
                url: "https://api.cloudflare.com/client/v4".into(),
                service: "abc123".into()
            }
        );
    }

    #[test]
    fn bad_cdn_keys_name_their_field() {
        for (table, field) in [
            ("[cdn]\nkey_header = \"X-Keys\"\n", "cdn.key_header"),
            ("[cdn]\npurge = \"akamai\"\n", "cdn.purge"),
            ("[cdn]\npurge = \"varnish\"\n", "cdn.purge_url"),
            (
                "[cdn]\npurge = \"varnish\"\npurge_url = \"ftp://x\"\n",
                "cdn.purge_url",
            ),
            (
                "[cdn]\npurge = \"fastly\"\npurge_url = \"https://api.fastly.com\"\n",
                "cdn.service",
            ),
            ("[cdn]\ntoken = \"secret\"\n", "token"),
            ("stale_if_error = -1\n", "stale_if_error"),
            ("news_name = \"  \"\n", "news_name"),
        ] {
            let err = Site::parse(&format!("{MINIMAL}{table}"), "s.toml", PathBuf::new())
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{table}: {err}");
        }
    }

    #[test]
    fn limits_burst_window_and_hubs_are_read() {
        let text = format!(
            "{MINIMAL}burst_window = 0\nhubs = [\"https://hub.example\", \"http://h2.example/p?x=1\"]\n\
             max_id_bytes = 64\nmax_title_bytes = 10\nmax_summary_bytes = 20\nmax_body_bytes = 30\n\
             max_names_per_article = 2\nmax_feed_bytes = 65536\ncache_bytes = 0\n"
        );
        let site = Site::parse(&text, "s.toml", PathBuf::new()).unwrap();
        assert_eq!(site.burst_window, chrono::TimeDelta::zero());
        assert_eq!(
            site.hubs,
            vec!["https://hub.example/", "http://h2.example/p?x=1"]
        );
        assert_eq!(
            site.limits,
            SiteLimits {
                max_id_bytes: 64,
                max_title_bytes: 10,
                max_summary_bytes: 20,
                max_body_bytes: 30,
                max_names_per_article: 2,
                max_feed_bytes: 65536,
                cache_bytes: 0,
                ..SiteLimits::default()
            }
        );
    }

    #[test]
    fn archive_items_defaults_to_the_ceiling_and_is_bounded() {
        let site = Site::parse(MINIMAL, "s.toml", PathBuf::new()).unwrap();
        assert_eq!(site.archive_items, MAX_ARCHIVE_ITEMS);
        let site = Site::parse(
            &format!("{MINIMAL}archive_items = 500\n"),
            "s.toml",
            PathBuf::new(),
        );
        assert_eq!(site.unwrap().archive_items, 500);
        for bad in [0, -1, 20_001] {
            let text = format!("{MINIMAL}archive_items = {bad}\n");
            let msg = Site::parse(&text, "s.toml", PathBuf::new())
                .unwrap_err()
                .to_string();
            assert_eq!(
                msg,
                format!("s.toml: `archive_items`: {bad} is not between 1 and 20000")
            );
        }
    }

    #[test]
    fn a_limit_of_the_wrong_type_names_its_line() {
        let text = format!("{MINIMAL}max_body_bytes = \"1 MB\"\n");
        let msg = Site::parse(&text, "s.toml", PathBuf::new())
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("s.toml:3: "), "{msg}");
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err =
            Site::parse("title = \"T\"\nbase_url = 3\n", "s.toml", PathBuf::new()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("s.toml:2: "), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn bad_values_name_the_field() {
        for (extra, field) in [
            ("timezone = \"Asia/Ho_Chi_Minh\"", "timezone"),
            ("items_per_feed = 0", "items_per_feed"),
            ("items_per_feed = 501", "items_per_feed"),
            ("burst_window = -1", "burst_window"),
            ("burst_window = 10081", "burst_window"),
            ("hubs = [\"ftp://hub.example/\"]", "hubs"),
            ("hubs = [\"/hub\"]", "hubs"),
            (
                "hubs = [\"https://h.example\", \"https://h.example/\"]",
                "hubs",
            ),
            ("max_id_bytes = 0", "max_id_bytes"),
            ("max_id_bytes = 2049", "max_id_bytes"),
            ("max_title_bytes = -5", "max_title_bytes"),
            ("max_summary_bytes = 0", "max_summary_bytes"),
            ("max_body_bytes = 1073741825", "max_body_bytes"),
            ("max_names_per_article = 0", "max_names_per_article"),
            ("max_feed_bytes = 100", "max_feed_bytes"),
            ("cache_bytes = -1", "cache_bytes"),
            (
                "[categories.kinh-te]\nname = \"Xã hội\"",
                "categories.kinh-te.name",
            ),
        ] {
            let text = format!("{MINIMAL}{extra}\n");
            let msg = Site::parse(&text, "s.toml", PathBuf::new())
                .unwrap_err()
                .to_string();
            assert!(msg.contains(&format!("`{field}`")), "{msg}");
        }
    }

    #[test]
    fn store_urls_parse_and_passwords_stay_hidden() {
        assert_eq!(
            StoreUrl::parse("sqlite:a/b.db").unwrap(),
            StoreUrl::Sqlite("a/b.db".into())
        );
        let pg = StoreUrl::parse("postgres://u:secret@h:5432/db").unwrap();
        assert_eq!(format!("{pg:?}"), "postgres://u:***@h:5432/db");
        assert!(StoreUrl::parse("mysql://x").is_err());
        assert!(StoreUrl::parse("sqlite:").is_err());
    }
}
