//! `/feeds.opml`: OPML 2.0 (<http://opml.org/spec2.opml>) listing every
//! feed once, as RSS, grouped like the `/` page. Its only date comes from
//! the articles, so an unchanged store keeps its bytes.

use super::{feed_url, groups};
use crate::config::Site;
use crate::feed::Catalog;
use crate::render::Format;
use crate::text::escape_html as esc;

/// The OPML document.
pub fn opml(site: &Site, catalog: &Catalog) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n  <head>\n",
    );
    out.push_str(&format!("    <title>{}</title>\n", esc(&site.title)));
    if let Some(newest) = catalog.newest {
        let d = newest
            .with_timezone(&site.offset)
            .format("%a, %d %b %Y %H:%M:%S %z");
        out.push_str(&format!("    <dateModified>{d}</dateModified>\n"));
    }
    out.push_str("    <docs>http://opml.org/spec2.opml</docs>\n  </head>\n  <body>\n");
    for (group, feeds) in groups(catalog) {
        if feeds.is_empty() {
            continue;
        }
        out.push_str(&format!("    <outline text=\"{}\">\n", esc(group)));
        for f in feeds {
            let title = match f.key {
                crate::article::FeedKey::All => site.title.clone(),
                _ => format!("{} – {}", site.title, f.title),
            };
            out.push_str(&format!(
                "      <outline type=\"rss\" version=\"RSS2\" text=\"{t}\" title=\"{t}\" xmlUrl=\"{}\" htmlUrl=\"{}/\" language=\"{}\"/>\n",
                esc(&feed_url(site, &f.key, Format::Rss)),
                esc(&site.base_url),
                esc(&site.language),
                t = esc(&title),
            ));
        }
        out.push_str("    </outline>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}
