//! The measurements. Each module turns recorded inputs (pod observations,
//! metric scrapes, process samples) into a summary by pure computation;
//! collecting the inputs is the runner's job.

pub mod api_responsiveness;
pub mod pod_startup;
pub mod request_counts;
pub mod resource_usage;
pub mod scheduling;
