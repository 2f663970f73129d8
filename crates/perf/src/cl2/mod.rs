//! ClusterLoader2 test configs run unmodified: `kubemark run --config`.

pub mod builtin;
pub mod config;
pub mod measure;
pub mod plan;
pub mod run;
pub mod template;
pub mod tuning;
