//! The words bantin's PostgreSQL writer stores for an article
//! (`articles.words`, migration 5): the set `bantin_words(title, summary,
//! body, content_html)` gives, made here instead of by the database, where
//! it costs milliseconds an article.
//!
//! `bantin_words` folds the text character by character (`translate` with
//! its table, then `lower`) and cuts it at every character that is not
//! `[[:alnum:]]`. What `lower` and `[[:alnum:]]` do depends on the
//! database's locale, so nothing is assumed: [`Words`] asks the database,
//! once per character met, what `bantin_words` makes of it at the start,
//! in the middle and at the end of a word. A character that folds the same
//! way in all three places is folded here as it was told; one that does
//! not (Greek capital sigma, whose lowercase depends on the next letter),
//! and every combining mark (whose lowercase can depend on the letter
//! before it in some locales), make the article's words `None`: the
//! database's trigger then computes them itself.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::BuildHasherDefault;

use super::pool::PgConn;
use super::value::text;
use crate::article::Article;
use crate::store::StoreError;

/// What `bantin_words` makes of one character.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fold {
    /// Part of a word, as this text.
    Word(String),
    /// Between words.
    Separator,
    /// Depends on its neighbours: leave the article to the database.
    Unsure,
}

/// The characters learned so far from one database.
#[derive(Default)]
pub(crate) struct Words {
    /// Per code point below [`NEAR`], its [`Slot`]: the common letters cost
    /// no hashing.
    near: Vec<Slot>,
    far: HashMap<char, Slot>,
    /// The folds longer than one ASCII byte.
    long: Vec<String>,
}

/// What is known of a character, packed: [`UNKNOWN`], [`SEPARATOR`],
/// [`UNSURE`], `ASCII | byte`, or `LONG + index` into `Words::long`.
type Slot = u32;
const UNKNOWN: Slot = 0;
const SEPARATOR: Slot = 1;
const UNSURE: Slot = 2;
const ASCII: Slot = 0x100;
const LONG: Slot = 0x200;

/// Code points below this are looked up in a table (every Latin letter
/// with marks, Vietnamese included, is below U+1F00).
const NEAR: usize = 0x2000;

/// Asks the database what `bantin_words` gives for each probe text.
pub(crate) type Ask<'a> = dyn FnMut(&[String]) -> Result<Vec<Vec<String>>, StoreError> + 'a;

impl Words {
    fn slot(&self, c: char) -> Slot {
        match self.near.get(c as usize) {
            Some(&s) => s,
            None => self.far.get(&c).copied().unwrap_or(UNKNOWN),
        }
    }

    fn set(&mut self, c: char, fold: Fold) {
        let slot = match fold {
            Fold::Separator => SEPARATOR,
            Fold::Unsure => UNSURE,
            Fold::Word(f) => match f.as_bytes() {
                [b] if b.is_ascii() => ASCII | Slot::from(*b),
                _ => {
                    self.long.push(f);
                    LONG + (self.long.len() - 1) as Slot
                }
            },
        };
        if self.near.is_empty() {
            self.near = vec![UNKNOWN; NEAR];
        }
        match self.near.get_mut(c as usize) {
            Some(s) => *s = slot,
            None => {
                self.far.insert(c, slot);
            }
        }
    }

    /// The distinct words of an article whose stored text is `title`,
    /// `summary` and `text` (its HTML if any, else its body), or `None`
    /// when the database must compute them. Characters not met before are
    /// asked of the database first, in one query.
    pub(crate) fn of(
        &mut self,
        parts: [&str; 3],
        ask: &mut Ask<'_>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut folded = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
        // Once more after learning the characters not met.
        let mut folded_all = false;
        for _ in 0..2 {
            match self.fold(parts, &mut folded) {
                Ok(true) => {
                    folded_all = true;
                    break;
                }
                Ok(false) => return Ok(None),
                Err(new) => self.learn(new.into_iter().collect(), ask)?,
            }
        }
        if !folded_all {
            return Ok(None);
        }
        let mut seen: HashSet<&str, BuildHasherDefault<WordHasher>> =
            HashSet::with_capacity_and_hasher(folded.len() / 8, Default::default());
        let words = folded
            .split(' ')
            .filter(|w| !w.is_empty() && seen.insert(w))
            .map(str::to_string)
            .collect();
        Ok(Some(words))
    }

    /// The folded text into `out`, one space between words (the parts are
    /// joined by a space, as `bantin_words` joins them): `Ok(false)` if a
    /// character is unsure, `Err` with the characters not known yet.
    fn fold(&self, parts: [&str; 3], out: &mut String) -> Result<bool, BTreeSet<char>> {
        out.clear();
        let mut new = BTreeSet::new();
        let mut unsure = false;
        for part in parts {
            out.push(' ');
            for c in part.chars() {
                match self.slot(c) {
                    UNKNOWN => {
                        new.insert(c);
                    }
                    SEPARATOR => out.push(' '),
                    UNSURE => unsure = true,
                    s if s < LONG => out.push(char::from((s & 0xff) as u8)),
                    s => out.push_str(self.long.get((s - LONG) as usize).map_or("", |l| l)),
                }
            }
        }
        if !new.is_empty() {
            return Err(new);
        }
        Ok(!unsure)
    }

