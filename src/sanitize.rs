//! Sanitizing article HTML before it reaches a feed.
//!
//! `ammonia` (html5ever underneath) parses the HTML as a browser would and
//! keeps only an allow-list, so scripts, styles, event handlers, frames and
//! `javascript:`/`data:` URLs cannot get through however they are spelled.
//! We narrow its default URL schemes to http, https and mailto, and resolve
//! relative links against the site's base URL: a feed is read far from the
//! site, where a relative `src` would point nowhere.
//!
//! Sanitizing is the dearest step of a render (html5ever parses and
//! serializes every body), and a feed is rendered again whenever one of its
//! items changes, with the other 49 unchanged. So the builder is made once
//! per base URL, and sanitized bodies are memoized in a bounded cache keyed
//! by a hash of the base URL and the raw HTML.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

/// Sanitized bodies held for renders to come, in bytes: some 4,000 bodies
/// of 3.3 KB (the bench corpus's size). The feeds a server keeps hot share
/// most of their items (an article is in the all feed, its categories, its
/// regions and their pairs), so this covers the HTML items of hundreds of
/// feeds, at a tenth of what their rendered bytes cost.
const MEMO_BYTES: u64 = 16 * 1024 * 1024;

/// Builders made so far, by base URL: a process serves one site, tests a
/// few.
static BUILDERS: Mutex<Vec<(ammonia::Url, Arc<ammonia::Builder<'static>>)>> =
    Mutex::new(Vec::new());

/// Sanitized bodies by the first 128 bits of SHA-256(base URL, 0xFF, raw
/// HTML): 0xFF never occurs in UTF-8, so no two inputs hash the same bytes,
/// and 128 bits make a collision (another article's body shown) beyond
/// reach, by chance or by design.
fn memo() -> &'static moka::sync::Cache<[u8; 16], Arc<str>> {
    static MEMO: OnceLock<moka::sync::Cache<[u8; 16], Arc<str>>> = OnceLock::new();
    MEMO.get_or_init(|| {
        moka::sync::Cache::builder()
            .max_capacity(MEMO_BYTES)
            // The key, the Arc's counts and the cache's own entry cost
            // about as much again as a short body.
            .weigher(|_, v: &Arc<str>| u32::try_from(v.len() + 128).unwrap_or(u32::MAX))
            .build()
    })
}

/// The builder for links relative to `base`, made the first time it is
/// asked for.
fn builder(base: &ammonia::Url) -> Arc<ammonia::Builder<'static>> {
    let mut builders = BUILDERS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, b)) = builders.iter().find(|(url, _)| url == base) {
        return b.clone();
    }
    let mut b = ammonia::Builder::default();
    b.url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer"))
        .url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone()))
        .add_tags(["figure", "figcaption"]);
    let b = Arc::new(b);
    if builders.len() >= 16 {
        // Only a test suite meets many sites; don't let it grow.
        builders.clear();
    }
    builders.push((base.clone(), b.clone()));
    b
}

/// Safe HTML for a feed: `html` cleaned of control characters and of
/// everything outside ammonia's allow-list, relative URLs made absolute
/// against `base`, and cleaned again (html5ever decodes a reference like
/// `&#1;` into the character itself, and writes it as such). The same input
/// gives the same output, from the memo when it was sanitized before.
pub fn sanitize_html(html: &str, base: &ammonia::Url) -> Arc<str> {
    let mut hash = Sha256::new();
    hash.update(base.as_str().as_bytes());
    hash.update([0xFF]);
    hash.update(html.as_bytes());
    let digest = hash.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    memo().get_with(key, || {
        let sanitized = builder(base).clean(&crate::text::clean(html)).to_string();
        Arc::from(crate::text::clean(sanitized.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::sanitize_html as clean_with_base;

    fn sanitize_html(html: &str) -> String {
        clean_with_base(
            html,
            &ammonia::Url::parse("https://site.example/news/").unwrap(),
        )
        .to_string()
    }

    #[test]
    fn dangerous_markup_is_removed() {
        let dirty = r#"<p onclick="x()">Hi<script>alert(1)</script><style>p{}</style>
            <a href="javascript:alert(1)">j</a><a href="data:text/html,x">d</a>
            <iframe src="http://e.x"></iframe><img src="data:image/png;base64,AA" onerror="x()"></p>"#;
        let clean = sanitize_html(dirty);
        for bad in [
            "script",
            "style",
            "onclick",
            "onerror",
            "javascript:",
            "data:",
            "iframe",
        ] {
            assert!(!clean.contains(bad), "{bad} survived in {clean}");
        }
        assert!(clean.contains("<p>Hi"));
    }

    #[test]
    fn ordinary_links_and_images_stay() {
        let clean = sanitize_html(
            r#"<a href="https://e.org/a">x</a><img src="https://e.org/i.jpg" alt="y">"#,
        );
        assert!(clean.contains(r#"href="https://e.org/a""#));
        assert!(clean.contains(r#"src="https://e.org/i.jpg""#));
    }

    #[test]
    fn characters_a_feed_must_not_carry_are_dropped_even_as_references() {
        // HTML maps references to 0x80..0x9F through Windows-1252 (`&#x85;`
        // is `…`); others to controls and noncharacters stay what they say.
        let clean = sanitize_html("<p>a&#1;b&#x85;c\u{2}d</p>&#xFFFE;");
        assert_eq!(clean, "<p>ab…cd</p>");
    }

    #[test]
    fn the_memo_tells_bases_apart() {
        let html = r#"<a href="/a">x</a>"#;
        for _ in 0..2 {
            for (base, want) in [
                ("https://one.example/", "https://one.example/a"),
                ("https://two.example/", "https://two.example/a"),
            ] {
                let out = clean_with_base(html, &ammonia::Url::parse(base).unwrap());
                assert!(out.contains(want), "{out}");
            }
        }
    }

    #[test]
    fn relative_links_become_absolute() {
        let clean = sanitize_html(r#"<a href="/a/1">x</a><img src="i.jpg">"#);
        assert!(
            clean.contains(r#"href="https://site.example/a/1""#),
            "{clean}"
        );
        assert!(
            clean.contains(r#"src="https://site.example/news/i.jpg""#),
            "{clean}"
        );
    }
}
