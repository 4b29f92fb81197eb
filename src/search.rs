//! Keyword feeds (SPEC "Keyword feeds"): how a query becomes the words an
//! article must contain. Words are runs of letters and digits; case, tone
//! marks and `đ`/`Đ` are folded (`Bão lũ` → `bao lu`), as the stores fold
//! the text they index (SQLite's FTS5 `unicode61 remove_diacritics 2` after
//! replacing `đ`; PostgreSQL's `bantin_fold`), so the same words match.
//!
//! Only the text a reader sees counts ([`visible_body`]): the stores index
//! it and [`matches`] checks it, so the index offers no candidate the check
//! then refuses (a word of markup, `jpg` or `href`, would otherwise offer
//! every article with an image or a link, each read and refused). Whatever
//! is left of such mismatches, a keyword feed's [`Budget`] bounds what one
//! costs.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::borrow::Cow;
use std::time::Duration;

use unicode_normalization::UnicodeNormalization;

use crate::article::Body;

/// SPEC: a query over this many bytes gets 414.
pub const MAX_QUERY_BYTES: usize = 200;

/// At most this many words count in a query (more only narrow a feed that
/// is already narrow, and cost a lookup each).
pub const MAX_WORDS: usize = 16;

/// `text` folded: lower case, marks removed, `đ` → `d`.
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The distinct folded words of a query, in byte order (SPEC: queries with
/// the same words in any order are one feed), at most [`MAX_WORDS`] of
/// them (the first in that order, so the order given never matters);
/// empty when it has none.
pub fn words(query: &str) -> Vec<String> {
    let folded = fold(query);
    let mut out: Vec<String> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    out.sort_unstable();
    out.dedup();
    out.truncate(MAX_WORDS);
    out
}

/// The text of a body a reader sees: a plain body as written, HTML without
/// its markup (tags, attribute names and values, comments: `src/text.rs`'s
/// `html_text`). What the keyword indexes hold, after the title and
/// summary, and what [`matches`] reads.
pub fn visible_body(body: &Body) -> Cow<'_, str> {
    match body {
        Body::None => Cow::Borrowed(""),
        Body::Text(t) => Cow::Borrowed(t),
        Body::Html(h) => Cow::Owned(crate::text::html_text(h)),
    }
}

/// What one keyword feed may cost the store before it is answered with
/// the matches found so far (a valid feed like any other, cached until the
/// next write): a query whose words the index offers but the text refuses,
/// or whose common words never meet, would otherwise read its way through
/// the whole store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Candidate rows read (and checked against [`matches`]), all rounds
    /// together.
    pub rows: usize,
    /// Time spent in the store's statements. SQLite keeps the matches its
    /// index walk met before the time ran out, and so does PostgreSQL's
    /// walk of the newest articles for words it keeps out of its index
    /// (it looks at the time between windows of 5,000 rows); any other
    /// statement stopped past it counts for nothing, the rounds before it
    /// do.
    pub time: Duration,
}

impl Default for Budget {
    /// 5,000 rows (a feed of 50 reads about 60 when the index and the text
    /// agree) and 100 ms (the common queries take 10-40 ms at a million
    /// articles; 16 words that seldom meet took 195 ms before this bound).
    fn default() -> Budget {
        Budget {
            rows: 5_000,
            time: Duration::from_millis(100),
        }
    }
}

/// Whether an article holds every one of `words` (folded) in its title,
/// summary or body ([`visible_body`]). The stores' indexes find candidates;
/// this decides, so that both stores give the same feed whatever their
/// tokenizers make of the text.
pub fn matches(article: &crate::article::Article, words: &[&str]) -> bool {
    if words.is_empty() {
        return true;
    }
    let mut missing: Vec<&str> = words.to_vec();
    // Whether every word is found once `text` is read.
    let mut look = |text: &str| {
        let folded = fold(text);
        for word in folded.split(|c: char| !c.is_alphanumeric()) {
            missing.retain(|w| *w != word);
            if missing.is_empty() {
                break;
            }
        }
        missing.is_empty()
    };
    // Cheapest first: most matches are found before the body.
    look(&article.title)
        || look(article.summary.as_deref().unwrap_or(""))
        || look(&visible_body(&article.body))
}

