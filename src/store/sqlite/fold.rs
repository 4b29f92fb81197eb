//! The text bantin's SQLite writer gives the keyword index for an article it
//! inserts (migration 5), instead of the insert trigger's.
//!
//! The trigger gives FTS5 the article's text (`title`, `summary`, then
//! `content_html` or else `body`, `đ`/`Đ` replaced by `d`/`D`), and FTS5's
//! `unicode61` tokenizer then looks up, for every character that is not
//! ASCII, its class, its lowercase and its letter without marks: most of
//! the cost of a big import. [`Folder`] gives FTS5 the same text with those
//! lookups made already wherever their answer is an ASCII letter or digit
//! (`Đường` → `duong`): the same tokens in the same order (so the same
//! index, token counts included, and the triggers' later `delete` of the
//! whole text removes exactly them), tokenized on FTS5's ASCII fast path.
//!
//! What a character becomes is not guessed: each one is asked of FTS5
//! itself, once, on a private in-memory table with the index's tokenizer. A
//! character is replaced only when FTS5 folds it to one ASCII letter or
//! digit both at the start and in the middle of a word (so it is a word
//! character wherever it stands); every other character (separators,
//! combining marks, letters of other scripts) is left for FTS5 to handle
//! as it would have. ASCII letters are lowercased, runs of other ASCII
//! characters (all separators) become one space.

use std::collections::HashMap;

use rusqlite::{Connection, params};

/// The keyword index's tokenizer (migrations 4 and 10); the probe table
/// uses it.
pub(crate) const TOKENIZER: &str = "unicode61 remove_diacritics 2";

/// Code points below this are looked up in a table (every Latin letter
/// with marks, Vietnamese included, is below U+1F00); the rest in a map.
const NEAR: usize = 0x2000;

/// Not asked yet.
const UNKNOWN: u8 = 0;
/// Left for FTS5.
const KEEP: u8 = 1;

/// Makes the text for new articles, remembering what each character folds
/// to.
pub(crate) struct Folder {
    probe: Connection,
    /// Per code point below [`NEAR`]: [`UNKNOWN`], [`KEEP`], or the ASCII
    /// byte it folds to.
    near: Vec<u8>,
    far: HashMap<char, u8>,
}

impl Folder {
    /// A folder with its probe table.
    pub(crate) fn new() -> Result<Folder, rusqlite::Error> {
        let probe = Connection::open_in_memory()?;
        probe.execute_batch(&format!(
            "CREATE VIRTUAL TABLE probe USING fts5(w, content='', detail=none, tokenize='{TOKENIZER}');
             CREATE VIRTUAL TABLE probe_words USING fts5vocab(probe, row);"
        ))?;
        Ok(Folder {
            probe,
            near: vec![UNKNOWN; NEAR],
            far: HashMap::new(),
        })
    }

    /// The text FTS5 is given for `title`, `summary` and the body text (the
    /// HTML if any, else the plain body), as the trigger joins them.
    pub(crate) fn text(&mut self, parts: &[&str]) -> Result<String, rusqlite::Error> {
        let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
        for (i, part) in parts.iter().enumerate() {
            if i > 0 && !out.ends_with(' ') {
                out.push(' ');
            }
            self.fold_into(part, &mut out)?;
        }
        Ok(out)
    }

    fn fold_into(&mut self, part: &str, out: &mut String) -> Result<(), rusqlite::Error> {
        for c in part.chars() {
            if c.is_ascii() {
                if c.is_ascii_alphanumeric() {
                    out.push(c.to_ascii_lowercase());
                } else if !out.ends_with(' ') {
                    out.push(' ');
                }
                continue;
            }
            // The trigger's replacements, made before FTS5 sees the text.
            if c == 'đ' || c == 'Đ' {
                out.push('d');
                continue;
            }
            match self.fold_of(c)? {
                KEEP => out.push(c),
                b => out.push(char::from(b)),
            }
        }
        Ok(())
    }

    /// What `c` (not ASCII) becomes: an ASCII byte, or [`KEEP`].
    fn fold_of(&mut self, c: char) -> Result<u8, rusqlite::Error> {
        let cp = c as usize;
        let known = match self.near.get(cp) {
            Some(&b) => b,
            None => self.far.get(&c).copied().unwrap_or(UNKNOWN),
        };
        if known != UNKNOWN {
            return Ok(known);
        }
        let b = self.ask(c)?;
        match self.near.get_mut(cp) {
            Some(slot) => *slot = b,
            None => {
                self.far.insert(c, b);
            }
        }
        Ok(b)
    }

