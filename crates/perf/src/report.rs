//! The phase (step) records of a run, as `run.json` lists them.

use serde::Serialize;

/// One phase as it ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseRecord {
    pub name: String,
    pub start: String,
    pub end: String,
    pub seconds: f64,
    /// ok, timeout, interrupted or error.
    pub status: String,
    pub detail: String,
}

impl PhaseRecord {
    pub fn ok(&self) -> bool {
        self.status == "ok"
    }
}