/// Why a query is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// No `q`, or no letter or digit in it: 400.
    #[error("the query has no word")]
    NoWord,
    /// Over [`MAX_QUERY_BYTES`]: 414.
    #[error("the query is over {MAX_QUERY_BYTES} bytes")]
    TooLong,
    /// Not UTF-8 once percent-decoded: 400.
    #[error("the query is not UTF-8")]
    NotUtf8,
}

/// The words of a URL query string's `q` parameter
/// (`application/x-www-form-urlencoded`: `+` is a space).
pub fn parse_query(query: Option<&str>) -> Result<Vec<String>, QueryError> {
    let Some(q) = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("q="))
    else {
        return Err(QueryError::NoWord);
    };
    let spaced = q.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map_err(|_| QueryError::NotUtf8)?;
    if decoded.len() > MAX_QUERY_BYTES {
        return Err(QueryError::TooLong);
    }
    let words = words(&decoded);
    if words.is_empty() {
        return Err(QueryError::NoWord);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_tone_marks_and_d_fold_away() {
        assert_eq!(fold("Bão lũ ĐỨC THỌ"), "bao lu duc tho");
        assert_eq!(words("  bão, LŨ!! bão "), ["bao", "lu"]);
        // A set: any order, any repeats, the same words.
        assert_eq!(words("lu BAO lũ"), ["bao", "lu"]);
        let many: Vec<String> = (0..20).map(|i| format!("w{i:02}")).collect();
        let mut reversed = many.clone();
        reversed.reverse();
        assert_eq!(words(&many.join(" ")), words(&reversed.join(" ")));
        assert_eq!(words(&many.join(" ")).len(), MAX_WORDS);
        assert_eq!(words("covid-19"), ["19", "covid"]);
        assert!(words("—…").is_empty());
    }

    #[test]
    fn markup_is_not_visible_text() {
        use crate::article::{Article, Body};
        let html = Body::Html(
            "<p class=\"lead\">Bão <a href=\"https://cdn.baohatinh.vn/a.jpg\">vào</a> \
             Hà&nbsp;Tĩnh</p><figure><img src=\"x.jpg\"></figure>"
                .into(),
        );
        assert_eq!(visible_body(&html), "Bão vào Hà Tĩnh");
        let t = chrono::DateTime::parse_from_rfc3339("2020-10-05T16:30:00+07:00").unwrap();
        let a = Article {
            id: "a".into(),
            title: "Tin".into(),
            summary: None,
            body: html,
            authors: vec![],
            categories: vec!["Xã hội".into()],
            regions: vec![],
            published: t,
            updated: t,
            url: None,
            image: None,
        };
        for word in ["bao", "vao", "ha", "tinh"] {
            assert!(matches(&a, &[word]), "{word}");
        }
        for word in [
            "class",
            "lead",
            "href",
            "https",
            "cdn",
            "baohatinh",
            "jpg",
            "img",
            "src",
        ] {
            assert!(!matches(&a, &[word]), "{word}");
        }
    }

    #[test]
    fn queries_parse_like_forms() {
        assert_eq!(
            parse_query(Some("q=b%C3%A3o+l%C5%A9")),
            Ok(vec!["bao".into(), "lu".into()])
        );
        assert_eq!(
            parse_query(Some("x=1&q=Kinh%20t%E1%BA%BF")).unwrap(),
            ["kinh", "te"]
        );
        assert_eq!(
            parse_query(Some("q=t%E1%BA%BF+Kinh")).unwrap(),
            ["kinh", "te"]
        );
        assert_eq!(parse_query(None), Err(QueryError::NoWord));
        assert_eq!(parse_query(Some("q=%20-%20")), Err(QueryError::NoWord));
        assert_eq!(parse_query(Some("q=%FF")), Err(QueryError::NotUtf8));
        let long = format!("q={}", "a".repeat(201));
        assert_eq!(parse_query(Some(&long)), Err(QueryError::TooLong));
    }
}
