//! SQLite's TEXT values as Rust strings. SQLite keeps whatever bytes a
//! writer gives it (Python's `sqlite3` writes a Latin-1 `bytes` cast to
//! TEXT as is), and a BLOB in a TEXT column stays a BLOB, so any column a
//! CMS writes may not be UTF-8. rusqlite refuses such a value with an
//! error that would end the whole statement: one bad row would take every
//! feed it is in down with it. Here a value is read from its bytes, and
//! what can't be read is said, so that the row alone is left out.

use rusqlite::Row;
use rusqlite::types::ValueRef;

/// Bytes that are not UTF-8: a lossy copy, and where the first bad byte is.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct NotUtf8 {
    lossy: String,
    at: usize,
    len: usize,
}

/// A value as text: `Ok(None)` for NULL, `Err` where its bytes are not
/// UTF-8. Numbers (which a TEXT column does not keep, but an expression
/// may give) are written out.
pub(super) fn text(v: ValueRef<'_>) -> Result<Option<String>, NotUtf8> {
    let bytes = match v {
        ValueRef::Null => return Ok(None),
        ValueRef::Integer(i) => return Ok(Some(i.to_string())),
        ValueRef::Real(f) => return Ok(Some(f.to_string())),
        ValueRef::Text(b) | ValueRef::Blob(b) => b,
    };
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(Some(s.to_owned())),
        Err(e) => Err(NotUtf8 {
            lossy: String::from_utf8_lossy(bytes).into_owned(),
            at: e.valid_up_to(),
            len: bytes.len(),
        }),
    }
}

/// Column `i` as text, any bytes read lossily (U+FFFD for what is not
/// UTF-8): for ids and slugs that only name or look up a row, where a
/// value that can't be read matches nothing and harms nothing.
pub(super) fn lossy(r: &Row<'_>, i: usize) -> Result<String, rusqlite::Error> {
    Ok(text(r.get_ref(i)?)
        .unwrap_or_else(|e| Some(e.lossy))
        .unwrap_or_default())
}

/// Column `i` as text, or `None` where it is not UTF-8: for names a list
/// skips (the article carrying it is left out of feeds anyway).
pub(super) fn valid(r: &Row<'_>, i: usize) -> Result<Option<String>, rusqlite::Error> {
    Ok(text(r.get_ref(i)?).ok().flatten())
}

/// The columns of one row read as text, the first that can't be read
/// remembered: for an `articles` row, which is then left out whole.
pub(super) struct Columns<'a, 'r> {
    row: &'a Row<'r>,
    /// Why the row can't be read: the first column found not UTF-8.
    pub unreadable: Option<String>,
}

impl<'a, 'r> Columns<'a, 'r> {
    pub fn of(row: &'a Row<'r>) -> Self {
        Columns {
            row,
            unreadable: None,
        }
    }

    /// Column `i`, named `field` in the reason if it is not UTF-8.
    pub fn optional(&mut self, i: usize, field: &str) -> Result<Option<String>, rusqlite::Error> {
        match text(self.row.get_ref(i)?) {
            Ok(v) => Ok(v),
            Err(e) => {
                self.unreadable.get_or_insert_with(|| {
                    format!(
                        "field `{field}` is not UTF-8 (byte {} of {})",
                        e.at + 1,
                        e.len
                    )
                });
                Ok(Some(e.lossy))
            }
        }
    }

    /// A NOT NULL column (NULL reads as empty, and the row as unreadable).
    pub fn required(&mut self, i: usize, field: &str) -> Result<String, rusqlite::Error> {
        let v = self.optional(i, field)?;
        if v.is_none() {
            self.unreadable
                .get_or_insert_with(|| format!("field `{field}` is NULL"));
        }
        Ok(v.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_is_refused_with_a_lossy_copy_and_utf8_blobs_read() {
        let latin1 = text(ValueRef::Text(b"\xe9t\xe9")).unwrap_err();
        assert_eq!((latin1.lossy.as_str(), latin1.at), ("\u{fffd}t\u{fffd}", 0));
        assert_eq!(
            text(ValueRef::Blob("été".as_bytes())),
            Ok(Some("été".into()))
        );
        assert_eq!(text(ValueRef::Null), Ok(None));
        assert_eq!(text(ValueRef::Integer(7)), Ok(Some("7".into())));
    }
}
