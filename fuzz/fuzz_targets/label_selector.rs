//! Label selectors: the query-string syntax (parse, print, re-parse, match)
//! and the JSON `LabelSelector` form used in specs. Input: selector text,
//! NUL, a JSON object of labels or a JSON LabelSelector.
#![no_main]

use apimachinery::selector::{is_qualified_name, is_valid_label_value, LabelSelector};
use kubemark_fuzz::fields;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let [text, json] = fields::<2>(data);
    let json: Option<serde_json::Value> = serde_json::from_slice(json).ok();
    if let Ok(text) = std::str::from_utf8(text) {
        let _ = is_qualified_name(text);
        let _ = is_valid_label_value(text);
        if let Ok(sel) = LabelSelector::parse(text) {
            // What we print (e.g. in errors and logs) must parse to the same selector.
            let printed = sel.to_string();
            match LabelSelector::parse(&printed) {
                Ok(again) => assert_eq!(again.to_string(), printed, "selector {text:?}"),
                Err(e) => panic!("{text:?} printed as {printed:?} which does not parse: {e}"),
            }
            let _ = sel.requires_exact_match("app");
            let _ = sel.matches_nothing();
            let mut labels = BTreeMap::new();
            if let Some(serde_json::Value::Object(m)) = &json {
                for (k, v) in m {
                    if let Some(v) = v.as_str() {
                        labels.insert(k.clone(), v.to_string());
                    }
                }
                let _ = sel.matches(m);
            }
            let _ = sel.matches(&labels);
        }
    }
    if let Some(v) = &json {
        if let Ok(sel) = LabelSelector::from_label_selector_json(v) {
            let _ = LabelSelector::parse(&sel.to_string());
            let _ = sel.matches_object(v);
        }
    }
});
