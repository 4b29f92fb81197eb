//! Rows to and from domain values, shared by every backend: the columns
//! an [`Article`] is written as ([`ArticleColumns`], its link rows), how an
//! `articles` row (and its link rows) becomes a validated [`Article`] again,
//! and which rows `bantin check` reports. Keeping this in one place is what
//! makes both stores write the same bytes and read them back the same way.

use chrono::DateTime;

use super::{Problem, facet_code, micros};
use crate::article::{Article, Body, Facet};

/// The columns of `articles` that [`RawArticle`] holds, in its field order.
pub(crate) const ARTICLE_COLUMNS: &str = "a.id, a.title, a.summary, a.body, a.content_html, a.authors, a.published, a.updated, a.url, a.image";

/// An article as the columns of `articles` take it, in both stores.
pub(crate) struct ArticleColumns {
    pub id: String,
    pub title: String,
    pub summary: Option<String>,
    pub body: Option<String>,
    pub content_html: Option<String>,
    /// JSON list of names.
    pub authors: String,
    /// RFC 3339, as given.
    pub published: String,
    /// `None` when it is `published`.
    pub updated: Option<String>,
    /// The instant of `published`, µs: what feeds are ordered by.
    pub published_us: i64,
    pub url: Option<String>,
    pub image: Option<String>,
}

impl From<Article> for ArticleColumns {
    fn from(a: Article) -> ArticleColumns {
        let (body, content_html) = match a.body {
            Body::None => (None, None),
            Body::Text(t) => (Some(t), None),
            Body::Html(h) => (None, Some(h)),
        };
        ArticleColumns {
            authors: serde_json::to_string(&a.authors).unwrap_or_else(|_| "[]".to_string()),
            published: a.published.to_rfc3339(),
            updated: (a.updated != a.published).then(|| a.updated.to_rfc3339()),
            published_us: micros(a.published.to_utc()),
            id: a.id,
            title: a.title,
            summary: a.summary,
            body,
            content_html,
            url: a.url,
            image: a.image,
        }
    }
}

impl ArticleColumns {
    /// The bytes of text it holds, roughly: what a writer's batch is
    /// measured by.
    pub fn bytes(&self) -> usize {
        self.id.len()
            + self.title.len()
            + self.summary.as_ref().map_or(0, String::len)
            + self
                .body
                .as_ref()
                .or(self.content_html.as_ref())
                .map_or(0, String::len)
    }
}

/// `a`'s link rows, both stores': facet letter, slug, name, position
/// within the facet ([`crate::slug::links`]' rule: two names of one
/// article that share a slug, the first one counts; a byline name with no
/// letter or digit has no feed).
pub(crate) fn link_rows(a: &Article) -> Vec<(&'static str, String, &str, usize)> {
    let mut rows = Vec::new();
    for facet in Facet::ALL {
        let names = a.names(facet).iter().map(String::as_str);
        for (position, (slug, name)) in crate::slug::links(names).into_iter().enumerate() {
            rows.push((facet_code(facet), slug, name, position));
        }
    }
    rows
}

/// A row of `articles` before validation.
pub(crate) struct RawArticle {
    /// The id; where it is not UTF-8 (SQLite), a lossy copy that names the
    /// row in messages.
    pub id: String,
    pub title: String,
    pub summary: Option<String>,
    pub body: Option<String>,
    pub content_html: Option<String>,
    pub authors: String,
    pub published: String,
    pub updated: Option<String>,
    pub url: Option<String>,
    pub image: Option<String>,
    /// Why a column could not be read as text (SQLite holds any bytes in a
    /// TEXT column); the fields then hold lossy copies, and the row does
    /// not decode.
    pub unreadable: Option<String>,
}

