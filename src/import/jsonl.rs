//! JSON Lines: one article object per line, fields as in SPEC's table.
//! Blank lines are skipped; every other line is one record, good or bad.
//! A record over the site's limits is a bad record; one too large to hold
//! an article within them is refused before it is parsed.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde::Deserialize;

use crate::article::{Article, Body};
use crate::limits::SiteLimits;

/// Fields are optional here so that a missing one is reported by name
/// (by [`Article::validated`]) rather than as a generic serde message.
#[derive(Deserialize)]
struct JsonArticle {
    id: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    body: Option<String>,
    content_html: Option<String>,
    #[serde(default)]
    authors: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    regions: Vec<String>,
    published: Option<String>,
    updated: Option<String>,
    url: Option<String>,
    image: Option<String>,
}

/// Each non-blank line's article, or its 1-based line number and the reason.
pub fn parse(bytes: &[u8], limits: &SiteLimits) -> Vec<Result<Article, (usize, String)>> {
    Records::new(bytes, limits).collect()
}

/// The records of a JSON Lines stream, read a line at a time into one
/// reused buffer: each non-blank line's article, or its 1-based line number
/// and the reason. A line longer than any record within the limits is
/// skipped as it streams by (never held whole) and reported by its size. A
/// read error is reported at the line it interrupted, and ends the stream.
pub struct Records<'l, R> {
    reader: R,
    limits: &'l SiteLimits,
    /// Lines read so far.
    line: usize,
    /// The current line, without its end; at most `limits.max_record_bytes()`
    /// and a carriage return long.
    buf: Vec<u8>,
    ended: bool,
}

/// What reading one line gave.
struct Line {
    /// Its length without the newline (and without a leading BOM on the
    /// first line), whether or not all of it was kept.
    len: usize,
    /// Whether it holds nothing but ASCII white space.
    blank: bool,
}

impl<'l, R: std::io::BufRead> Records<'l, R> {
    /// The records of `reader`, checked against `limits`.
    pub fn new(reader: R, limits: &'l SiteLimits) -> Records<'l, R> {
        Records {
            reader,
            limits,
            line: 0,
            buf: Vec::new(),
            ended: false,
        }
    }

    /// Read the next line into `buf` (cleared first), keeping no more of it
    /// than a record within the limits can take; `None` at the end.
    fn read_line(&mut self) -> std::io::Result<Option<Line>> {
        // Room for the longest record and a carriage return: a longer line
        // is refused by its length alone.
        let keep = self.limits.max_record_bytes().saturating_add(1);
        self.buf.clear();
        let (mut len, mut blank, mut last) = (0usize, true, None);
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            let (part, end) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (chunk.get(..i).unwrap_or_default(), Some(i + 1)),
                None => (chunk, None),
            };
            if blank {
                blank = part.iter().all(u8::is_ascii_whitespace);
            }
            len += part.len();
            last = part.last().copied().or(last).or(Some(b'\n'));
            let room = keep.saturating_sub(self.buf.len()).min(part.len());
            self.buf
                .extend_from_slice(part.get(..room).unwrap_or_default());
            let used = end.unwrap_or(part.len());
            self.reader.consume(used);
            if end.is_some() {
                break;
            }
        }
        if last.is_none() {
            return Ok(None);
        }
        if last == Some(b'\r') {
            len -= 1;
            if self.buf.len() > len {
                self.buf.pop();
            }
        }
        if self.line == 0 && self.buf.starts_with(BOM) {
            self.buf.drain(..BOM.len());
            len -= BOM.len();
            blank = len == self.buf.len() && self.buf.iter().all(u8::is_ascii_whitespace);
        }
        Ok(Some(Line { len, blank }))
    }
}

/// The byte order mark a file may begin with.
const BOM: &[u8] = b"\xEF\xBB\xBF";

impl<R: std::io::BufRead> Iterator for Records<'_, R> {
    type Item = Result<Article, (usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.ended {
            let read = self.read_line();
            self.line += 1;
            let line = match read {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => {
                    self.ended = true;
                    return Some(Err((self.line, format!("read error: {e}"))));
                }
            };
            if line.blank {
                continue;
            }
            let most = self.limits.max_record_bytes();
            if line.len > most {
                return Some(Err((self.line, too_big(line.len, most))));
            }
            return Some(
                parse_record(&self.buf, self.limits).map_err(|reason| (self.line, reason)),
            );
        }
        self.ended = true;
        None
    }
}

fn too_big(len: usize, most: usize) -> String {
    format!(
        "record is {len} bytes, more than any article within the site's limits can take ({most} bytes; see max_body_bytes)"
    )
}

