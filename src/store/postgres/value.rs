//! Values as PostgreSQL can hold them.

use std::borrow::Cow;

/// `s` without U+0000, which PostgreSQL text cannot hold (SQLite can).
/// Feeds drop every control character on output, NUL included, so the
/// feeds stay the same; ids keep theirs (a NUL in an id is refused by the
/// server, as changing the id would change the article's guid).
pub(super) fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', ""))
    } else {
        Cow::Borrowed(s)
    }
}
