//! The writer's rows before they are copied: an article's columns and
//! link rows ([`PgStaged`]), made on a thread of their own past the
//! common-word sample ([`pg_rows`]), numbered and copied to the staging
//! tables a thousand at a time ([`Batch`]).

use std::collections::HashMap;

use postgres::{Client, NoTls};

use super::common::Common;
use super::pool::PgConn;
use super::value::text;
use super::words::{WordMap, Words, ask_over, fold_words};
use crate::article::{Article, Body};
use crate::store::row::link_rows;
use crate::store::staging::Preparing;
use crate::store::{StoreError, micros};

/// Records a writer keeps in memory before copying them to the server.
const COPY_BATCH: usize = 1000;

/// A record waiting to be copied: the article's columns.
pub(super) struct StagedArticle {
    seq: i64,
    id: String,
    title: String,
    summary: Option<String>,
    body: Option<String>,
    content_html: Option<String>,
    authors: String,
    published: String,
    updated: Option<String>,
    published_us: i64,
    url: Option<String>,
    image: Option<String>,
    /// The article's words (migration 5) that the keyword index holds,
    /// `None` for the database to make (both columns).
    words: Option<Vec<String>>,
    /// Its words that the store lists as common (migration 8), as a
    /// bitmap of their numbers.
    common_bits: Option<Vec<u8>>,
}

/// A link row waiting to be copied.
pub(super) struct StagedLink {
    seq: i64,
    facet: &'static str,
    article_id: String,
    slug: String,
    name: String,
    position: i32,
}

/// An article's rows as the staging tables take them; `seq` is set when
/// the writer takes them back.
pub(super) struct PgStaged {
    article: StagedArticle,
    links: Vec<StagedLink>,
}

/// Articles in the staging thread's pipe, at most: two `COPY` batches, so
/// that the thread makes the next batch while the database takes one.
const PG_IN_FLIGHT: usize = 2 * COPY_BATCH;

/// The rows taken back from the staging thread and not yet copied.
#[derive(Default)]
pub(super) struct Batch {
    articles: Vec<StagedArticle>,
    links: Vec<StagedLink>,
    /// Rows taken since the last merge: the next row's `seq` (rows come
    /// back in the order put).
    taken: i64,
}

impl Batch {
    /// Take an article's rows, numbered in the order put: `true` when the
    /// batch is full and should be copied.
    pub(super) fn take(&mut self, row: PgStaged) -> bool {
        self.taken += 1;
        let mut article = row.article;
        article.seq = self.taken;
        self.articles.push(article);
        self.links.extend(row.links.into_iter().map(|mut l| {
            l.seq = self.taken;
            l
        }));
        self.articles.len() >= COPY_BATCH
    }

    /// The staging tables were merged and emptied: number from 1 again.
    pub(super) fn merged(&mut self) {
        self.taken = 0;
    }

    /// Copy the rows in memory to the staging tables.
    pub(super) fn copy(&mut self, client: &mut Client) -> Result<(), postgres::Error> {
        use postgres::binary_copy::BinaryCopyInWriter;
        use postgres::types::Type;
        if !self.articles.is_empty() {
            let sink = client.copy_in(
                "COPY bantin_stage (seq, id, title, summary, body, content_html, authors, published,
                                    updated, published_us, url, image, words, common_bits)
                 FROM STDIN (FORMAT binary)",
            )?;
            let t = Type::TEXT;
            let types = [
                Type::INT8,
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                Type::INT8,
                t.clone(),
                t,
                Type::TEXT_ARRAY,
                Type::BYTEA,
            ];
            let mut copy = BinaryCopyInWriter::new(sink, &types);
            for a in self.articles.drain(..) {
                copy.write(&[
                    &a.seq,
                    &a.id,
                    &a.title,
                    &a.summary,
                    &a.body,
                    &a.content_html,
                    &a.authors,
                    &a.published,
                    &a.updated,
                    &a.published_us,
                    &a.url,
                    &a.image,
                    &a.words,
                    &a.common_bits,
                ])?;
            }
            copy.finish()?;
        }
        if !self.links.is_empty() {
            let sink = client.copy_in(
                "COPY bantin_stage_links (seq, facet, article_id, slug, name, position)
                 FROM STDIN (FORMAT binary)",
            )?;
            let types = [
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::INT4,
            ];
            let mut copy = BinaryCopyInWriter::new(sink, &types);
            for l in self.links.drain(..) {
                copy.write(&[
                    &l.seq,
                    &l.facet,
                    &l.article_id,
                    &l.slug,
                    &l.name,
                    &l.position,
                ])?;
            }
            copy.finish()?;
        }
        Ok(())
    }
}

