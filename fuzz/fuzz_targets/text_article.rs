//! One text or Markdown article with TOML front matter (the first byte
//! picks which): parsing never panics, errors carry a line inside the
//! file, and what it accepts is within the limits and SPEC's dates.
#![no_main]

use bantin::article::date_in_spec_range;
use bantin::import::text::{Markup, parse};
use bantin::limits::{SiteLimits, exceeded};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let markup = if first & 1 == 0 {
        Markup::Plain
    } else {
        Markup::Markdown
    };
    let limits = SiteLimits {
        max_id_bytes: 16,
        max_title_bytes: 64,
        max_summary_bytes: 128,
        max_body_bytes: 512,
        max_names_per_article: 3,
        ..SiteLimits::default()
    };
    match parse(rest, markup, &limits) {
        Ok(article) => {
            assert_eq!(exceeded(&article, &limits), None);
            assert!(date_in_spec_range(&article.published));
            assert!(date_in_spec_range(&article.updated));
            assert_eq!(article.clone().validated().as_ref(), Ok(&article));
        }
        Err((line, reason)) => {
            let lines = rest.split(|&b| b == b'\n').count();
            assert!(
                line >= 1 && line <= lines + 1,
                "line {line} of {lines}: {reason}"
            );
            assert!(!reason.contains('\n'), "{reason:?}");
        }
    }
});
