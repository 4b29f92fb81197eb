//! Text hygiene for everything that reaches a feed.
//!
//! XML 1.0 forbids most C0 controls, and feed readers choke on the rest and on
//! C1 controls and noncharacters, so SPEC has them dropped. Plain text bodies
//! become HTML paragraphs, escaped so the text is shown, never run as markup.
//! The way back, HTML to words, makes the excerpt that stands in for a
//! missing lede.

/// Whether a character may appear in a feed. Tab, LF and CR stay; every other
/// control character and every Unicode noncharacter goes.
pub(crate) fn is_allowed(c: char) -> bool {
    if matches!(c, '\t' | '\n' | '\r') {
        return true;
    }
    if c.is_control() {
        return false;
    }
    let cp = c as u32;
    // Noncharacters: U+FDD0..U+FDEF and the last two code points of every plane.
    !((0xFDD0..=0xFDEF).contains(&cp) || (cp & 0xFFFE) == 0xFFFE)
}

/// `s` without the characters a feed must not carry.
pub fn clean(s: &str) -> String {
    s.chars().filter(|&c| is_allowed(c)).collect()
}

/// `s` cleaned and folded onto one line: for titles, names and other fields
/// that readers show on a single line.
pub fn clean_line(s: &str) -> String {
    clean(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escape text for use in HTML content or attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The paragraphs of a plain text: blank-line separated, each trimmed, with
/// its inner line breaks folded to spaces.
pub fn paragraphs(s: &str) -> Vec<String> {
    let s = s.replace("\r\n", "\n");
    s.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect()
}

/// A plain text body as HTML: one escaped `<p>` per paragraph.
pub fn paragraphs_to_html(s: &str) -> String {
    paragraphs(&clean(s))
        .iter()
        .map(|p| format!("<p>{}</p>", escape_html(p)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The words of an excerpt, as WordPress's `wp_trim_excerpt` counts them:
/// enough for a teaser (about 250 characters of Vietnamese, whose words are
/// syllables), far below any summary limit.
pub const EXCERPT_WORDS: usize = 55;

/// The first [`EXCERPT_WORDS`] words of `text`, whitespace folded, with `…`
/// when words were left out; `None` when `text` has no word.
pub fn excerpt(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    let mut out = String::new();
    for w in words.by_ref().take(EXCERPT_WORDS) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    if out.is_empty() {
        return None;
    }
    if words.next().is_some() {
        out.push('…');
    }
    Some(out)
}

/// Elements that end a line of text: their boundaries become spaces, so
/// `<p>a</p><p>b</p>` reads "a b", not "ab".
const BREAKING: &[&str] = &[
    "address",
    "article",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// The text of HTML as serialized by `ammonia` (html5ever) or
/// [`paragraphs_to_html`]: tags dropped (block boundaries become spaces),
/// character references decoded, whitespace folded. Not a general HTML
/// parser: it relies on what those serializers guarantee, that `<` in text
/// is always escaped and attribute values are double-quoted.
pub fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        decode_into(&rest[..lt], &mut out);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        // The tag ends at the first `>` outside a quoted attribute value.
        let mut quoted = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == '>' && !quoted
            })
            .map_or(rest.len(), |(i, _)| i + 1);
        let name: String = rest[1..end]
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if BREAKING.contains(&name.as_str()) {
            out.push(' ');
        }
        rest = &rest[end..];
    }
    decode_into(rest, &mut out);
    clean_line(&out)
}

/// Append `text` with its character references decoded: the named ones the
/// serializers write and any numeric one. Anything else stays as written.
fn decode_into(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let name = &rest[1..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => name.strip_prefix('#').and_then(|d| d.parse().ok()),
                    };
                    code.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_noncharacters_are_dropped_but_newlines_stay() {
        assert_eq!(
            clean("a\u{0}b\u{1b}c\u{7f}d\u{85}e\u{fffe}f\u{1fffe}g\n\th"),
            "abcdefg\n\th"
        );
    }

    #[test]
    fn vietnamese_and_emoji_survive() {
        let s = "Hà Tĩnh 🌾 — “đẹp”";
        assert_eq!(clean(s), s);
    }

    #[test]
    fn plain_paragraphs_are_escaped_not_interpreted() {
        let html = paragraphs_to_html("a < b & <script>x</script>\n\n\nsecond\nline");
        assert_eq!(
            html,
            "<p>a &lt; b &amp; &lt;script&gt;x&lt;/script&gt;</p>\n<p>second line</p>"
        );
    }

    #[test]
    fn clean_line_folds_whitespace() {
        assert_eq!(clean_line("  a\n b\tc  "), "a b c");
    }

    #[test]
    fn html_text_drops_tags_decodes_references_and_separates_blocks() {
        let html = "<p>a &lt; b &amp;&amp; <b>đậm</b></p><p>x<br>y &#39;z&#39; &#x1F33E; &nbsp;q</p>\
                    <a href=\"https://e.x/?a=1&amp;b=>\" title=\"x>y\">link</a><!-- c > d --> end &bogus; &";
        assert_eq!(
            html_text(html),
            "a < b && đậm x y 'z' 🌾 q link end &bogus; &"
        );
        assert_eq!(
            html_text(&paragraphs_to_html("one\n\ntwo <3")),
            "one two <3"
        );
        assert_eq!(
            html_text("<figure><img src=\"i.jpg\" alt=\"\"></figure>"),
            ""
        );
    }

    #[test]
    fn excerpts_stop_at_a_word_limit_and_say_so() {
        assert_eq!(excerpt("  "), None);
        assert_eq!(excerpt(" a\n b ").as_deref(), Some("a b"));
        let long: Vec<String> = (0..EXCERPT_WORDS + 1).map(|i| i.to_string()).collect();
        let cut = excerpt(&long.join(" ")).unwrap();
        assert!(cut.ends_with(&format!("{}…", EXCERPT_WORDS - 1)), "{cut}");
        let exact = excerpt(&long[..EXCERPT_WORDS].join(" ")).unwrap();
        assert!(!exact.ends_with('…'), "{exact}");
    }
}
