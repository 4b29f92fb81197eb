//! `/`: a page, in Vietnamese, for a person looking for a feed to follow:
//! first which feed to take if unsure and how to subscribe (reader apps by
//! name, the OPML list), then every feed with its formats, article count,
//! last update and its archives (the newest month, whose chain leads to
//! the older ones), a button to copy each URL, the long category × region
//! and author tables folded; `<link rel="alternate">` discovery for the
//! main feeds. It reads at a phone's 390 px without scrolling sideways.

use super::{archive_url, feed_url, groups, local_date};
use crate::article::FeedKey;
use crate::config::Site;
use crate::feed::{Catalog, Month};
use crate::render::Format;
use crate::text::escape_html as esc;

const STYLE: &str = r#"
:root{--ink:#1d2330;--muted:#5b6475;--line:#e3e6ec;--accent:#b3261e;--bg:#fafbfc}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--ink);background:var(--bg)}
header{background:#fff;border-bottom:3px solid var(--accent);padding:1.5rem 1rem}
header div,main{max-width:60rem;margin:0 auto}h1{margin:0 0 .25rem;font-size:1.6rem}
header p{margin:0;color:var(--muted)}main{padding:1rem}
h2{font-size:1.15rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line)}
th,td{text-align:left;padding:.5rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted);background:#f3f4f7}
td.n{text-align:right;white-space:nowrap}td.d{white-space:nowrap;color:var(--muted)}
.f{display:inline-flex;align-items:center;gap:.2rem;margin:0 .6rem .2rem 0;white-space:nowrap}
.f a{color:var(--accent);font-weight:600;text-decoration:none}.f a:hover{text-decoration:underline}
button{font:inherit;font-size:.75rem;border:1px solid var(--line);background:#fff;border-radius:4px;padding:.05rem .4rem;cursor:pointer;color:var(--muted)}
button.ok{color:#1b7f3b;border-color:#1b7f3b}
footer{max-width:60rem;margin:2rem auto;padding:0 1rem;color:var(--muted);font-size:.9rem}
form.search{margin:1rem 0;display:flex;flex-wrap:wrap;gap:.4rem;align-items:center}
form.search input{font:inherit;padding:.3rem .5rem;border:1px solid var(--line);border-radius:4px;min-width:14rem}
form.search button{font-size:.9rem;color:var(--accent);border-color:var(--accent)}
.start{background:#fff;border:1px solid var(--line);border-left:4px solid var(--accent);padding:.75rem 1rem;margin:1rem 0}
.start p{margin:.3rem 0}.start a{color:var(--accent)}
details{margin:2rem 0 0}summary{cursor:pointer;font-weight:600;font-size:1.15rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}
details h2{display:none}a.arc{font-size:.85rem;color:var(--muted)}
td{overflow-wrap:anywhere}
@media (max-width:40rem){td.d{display:none}th.d{display:none}
th,td{padding:.4rem .35rem}form.search input{min-width:0;flex:1 1 10rem}
td .f{display:flex;margin:0 0 .3rem}}
"#;

// Copies a feed URL; falls back to a prompt where the Clipboard API is
// unavailable (plain http on another host). `data-copied` says what went
// to the clipboard (the browser tests read it).
const SCRIPT: &str = r#"
document.addEventListener('click',function(e){var b=e.target.closest('button[data-url]');if(!b)return;
var u=b.getAttribute('data-url');function done(){b.textContent='Đã chép';b.classList.add('ok');b.setAttribute('data-copied',u);
setTimeout(function(){b.textContent='Chép';b.classList.remove('ok')},1500)}
if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(u).then(done,function(){prompt('Địa chỉ nguồn tin:',u)})}
else{prompt('Địa chỉ nguồn tin:',u)}});
"#;

/// The page's `Content-Security-Policy`: nothing may load or run but its
/// own inline style and script, named by their SHA-256 hashes (CSP Level
/// 2), so that markup slipped into a name could neither run a script nor
/// pull in anything. Links to feeds are navigation, which CSP leaves alone;
/// a form submission is not, so `form-action 'self'` lets the search box
/// reach this server's keyword feeds and no other place.
pub fn content_security_policy() -> &'static str {
    static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "default-src 'none'; style-src '{}'; script-src '{}'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            csp_hash(STYLE),
            csp_hash(SCRIPT)
        )
    });
    &POLICY
}

