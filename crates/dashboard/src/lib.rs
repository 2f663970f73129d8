//! Reading run artifacts, comparing runs, and serving/rendering them as a
//! dashboard.
//!
//! - [`runs`]: finds runs (kubemark run directories and ClusterLoader2
//!   artifact directories) and parses their files; bad files are reported
//!   by name and skipped.
//! - [`compare`]: per-metric comparison of runs with a tolerance verdict
//!   (`kubemark compare`).
//! - [`view`]: the model the web UI renders.
//! - [`server`]: `kubemark dashboard`'s HTTP server (assets compiled in).
//! - [`report`]: `kubemark report`'s self-contained HTML file.
//! - [`cli`]: the three commands' arguments and entry points.

pub mod cli;
pub mod compare;
pub mod report;
pub mod runs;
pub mod server;
pub mod view;
