//! Text hygiene for everything that reaches a feed.
//!
//! XML 1.0 forbids most C0 controls, and feed readers choke on the rest and on
//! C1 controls and noncharacters, so SPEC has them dropped. Plain text bodies
//! become HTML paragraphs, escaped so the text is shown, never run as markup.
//! The way back, HTML to words, makes the excerpt that stands in for a
//! missing lede.

use std::borrow::Cow;

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

// The passes below run over every byte of every item of every render, so
// they look at bytes, not chars, and copy runs of text whole: building a
// `String` a `char` at a time (encode, grow, push) cost more than the rest
// of a render. A byte that can't start a character of interest is skipped
// at the cost of one table look-up; only the rare bytes that can (ASCII
// controls, and the lead bytes of C1 controls, of non-ASCII whitespace and
// of noncharacters) have their character decoded and classified by the
// same `char` predicates as before, so the passes give exactly what
// `chars().filter(..)` and `split_whitespace()` gave (a property test
// below holds them to it).

/// A table of the bytes in `ranges` (inclusive).
const fn byte_table(ranges: &[(u8, u8)]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut r = 0;
    while r < ranges.len() {
        let (lo, hi) = ranges[r];
        let mut b = lo as usize;
        while b <= hi as usize {
            t[b] = true;
            b += 1;
        }
        r += 1;
    }
    t
}

/// Bytes that may start a character [`is_allowed`] refuses: the ASCII
/// controls but tab, LF and CR, and DEL; `C2` (U+0080..U+009F, the C1
/// controls); `EF` (U+FDD0..U+FDEF, U+FFFE, U+FFFF); `F0`..`F4` (the
/// noncharacters of planes 1 to 16). No continuation byte is in it, so a
/// scan that steps a byte at a time stops only at character boundaries.
const DROPPABLE: [bool; 256] = byte_table(&[
    (0x00, 0x08),
    (0x0B, 0x0C),
    (0x0E, 0x1F),
    (0x7F, 0x7F),
    (0xC2, 0xC2),
    (0xEF, 0xEF),
    (0xF0, 0xF4),
]);

/// [`DROPPABLE`] and the bytes that may start whitespace
/// (`char::is_whitespace`): ASCII space, tab, LF, CR; `C2` (NEL, NBSP),
/// `E1` (U+1680), `E2` (U+2000.., U+2028.., U+205F), `E3` (U+3000).
const SPECIAL: [bool; 256] = byte_table(&[
    (0x00, 0x20),
    (0x7F, 0x7F),
    (0xC2, 0xC2),
    (0xE1, 0xE3),
    (0xEF, 0xEF),
    (0xF0, 0xF4),
]);

/// What a character is to the passes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Kept as it is.
    Keep,
    /// Whitespace (and allowed): separates words.
    Space,
    /// Not allowed in a feed: dropped, separating nothing.
    Drop,
}

/// The class and UTF-8 length of the character at byte `i` of `s`, which
/// must be a character boundary.
fn class_at(s: &str, i: usize) -> (Class, usize) {
    let bytes = s.as_bytes();
    let b = bytes[i];
    match b {
        b' ' | b'\t' | b'\n' | b'\r' => return (Class::Space, 1),
        // Vietnamese letters with two marks (U+1EA0..U+1EF9) lead with E1;
        // the one whitespace there is U+1680, E1 9A 80.
        0xE1 if bytes.get(i + 1) != Some(&0x9A) => return (Class::Keep, 3),
        _ if !SPECIAL[usize::from(b)] => return (Class::Keep, 1),
        _ => {}
    }
    let Some(c) = s[i..].chars().next() else {
        return (Class::Keep, 1);
    };
    let class = if !is_allowed(c) {
        // Before whitespace: VT, FF and NEL are whitespace but dropped,
        // and a dropped character separates nothing.
        Class::Drop
    } else if c.is_whitespace() {
        Class::Space
    } else {
        Class::Keep
    };
    (class, c.len_utf8())
}

