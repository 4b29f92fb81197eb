//! One JSON Lines record: parsing never panics, and what it accepts is an
//! article every later stage can rely on (within the limits, dates in
//! SPEC's range, and already in the form validation gives).
#![no_main]

use bantin::article::date_in_spec_range;
use bantin::import::jsonl;
use bantin::limits::{SiteLimits, exceeded};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits, so that the fuzzer reaches them with small inputs.
    let limits = SiteLimits {
        max_id_bytes: 16,
        max_title_bytes: 64,
        max_summary_bytes: 64,
        max_body_bytes: 256,
        max_names_per_article: 3,
        ..SiteLimits::default()
    };
    for parsed in jsonl::parse(data, &limits) {
        let Ok(article) = parsed else { continue };
        assert_eq!(exceeded(&article, &limits), None);
        assert!(date_in_spec_range(&article.published));
        assert!(date_in_spec_range(&article.updated));
        assert!(article.id != "." && article.id != "..");
        assert_eq!(article.clone().validated().as_ref(), Ok(&article));
    }
});
