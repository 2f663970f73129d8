//! Manifests the engine creates itself (pure JSON builders); the test
//! objects come from the configs' object templates.

use serde_json::{json, Value};

/// Label on everything a run creates: its run id.
pub const RUN_LABEL: &str = "kubemark.io/perf-run";

pub fn namespace(name: &str, run_id: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {RUN_LABEL: run_id}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_carries_the_run_label() {
        let n = namespace("test-abc-1", "abc");
        assert_eq!(n["metadata"]["name"], "test-abc-1");
        assert_eq!(n["metadata"]["labels"][RUN_LABEL], "abc");
    }
}
