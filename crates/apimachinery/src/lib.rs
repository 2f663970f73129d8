//! Pure Kubernetes API machinery: the resource registry, label and field
//! selectors, JSON/merge/strategic-merge patches and `Status` errors. No I/O.

pub mod fields;
pub mod patch;
pub mod protobuf;
pub mod quantity;
pub mod registry;
pub mod selector;
pub mod status;

pub use status::{ApiError, Cause};

/// Re-exported for [`v1_24_api!`]: its type paths name this crate's copy.
pub use k8s_openapi;
