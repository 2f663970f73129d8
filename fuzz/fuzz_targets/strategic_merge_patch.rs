//! Strategic merge patch: the first byte picks the kind (its patch
//! strategies and merge keys), then original JSON, NUL, patch JSON.
#![no_main]

use apimachinery::patch::strategic_merge;
use apimachinery::registry::RESOURCES;
use kubemark_fuzz::{fields, pick};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((info, rest)) = pick(data, &RESOURCES.iter().collect::<Vec<_>>()) else {
        return;
    };
    let [original, patch] = fields::<2>(rest);
    let (Ok(original), Ok(patch)) = (
        serde_json::from_slice::<serde_json::Value>(original),
        serde_json::from_slice::<serde_json::Value>(patch),
    ) else {
        return;
    };
    if let Err(e) = strategic_merge(info.kind, &original, &patch) {
        let _ = e.to_api_error();
    }
});
