//! With `[cdn] key_header`, `bantin build` writes `.bantin-keys.nginx`
//! beside the files: an nginx `map` from a request's `$uri` to the keys
//! `bantin serve` would send for it (SPEC "Behind a CDN";
//! `Resource::cdn_key`), so nginx serving the folder can send them to a
//! cache in front. The map matches paths by pattern, so its size does not
//! grow with the site. docs/deployment.md shows where it goes.

use crate::config::KeyHeader;

/// The map's file name in the output folder (a dotfile: the documented
/// nginx configuration refuses them to the public).
pub(super) const NAME: &str = ".bantin-keys.nginx";

/// The map's text for `header`: `$bantin_keys` is the keys of the
/// document a built file is one format and coding of (`.gz` and `.br`
/// siblings are served under their document's `$uri`), empty for
/// anything else (nginx then sends no header).
pub(super) fn text(header: KeyHeader) -> String {
    let sep = header.separator();
    let name = header.name();
    format!(
        "# Written by `bantin build` ([cdn] key_header = \"{name}\"): the keys\n\
         # `bantin serve` sends with each document. In nginx's http block:\n\
         #     include /path/to/public/{NAME};\n\
         # and in each server or location block that serves the folder:\n\
         #     add_header {name} $bantin_keys;\n\
         map $uri $bantin_keys {{\n    \
             default \"\";\n    \
             / \"/{sep}bantin\";\n    \
             /index.html \"/{sep}bantin\";\n    \
             /feeds.opml \"/feeds.opml{sep}bantin\";\n    \
             /sitemap-news.xml \"/sitemap-news.xml{sep}bantin\";\n    \
             # Every page of an archive month has the month's key.\n    \
             \"~^(?<bantin_month>/feeds/.+/archive/[0-9]{{4}}-[0-9]{{2}})(-p[0-9]+)?\\.(rss|atom|json)$\" \
             \"$bantin_month{sep}bantin\";\n    \
             \"~^(?<bantin_feed>/feeds/.+)\\.(rss|atom|json)$\" \"$bantin_feed{sep}bantin\";\n\
         }}\n"
    )
}
