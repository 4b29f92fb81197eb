//! The site file (`feeds/site.toml`) and the store URL, parsed once and
//! validated into [`Site`] and [`StoreUrl`]: the rest of the program never
//! sees raw configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::FixedOffset;
use serde::Deserialize;

/// Why the site file or a store URL is unusable. Each renders as one line
/// naming the file (and line) or the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The site file can't be read.
    #[error("{path}: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
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
    #[serde(default)]
    hubs: Vec<String>,
    #[serde(default = "default_max_feed_bytes")]
    max_feed_bytes: i64,
    #[serde(default)]
    categories: BTreeMap<String, RawNamed>,
    #[serde(default)]
    regions: BTreeMap<String, RawNamed>,
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
fn default_max_feed_bytes() -> i64 {
    2_097_152
}

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
    /// At most this many items per feed, at least 1.
    pub items_per_feed: usize,
    /// `Cache-Control: max-age` seconds; RSS `<ttl>` is this in minutes.
    pub max_age: u64,
    /// Prefix of every guid and Atom entry id.
    pub id_prefix: String,
    /// WebSub hubs to advertise (and ping), absolute http(s) URLs.
    pub hubs: Vec<String>,
    /// A feed's identity body stays within this many bytes: its oldest
    /// items give up their content for their summary until it does.
    pub max_feed_bytes: usize,
    /// Overrides keyed by slug.
    pub categories: BTreeMap<String, Named>,
    /// Overrides keyed by slug.
    pub regions: BTreeMap<String, Named>,
    /// Folder of the site file: `articles/` beside it is the sample store.
    pub dir: PathBuf,
}

impl Site {
    /// Read and validate a site file.
    pub fn load(path: &Path) -> Result<Site, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
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
        if raw.items_per_feed < 1 || raw.items_per_feed > 10_000 {
            return Err(invalid(
                "items_per_feed",
                format!("{} is not between 1 and 10000", raw.items_per_feed),
            ));
        }
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
        let mut hubs = Vec::with_capacity(raw.hubs.len());
        for (i, hub) in raw.hubs.iter().enumerate() {
            match ammonia::Url::parse(hub) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {
                    hubs.push(u.to_string())
                }
                _ => {
                    return Err(invalid(
                        &format!("hubs[{i}]"),
                        format!("{hub:?} is not an absolute http(s) URL"),
                    ));
                }
            }
        }
        if raw.max_feed_bytes < 1 {
            return Err(invalid(
                "max_feed_bytes",
                format!("{} is not a positive number of bytes", raw.max_feed_bytes),
            ));
        }
        let categories = named_overrides(&raw.categories, "categories", &invalid)?;
        let regions = named_overrides(&raw.regions, "regions", &invalid)?;
        let id_prefix = raw
            .id_prefix
            .unwrap_or_else(|| format!("{base_url}/articles/"));
        Ok(Site {
            title,
            description: crate::text::clean_line(&raw.description),
            base_url,
            base,
            language: raw.language,
            offset,
            items_per_feed: raw.items_per_feed as usize,
            max_age: raw.max_age as u64,
            id_prefix,
            hubs,
            max_feed_bytes: usize::try_from(raw.max_feed_bytes).unwrap_or(usize::MAX),
            categories,
            regions,
            dir,
        })
    }

    /// The `articles/` folder beside the site file.
    pub fn articles_dir(&self) -> PathBuf {
        self.dir.join("articles")
    }
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
    text.as_bytes()[..byte.min(text.len())]
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
            ("hubs = [\"/relative\"]", "hubs[0]"),
            ("max_feed_bytes = 0", "max_feed_bytes"),
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
