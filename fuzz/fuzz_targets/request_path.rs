//! API request paths and query strings: the method (first byte), then
//! `path?query`, then after a NUL the `Accept` header. Runs everything the
//! master derives from a request line before touching the store.
#![no_main]

use kubemark_fuzz::{fields, pick};
use libfuzzer_sys::fuzz_target;
use master::api::{DeleteOptions, Rendering, Selection};
use master::request::{classify, metrics_verb, Query, Target};
use master::schema_validation::FieldValidation;
use master::watch::{list_rv, watch_start, VersionParams, WatchRequest};

const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get",
];

fuzz_target!(|data: &[u8]| {
    let Some((method, rest)) = pick(data, METHODS) else {
        return;
    };
    let [target, accept] = fields::<2>(rest);
    // hyper hands the server a valid-UTF-8 (ASCII) request target.
    let Ok(target) = std::str::from_utf8(target) else {
        return;
    };
    let (path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let query = Query::parse(raw_query);
    let _ = query.int("limit");
    let _ = FieldValidation::parse(query.get("fieldValidation"));
    if let Some(token) = query.non_empty("continue") {
        let _ = store::decode_continue(token);
    }
    let accept = std::str::from_utf8(accept).ok();
    let rendering = Rendering::from_accept(accept);
    let watch = query.flag("watch").unwrap_or(false);
    let Ok(Target::Resource(r)) = classify(method, path, watch) else {
        return;
    };
    let _ = (r.scope(), metrics_verb(r.verb, method));
    let _ = Selection::parse(r.info, &query);
    let _ = DeleteOptions::parse(&query, b"");
    if let Ok(params) = VersionParams::from_query(&query, watch) {
        if watch {
            let _ = watch_start(&params);
        } else {
            let _ = list_rv(&params);
        }
    }
    if let (true, Ok(rendering)) = (watch, rendering) {
        let _ = WatchRequest::parse(&r, &query, rendering);
    }
});
