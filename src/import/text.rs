//! Text articles (`.txt` plain, `.md` Markdown): TOML front matter between
//! `+++` lines, then the article laid out as the newsroom's seed is: the
//! first line is the title, the first paragraph the summary (sapo), the
//! paragraphs after it the body. Without `authors` in the front matter, a
//! last paragraph that looks like a byline gives them. An article over the
//! site's limits is refused with the line of the field at fault.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde::Deserialize;

use crate::article::{Article, ArticleError, Body};
use crate::limits::SiteLimits;

/// How the body paragraphs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// Plain paragraphs, shown as text.
    Plain,
    /// Markdown, rendered to HTML (and sanitized on output like any HTML).
    Markdown,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    id: Option<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    regions: Vec<String>,
    published: Option<toml::Value>,
    updated: Option<toml::Value>,
    url: Option<String>,
    image: Option<String>,
    authors: Option<Vec<String>>,
}

/// Longest byline SPEC accepts, in characters.
const BYLINE_MAX_CHARS: usize = 100;

/// Parse one text article; an error carries the 1-based line it concerns.
pub fn parse(
    bytes: &[u8],
    markup: Markup,
    limits: &SiteLimits,
) -> Result<Article, (usize, String)> {
    let most = limits.max_record_bytes();
    if bytes.len() > most {
        return Err((
            1,
            format!(
                "file is {} bytes, more than any article within the site's limits can take ({most} bytes; see max_body_bytes)",
                bytes.len()
            ),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes
            .get(..e.valid_up_to())
            .unwrap_or_default()
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        (line, "invalid UTF-8".to_string())
    })?;
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n");
    let mut lines = text.split('\n');
    if lines.next().map(str::trim_end) != Some("+++") {
        return Err((
            1,
            "expected front matter: the first line must be `+++`".into(),
        ));
    }
    let mut front = Vec::new();
    let mut closed = false;
    for line in lines.by_ref() {
        if line.trim_end() == "+++" {
            closed = true;
            break;
        }
        front.push(line);
    }
    if !closed {
        return Err((1, "front matter opened with `+++` is never closed".into()));
    }
    let front_text = front.join("\n");
    let fm: FrontMatter = toml::from_str(&front_text).map_err(|e| {
        let line = e
            .span()
            .map_or(0, |s| front_text[..s.start].matches('\n').count())
            + 2;
        (
            line,
            format!("front matter: {}", e.message().replace('\n', " ")),
        )
    })?;
    let body_start = front.len() + 3; // the two `+++` lines, 1-based
    let rest: Vec<&str> = lines.collect();
    let fm_err = |field: &str| {
        let line = field_line(&front, field);
        move |reason: String| (line, reason)
    };

    let published = match &fm.published {
        Some(v) => date("published", v).map_err(fm_err("published"))?,
        None => return Err((1, "missing field `published`".into())),
    };
    let updated = match &fm.updated {
        Some(v) => date("updated", v).map_err(fm_err("updated"))?,
        None => published,
    };

    let rest = rest.join("\n");
    let mut paragraphs = split_paragraphs(&rest);
    let title = match paragraphs.first_mut() {
        Some(first) => {
            // The title is the first line; anything under it in the same
            // block belongs to the summary.
            let (title, tail) = first.split_once('\n').unwrap_or((first.as_str(), ""));
            let (title, tail) = (title.to_string(), tail.to_string());
            *first = tail;
            title
        }
        None => {
            return Err((
                body_start,
                "missing title: nothing after the front matter".into(),
            ));
        }
    };
    let title = match markup {
        Markup::Markdown => title.trim_start_matches('#').trim().to_string(),
        Markup::Plain => title.trim().to_string(),
    };
    paragraphs.retain(|p| !p.trim().is_empty());
    let summary = if paragraphs.is_empty() {
        None
    } else {
        Some(one_line(&paragraphs.remove(0)))
    };

    let mut authors = fm.authors.clone().unwrap_or_default();
    if fm.authors.is_none()
        && let Some(last) = paragraphs.last().filter(|p| is_byline(p))
    {
        authors = last.trim().split(" - ").map(str::to_string).collect();
        paragraphs.pop();
    }
    let body = if paragraphs.is_empty() {
        Body::None
    } else {
        match markup {
            Markup::Plain => Body::Text(
                paragraphs
                    .iter()
                    .map(|p| one_line(p))
                    .collect::<Vec<_>>()
                    .join("\n\n"),
            ),
            Markup::Markdown => Body::Html(markdown_to_html(&paragraphs.join("\n\n"))),
        }
    };

    let article = Article {
        id: fm.id.unwrap_or_default(),
        title,
        summary,
        body,
        authors,
        categories: fm.categories,
        regions: fm.regions,
        published,
        updated,
        url: fm.url,
        image: fm.image,
    }
    .validated()
    .map_err(|e| {
        let line = match &e {
            ArticleError::Invalid { field, .. } => field_line(&front, field),
            ArticleError::Missing("title") => body_start,
            ArticleError::Missing(_) => 1,
        };
        (line, e.to_string())
    })?;
    match crate::limits::exceeded(&article, limits) {
        None => Ok(article),
        Some(e) => {
            // Front-matter fields are fixed on their own line; the text's
            // fields (and a byline's authors) start after the front matter.
            let line = match e.field {
                "id" | "categories" | "regions" | "published" | "updated" => {
                    field_line(&front, e.field)
                }
                "authors" if fm.authors.is_some() => field_line(&front, e.field),
                _ => body_start,
            };
            Err((line, e.to_string()))
        }
    }
}

/// The 1-based line of `field = …` in the file, given the front matter's
/// lines (which start on line 2); line 1, the opening `+++`, when the field
/// is not there. That is where a writer fixing the fault has to look.
fn field_line(front: &[&str], field: &str) -> usize {
    front
        .iter()
        .position(|l| {
            l.trim_start()
                .strip_prefix(field)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 2)
}

/// Blocks separated by blank lines, each with its lines kept.
fn split_paragraphs(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in s.split('\n') {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(current.join("\n"));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        out.push(current.join("\n"));
    }
    out
}

fn one_line(p: &str) -> String {
    p.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// SPEC: one line, at most 100 characters, not ending in sentence punctuation.
fn is_byline(p: &str) -> bool {
    let p = p.trim();
    !p.contains('\n')
        && p.chars().count() <= BYLINE_MAX_CHARS
        && !p.ends_with(['.', '!', '?', '…', ':', ';', '"', '\'', '”', '’', '»', ')'])
}

/// A front-matter date: a TOML offset datetime, or an RFC 3339 string.
fn date(field: &str, v: &toml::Value) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
    match v {
        toml::Value::String(s) => crate::article::parse_date(field, s),
        toml::Value::Datetime(d) if d.offset.is_some() && d.date.is_some() && d.time.is_some() => {
            crate::article::parse_date(field, &d.to_string())
        }
        toml::Value::Datetime(d) => {
            Err(format!("field `{field}`: {d} has no date, time and offset"))
        }
        other => Err(format!(
            "field `{field}`: expected a date, found {}",
            other.type_str()
        )),
    }
}

fn markdown_to_html(md: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(md, pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8], markup: Markup) -> Result<Article, (usize, String)> {
        super::parse(bytes, markup, &SiteLimits::default())
    }

    #[test]
    fn limits_name_the_line_of_the_field_at_fault() {
        let limits = SiteLimits {
            max_names_per_article: 1,
            max_title_bytes: 5,
            ..SiteLimits::default()
        };
        let two_regions = FRONT.replace(r#"["Hà Tĩnh"]"#, r#"["Hà Tĩnh", "Đức Thọ"]"#);
        let (line, reason) = super::parse(
            format!("{two_regions}T\n").as_bytes(),
            Markup::Plain,
            &limits,
        )
        .unwrap_err();
        assert_eq!(
            (line, reason.as_str()),
            (
                4,
                "field `regions`: 2 names, over max_names_per_article = 1"
            )
        );
        let (line, reason) = super::parse(
            format!("{FRONT}Tiêu đề\n").as_bytes(),
            Markup::Plain,
            &limits,
        )
        .unwrap_err();
        assert_eq!(line, 7);
        assert!(reason.starts_with("field `title`: 11 bytes"), "{reason}");
        // Year 10000 in the site's +07:00: the line of `updated`.
        let late = FRONT.replace("+++\nid", "+++\nupdated = 9999-12-31T23:59:59Z\nid");
        let (line, reason) = super::parse(
            format!("{late}T\n").as_bytes(),
            Markup::Plain,
            &SiteLimits::default(),
        )
        .unwrap_err();
        assert_eq!(line, 2, "{reason}");
        assert!(reason.starts_with("field `updated`: "), "{reason}");
    }

    const FRONT: &str = "+++\nid = \"a\"\ncategories = [\"Quốc phòng - An ninh\"]\nregions = [\"Hà Tĩnh\"]\npublished = 2020-10-05T16:30:00+07:00\n+++\n";

    #[test]
    fn layout_gives_title_summary_body_and_byline() {
        let text = format!(
            "{FRONT}Tiêu đề\n\nSapo dòng một\ndòng hai.\n\nĐoạn một.\n\nĐoạn hai.\n\nThanh Giang - Xuân Liệu\n"
        );
        let a = parse(text.as_bytes(), Markup::Plain).unwrap();
        assert_eq!(a.title, "Tiêu đề");
        assert_eq!(a.summary.as_deref(), Some("Sapo dòng một dòng hai."));
        assert_eq!(a.body, Body::Text("Đoạn một.\n\nĐoạn hai.".into()));
        assert_eq!(a.authors, vec!["Thanh Giang", "Xuân Liệu"]);
        assert_eq!(a.published.to_rfc3339(), "2020-10-05T16:30:00+07:00");
    }

    #[test]
    fn a_last_sentence_is_not_a_byline() {
        let text = format!("{FRONT}T\n\nS\n\nKết thúc.\n");
        let a = parse(text.as_bytes(), Markup::Plain).unwrap();
        assert!(a.authors.is_empty());
        assert_eq!(a.body, Body::Text("Kết thúc.".into()));
    }

    #[test]
    fn front_matter_authors_win_over_byline() {
        let text = format!("{FRONT}T\n\nS\n\nThu Hà\n")
            .replace("+++\nT", "authors = [\"Hữu Trung\"]\n+++\nT");
        let a = parse(text.as_bytes(), Markup::Plain).unwrap();
        assert_eq!(a.authors, vec!["Hữu Trung"]);
        assert_eq!(a.body, Body::Text("Thu Hà".into()));
    }

    #[test]
    fn markdown_body_becomes_html() {
        let text =
            format!("{FRONT}# Tiêu đề\n\nSapo\n\nCó **đậm** và [liên kết](https://e.org).\n");
        let a = parse(text.as_bytes(), Markup::Markdown).unwrap();
        assert_eq!(a.title, "Tiêu đề");
        let Body::Html(html) = a.body else {
            panic!("not html")
        };
        assert!(html.contains("<strong>đậm</strong>"));
        assert!(html.contains(r#"<a href="https://e.org">"#));
    }

    #[test]
    fn faults_carry_their_line() {
        let cases: [(&str, usize, &str); 5] = [
            ("no front matter\n", 1, "first line must be `+++`"),
            ("+++\nid = \"a\"\n", 1, "never closed"),
            (
                "+++\nid = \"a\"\ncategories = [\"x\"\n+++\nT\n",
                3,
                "front matter",
            ),
            (
                "+++\nid = \"a\"\ncategories = [\"x\"]\npublished = 2020-10-05\n+++\nT\n",
                4,
                "field `published`",
            ),
            (
                "+++\nid = \"a\"\ncategories = [\"x\"]\npublished = 2020-10-05T00:00:00Z\n+++\n\n",
                6,
                "missing title",
            ),
        ];
        for (text, line, want) in cases {
            let (l, reason) = parse(text.as_bytes(), Markup::Plain).unwrap_err();
            assert!(reason.contains(want), "{text:?}: {reason}");
            assert_eq!(l, line, "{text:?}: {reason}");
        }
    }
}
