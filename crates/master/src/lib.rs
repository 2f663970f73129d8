//! The embedded Kubernetes master: an API server over HTTPS (HTTP/1.1 and
//! HTTP/2) with authentication, discovery, OpenAPI, Table output and
//! Prometheus metrics, backed by the durable `store`.

pub mod admission;
pub mod api;
pub mod auth;
pub mod crd;
pub mod discovery;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod pki;
pub mod protobuf_response;
pub mod request;
pub mod review;
pub mod schema_validation;
pub mod server;
pub mod table;
pub mod token;
pub mod watch;