    /// Ask FTS5 what `c` becomes at the start and in the middle of a word.
    fn ask(&self, c: char) -> Result<u8, rusqlite::Error> {
        self.probe.execute(
            "INSERT INTO probe (rowid, w) VALUES (1, ?1)",
            params![format!("q{c}q {c}z")],
        )?;
        let words: Vec<String> = self
            .probe
            .prepare_cached("SELECT term FROM probe_words ORDER BY term")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        self.probe
            .execute("INSERT INTO probe (probe) VALUES ('delete-all')", [])?;
        // Folded to one ASCII letter or digit `x` in both places: the words
        // are `qxq` and `xz`, nothing else.
        let folded = words.iter().find_map(|w| {
            let b = w.as_bytes();
            (b.len() == 2 && b.get(1) == Some(&b'z')).then(|| b.first().copied())?
        });
        Ok(match folded {
            Some(x)
                if x.is_ascii_alphanumeric()
                    && words.len() == 2
                    && words.iter().any(|w| w.as_bytes() == [b'q', x, b'q']) =>
            {
                x
            }
            _ => KEEP,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each text's tokens as FTS5 makes them, in order.
    fn tokens(texts: &[String]) -> Vec<Vec<String>> {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE s USING fts5(w, detail=full, tokenize='{TOKENIZER}');
             CREATE VIRTUAL TABLE v USING fts5vocab(s, instance);"
        ))
        .unwrap();
        for (i, t) in texts.iter().enumerate() {
            conn.execute(
                "INSERT INTO s (rowid, w) VALUES (?1, ?2)",
                params![i as i64 + 1, t],
            )
            .unwrap();
        }
        (1..=texts.len() as i64)
            .map(|doc| {
                conn.prepare("SELECT term FROM v WHERE doc = ?1 ORDER BY offset")
                    .unwrap()
                    .query_map([doc], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            })
            .collect()
    }

    /// The text the insert trigger hands FTS5 (migration 4's expression,
    /// evaluated by SQLite itself).
    fn trigger_text(parts: &[&str; 3]) -> String {
        Connection::open_in_memory()
            .unwrap()
            .query_row(
                "SELECT replace(replace(?1 || ' ' || ?2 || ' ' || ?3, 'đ', 'd'), 'Đ', 'D')",
                params![parts[0], parts[1], parts[2]],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// Migration 5's claim: FTS5 makes the same tokens, in the same order,
    /// of the folder's text as of the trigger's.
    fn assert_same_tokens(folder: &mut Folder, parts: [&str; 3]) {
        let whole = trigger_text(&parts);
        let folded = folder.text(&parts).unwrap();
        let t = tokens(&[whole.clone(), folded.clone()]);
        assert_eq!(
            t[0], t[1],
            "{parts:?}\nwhole: {whole:?}\nfolded: {folded:?}"
        );
    }

    #[test]
    fn the_folded_text_gives_fts5_the_tokens_of_the_whole_text() {
        let mut f = Folder::new().unwrap();
        assert_same_tokens(
            &mut f,
            [
                "Đức Thọ: ĐƯỜNG lũ, bão số 3!",
                "Quốc phòng - An ninh; quốc phòng (an ninh) Quốc Phòng.",
                "<p>Hà&nbsp;Tĩnh <a href=\"https://x.vn/a_b?c=1&amp;d\">đường 1A</a></p>\n\nĐường",
            ],
        );
        // Decomposed marks, other scripts, symbols, control characters.
        assert_same_tokens(
            &mut f,
            [
                "Đu\u{31b}\u{301}c Tho\u{323} İstanbul ǅemal ß Straße Æsir œuvre ĳ",
                "日本語のテキスト 한국어 Ελληνικά ΣΊΣΥΦΟΣ русский ЙОД",
                "a\u{a0}b\u{2014}c\u{2019}d 1\u{2009}000 x²³ ½ ① 🇻🇳 e\u{200d}f \u{1}\u{7f}g\u{85}h \u{301}x",
            ],
        );
        assert_same_tokens(&mut f, ["", "", ""]);
        assert_same_tokens(&mut f, ["đ", "Đ", "đĐđ ĐđĐ"]);
    }

    #[test]
    fn vietnamese_folds_to_ascii() {
        let mut f = Folder::new().unwrap();
        assert_eq!(
            f.text(&["Đường ĐƯỜNG", "Hà-Tĩnh", "Nông nghiệp"]).unwrap(),
            "duong duong ha tinh nong nghiep"
        );
        // Letters FTS5 folds to something else than ASCII are kept as given.
        assert_eq!(f.text(&["Ωμέγα", "", ""]).unwrap(), "Ωμέγα ");
    }

    #[test]
    fn the_probe_table_has_the_indexs_tokenizer() {
        // Migration 10 made the index as it is now.
        let migration = include_str!("../../../migrations/sqlite/010_search_visible_text.sql");
        assert!(
            migration.contains(&format!("tokenize='{TOKENIZER}'")),
            "migration 10 no longer makes its index with {TOKENIZER:?}"
        );
    }

    proptest::proptest! {
        /// Any text over characters FTS5 treats in different ways.
        #[test]
        fn the_same_tokens_for_any_text(
            parts in proptest::array::uniform3(
                "[aAzZ09 .,;:!?\\-_/\n\t'\"<>&#%@đĐưƯờỜéÉ\u{301}\u{323}\u{a0}\u{2014}İıßÆ日한Ωσς🇻]{0,40}"
            )
        ) {
            let mut f = Folder::new().unwrap();
            assert_same_tokens(&mut f, [&parts[0], &parts[1], &parts[2]]);
        }
    }
}
