//! Field selectors: parse, print, re-parse, convert for a resource (first
//! byte picks it) and match against an object. Input: resource byte,
//! selector text, NUL, object JSON.
#![no_main]

use apimachinery::fields::{convert_field_selector, object_matches, supported_fields};
use apimachinery::registry::RESOURCES;
use apimachinery::selector::{escape_field_value, unescape_field_value, FieldSelector};
use kubemark_fuzz::{fields, pick};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((info, rest)) = pick(data, &RESOURCES.iter().collect::<Vec<_>>()) else {
        return;
    };
    let [text, obj] = fields::<2>(rest);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    if let Ok(raw) = unescape_field_value(text) {
        assert_eq!(
            unescape_field_value(&escape_field_value(&raw)).ok(),
            Some(raw)
        );
    }
    let Ok(sel) = FieldSelector::parse(text) else {
        return;
    };
    // What we print must parse to the same terms. Not necessarily in the same
    // order: like Go's, the parser sorts the raw terms, and printing
    // normalises `==` to `=`, which can reorder terms on the same field.
    let printed = sel.to_string();
    let terms = |s: &FieldSelector| {
        let mut t: Vec<String> = s.requirements().iter().map(|r| r.to_string()).collect();
        t.sort();
        t
    };
    match FieldSelector::parse(&printed) {
        Ok(again) => assert_eq!(terms(&again), terms(&sel), "selector {text:?}"),
        Err(e) => panic!("{text:?} printed as {printed:?} which does not parse: {e}"),
    }
    let storage = info.storage_name();
    let _ = supported_fields(&storage);
    let Ok(converted) = convert_field_selector(&storage, &sel) else {
        return;
    };
    for field in supported_fields(&storage) {
        let _ = converted.requires_exact_match(field);
    }
    let obj: serde_json::Value = serde_json::from_slice(obj).unwrap_or_default();
    let _ = object_matches(&storage, info.namespaced, &converted, &obj);
});
