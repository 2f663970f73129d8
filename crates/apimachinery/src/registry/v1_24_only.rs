//! Resources the v1.24 API serves as preferred version that k8s-openapi 0.29
//! (generated from v1.33) no longer has. They carry the same
//! `k8s_openapi::Resource` constants as the generated types, written from the
//! v1.24 sources named on each, so the registry derives everything else the
//! same way for them.

use k8s_openapi::{ClusterResourceScope, Resource};

/// flowcontrol.apiserver.k8s.io/v1beta2 `FlowSchema`
/// (k8s.io/api/flowcontrol/v1beta2/types.go; k8s-openapi has only v1).
pub struct FlowSchema;

impl Resource for FlowSchema {
    const API_VERSION: &'static str = "flowcontrol.apiserver.k8s.io/v1beta2";
    const GROUP: &'static str = "flowcontrol.apiserver.k8s.io";
    const KIND: &'static str = "FlowSchema";
    const VERSION: &'static str = "v1beta2";
    const URL_PATH_SEGMENT: &'static str = "flowschemas";
    type Scope = ClusterResourceScope;
}

/// flowcontrol.apiserver.k8s.io/v1beta2 `PriorityLevelConfiguration`.
pub struct PriorityLevelConfiguration;

impl Resource for PriorityLevelConfiguration {
    const API_VERSION: &'static str = "flowcontrol.apiserver.k8s.io/v1beta2";
    const GROUP: &'static str = "flowcontrol.apiserver.k8s.io";
    const KIND: &'static str = "PriorityLevelConfiguration";
    const VERSION: &'static str = "v1beta2";
    const URL_PATH_SEGMENT: &'static str = "prioritylevelconfigurations";
    type Scope = ClusterResourceScope;
}

/// policy/v1beta1 `PodSecurityPolicy` (removed in v1.25;
/// k8s.io/api/policy/v1beta1/types.go).
pub struct PodSecurityPolicy;

impl Resource for PodSecurityPolicy {
    const API_VERSION: &'static str = "policy/v1beta1";
    const GROUP: &'static str = "policy";
    const KIND: &'static str = "PodSecurityPolicy";
    const VERSION: &'static str = "v1beta1";
    const URL_PATH_SEGMENT: &'static str = "podsecuritypolicies";
    type Scope = ClusterResourceScope;
}
