//! Text hygiene for everything that reaches a feed.
//!
//! XML 1.0 forbids most C0 controls, and feed readers choke on the rest and on
//! C1 controls and noncharacters, so SPEC has them dropped. Plain text bodies
//! become HTML paragraphs, escaped so the text is shown, never run as markup.

/// Whether a character may appear in a feed. Tab, LF and CR stay; every other
/// control character and every Unicode noncharacter goes.
fn is_allowed(c: char) -> bool {
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
}
