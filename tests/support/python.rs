//! The Python readers the tests run (feedparser, Flask-WebSub, the W3C
//! validator's html5lib and rdflib): whether they are installed here. A
//! test without them says it skipped; under `CI`, which must run every
//! test, it fails instead.

use std::process::{Command, Stdio};

/// Whether `python3` can import `modules` (`import {modules}`); where it
/// cannot, `false` after saying `test` skipped, or a failure under `CI`.
/// `pip` is what to install.
pub fn python_can_import(modules: &str, pip: &str, test: &str) -> bool {
    match missing_python(modules) {
        None => true,
        Some(why) => {
            skip(test, &why, &format!("python3 -m pip install {pip}"));
            false
        }
    }
}

/// Why `python3` can't import `modules`, if it can't.
pub fn missing_python(modules: &str) -> Option<String> {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!ok).then(|| format!("python3 cannot import {modules}"))
}

/// Skip `test` (or, under `CI`, fail it) for `why`; `fix` says what helps.
pub fn skip(test: &str, why: &str, fix: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run {test}: {why} ({fix})"
    );
    eprintln!("SKIPPED {test}: {why} ({fix})");
}
