//! What a run did to the API: objects created, updated and deleted, per
//! kind (`run.json`'s `objects`).

use serde::Serialize;

/// Objects created / updated / deleted, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
}
