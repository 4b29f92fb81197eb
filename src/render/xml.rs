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

use memchr::memmem;

/// `xml` with `&amp;`, `&lt;` and `&gt;` written `&#x26;`, `&#x3C;` and
/// `&#x3E;`, except inside CDATA sections (whose text is literal) and inside
/// elements named `skip` (Atom's `content`: escaped HTML, not plain text,
/// where the longer references would only add bytes).
pub(super) fn hex_refs(xml: &[u8], skip: Option<&str>) -> Vec<u8> {
    let skip_open = skip.map(|s| format!("<{s}"));
    let skip_close = skip.map(|s| format!("</{s}>"));
    let mut out = Vec::with_capacity(xml.len() + xml.len() / 32);
    let mut rest = xml;
    // Jump from one `&` or `<` to the next: everything between is copied.
    while let Some(at) = memchr::memchr2(b'&', b'<', rest) {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at..];
        if rest[0] == b'<' {
            let verbatim_until = if rest.starts_with(b"<![CDATA[") {
                memmem::find(rest, b"]]>").map(|e| e + 3)
            } else if let (Some(open), Some(close)) = (&skip_open, &skip_close)
                && rest.starts_with(open.as_bytes())
                && matches!(rest.get(open.len()), Some(b' ' | b'>'))
            {
                memmem::find(rest, close.as_bytes()).map(|e| e + close.len())
            } else {
                None
            };
            let n = verbatim_until.unwrap_or(1);
            out.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            continue;
        }
        let (with, n): (&[u8], usize) = if rest.starts_with(b"&amp;") {
            (b"&#x26;", 5)
        } else if rest.starts_with(b"&lt;") {
            (b"&#x3C;", 4)
        } else if rest.starts_with(b"&gt;") {
            (b"&#x3E;", 4)
        } else {
            (b"&", 1)
        };
        out.extend_from_slice(with);
        rest = &rest[n..];
    }
    out.extend_from_slice(rest);
    out
}

/// `xml` with every element named in `names` that holds only whitespace
/// written as an empty-element tag: `<a x="1">\n  </a>` becomes
/// `<a x="1"/>`. The `rss` crate writes extension elements as a start and an
/// end tag, which its pretty printer puts on two lines; Media RSS and the
/// feed-history `<fh:archive/>` are empty elements, and read best as such.
/// Exact on quick-xml's output, which escapes `>` in attribute values.
pub(super) fn collapse_empty(xml: Vec<u8>, names: &[&str]) -> Vec<u8> {
    let mut xml = xml;
    for name in names {
        let open = format!("<{name}");
        let close = format!("</{name}>");
        let finder = memmem::Finder::new(open.as_bytes());
        if finder.find(&xml).is_none() {
            continue;
        }
        let mut out = Vec::with_capacity(xml.len());
        let mut rest = &xml[..];
        while let Some(at) = finder.find(rest) {
            let after_name = at + open.len();
            let is_tag = matches!(rest.get(after_name), Some(b' ' | b'>'));
            let gt = memchr::memchr(b'>', &rest[after_name..]);
            let collapsed = match gt {
                Some(gt) if is_tag && rest[after_name + gt - 1] != b'/' => {
                    let inner_start = after_name + gt + 1;
                    let ws = rest[inner_start..]
                        .iter()
                        .take_while(|b| b.is_ascii_whitespace())
                        .count();
                    rest[inner_start + ws..]
                        .starts_with(close.as_bytes())
                        .then_some((after_name + gt, inner_start + ws + close.len()))
                }
                _ => None,
            };
            match collapsed {
                Some((gt, end)) => {
                    out.extend_from_slice(&rest[..gt]);
                    out.extend_from_slice(b"/>");
                    rest = &rest[end..];
                }
                None => {
                    out.extend_from_slice(&rest[..after_name]);
                    rest = &rest[after_name..];
                }
            }
        }
        out.extend_from_slice(rest);
        xml = out;
    }
    xml
}

/// `xml` with `insert` placed just before the first occurrence of the first
/// of `markers` that occurs; unchanged if none does.
pub(super) fn insert_before(xml: Vec<u8>, markers: &[&[u8]], insert: &[u8]) -> Vec<u8> {
    let Some(at) = markers.iter().find_map(|m| memmem::find(&xml, m)) else {
        return xml;
    };
    let mut out = Vec::with_capacity(xml.len() + insert.len());
    out.extend_from_slice(&xml[..at]);
    out.extend_from_slice(insert);
    out.extend_from_slice(&xml[at..]);
    out
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
    fn empty_extension_elements_become_empty_element_tags() {
        let xml = "<i><m:c a=\"1\" b=\"x&gt;y\">\n  </m:c><m:cc>\n</m:cc><m:c>t</m:c><m:c/><m:t u=\"2\"></m:t></i>";
        let out = super::collapse_empty(xml.as_bytes().to_vec(), &["m:c", "m:t"]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<i><m:c a=\"1\" b=\"x&gt;y\"/><m:cc>\n</m:cc><m:c>t</m:c><m:c/><m:t u=\"2\"/></i>"
        );
    }

    #[test]
    fn insertion_goes_before_the_first_marker_found() {
        let xml = b"<f>\n  <e>1</e>\n  <e>2</e>\n</f>".to_vec();
        let out = super::insert_before(xml.clone(), &[b"\n  <e>", b"\n</f>"], b"\n  <x/>");
        assert_eq!(out, b"<f>\n  <x/>\n  <e>1</e>\n  <e>2</e>\n</f>");
        let out =
            super::insert_before(b"<f>\n</f>".to_vec(), &[b"\n  <e>", b"\n</f>"], b"\n  <x/>");
        assert_eq!(out, b"<f>\n  <x/>\n</f>");
        assert_eq!(super::insert_before(xml.clone(), &[b"<z>"], b"<x/>"), xml);
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