/// The staging thread's connection for asking `bantin_words` about the
/// characters it has not met (a few dozen questions an import). Made when
/// first needed; if it cannot be made, the articles that needed it go
/// without words and the database's trigger computes them (slower, the
/// same words).
struct Probe {
    config: postgres::Config,
    client: Option<PgConn>,
    failed: bool,
}

impl Probe {
    fn ask(&mut self, probes: &[String]) -> Result<Vec<Vec<String>>, StoreError> {
        if self.failed {
            return Err(StoreError::Unavailable("no connection to ask".into()));
        }
        let client = match &mut self.client {
            Some(c) => c,
            None => match self.config.connect(NoTls) {
                Ok(client) => self.client.insert(PgConn {
                    client,
                    statements: HashMap::new(),
                }),
                Err(e) => {
                    self.failed = true;
                    return Err(e.into());
                }
            },
        };
        ask_over(client, probes)
    }
}

/// The staging thread of a PostgreSQL writer, going on with what `words`
/// learned so far.
pub(super) fn pg_rows(
    config: postgres::Config,
    mut words: Words,
    common: Common,
) -> Result<Preparing<PgStaged>, StoreError> {
    Preparing::start(PG_IN_FLIGHT, move || {
        let mut probe = Probe {
            config,
            client: None,
            failed: false,
        };
        Ok(move |a: Article| {
            // Its own connection: a question that failed harms no
            // transaction, and the database's trigger makes those words.
            let words = match fold_words(&a, &mut words, &mut |p| probe.ask(p)) {
                Ok(w) => w,
                Err(e) => {
                    tracing::debug!("the database makes the words of {}: {e}", a.id);
                    None
                }
            };
            Ok(pg_row(&a, words, &common))
        })
    })
}

/// The staging rows of `a`, with its words split by `common`.
pub(super) fn pg_row(a: &Article, words: Option<Vec<String>>, common: &WordMap<u32>) -> PgStaged {
    let (words, common_bits) = match words {
        Some(mut words) => {
            let mut bits = Vec::new();
            words.retain(|w| match common.get(w) {
                Some(&bit) => {
                    let (byte, bit) = (bit as usize / 8, bit % 8);
                    if bits.len() <= byte {
                        bits.resize(byte + 1, 0);
                    }
                    // `get_bit`'s order: bit 0 is a byte's lowest.
                    bits[byte] |= 1 << bit;
                    false
                }
                None => true,
            });
            (Some(words), Some(bits))
        }
        None => (None, None),
    };
    let (body, html) = match &a.body {
        Body::None => (None, None),
        Body::Text(t) => (Some(text(t).into_owned()), None),
        Body::Html(h) => (None, Some(text(h).into_owned())),
    };
    let title = text(&a.title).into_owned();
    let summary = a.summary.as_deref().map(|s| text(s).into_owned());
    let links = link_rows(a)
        .into_iter()
        .map(|(facet, slug, name, position)| StagedLink {
            seq: 0,
            facet,
            article_id: a.id.clone(),
            slug,
            name: text(name).into_owned(),
            position: i32::try_from(position).unwrap_or(i32::MAX),
        })
        .collect();
    PgStaged {
        article: StagedArticle {
            seq: 0,
            id: a.id.clone(),
            title,
            summary,
            body,
            content_html: html,
            authors: serde_json::to_string(&a.authors).unwrap_or_else(|_| "[]".to_string()),
            published: a.published.to_rfc3339(),
            updated: (a.updated != a.published).then(|| a.updated.to_rfc3339()),
            published_us: micros(a.published.to_utc()),
            url: a.url.clone(),
            image: a.image.clone(),
            words,
            common_bits,
        },
        links,
    }
}
