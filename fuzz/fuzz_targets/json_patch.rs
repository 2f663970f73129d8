//! RFC 6902 JSON patch: original object JSON, NUL, patch JSON.
#![no_main]

use apimachinery::patch::json_patch;
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
    if let Err(e) = json_patch(&original, &patch) {
        let _ = (e.status_code(), e.reason(), e.to_api_error());
    }
});
