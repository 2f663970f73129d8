//! Resource quantities (`100m`, `1.5Gi`, `2e3`): parse, print canonically,
//! and check that the canonical form parses to the same amount.
#![no_main]

use apimachinery::quantity::{parse_bytes, parse_cpu_millis, Quantity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_cpu_millis(text);
    let _ = parse_bytes(text);
    let Ok(q) = Quantity::parse(text) else {
        return;
    };
    let canonical = q.canonical();
    let again = Quantity::parse(&canonical)
        .unwrap_or_else(|e| panic!("{text:?} printed as {canonical:?} which does not parse: {e}"));
    assert_eq!(again.nanos(), q.nanos(), "{text:?} -> {canonical:?}");
    let _ = (q.milli_value(), q.value(), q.is_zero());
});