/// One record (a line without its end), checked against `limits`.
fn parse_record(line: &[u8], limits: &SiteLimits) -> Result<Article, String> {
    let most = limits.max_record_bytes();
    if line.len() > most {
        return Err(too_big(line.len(), most));
    }
    let article = parse_line(line)?;
    match crate::limits::exceeded(&article, limits) {
        Some(e) => Err(e.to_string()),
        None => Ok(article),
    }
}

fn parse_line(line: &[u8]) -> Result<Article, String> {
    let text = std::str::from_utf8(line)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1))?;
    let raw: JsonArticle = serde_json::from_str(text).map_err(|e| format!("bad JSON: {e}"))?;
    let published = raw.published.ok_or("missing field `published`")?;
    let published = crate::article::parse_date("published", &published)?;
    let updated = match raw.updated {
        Some(u) => crate::article::parse_date("updated", &u)?,
        None => published,
    };
    let body = Body::from_fields(raw.content_html, raw.body);
    Article {
        id: raw.id.unwrap_or_default(),
        title: raw.title.unwrap_or_default(),
        summary: raw.summary,
        body,
        authors: raw.authors,
        categories: raw.categories,
        regions: raw.regions,
        published,
        updated,
        url: raw.url,
        image: raw.image,
    }
    .validated()
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id":"a","title":"Tiêu đề","categories":["Kinh tế"],"published":"2020-10-05T16:30:00+07:00"}"#;

    fn parse(bytes: &[u8]) -> Vec<Result<Article, (usize, String)>> {
        super::parse(bytes, &SiteLimits::default())
    }

    #[test]
    fn records_over_a_limit_are_bad_records() {
        let limits = SiteLimits {
            max_names_per_article: 1,
            ..SiteLimits::default()
        };
        let two = GOOD.replace(r#"["Kinh tế"]"#, r#"["Kinh tế","Xã hội"]"#);
        let out = super::parse(format!("{GOOD}\n{two}\n").as_bytes(), &limits);
        assert!(out[0].is_ok());
        let (line, reason) = out[1].as_ref().unwrap_err();
        assert_eq!(*line, 2);
        assert_eq!(
            reason,
            "field `categories`: 2 names, over max_names_per_article = 1"
        );
    }

    #[test]
    fn a_record_too_big_for_any_article_is_refused_unparsed() {
        let limits = SiteLimits {
            max_body_bytes: 10,
            ..SiteLimits::default()
        };
        let big = format!("{{\"junk\":\"{}\"}}", "x".repeat(limits.max_record_bytes()));
        let (line, reason) = super::parse(big.as_bytes(), &limits).remove(0).unwrap_err();
        assert_eq!(line, 1);
        assert!(reason.starts_with("record is "), "{reason}");
    }

    #[test]
    fn blank_lines_are_skipped_and_line_numbers_kept() {
        let input = format!("\n{GOOD}\n   \n{{oops\n");
        let out = parse(input.as_bytes());
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].as_ref().unwrap().id, "a");
        let (line, reason) = out[1].as_ref().unwrap_err();
        assert_eq!(*line, 4);
        assert!(reason.starts_with("bad JSON"), "{reason}");
    }

    #[test]
    fn each_fault_is_named() {
        let cases = [
            (
                r#"{"title":"t","categories":["x"],"published":"2020-10-05T16:30:00+07:00"}"#,
                "missing field `id`",
            ),
            (
                r#"{"id":"a","categories":["x"],"published":"2020-10-05T16:30:00+07:00"}"#,
                "missing field `title`",
            ),
            (
                r#"{"id":"a","title":"t","published":"2020-10-05T16:30:00+07:00"}"#,
                "missing field `categories`",
            ),
            (
                r#"{"id":"a","title":"t","categories":["x"]}"#,
                "missing field `published`",
            ),
            (
                r#"{"id":"a","title":"t","categories":["x"],"published":"2020-10-05 16:30"}"#,
                "field `published`",
            ),
            (
                r#"{"id":"a","title":"t","categories":["x"],"published":"2020-10-05T16:30:00"}"#,
                "field `published`",
            ),
            (
                r#"{"id":"a","title":"t","categories":["x"],"published":"2020-10-05T16:30:00Z","updated":"soon"}"#,
                "field `updated`",
            ),
            (
                r#"{"id":7,"title":"t","categories":["x"],"published":"2020-10-05T16:30:00Z"}"#,
                "bad JSON",
            ),
        ];
        for (line, want) in cases {
            let out = parse(line.as_bytes());
            let reason = &out[0].as_ref().unwrap_err().1;
            assert!(reason.contains(want), "{line}: {reason}");
        }
    }

    #[test]
    fn invalid_utf8_is_reported_and_other_lines_survive() {
        let mut input = b"{\"id\":\"\xff\"}\n".to_vec();
        input.extend_from_slice(GOOD.as_bytes());
        let out = parse(&input);
        assert!(out[0].as_ref().unwrap_err().1.contains("invalid UTF-8"));
        assert!(out[1].is_ok());
    }
}
