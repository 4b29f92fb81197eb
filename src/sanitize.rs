//! Sanitizing article HTML before it reaches a feed.
//!
//! `ammonia` (html5ever underneath) parses the HTML as a browser would and
//! keeps only an allow-list, so scripts, styles, event handlers, frames and
//! `javascript:`/`data:` URLs cannot get through however they are spelled.
//! We narrow its default URL schemes to http, https and mailto, and resolve
//! relative links against the site's base URL: a feed is read far from the
//! site, where a relative `src` would point nowhere.

use std::collections::HashSet;

/// Safe HTML for a feed: `html` cleaned of control characters and of
/// everything outside ammonia's allow-list, relative URLs made absolute
/// against `base`.
pub fn sanitize_html(html: &str, base: &ammonia::Url) -> String {
    let mut b = ammonia::Builder::default();
    b.url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer"))
        .url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone()))
        .add_tags(["figure", "figcaption"]);
    b.clean(&crate::text::clean(html))
        .to_string()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::sanitize_html as clean_with_base;

    fn sanitize_html(html: &str) -> String {
        clean_with_base(
            html,
            &ammonia::Url::parse("https://site.example/news/").unwrap(),
        )
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
