//! `/sitemap-news.xml`: the Google News sitemap (SPEC "Audience";
//! <https://developers.google.com/search/docs/crawling-indexing/sitemaps/news-sitemap>),
//! a sitemaps.org `urlset` of the articles published in the last 48 hours,
//! at most 1,000, newest first, each with its `news:news` block. A pure
//! function of the items the all feed's shaping makes of them, so that an
//! item's link and title are the ones its feeds carry.

use chrono::{DateTime, Duration, FixedOffset};

use crate::config::Site;
use crate::feed::Item;
use crate::text::escape_html as esc;

/// How far back the sitemap reaches: Google News reads articles of the
/// last two days from it.
pub const NEWS_WINDOW: Duration = Duration::hours(48);

/// Articles listed at most (Google's limit for one news sitemap).
pub const NEWS_MAX: usize = 1000;

const SITEMAP_NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";
const NEWS_NS: &str = "http://www.google.com/schemas/sitemap-news/0.9";

/// The sitemap of `items` (newest first, already within the window).
pub fn news_sitemap(site: &Site, items: &[Item]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <urlset xmlns=\"{SITEMAP_NS}\" xmlns:news=\"{NEWS_NS}\">\n"
    );
    let name = esc(&site.news_name);
    let language = esc(&news_language(&site.language));
    for i in items.iter().take(NEWS_MAX) {
        out.push_str(&format!(
            "  <url>\n    <loc>{}</loc>\n    <news:news>\n      <news:publication>\n        \
             <news:name>{name}</news:name>\n        <news:language>{language}</news:language>\n      \
             </news:publication>\n      <news:publication_date>{}</news:publication_date>\n      \
             <news:title>{}</news:title>\n    </news:news>\n  </url>\n",
            esc(&i.link),
            w3c_date(i.published),
            esc(&i.title),
        ));
    }
    out.push_str("</urlset>\n");
    out
}

/// W3C Datetime with seconds, in the offset the item carries (the site's).
fn w3c_date(d: DateTime<FixedOffset>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Google News wants an ISO 639 code, with the script for Chinese
/// (`zh-cn`, `zh-tw`) only: `vi-VN` is `vi`.
fn news_language(language: &str) -> String {
    let lower = language.to_ascii_lowercase();
    if lower.starts_with("zh-") {
        return lower;
    }
    lower.split(['-', '_']).next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_iso_639_codes() {
        assert_eq!(news_language("vi"), "vi");
        assert_eq!(news_language("vi-VN"), "vi");
        assert_eq!(news_language("en_GB"), "en");
        assert_eq!(news_language("zh-TW"), "zh-tw");
    }
}
