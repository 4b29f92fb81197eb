//! HTTP serving (see issue 3).
