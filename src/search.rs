//! Keyword feeds (SPEC "Keyword feeds"): how a query becomes the words an
//! article must contain. Words are runs of letters and digits; case, tone
//! marks and `đ`/`Đ` are folded (`Bão lũ` → `bao lu`), as the stores fold
//! the text they index (SQLite's FTS5 `unicode61 remove_diacritics 2` after
//! replacing `đ`; PostgreSQL's `bantin_fold`), so the same words match.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use unicode_normalization::UnicodeNormalization;

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

/// The distinct folded words of a query, in the order first given; empty
/// when it has none.
pub fn words(query: &str) -> Vec<String> {
    let folded = fold(query);
    let mut out: Vec<String> = Vec::new();
    for word in folded.split(|c: char| !c.is_alphanumeric()) {
        if !word.is_empty() && !out.iter().any(|w| w == word) && out.len() < MAX_WORDS {
            out.push(word.to_string());
        }
    }
    out
}

/// Whether an article holds every one of `words` (folded) in its title,
/// summary or body (the text of its HTML, markup left out). The stores'
/// indexes find candidates; this decides, so that both stores give the same
/// feed whatever their tokenizers make of markup.
pub fn matches(article: &crate::article::Article, words: &[&str]) -> bool {
    use crate::article::Body;
    let mut missing: Vec<&str> = words.to_vec();
    let mut look = |text: &str| {
        if !missing.is_empty() {
            let folded = fold(text);
            for word in folded.split(|c: char| !c.is_alphanumeric()) {
                missing.retain(|w| *w != word);
                if missing.is_empty() {
                    break;
                }
            }
        }
    };
    // Cheapest first: most matches are found before the body.
    look(&article.title);
    look(article.summary.as_deref().unwrap_or(""));
    match &article.body {
        Body::None => {}
        Body::Text(t) => look(t),
        Body::Html(h) => look(&crate::text::html_text(h)),
    }
    missing.is_empty()
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
        assert_eq!(words("covid-19"), ["covid", "19"]);
        assert!(words("—…").is_empty());
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
        assert_eq!(parse_query(None), Err(QueryError::NoWord));
        assert_eq!(parse_query(Some("q=%20-%20")), Err(QueryError::NoWord));
        assert_eq!(parse_query(Some("q=%FF")), Err(QueryError::NotUtf8));
        let long = format!("q={}", "a".repeat(201));
        assert_eq!(parse_query(Some(&long)), Err(QueryError::TooLong));
    }
}
