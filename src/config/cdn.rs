//! The site file's `[cdn]` table (SPEC "Behind a CDN"): which header lists
//! a response's keys for the cache in front, and how that cache is told to
//! purge them. The API token, where one is needed, comes from
//! `BANTIN_CDN_TOKEN`, never from the file, so a site file can be shared.

use serde::Deserialize;

use super::ConfigError;

/// `[cdn]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCdn {
    key_header: Option<String>,
    purge: Option<String>,
    purge_url: Option<String>,
    service: Option<String>,
}

/// A cache in front of bantin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cdn {
    /// The header listing each response's keys, if any.
    pub key_header: Option<KeyHeader>,
    /// How keys are purged after a change.
    pub purge: Purge,
}

/// The key headers SPEC names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Surrogate-Key` (Fastly): space-separated.
    SurrogateKey,
    /// `xkey` (Varnish's vmod): space-separated.
    Xkey,
    /// `Cache-Tag` (Cloudflare): comma-separated.
    CacheTag,
}

impl KeyHeader {
    /// The header's name as sent.
    pub fn name(self) -> &'static str {
        match self {
            KeyHeader::SurrogateKey => "Surrogate-Key",
            KeyHeader::Xkey => "xkey",
            KeyHeader::CacheTag => "Cache-Tag",
        }
    }

    /// What separates two keys in the header's value.
    pub fn separator(self) -> &'static str {
        match self {
            KeyHeader::CacheTag => ",",
            KeyHeader::SurrogateKey | KeyHeader::Xkey => " ",
        }
    }
}

/// Where purges go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Purge {
    /// No purges: the cache in front expires what it holds by itself.
    #[default]
    None,
    /// `PURGE {url}` with `xkey: KEY …`.
    Varnish {
        /// Where the PURGE requests go.
        url: String,
    },
    /// `POST {url}/service/{service}/purge` with `Surrogate-Key`.
    Fastly {
        /// The API's base URL.
        url: String,
        /// The service id.
        service: String,
    },
    /// `POST {url}/zones/{service}/purge_cache` with `{"tags": […]}`.
    Cloudflare {
        /// The API's base URL.
        url: String,
        /// The zone id.
        service: String,
    },
}

impl RawCdn {
    /// Validate the table; `invalid` names a field in an error.
    pub(super) fn validate(
        &self,
        invalid: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<Cdn, ConfigError> {
        let key_header = match self.key_header.as_deref() {
            None => None,
            Some(h) if h.eq_ignore_ascii_case("surrogate-key") => Some(KeyHeader::SurrogateKey),
            Some(h) if h.eq_ignore_ascii_case("xkey") => Some(KeyHeader::Xkey),
            Some(h) if h.eq_ignore_ascii_case("cache-tag") => Some(KeyHeader::CacheTag),
            Some(h) => {
                return Err(invalid(
                    "cdn.key_header",
                    format!("{h:?} is not Surrogate-Key, xkey or Cache-Tag"),
                ));
            }
        };
        let url = || -> Result<String, ConfigError> {
            let raw = self
                .purge_url
                .as_deref()
                .ok_or_else(|| invalid("cdn.purge_url", "is needed to purge".into()))?;
            match ammonia::Url::parse(raw) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {
                    Ok(raw.trim_end_matches('/').to_string())
                }
                _ => Err(invalid(
                    "cdn.purge_url",
                    format!("{raw:?} is not an absolute http(s) URL"),
                )),
            }
        };
        let service = || -> Result<String, ConfigError> {
            match self.service.as_deref().map(str::trim) {
                Some(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()) => {
                    Ok(s.to_string())
                }
                Some(s) => Err(invalid(
                    "cdn.service",
                    format!("{s:?} is not a service or zone id (letters and digits)"),
                )),
                None => Err(invalid("cdn.service", "is needed to purge".into())),
            }
        };
        let purge = match self.purge.as_deref().unwrap_or("none") {
            "none" => Purge::None,
            "varnish" => Purge::Varnish { url: url()? },
            "fastly" => Purge::Fastly {
                url: url()?,
                service: service()?,
            },
            "cloudflare" => Purge::Cloudflare {
                url: url()?,
                service: service()?,
            },
            other => {
                return Err(invalid(
                    "cdn.purge",
                    format!("{other:?} is not none, varnish, fastly or cloudflare"),
                ));
            }
        };
        Ok(Cdn { key_header, purge })
    }
}
