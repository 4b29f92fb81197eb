//! Character references in the XML we write, as the RSS Best Practices
//! Profile asks (<https://www.rssboard.org/rss-profile#data-types-characterdata>):
//! "A publisher should encode `&` and `<` in plain text using hexadecimal
//! character references", `&#x3E;` for `>` likewise.
//!
//! Plain text in RSS (`title`, `category`, `dc:creator`, the channel's
//! `description`) can't say whether it holds HTML, so readers guess; a
//! hexadecimal reference tells them it is a character, not markup, and the
//! W3C validator warns about named ones (`CharacterData`, or
//! `ContainsUndeclaredHTML` for Atom text holding something like `&amp;`).
//! The `rss` and `atom_syndication` crates write through quick-xml, which
//! escapes with named entities and has no hook to change that, so this pass
//! rewrites their output. It is exact on what they write: outside CDATA
//! sections (and the element named `skip`) a `&` in their output only ever
//! starts a reference they made, and a character reference means the same
//! character to every XML parser as the entity it replaces.

/// `xml` with `&amp;`, `&lt;` and `&gt;` written `&#x26;`, `&#x3C;` and
/// `&#x3E;`, except inside CDATA sections (whose text is literal) and inside
/// elements named `skip` (Atom's `content`: escaped HTML, not plain text,
/// where the longer references would only add bytes).
pub(super) fn hex_refs(xml: &[u8], skip: Option<&str>) -> Vec<u8> {
    const CDATA: &[u8] = b"<![CDATA[";
    let skip_open = skip.map(|s| format!("<{s}"));
    let skip_close = skip.map(|s| format!("</{s}>"));
    let mut out = Vec::with_capacity(xml.len() + xml.len() / 32);
    let mut i = 0;
    while i < xml.len() {
        let rest = &xml[i..];
        let verbatim_until = if rest.starts_with(CDATA) {
            find(rest, b"]]>").map(|e| e + 3)
        } else if let (Some(open), Some(close)) = (&skip_open, &skip_close)
            && rest.starts_with(open.as_bytes())
            && matches!(rest.get(open.len()), Some(b' ' | b'>'))
        {
            find(rest, close.as_bytes()).map(|e| e + close.len())
        } else {
            None
        };
        if let Some(n) = verbatim_until {
            out.extend_from_slice(&rest[..n]);
            i += n;
            continue;
        }
        let replaced: Option<(&[u8], usize)> = if rest.starts_with(b"&amp;") {
            Some((b"&#x26;", 5))
        } else if rest.starts_with(b"&lt;") {
            Some((b"&#x3C;", 4))
        } else if rest.starts_with(b"&gt;") {
            Some((b"&#x3E;", 4))
        } else {
            None
        };
        match replaced {
            Some((with, n)) => {
                out.extend_from_slice(with);
                i += n;
            }
            None => {
                out.push(xml[i]);
                i += 1;
            }
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::hex_refs;

    fn run(xml: &str, skip: Option<&str>) -> String {
        String::from_utf8(hex_refs(xml.as_bytes(), skip)).unwrap()
    }

    #[test]
    fn named_references_become_hexadecimal_outside_cdata() {
        assert_eq!(
            run(
                "<t a=\"x&amp;y\">a &amp; b &lt;c&gt; &quot;</t><d><![CDATA[&amp; &lt;]]><![CDATA[]]]]><![CDATA[>]]></d>",
                None
            ),
            "<t a=\"x&#x26;y\">a &#x26; b &#x3C;c&#x3E; &quot;</t><d><![CDATA[&amp; &lt;]]><![CDATA[]]]]><![CDATA[>]]></d>"
        );
    }

    #[test]
    fn the_skipped_element_keeps_its_references() {
        assert_eq!(
            run(
                "<title>&lt;</title><content type=\"html\">&lt;p&gt;</content><contentx>&lt;</contentx>",
                Some("content")
            ),
            "<title>&#x3C;</title><content type=\"html\">&lt;p&gt;</content><contentx>&#x3C;</contentx>"
        );
    }

    #[test]
    fn the_parsed_text_is_unchanged() {
        let xml = "<r><t>a &amp; &lt;b&gt; ]]&gt; 🌾</t><c><![CDATA[&lt;]]></c></r>";
        let text = |s: &str| {
            let doc = roxmltree::Document::parse(s).unwrap();
            doc.descendants()
                .filter_map(|n| n.text())
                .collect::<Vec<_>>()
                .join("|")
        };
        assert_eq!(text(&run(xml, None)), text(xml));
    }
}
