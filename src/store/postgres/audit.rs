//! `check` on PostgreSQL: every article and link row read back in pages
//! and decoded as a feed would, and `bantin_counts` compared with the
//! article tables it counts.

use std::collections::HashMap;

use fallible_iterator::FallibleIterator;
use postgres::types::ToSql;

use super::read::{PgSnapshot, raw_article};
use crate::article::{Article, Facet};
use crate::store::row::{ARTICLE_COLUMNS, RawLink, audit_row, table};
use crate::store::{Problem, StoreError};

/// Articles `check` reads at a time.
const AUDIT_PAGE: usize = 1000;

/// Read every row of `snap`'s store, reporting each problem (and the
/// articles `admit` refuses).
pub(super) fn audit(
    snap: &PgSnapshot,
    admit: &dyn Fn(&Article) -> Option<String>,
    report: &mut dyn FnMut(Problem),
) -> Result<(), StoreError> {
    let mut conn = snap.conn();
    // A page of articles at a time, in id order, each page's links in
    // two queries: memory stays bounded however many articles there are.
    let mut after = String::new();
    loop {
        let rows = conn.query(
            &format!(
                "SELECT {ARTICLE_COLUMNS}, a.published_us FROM articles a
                 WHERE a.id > $1 ORDER BY a.id LIMIT {AUDIT_PAGE}"
            ),
            &[&after],
        )?;
        let Some(last) = rows.last() else { break };
        after = last.try_get(0)?;
        let mut raws = Vec::with_capacity(rows.len());
        let mut published = HashMap::new();
        for r in &rows {
            let raw = raw_article(r)?;
            published.insert(raw.id.clone(), r.try_get::<_, i64>(10)?);
            raws.push(raw);
        }
        let ids: Vec<String> = raws.iter().map(|r| r.id.clone()).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut authors = conn.links(Facet::Author, "slug", Some(&refs))?;
        for (id, decoded) in conn.decode_all(raws, Some(&refs))? {
            let published_us = published.get(&id).copied().unwrap_or_default();
            let stored = |id: &str| Ok::<_, StoreError>(authors.remove(id).unwrap_or_default());
            audit_row(id, decoded, published_us, stored, admit, report)?;
        }
    }
    for facet in Facet::ALL {
        let sql = format!(
            "SELECT f.article_id, f.slug, f.name, f.published_us, a.published_us FROM {} f
             JOIN articles a ON a.id = f.article_id ORDER BY f.article_id, f.slug",
            table(facet)
        );
        // Streamed as the server sends them, not collected.
        let stmt = conn.statement(&sql)?;
        let no_params: [&(dyn ToSql + Sync); 0] = [];
        let mut rows = conn.client.query_raw(&stmt, no_params)?;
        while let Some(r) = rows.next()? {
            RawLink {
                article_id: r.try_get(0)?,
                slug: r.try_get(1)?,
                name: r.try_get(2)?,
                published_us: r.try_get(3)?,
                article_published_us: r.try_get(4)?,
            }
            .audit(facet, report);
        }
    }
    let stale = conn.query(
        "WITH stored AS (
             SELECT kind, a, b, sum(delta)::bigint AS n FROM bantin_counts GROUP BY kind, a, b
             HAVING sum(delta) <> 0),
         actual AS (
             SELECT 'c' AS kind, slug AS a, name AS b, count(*) AS n FROM article_categories GROUP BY slug, name
             UNION ALL SELECT 'r', slug, name, count(*) FROM article_regions GROUP BY slug, name
             UNION ALL SELECT 'u', slug, name, count(*) FROM article_authors GROUP BY slug, name
             UNION ALL SELECT 'p', c.slug, r.slug, count(*) FROM article_categories c
                       JOIN article_regions r ON r.article_id = c.article_id GROUP BY c.slug, r.slug
             UNION ALL SELECT 't', '', '', count(*) FROM articles HAVING count(*) > 0)
         SELECT coalesce(s.kind, t.kind) || ' ' || coalesce(s.a, t.a) || ' ' || coalesce(s.b, t.b)
         FROM stored s FULL JOIN actual t ON (s.kind, s.a, s.b) = (t.kind, t.a, t.b)
         WHERE s.n IS DISTINCT FROM t.n LIMIT 1",
        &[],
    )?;
    if let Some(r) = stale.first() {
        let differ: String = r.try_get(0)?;
        report(Problem {
            id: String::new(),
            reason: format!(
                "bantin_counts is out of step with the article tables (first difference: {differ:?}); \
                 were the triggers bypassed?"
            ),
        });
    }
    Ok(())
}
