//! SQLite's keyword index kept to the text readers see (migration 10).
//!
//! The index holds each article's title, summary and visible body
//! (`search::visible_body`: HTML without its markup), made here by bantin:
//! SQL cannot take HTML apart as bantin does, and a CMS's connection has no
//! function of bantin's to call. Whoever writes an article, the triggers
//! queue its number in `bantin_search_queue`; [`index_queued`] makes the
//! queued rows of the index (bantin's writer before each batch, the server
//! after each commit it sees), and keyword feeds read the queued articles
//! besides the index's matches until then.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::fold::Folder;
use crate::article::Body;

/// Queued numbers of the keyword index made per transaction by the server
/// ([`Store::index_queued`](crate::store::Store::index_queued)): a CMS waiting for the write lock waits for
/// at most one batch.
pub(super) const INDEX_BATCH: usize = 256;

/// The text the index is given for an article's columns: title, summary
/// and visible body, folded for FTS5 ([`Folder::text`]).
pub(crate) fn index_text(
    folder: &mut Folder,
    title: &str,
    summary: Option<&str>,
    body: Option<String>,
    content_html: Option<String>,
) -> Result<String, rusqlite::Error> {
    let body = Body::from_fields(content_html, body);
    let visible = crate::search::visible_body(&body);
    folder.text(&[title, summary.unwrap_or(""), &visible])
}

/// A text column as text whatever a CMS stored there (bytes that are not
/// UTF-8 included: such an article stays out of feeds, but its row must
/// not stop the index).
fn lossy(r: &Row<'_>, i: usize) -> Result<Option<String>, rusqlite::Error> {
    Ok(match r.get_ref(i)? {
        ValueRef::Null => None,
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(x) => Some(x.to_string()),
    })
}

/// An article's indexed columns by its number, `None` when the number
/// names no article any more (deleted, or moved to another number).
fn columns_of(conn: &Connection, n: i64) -> Result<Option<IndexColumns>, rusqlite::Error> {
    conn.prepare_cached(
        "SELECT a.title, a.summary, a.body, a.content_html FROM bantin_search_ids i
         JOIN articles a ON a.id = i.article_id WHERE i.n = ?1",
    )?
    .query_row([n], |r| {
        Ok(IndexColumns {
            title: lossy(r, 0)?.unwrap_or_default(),
            summary: lossy(r, 1)?,
            body: lossy(r, 2)?,
            content_html: lossy(r, 3)?,
        })
    })
    .optional()
}

struct IndexColumns {
    title: String,
    summary: Option<String>,
    body: Option<String>,
    content_html: Option<String>,
}

/// Make the index's rows of up to `max` queued numbers, lowest first, in
/// the caller's write transaction: each row deleted, and made again from
/// the article that has the number now, if any. Returns how many numbers
/// it took off the queue. One article in memory at a time, whatever its
/// size.
pub(crate) fn index_queued(
    conn: &Connection,
    folder: &mut Folder,
    max: usize,
) -> Result<usize, rusqlite::Error> {
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let queued: Vec<i64> = conn
        .prepare_cached("SELECT n FROM bantin_search_queue ORDER BY n LIMIT ?1")?
        .query_map([max], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for &n in &queued {
        conn.prepare_cached("DELETE FROM bantin_search WHERE rowid = ?1")?
            .execute([n])?;
        if let Some(c) = columns_of(conn, n)? {
            let text = index_text(
                folder,
                &c.title,
                c.summary.as_deref(),
                c.body,
                c.content_html,
            )?;
            conn.prepare_cached("INSERT INTO bantin_search (rowid, words) VALUES (?1, ?2)")?
                .execute(params![n, text])?;
        }
        conn.prepare_cached("DELETE FROM bantin_search_queue WHERE n = ?1")?
            .execute([n])?;
    }
    Ok(queued.len())
}

/// Fill the index emptied by migration 10 with every article's visible
/// text, in number order (FTS5 writes its pending words out whenever a
/// number comes lower than the one before), in the migration's
/// transaction. Returns how many articles it indexed.
pub(crate) fn reindex(conn: &Connection) -> Result<u64, rusqlite::Error> {
    let mut folder = Folder::new()?;
    let mut insert = conn.prepare("INSERT INTO bantin_search (rowid, words) VALUES (?1, ?2)")?;
    let mut rows = conn.prepare(
        "SELECT i.n, a.title, a.summary, a.body, a.content_html
         FROM bantin_search_ids i JOIN articles a ON a.id = i.article_id ORDER BY i.n",
    )?;
    let mut rows = rows.query([])?;
    let mut done = 0u64;
    while let Some(r) = rows.next()? {
        let n: i64 = r.get(0)?;
        let title = lossy(r, 1)?.unwrap_or_default();
        let summary = lossy(r, 2)?;
        let text = index_text(
            &mut folder,
            &title,
            summary.as_deref(),
            lossy(r, 3)?,
            lossy(r, 4)?,
        )?;
        insert.execute(params![n, text])?;
        done += 1;
    }
    conn.execute("DELETE FROM bantin_search_queue", [])?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_text_is_the_visible_text() {
        let mut f = Folder::new().unwrap();
        let text = index_text(
            &mut f,
            "Bão số 3",
            Some("Đường <b>lũ</b>"),
            Some("thân bài".into()),
            Some("<p class=\"x\"><a href=\"https://cdn.vn/a.jpg\">Hà&nbsp;Tĩnh</a></p>".into()),
        )
        .unwrap();
        // A summary is plain text: its `<b>` is words a reader sees.
        assert_eq!(text, "bao so 3 duong b lu b ha tinh");
        let plain = index_text(&mut f, "T", None, Some("thân bài".into()), Some(" ".into()));
        assert_eq!(plain.unwrap(), "t than bai");
    }
}
