//! The hollow kube-proxy's view, pure: Services and EndpointSlices parsed
//! into compact (shareable) records, kept per proxy by object key, and the
//! rules kube-proxy would program from them (one per service port with a
//! cluster IP, one more per node port, one per ready endpoint).

use serde::Deserialize;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMetaView {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub resource_version: String,
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServiceView {
    pub metadata: ObjectMetaView,
    pub spec: ServiceSpecView,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceSpecView {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    pub ports: Vec<ServicePortView>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServicePortView {
    pub name: Option<String>,
    pub port: i64,
    pub protocol: Option<String>,
    pub node_port: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SliceView {
    pub metadata: ObjectMetaView,
    pub address_type: String,
    pub endpoints: Vec<EndpointView>,
    pub ports: Option<Vec<SlicePortView>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EndpointView {
    pub addresses: Vec<String>,
    pub conditions: EndpointConditionsView,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EndpointConditionsView {
    pub ready: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SlicePortView {
    pub name: Option<String>,
    pub port: Option<i64>,
    pub protocol: Option<String>,
}

/// A service port as kube-proxy keys it: (port name, protocol).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortKey {
    pub name: Box<str>,
    pub protocol: Box<str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    pub namespace: Box<str>,
    pub name: Box<str>,
    /// Programmable (has a cluster IP, not headless, not ExternalName).
    pub has_cluster_ip: bool,
    pub ports: Box<[(PortKey, bool)]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceInfo {
    pub namespace: Box<str>,
    pub service: Box<str>,
    pub ports: Box<[PortKey]>,
    /// Ready endpoint addresses.
    pub ready: u32,
}

fn port_key(name: Option<&str>, protocol: Option<&str>) -> PortKey {
    PortKey {
        name: name.unwrap_or("").into(),
        protocol: protocol.filter(|p| !p.is_empty()).unwrap_or("TCP").into(),
    }
}

pub fn service_info(s: &ServiceView) -> ServiceInfo {
    let kind = s.spec.kind.as_deref().unwrap_or("ClusterIP");
    let ip = s.spec.cluster_ip.as_deref().unwrap_or("");
    ServiceInfo {
        namespace: s.metadata.namespace.as_str().into(),
        name: s.metadata.name.as_str().into(),
        has_cluster_ip: kind != "ExternalName" && !ip.is_empty() && ip != "None",
        ports: s
            .spec
            .ports
            .iter()
            .map(|p| {
                (
                    port_key(p.name.as_deref(), p.protocol.as_deref()),
                    p.node_port.is_some_and(|n| n > 0)
                        && matches!(kind, "NodePort" | "LoadBalancer"),
                )
            })
            .collect(),
    }
}

/// The label naming an EndpointSlice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

pub fn slice_info(s: &SliceView) -> SliceInfo {
    let service = s
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME_LABEL))
        .map(String::as_str)
        .unwrap_or("");
    // kube-proxy only programs IP slices (FQDN ones are ignored); a nil
    // ready condition counts as ready.
    let ip = matches!(s.address_type.as_str(), "IPv4" | "IPv6" | "");
    SliceInfo {
        namespace: s.metadata.namespace.as_str().into(),
        service: service.into(),
        ports: s
            .ports
            .iter()
            .flatten()
            .map(|p| port_key(p.name.as_deref(), p.protocol.as_deref()))
            .collect(),
        ready: if ip {
            s.endpoints
                .iter()
                .filter(|e| e.conditions.ready.unwrap_or(true))
                .map(|e| e.addresses.len().min(1) as u32)
                .sum()
        } else {
            0
        },
    }
}

/// A stable key for `namespace/name`.
pub fn object_key(namespace: &str, name: &str) -> u64 {
    let mut h = DefaultHasher::new();
    namespace.hash(&mut h);
    name.hash(&mut h);
    h.finish()
}

/// One proxy's objects (values may be shared with other proxies).
#[derive(Debug, Clone, Default)]
pub struct ProxyState {
    pub services: HashMap<u64, Arc<ServiceInfo>>,
    pub slices: HashMap<u64, Arc<SliceInfo>>,
}

/// What kube-proxy would have programmed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Programmed {
    /// Service ports with a cluster IP.
    pub services: usize,
    /// Ready endpoints behind those ports.
    pub endpoints: usize,
    /// Rules: one per service port, one per node port, one per endpoint.
    pub rules: usize,
}

pub fn derive(state: &ProxyState) -> Programmed {
    // Ready endpoints per (namespace, service, port).
    let mut ready: HashMap<(&str, &str, &PortKey), usize> = HashMap::new();
    for s in state.slices.values() {
        for p in s.ports.iter() {
            *ready.entry((&s.namespace, &s.service, p)).or_insert(0) += s.ready as usize;
        }
    }
    let mut out = Programmed::default();
    for svc in state.services.values().filter(|s| s.has_cluster_ip) {
        for (port, node_port) in svc.ports.iter() {
            let eps = ready
                .get(&(&*svc.namespace, &*svc.name, port))
                .copied()
                .unwrap_or(0);
            out.services += 1;
            out.endpoints += eps;
            out.rules += 1 + usize::from(*node_port) + eps;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(v: serde_json::Value) -> Arc<ServiceInfo> {
        Arc::new(service_info(&serde_json::from_value(v).unwrap()))
    }

    fn slice(v: serde_json::Value) -> Arc<SliceInfo> {
        Arc::new(slice_info(&serde_json::from_value(v).unwrap()))
    }

    #[test]
    fn derives_rules() {
        let mut st = ProxyState::default();
        st.services.insert(
            1,
            svc(json!({"metadata": {"name": "web", "namespace": "d"},
                "spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
                         "ports": [{"name": "http", "port": 80, "nodePort": 30080}, {"name": "https", "port": 443, "protocol": "TCP", "nodePort": 30443}]}})),
        );
        st.services.insert(
            2,
            svc(json!({"metadata": {"name": "headless", "namespace": "d"},
                "spec": {"clusterIP": "None", "ports": [{"port": 80}]}})),
        );
        st.services.insert(
            3,
            svc(json!({"metadata": {"name": "ext", "namespace": "d"},
                "spec": {"type": "ExternalName", "ports": [{"port": 80}]}})),
        );
        st.slices.insert(
            10,
            slice(json!({"metadata": {"name": "web-abc", "namespace": "d", "labels": {"kubernetes.io/service-name": "web"}},
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                "endpoints": [
                    {"addresses": ["10.64.0.2"], "conditions": {"ready": true}},
                    {"addresses": ["10.64.0.3"], "conditions": {"ready": false}},
                    {"addresses": ["10.64.1.2"]}
                ]})),
        );
        st.slices.insert(
            11,
            slice(json!({"metadata": {"name": "other", "namespace": "x", "labels": {"kubernetes.io/service-name": "web"}},
                "addressType": "IPv4", "ports": [{"name": "http"}],
                "endpoints": [{"addresses": ["10.64.9.9"]}]})),
        );
        let p = derive(&st);
        assert_eq!(
            p,
            Programmed {
                services: 2,
                endpoints: 2,
                rules: 2 + 2 + 2
            }
        );
        st.slices.remove(&10);
        assert_eq!(derive(&st).endpoints, 0);
        assert_eq!(derive(&ProxyState::default()), Programmed::default());
    }

    #[test]
    fn fqdn_slices_are_ignored() {
        let s = slice(
            json!({"metadata": {"labels": {"kubernetes.io/service-name": "a"}},
            "addressType": "FQDN", "endpoints": [{"addresses": ["example.com"]}]}),
        );
        assert_eq!(s.ready, 0);
    }

    #[test]
    fn keys_are_stable() {
        assert_eq!(object_key("a", "b"), object_key("a", "b"));
        assert_ne!(object_key("a", "b"), object_key("ab", ""));
    }
}
