//! Errors returned by the store.

use crate::Rv;

/// Everything a store operation can fail with.
///
/// The `Display` texts of [`StoreError::Expired`] and [`StoreError::ContinueExpired`]
/// are the messages kube-apiserver puts in its 410 `Status` bodies.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist (update/delete of a missing key).
    #[error("object not found")]
    NotFound,
    /// Create of a key that already exists.
    #[error("object already exists")]
    AlreadyExists,
    /// A resourceVersion precondition did not hold.
    #[error(
        "the object has been modified; please apply your changes to the latest version and try again (current resourceVersion {current_rv})"
    )]
    Conflict { current_rv: Rv },
    /// A delete precondition on metadata.uid did not hold.
    #[error(
        "precondition failed: the UID in the precondition does not match the stored object's UID"
    )]
    PreconditionUidMismatch,
    /// Watch (or exact-rv list) from a resourceVersion whose later events are no longer
    /// retained. `oldest` is the oldest resourceVersion that can still be watched from.
    #[error("too old resource version: {requested} ({oldest})")]
    Expired { requested: Rv, oldest: Rv },
    /// A continue token whose resourceVersion is older than the retained history.
    #[error(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in the response."
    )]
    ContinueExpired,
    /// A continue token that does not decode (bad base64/JSON/version/key).
    #[error("invalid continue token")]
    InvalidContinue,
    /// A list asked for a resourceVersion newer than the store has reached.
    #[error("Too large resource version: {requested}, current: {current}")]
    TooLargeResourceVersion { requested: Rv, current: Rv },
    /// The object handed to create/update is not a JSON object or has a malformed metadata.
    #[error("invalid object: {0}")]
    InvalidObject(String),
    /// The on-disk state is unusable (corrupt snapshot, broken invariant while replaying).
    #[error("corrupt store data: {0}")]
    Corrupt(String),
    /// Reading or writing the data directory failed.
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The store was closed, or stopped accepting writes after an I/O error.
    #[error("store is closed")]
    Closed,
}