/// The next character of `s` from byte `from` on that is not
/// [`Class::Keep`]: its offset, class and length.
fn next_special(s: &str, from: usize) -> Option<(usize, Class, usize)> {
    let bytes = s.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        if SPECIAL[usize::from(bytes[i])] {
            let (class, n) = class_at(s, i);
            if class != Class::Keep {
                return Some((i, class, n));
            }
            i += n;
        } else {
            i += 1;
        }
    }
    None
}

/// The next character of `s` from byte `from` on that is dropped: its
/// offset and length.
fn next_dropped(s: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = s.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        if DROPPABLE[usize::from(bytes[i])]
            && let Some(c) = s[i..].chars().next()
        {
            if !is_allowed(c) {
                return Some((i, c.len_utf8()));
            }
            i += c.len_utf8();
        } else {
            i += 1;
        }
    }
    None
}

/// `s` without the characters a feed must not carry; borrowed when it has
/// none (the usual case).
pub fn clean(s: &str) -> Cow<'_, str> {
    match next_dropped(s, 0) {
        None => Cow::Borrowed(s),
        Some(_) => {
            let mut out = String::with_capacity(s.len());
            clean_into(s, &mut out);
            Cow::Owned(out)
        }
    }
}

/// Append `s` without the characters a feed must not carry.
pub fn clean_into(s: &str, out: &mut String) {
    let mut start = 0;
    while let Some((at, n)) = next_dropped(s, start) {
        out.push_str(&s[start..at]);
        start = at + n;
    }
    out.push_str(&s[start..]);
}

/// `s` cleaned and folded onto one line, handed to `run` in pieces whose
/// concatenation is `clean(s).split_whitespace().join(" ")`. Each piece is
/// a slice of `s` or a `" "` standing for a run of whitespace: text whose
/// words are already one ASCII space apart comes in one piece, so that a
/// caller escaping it does so in one pass.
fn fold_line(s: &str, mut run: impl FnMut(&str)) {
    if is_folded(s) {
        if !s.is_empty() {
            run(s);
        }
        return;
    }
    let bytes = s.as_bytes();
    let len = s.len();
    // The slice of `s` not yet handed over, and whether a word was written.
    let mut pending: Option<(usize, usize)> = None;
    let mut wrote = false;
    // A kept span [a, b) of a word; `new_word` when a word starts with it.
    let mut span = |a: usize, b: usize, new_word: bool| {
        match pending {
            // The single space between two words is the separator itself.
            Some((p, e)) if new_word && a == e + 1 && bytes[e] == b' ' => pending = Some((p, b)),
            _ => {
                if let Some((p, e)) = pending {
                    run(&s[p..e]);
                }
                if new_word && wrote {
                    run(" ");
                }
                pending = Some((a, b));
            }
        }
        wrote = true;
    };
    let mut i = 0;
    while i < len {
        // Skip whitespace (a dropped character there starts a word with
        // no span, which writes nothing).
        while i < len {
            match class_at(s, i) {
                (Class::Space, n) => i += n,
                _ => break,
            }
        }
        if i >= len {
            break;
        }
        // One word: up to the next whitespace or the end, in spans
        // between dropped characters.
        let mut new_word = true;
        let mut start = i;
        let end = loop {
            match next_special(s, i) {
                Some((at, Class::Drop, n)) => {
                    if at > start {
                        span(start, at, new_word);
                        new_word = false;
                    }
                    start = at + n;
                    i = at + n;
                }
                Some((at, _, _)) => break at,
                None => break len,
            }
        };
        if end > start {
            span(start, end, new_word);
        }
        i = end;
    }
    if let Some((p, e)) = pending {
        run(&s[p..e]);
    }
}