    fn learn(&mut self, chars: Vec<char>, ask: &mut Ask<'_>) -> Result<(), StoreError> {
        let asked: Vec<char> = chars
            .iter()
            .copied()
            .filter(|&c| c != '\0' && !unicode_normalization::char::is_combining_mark(c))
            .collect();
        // `q` and `z` stand for any letter; `c` at the start, in the middle
        // and at the end of a word.
        let probes: Vec<String> = asked.iter().map(|c| format!("{c}z q{c}q q{c}")).collect();
        let answers = if probes.is_empty() {
            Vec::new()
        } else {
            ask(&probes)?
        };
        for &c in &chars {
            self.set(c, Fold::Unsure);
        }
        for (c, words) in asked.into_iter().zip(answers) {
            self.set(c, fold(&words));
        }
        Ok(())
    }
}

/// A fast hash for the words of one article (the multiply-rotate of
/// rustc's FxHasher): std's SipHash cost more than the rest of the work.
/// Not proof against chosen collisions, which could only slow the import of
/// the file that holds them.
#[derive(Default)]
pub(crate) struct WordHasher(u64);

/// A map of words hashed with [`WordHasher`].
pub(crate) type WordMap<V> = HashMap<String, V, BuildHasherDefault<WordHasher>>;

impl std::hash::Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word.iter_mut().zip(chunk).for_each(|(w, b)| *w = *b);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// What the answer for the probe `{c}z q{c}q q{c}` says of `c`.
fn fold(words: &[String]) -> Fold {
    if words == ["z", "q", "q", "q"] {
        return Fold::Separator;
    }
    let [start, middle, end] = words else {
        return Fold::Unsure;
    };
    let f = start.strip_suffix('z');
    let same = f.is_some_and(|f| {
        !f.is_empty()
            && middle.strip_prefix('q').and_then(|m| m.strip_suffix('q')) == Some(f)
            && end.strip_prefix('q') == Some(f)
    });
    match f {
        Some(f) if same => Fold::Word(f.to_string()),
        _ => Fold::Unsure,
    }
}

/// Ask over the writer's own connection what `bantin_words` makes of each
/// probe.
pub(super) fn ask_over(
    conn: &mut PgConn,
    probes: &[String],
) -> Result<Vec<Vec<String>>, StoreError> {
    Ok(conn
        .query(
            "SELECT bantin_words(p, NULL, NULL, NULL) FROM unnest($1::text[])
             WITH ORDINALITY AS x (p, i) ORDER BY i",
            &[&probes],
        )?
        .iter()
        .map(|r| Ok(r.try_get::<_, Option<Vec<String>>>(0)?.unwrap_or_default()))
        .collect::<Result<_, postgres::Error>>()?)
}

/// The words of `a`'s visible text (migration 10): title, summary and
/// `search::visible_body`, the text `bantin_visible` takes out of HTML in
/// the trigger. `None`: the database's.
pub(super) fn fold_words(
    a: &Article,
    words: &mut Words,
    ask: &mut Ask<'_>,
) -> Result<Option<Vec<String>>, StoreError> {
    let body = crate::search::visible_body(&a.body);
    words.of(
        [
            &text(&a.title),
            &a.summary.as_deref().map(text).unwrap_or_default(),
            &text(&body),
        ],
        ask,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_word_separator_or_unsure() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(fold(&w(&["az", "qaq", "qa"])), Fold::Word("a".into()));
        assert_eq!(fold(&w(&["ssz", "qssq", "qss"])), Fold::Word("ss".into()));
        assert_eq!(fold(&w(&["z", "q", "q", "q"])), Fold::Separator);
        // Final sigma: another letter at the end of a word.
        assert_eq!(fold(&w(&["σz", "qσq", "qς"])), Fold::Unsure);
        assert_eq!(fold(&w(&["i", "z", "qi", "q", "qi"])), Fold::Unsure);
    }

    #[test]
    fn words_are_made_from_what_was_learned() {
        let mut words = Words::default();
        // A stand-in for the database: ASCII letters lowercased, `đ` and
        // `ư`, `ờ` folded, everything else a separator.
        let mut ask = |probes: &[String]| -> Result<Vec<Vec<String>>, StoreError> {
            Ok(probes
                .iter()
                .map(|p| {
                    let folded: String = p
                        .chars()
                        .map(|c| match c {
                            'đ' | 'Đ' => 'd',
                            'ư' => 'u',
                            'ờ' => 'o',
                            c => c.to_ascii_lowercase(),
                        })
                        .collect();
                    folded
                        .split(|c: char| !c.is_ascii_alphanumeric())
                        .filter(|w| !w.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .collect())
        };
        assert_eq!(
            words
                .of(["Đường 1A", "", "đường, DUONG!"], &mut ask)
                .unwrap(),
            Some(vec!["duong".to_string(), "1a".to_string()])
        );
        // A combining mark: left to the database.
        assert_eq!(
            words
                .of(["Đu\u{31b}\u{300}o\u{31b}ng", "", ""], &mut ask)
                .unwrap(),
            None
        );
    }
}