impl RawArticle {
    /// Parse and validate the row. `links` reads the article's names of a
    /// facet in their stored order; it is only called once the row's own
    /// fields parse.
    pub fn decode<E: std::fmt::Display>(
        self,
        mut links: impl FnMut(Facet, &str) -> Result<Vec<String>, E>,
    ) -> Result<Article, String> {
        let raw = self;
        if let Some(reason) = raw.unreadable {
            return Err(reason);
        }
        let parse = |field: &str, s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map_err(|e| format!("`{field}` {s:?} is not RFC 3339: {e}"))
        };
        let published = parse("published", &raw.published)?;
        let updated = match &raw.updated {
            Some(u) => parse("updated", u)?,
            None => published,
        };
        let authors: Vec<String> = serde_json::from_str(&raw.authors)
            .map_err(|e| format!("`authors` is not a JSON array of strings: {e}"))?;
        let body = Body::from_fields(raw.content_html, raw.body);
        let categories = links(Facet::Category, &raw.id).map_err(|e| e.to_string())?;
        let regions = links(Facet::Region, &raw.id).map_err(|e| e.to_string())?;
        Article {
            id: raw.id,
            title: raw.title,
            summary: raw.summary,
            body,
            authors,
            categories,
            regions,
            published,
            updated,
            url: raw.url,
            image: raw.image,
        }
        .validated()
        .map_err(|e| e.to_string())
    }
}

/// The problem `check` reports about an `articles` row, given what decoding
/// it gave: it does not decode, or its `published_us` is not the instant of
/// `published`.
fn audit_article(
    id: String,
    decoded: Result<Article, String>,
    published_us: i64,
) -> Option<Problem> {
    match decoded {
        Err(reason) => Some(Problem { id, reason }),
        Ok(a) if micros(a.published.to_utc()) != published_us => Some(Problem {
            id,
            reason: format!(
                "published_us {published_us} does not match published {} ({})",
                a.published.to_rfc3339(),
                micros(a.published.to_utc())
            ),
        }),
        Ok(_) => None,
    }
}

/// Every problem `check` reports about one `articles` row, in order: its
/// author links against its byline (`stored_authors` reads them, asked
/// only of a row that decodes), a limit it is over (`admit`), and
/// [`audit_article`]'s. Both stores' checks go through here.
pub(crate) fn audit_row<E>(
    id: String,
    decoded: Result<Article, String>,
    published_us: i64,
    stored_authors: impl FnOnce(&str) -> Result<Vec<String>, E>,
    admit: &dyn Fn(&Article) -> Option<String>,
    report: &mut dyn FnMut(Problem),
) -> Result<(), E> {
    if let Ok(a) = &decoded {
        if let Some(p) = audit_authors(a, &stored_authors(&a.id)?) {
            report(p);
        }
        if let Some(reason) = admit(a) {
            report(Problem {
                id: a.id.clone(),
                reason: format!("{reason} (left out of feeds)"),
            });
        }
    }
    if let Some(p) = audit_article(id, decoded, published_us) {
        report(p);
    }
    Ok(())
}

/// The link table of a facet.
pub(crate) fn table(facet: Facet) -> &'static str {
    match facet {
        Facet::Category => "article_categories",
        Facet::Region => "article_regions",
        Facet::Author => "article_authors",
    }
}

/// One row of a link table joined to its article, as `check` reads it.
pub(crate) struct RawLink {
    pub article_id: String,
    pub slug: String,
    pub name: String,
    /// The link row's copy of `published_us`.
    pub published_us: i64,
    /// The article's own `published_us`.
    pub article_published_us: i64,
}

impl RawLink {
    /// What `check` reports about this link row: a slug that is not the
    /// name's, or a `published_us` copy out of step with the article's.
    pub fn audit(self, facet: Facet, report: &mut dyn FnMut(Problem)) {
        let RawLink {
            article_id: id,
            slug,
            name,
            published_us: link_us,
            article_published_us: article_us,
        } = self;
        let want = crate::slug::slugify(&name);
        if want != slug {
            report(Problem {
                id: id.clone(),
                reason: format!(
                    "{}: name {name:?} has slug {want:?}, the row says {slug:?}",
                    table(facet)
                ),
            });
        }
        if link_us != article_us {
            report(Problem {
                id,
                reason: format!(
                    "{}: published_us {link_us} differs from the article's {article_us}",
                    table(facet)
                ),
            });
        }
    }
}

/// `articles.authors` against `article_authors`: a CMS writes both
/// (docs/schema.md); `check` reports an article whose two disagree.
/// `stored` are the article's `article_authors` slugs.
fn audit_authors(article: &Article, stored: &[String]) -> Option<Problem> {
    let mut want: Vec<String> = crate::slug::author_links(&article.authors)
        .into_iter()
        .map(|(slug, _)| slug)
        .collect();
    let mut have = stored.to_vec();
    want.sort();
    have.sort();
    (want != have).then(|| Problem {
        id: article.id.clone(),
        reason: format!("article_authors has {have:?} where the authors list gives {want:?}"),
    })
}
