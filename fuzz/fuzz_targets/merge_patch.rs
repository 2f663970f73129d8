//! RFC 7386 JSON merge patch: original JSON, NUL, patch JSON. Also checks
//! that a merge patch computed between two documents applies.
#![no_main]

use apimachinery::patch::{create_merge_patch, merge_patch};
use kubemark_fuzz::fields;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [original, patch] = fields::<2>(data);
    let (Ok(original), Ok(patch)) = (
        serde_json::from_slice::<serde_json::Value>(original),
        serde_json::from_slice::<serde_json::Value>(patch),
    ) else {
        return;
    };
    if let Ok(patched) = merge_patch(&original, &patch) {
        let diff = create_merge_patch(&original, &patched);
        let _ = merge_patch(&original, &diff);
    } else if let Err(e) = merge_patch(&original, &patch) {
        let _ = e.to_api_error();
    }
});