/// Whether `s` is one clean line already (what most titles and paragraphs
/// are): no dropped character, and no whitespace but single ASCII spaces
/// between words. One pass, without the bookkeeping of [`fold_line`].
fn is_folded(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.first() == Some(&b' ') || bytes.last() == Some(&b' ') {
        return false;
    }
    let mut after_space = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b' ' {
            if after_space {
                return false;
            }
            after_space = true;
            i += 1;
            continue;
        }
        after_space = false;
        if SPECIAL[usize::from(b)] {
            match class_at(s, i) {
                (Class::Keep, n) => i += n,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

/// `s` cleaned and folded onto one line: for titles, names and other fields
/// that readers show on a single line.
pub fn clean_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_line(s, &mut out);
    out
}

/// Append `s` cleaned and folded onto one line ([`clean_line`]).
pub fn push_line(s: &str, out: &mut String) {
    fold_line(s, |piece| out.push_str(piece));
}

/// The bytes [`escape_html_into`] replaces.
const HTML_SPECIAL: [bool; 256] = byte_table(&[
    (b'&', b'&'),
    (b'<', b'<'),
    (b'>', b'>'),
    (b'"', b'"'),
    (b'\'', b'\''),
]);

/// What replaces a byte of [`HTML_SPECIAL`] in HTML text and attribute
/// values.
fn html_escape(b: u8) -> &'static str {
    match b {
        b'&' => "&amp;",
        b'<' => "&lt;",
        b'>' => "&gt;",
        b'"' => "&quot;",
        _ => "&#39;",
    }
}

/// Escape text for use in HTML content or attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    escape_html_into(s, &mut out);
    out
}

/// Append `s` escaped for HTML content or attribute values.
pub fn escape_html_into(s: &str, out: &mut String) {
    let mut start = 0;
    // The five are ASCII, so every match is a character boundary.
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if HTML_SPECIAL[usize::from(b)] {
            out.push_str(&s[start..i]);
            out.push_str(html_escape(b));
            start = i + 1;
        }
    }
    out.push_str(&s[start..]);
}

/// Each blank-line separated block of `s` (CRLF read as LF), unfolded.
fn for_each_paragraph(s: &str, mut each: impl FnMut(&str)) {
    let s: Cow<'_, str> = if s.contains('\r') {
        Cow::Owned(s.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(s)
    };
    let mut start = 0;
    // Non-overlapping matches, left to right, as `str::split` cuts:
    // `a\n\n\nb` is `a` and `\nb`.
    for at in memchr::memmem::find_iter(s.as_bytes(), b"\n\n") {
        each(&s[start..at]);
        start = at + 2;
    }
    each(&s[start..]);
}

/// A plain text body as HTML: one escaped `<p>` per paragraph.
pub fn paragraphs_to_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 16 + 64);
    push_paragraphs_html(s, &mut out);
    out
}

