//! Request bodies as the master decodes them: the first byte picks the
//! content type (JSON, YAML, protobuf, DeleteOptions JSON), the second the
//! resource; a decoded object then goes through defaulting, validation and
//! unknown-field detection as on create and update.
#![no_main]

use apimachinery::registry::RESOURCES;
use kubemark_fuzz::pick;
use libfuzzer_sys::fuzz_target;
use master::admission;
use master::api::{decode_body, DeleteOptions};
use master::request::Query;
use master::schema_validation::unknown_fields;

const TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "delete-options",
];

fuzz_target!(|data: &[u8]| {
    let Some((content_type, rest)) = pick(data, TYPES) else {
        return;
    };
    let Some((info, body)) = pick(rest, &RESOURCES.iter().collect::<Vec<_>>()) else {
        return;
    };
    if content_type == "delete-options" {
        let _ = DeleteOptions::parse(&Query::default(), body);
        return;
    }
    let Ok(obj) = decode_body(Some(content_type), body, info.kind) else {
        return;
    };
    let _ = unknown_fields(info.group, info.kind, &obj);
    let mut created = obj.clone();
    admission::default_on_create(info, &mut created);
    let _ = admission::validate(info, &created);
    let mut updated = obj.clone();
    admission::prepare_update(info, "", &mut updated, &created);
    admission::default_on_update(info, &mut updated);
    let _ = admission::validate_update(info, &updated, &created);
    let _ = admission::has_status_subresource(info);
});