/// `sha256-` and the base64 of the SHA-256 of an inline element's text.
fn csp_hash(text: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn format_label(f: Format) -> &'static str {
    match f {
        Format::Rss => "RSS",
        Format::Atom => "Atom",
        Format::Json => "JSON Feed",
    }
}

/// The page as the server sends it, with a search box for keyword feeds.
pub fn index_html(site: &Site, catalog: &Catalog) -> String {
    page(site, catalog, true, None)
}

/// The page as the server sends it, with each feed's audience (SPEC
/// "Audience": subscribers through aggregators plus direct readers, by
/// feed path `/feeds/…`) and the site's (the sum: subscriptions, not
/// people, as one reader may follow several feeds).
pub fn index_html_with_audience(
    site: &Site,
    catalog: &Catalog,
    audience: &std::collections::BTreeMap<String, u64>,
) -> String {
    // Nothing counted yet (a new site, or a replica before its first
    // read of the counts): the page as it was, without a column of zeros.
    page(
        site,
        catalog,
        true,
        Some(audience).filter(|a| !a.is_empty()),
    )
}

/// The page as `bantin build` writes it: a static site has no keyword
/// feeds to search, so no search box that would lead to a 404.
pub fn static_index_html(site: &Site, catalog: &Catalog) -> String {
    page(site, catalog, false, None)
}

