//! Hollow nodes: many simulated kubelets, kube-proxies and node problem
//! detectors in one process, against any Kubernetes master.
//!
//! Each hollow node's kubelet registers its Node, Lease and CSINode, keeps
//! them fresh with the real kubelet's request pattern, holds the kubelet's
//! watches on its own HTTP/2 connection and "runs" the pods bound to it
//! (reporting their status, IPs and container lifecycles); its proxy
//! watches services and endpoint slices on another connection; its NPD
//! keeps problem conditions on the Node. Decisions live in pure modules
//! (`pod_state`, `pod_status`, `node_status`, `lease`, `npd`, `ipam`,
//! `proxy_rules`, `watch_state`); the async drivers (`kubelet`, `proxy`,
//! `watch`, `fleet`) only carry them out.
//!
//! Pod annotations understood by the hollow kubelet:
//! - `kubemark.io/startup-delay: 2s` — delay before the containers run;
//! - `kubemark.io/run-duration: 30s` — containers exit after this long
//!   (with `restartPolicy: Never`/`OnFailure` the pod then completes);
//! - `kubemark.io/exit-code: 3` — exit code when they exit (default 0);
//! - `kubemark.io/crash-loop: "true"` — containers crash (exit 1) after
//!   `kubemark.io/crash-after` (default 5 s) and are restarted with the
//!   kubelet's back-off;
//! - `kubemark.io/never-ready: "true"` — running but never ready.
//!
//! Node annotation: `kubemark.io/inject-problem: KernelDeadlock` (comma
//! separated; also `ReadonlyFilesystem`, and event-only `OOMKilling`,
//! `TaskHung`, `KernelOops`) makes the hollow NPD report the problem.
//! Every Node carries `kubemark.io/hollow-host` and `kubemark.io/hollow-pid`.

pub mod backoff;
pub mod cli;
pub mod client;
pub mod config;
pub mod conn;
pub mod duration;
pub mod error;
pub mod fleet;
pub mod intern;
pub mod ipam;
pub mod kubelet;
pub mod lease;
pub mod log;
pub mod metrics;
pub mod node_status;
pub mod npd;
pub mod pod_spec;
pub mod pod_state;
pub mod pod_status;
pub mod proxy;
pub mod proxy_rules;
pub mod ratelimit;
pub mod shared;
pub mod stats;
pub mod watch;
pub mod watch_state;

pub use cli::{config_from_yaml, load_kubeconfig, run_cli, HollowNodeArgs};
pub use config::{FleetConfig, Morphs, NodeCredentials};
pub use error::{ApiError, HollowError};
pub use fleet::{start_fleet, Fleet, FleetStats, NodeSummary};
pub use log::line_is_for_node;
pub use pod_spec::{DelayDist, PodBehavior};
pub use shared::{USER_AGENT_KUBELET, USER_AGENT_NPD, USER_AGENT_PROXY};