/// Append a plain text body as HTML ([`paragraphs_to_html`]).
pub fn push_paragraphs_html(s: &str, out: &mut String) {
    let text = clean(s);
    let first = out.len();
    for_each_paragraph(&text, |p| {
        let mark = out.len();
        if mark > first {
            out.push('\n');
        }
        out.push_str("<p>");
        let words = out.len();
        fold_line(p, |piece| escape_html_into(piece, out));
        if out.len() == words {
            // An empty paragraph is no paragraph.
            out.truncate(mark);
        } else {
            out.push_str("</p>");
        }
    });
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
        // The tag ends at the first `>` outside a quoted attribute value
        // (both ASCII: a byte scan stops on character boundaries).
        let mut quoted = false;
        let end = rest
            .bytes()
            .position(|b| {
                if b == b'"' {
                    quoted = !quoted;
                }
                b == b'>' && !quoted
            })
            .map_or(rest.len(), |i| i + 1);
        let tag = rest[1..end].trim_start_matches('/');
        let name_len = tag
            .bytes()
            .position(|b| !b.is_ascii_alphanumeric())
            .unwrap_or(tag.len());
        let name = &tag[..name_len];
        if BREAKING.iter().any(|b| b.eq_ignore_ascii_case(name)) {
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
    use proptest::prelude::*;

    /// The passes as they were written before they worked on bytes: a
    /// `char` at a time. The byte passes must give exactly these bytes.
    mod reference {
        pub fn clean(s: &str) -> String {
            s.chars().filter(|&c| super::is_allowed(c)).collect()
        }

        pub fn clean_line(s: &str) -> String {
            clean(s).split_whitespace().collect::<Vec<_>>().join(" ")
        }

        pub fn escape_html(s: &str) -> String {
            let mut out = String::new();
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

        pub fn paragraphs_to_html(s: &str) -> String {
            let s = clean(s).replace("\r\n", "\n");
            s.split("\n\n")
                .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|p| !p.is_empty())
                .map(|p| format!("<p>{}</p>", escape_html(&p)))
                .collect::<Vec<_>>()
                .join("\n")
        }
    }

    /// Text rich in what the passes treat specially: every kind of
    /// whitespace and dropped character, the HTML specials, CR/LF runs,
    /// Vietnamese, emoji, and any character at all.
    fn tricky_text() -> impl Strategy<Value = String> {
        let special = prop::sample::select(vec![
            ' ',
            '\t',
            '\n',
            '\n',
            '\r',
            '\u{0}',
            '\u{1}',
            '\u{b}',
            '\u{c}',
            '\u{1f}',
            '\u{7f}',
            '\u{80}',
            '\u{85}',
            '\u{1681}',
            '\u{1ea0}',
            '\u{9f}',
            '\u{a0}',
            '\u{a9}',
            '\u{1680}',
            '\u{2000}',
            '\u{200a}',
            '\u{200b}',
            '\u{2028}',
            '\u{2029}',
            '\u{202f}',
            '\u{205f}',
            '\u{3000}',
            '\u{fdd0}',
            '\u{fdef}',
            '\u{fdf0}',
            '\u{fffd}',
            '\u{fffe}',
            '\u{ffff}',
            '\u{1fffe}',
            '\u{1ffff}',
            '\u{10fffe}',
            '\u{10ffff}',
            '\u{1f33e}',
            '&',
            '<',
            '>',
            '"',
            '\'',
            'a',
            'Đ',
            'ệ',
            'ữ',
        ]);
        prop::collection::vec(prop_oneof![4 => special, 1 => any::<char>()], 0..80)
            .prop_map(|v| v.into_iter().collect())
    }

    /// Text that is mostly one clean line already (words one space
    /// apart), with now and then what makes it not: what the fast path of
    /// [`fold_line`] must tell apart.
    fn line_like_text() -> impl Strategy<Value = String> {
        let word = prop::sample::select(vec![
            "a",
            "Đức",
            "Thọ",
            "ệ",
            "“x”",
            "—",
            "…",
            "&",
            "<b>",
            "\u{a0}",
            "\u{1680}",
            "\u{1681}",
            "\u{2028}",
            "\u{3000}",
            "\u{85}",
            "\u{0}",
            "x\ty",
            "\u{fffe}",
            "🌾",
            "\u{1fffe}",
        ]);
        let gap = prop::sample::select(vec![" ", " ", " ", " ", "  ", "\n", ""]);
        prop::collection::vec((word, gap), 0..12)
            .prop_map(|v| v.into_iter().flat_map(|(w, g)| [w, g]).collect::<String>())
    }

    proptest! {
        #[test]
        fn byte_passes_give_what_the_char_passes_gave_on_lines(s in line_like_text()) {
            prop_assert_eq!(clean_line(&s), reference::clean_line(&s));
            prop_assert_eq!(paragraphs_to_html(&s), reference::paragraphs_to_html(&s));
            let trimmed = s.trim_end_matches(char::is_whitespace);
            prop_assert_eq!(clean_line(trimmed), reference::clean_line(trimmed));
        }

        #[test]
        fn byte_passes_give_what_the_char_passes_gave(s in tricky_text()) {
            prop_assert_eq!(clean(&s), reference::clean(&s));
            prop_assert_eq!(clean_line(&s), reference::clean_line(&s));
            prop_assert_eq!(escape_html(&s), reference::escape_html(&s));
            prop_assert_eq!(paragraphs_to_html(&s), reference::paragraphs_to_html(&s));
        }
    }

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
        // What the fast path takes as it is, and what it leaves to the
        // full pass.
        assert!(is_folded("Đức Thọ 🌾 “x” — ề"));
        for not in [
            "a  b",
            " a",
            "a ",
            "a\u{a0}b",
            "a\u{0}b",
            "a\nb",
            "a\u{1680}b",
        ] {
            assert!(!is_folded(not), "{not:?}");
        }
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