fn page(
    site: &Site,
    catalog: &Catalog,
    searchable: bool,
    audience: Option<&std::collections::BTreeMap<String, u64>>,
) -> String {
    let mut head_links = String::new();
    for f in Format::ALL {
        head_links.push_str(&format!(
            "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"{}\">\n",
            f.media_type(),
            esc(&site.title),
            format_label(f),
            esc(&feed_url(site, &FeedKey::All, f))
        ));
    }
    for e in catalog.categories.values() {
        head_links.push_str(&format!(
            "<link rel=\"alternate\" type=\"{}\" title=\"{} – {}\" href=\"{}\">\n",
            Format::Rss.media_type(),
            esc(&site.title),
            esc(&e.name),
            esc(&feed_url(
                site,
                &FeedKey::Category(e.slug.clone()),
                Format::Rss
            ))
        ));
    }
    let updated = catalog
        .newest
        .map(|d| format!(", cập nhật lần cuối {}", local_date(d, site.offset)))
        .unwrap_or_default();
    let mut body = String::new();
    for (i, (group, feeds)) in groups(catalog).into_iter().enumerate() {
        if feeds.is_empty() {
            continue;
        }
        // Everything, categories and regions open; the category × region
        // pairs and the authors (hundreds of rows on a real site) folded.
        let folded = i >= 3;
        if folded {
            body.push_str(&format!(
                "<details><summary>{} ({})</summary>\n",
                esc(group),
                feeds.len()
            ));
        }
        let followers_head = if audience.is_some() {
            "<th class=\"n a\">Theo dõi</th>"
        } else {
            ""
        };
        body.push_str(&format!(
            "<h2>{}</h2>\n<table>\n<thead><tr><th>Nguồn tin</th><th class=\"n\">Bài</th>{followers_head}<th class=\"d\">Cập nhật</th><th>Định dạng</th></tr></thead>\n<tbody>\n",
            esc(group)
        ));
        for f in feeds {
            let formats: String = Format::ALL
                .iter()
                .map(|&fmt| {
                    let url = esc(&feed_url(site, &f.key, fmt));
                    format!(
                        "<span class=\"f\"><a href=\"{url}\" type=\"{}\">{}</a><button type=\"button\" data-url=\"{url}\" title=\"Chép địa chỉ {}\">Chép</button></span>",
                        fmt.media_type(),
                        format_label(fmt),
                        format_label(fmt)
                    )
                })
                .collect();
            let followers = audience
                .map(|a| {
                    let n = a
                        .get(&format!("/feeds/{}", f.key.path()))
                        .copied()
                        .unwrap_or(0);
                    format!("<td class=\"n a\">{n}</td>")
                })
                .unwrap_or_default();
            // The newest month's archive; each month links the one before.
            let archive = f
                .newest
                .map(|d| {
                    let month = Month::at(d, site.offset);
                    format!(
                        "<br><a class=\"arc\" href=\"{}\">Lưu trữ theo tháng</a>",
                        esc(&archive_url(site, &f.key, month, Format::Rss))
                    )
                })
                .unwrap_or_default();
            body.push_str(&format!(
                "<tr><td>{}{archive}</td><td class=\"n\">{}</td>{followers}<td class=\"d\">{}</td><td>{formats}</td></tr>\n",
                esc(&f.title),
                f.articles,
                f.newest.map(|d| local_date(d, site.offset)).unwrap_or_else(|| "—".into()),
            ));
        }
        body.push_str("</tbody>\n</table>\n");
        if folded {
            body.push_str("</details>\n");
        }
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Nguồn tin – {title}</title>\n{head_links}\
         <link rel=\"outline\" type=\"text/x-opml\" title=\"OPML\" href=\"{base}/feeds.opml\">\n\
         <style>{STYLE}</style>\n</head>\n<body>\n\
         <header><div><h1>{title}</h1><p>{description}</p></div></header>\n<main>\n\
         <section class=\"start\">\
         <p><strong>Chưa biết chọn nguồn tin nào?</strong> Hãy theo dõi <a href=\"{all}\">Tất cả bài viết</a> (RSS) \
         <button type=\"button\" data-url=\"{all}\" title=\"Chép địa chỉ RSS\">Chép</button>: mọi bài mới của báo, \
         không sót chuyên mục nào.</p>\
         <p><strong>Cách theo dõi:</strong> bấm «Chép» bên cạnh một nguồn tin rồi dán địa chỉ vào trình đọc tin, \
         ví dụ Feedly, Inoreader, NetNewsWire (iPhone, Mac), Feeder (Android), Thunderbird hay newsboat.</p>\
         <p><strong>Theo dõi nhiều nguồn một lần:</strong> tải <a href=\"{base}/feeds.opml\">danh sách OPML</a> \
         rồi nhập vào trình đọc tin (mục «Import OPML»).</p>\
         </section>\n\
         <p>Có {total} bài viết{updated}. Mỗi nguồn tin có ba định dạng (RSS, Atom, JSON Feed) \
         và bản lưu trữ theo tháng.{following}</p>\n{search}{body}</main>\n\
         <footer>Tải toàn bộ danh sách nguồn tin dạng <a href=\"{base}/feeds.opml\">OPML</a> để nhập một lần vào trình đọc tin. \
         Tạo bởi bantin.</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        lang = esc(&site.language),
        title = esc(&site.title),
        description = esc(&site.description),
        base = esc(&site.base_url),
        all = esc(&feed_url(site, &FeedKey::All, Format::Rss)),
        total = catalog.total,
        following = audience
            .map(|a| {
                let sum = a.values().copied().fold(0u64, u64::saturating_add);
                format!("<span class=\"a\"> Các nguồn tin có tổng cộng {sum} lượt theo dõi.</span>")
            })
            .unwrap_or_default(),
        search = if searchable {
            search_form()
        } else {
            String::new()
        },
    )
}

/// A search box that builds a keyword feed's URL: a plain GET form (no
/// script), one button per format (`formaction`). Its targets are relative
/// to the page, so they reach the server that sent it (the only place the
/// CSP's `form-action 'self'` lets a form go), whatever name or port it was
/// reached by, and under a path prefix too.
fn search_form() -> String {
    let buttons: String = Format::ALL
        .iter()
        .map(|&f| {
            format!(
                "<button type=\"submit\" formaction=\"feeds/search.{}\">{}</button>",
                f.ext(),
                format_label(f)
            )
        })
        .collect();
    format!(
        "<form class=\"search\" method=\"get\" action=\"feeds/search.rss\" role=\"search\">\
         <label for=\"q\">Nguồn tin theo từ khóa</label> \
         <input id=\"q\" name=\"q\" type=\"search\" required maxlength=\"200\" placeholder=\"ví dụ: bão lũ\"> {buttons}\
         </form>\n"
    )
}
