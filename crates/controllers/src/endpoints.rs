//! The Endpoints controller: for every Service with a selector, an
//! Endpoints object of the same name listing the matching pods' IPs —
//! ready pods under `addresses`, the others under `notReadyAddresses` —
//! with the service ports resolved against each pod's container ports.
//! Also the pure pieces the EndpointSlice controller shares.

use crate::informer::{Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::sync;
use crate::util;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, PostParams};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// The service's selector, when the controllers manage its endpoints.
pub fn service_selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    svc.spec
        .as_ref()?
        .selector
        .as_ref()
        .filter(|s| !s.is_empty())
}

pub fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// `ShouldPodBeInEndpoints`: has an IP, not terminal, and (unless
/// `include_terminating`) not being deleted.
pub fn pod_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    let ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .unwrap_or("");
    if ip.is_empty() || util::is_pod_terminal(pod) {
        return false;
    }
    include_terminating || !util::is_deleting(&pod.metadata)
}

/// `podutil.FindPort`: a service targetPort resolved against the pod.
pub fn resolve_port(
    pod: &Pod,
    target: Option<&IntOrString>,
    port: i32,
    protocol: &str,
) -> Option<i32> {
    match target {
        None => Some(port),
        Some(IntOrString::Int(p)) => Some(*p),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            pod.spec
                .as_ref()?
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find_map(|cp| {
                    (cp.name.as_deref() == Some(name.as_str())
                        && cp.protocol.as_deref().unwrap_or("TCP") == protocol)
                        .then_some(cp.container_port)
                })
        }
    }
}

/// The pod's ports for the service: (name, port, protocol), in service
/// port order; ports that do not resolve are left out.
pub fn pod_ports(svc: &Service, pod: &Pod) -> Vec<(String, i32, String)> {
    svc.spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|sp| {
            let protocol = sp.protocol.clone().unwrap_or_else(|| "TCP".into());
            resolve_port(pod, sp.target_port.as_ref(), sp.port, &protocol)
                .map(|p| (sp.name.clone().unwrap_or_default(), p, protocol))
        })
        .collect()
}

/// `ShouldSetHostname`.
pub fn pod_hostname(pod: &Pod, svc: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == svc.metadata.name.as_deref()
        && pod.metadata.namespace == svc.metadata.namespace)
        .then(|| hostname.to_string())
}

pub fn pod_target_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// Orders IPv4 addresses numerically (others by text).
pub fn ip_key(ip: &str) -> (u8, Vec<u32>, String) {
    let parts: Option<Vec<u32>> = ip.split('.').map(|p| p.parse::<u32>().ok()).collect();
    match parts {
        Some(p) if p.len() == 4 => (0, p, String::new()),
        _ => (1, Vec::new(), ip.to_string()),
    }
}

/// The subsets for a service (`syncService` + `RepackSubsets`): pods are
/// grouped by their resolved port set; addresses sorted by IP.
pub fn endpoint_subsets(svc: &Service, pods: &[Arc<Pod>]) -> Vec<EndpointSubset> {
    let Some(selector) = service_selector(svc) else {
        return Vec::new();
    };
    let publish_not_ready = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let no_ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .is_none_or(Vec::is_empty);
    type Group = (Vec<EndpointAddress>, Vec<EndpointAddress>);
    let mut groups: BTreeMap<Vec<(String, i32, String)>, Group> = BTreeMap::new();
    for pod in pods {
        if pod.metadata.namespace != svc.metadata.namespace
            || !util::map_selector_matches(selector, &util::labels_of(&pod.metadata))
        {
            continue;
        }
        if !pod_in_endpoints(pod, false) {
            continue;
        }
        let ports = pod_ports(svc, pod);
        if ports.is_empty() && !(no_ports && is_headless(svc)) {
            continue;
        }
        let addr = EndpointAddress {
            ip: pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.clone())
                .unwrap_or_default(),
            hostname: pod_hostname(pod, svc),
            node_name: util::pod_node_name(pod).map(String::from),
            target_ref: Some(pod_target_ref(pod)),
        };
        let mut key = ports;
        key.sort();
        let g = groups.entry(key).or_default();
        if publish_not_ready || util::is_pod_ready(pod) {
            g.0.push(addr);
        } else {
            g.1.push(addr);
        }
    }
    let sort = |v: &mut Vec<EndpointAddress>| {
        v.sort_by(|a, b| {
            ip_key(&a.ip).cmp(&ip_key(&b.ip)).then_with(|| {
                a.target_ref
                    .as_ref()
                    .and_then(|r| r.uid.clone())
                    .cmp(&b.target_ref.as_ref().and_then(|r| r.uid.clone()))
            })
        })
    };
    groups
        .into_iter()
        .map(|(ports, (mut ready, mut not_ready))| {
            sort(&mut ready);
            sort(&mut not_ready);
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then(|| {
                    ports
                        .into_iter()
                        .map(|(name, port, protocol)| EndpointPort {
                            name: (!name.is_empty()).then_some(name),
                            port,
                            protocol: Some(protocol),
                            app_protocol: None,
                        })
                        .collect()
                }),
            }
        })
        .collect()
}

/// The labels of the Endpoints object: the service's, plus the headless
/// marker.
pub fn endpoints_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut l = svc.metadata.labels.clone().unwrap_or_default();
    if is_headless(svc) {
        l.insert(HEADLESS_LABEL.into(), String::new());
    } else {
        l.remove(HEADLESS_LABEL);
    }
    l
}

/// Services (in the pod's namespace) whose selector matches the labels.
pub fn services_for(
    services: &Informer<Service>,
    ns: &str,
    labels: &BTreeMap<String, String>,
) -> Vec<String> {
    services
        .list_namespace(ns)
        .iter()
        .filter(|s| service_selector(s).is_some_and(|sel| util::map_selector_matches(sel, labels)))
        .map(|s| util::meta_key(&s.metadata))
        .collect()
}

/// Queues the services a pod change concerns (old and new labels).
pub fn queue_for_pod(services: &Informer<Service>, c: &Change<Pod>, q: &mut WorkQueue) {
    let mut keys: BTreeSet<String> = BTreeSet::new();
    let pod = c.object();
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    keys.extend(services_for(services, &ns, &util::labels_of(&pod.metadata)));
    if let Some(old) = c.old() {
        if old.metadata.labels != pod.metadata.labels {
            keys.extend(services_for(services, &ns, &util::labels_of(&old.metadata)));
        }
    }
    for k in keys {
        q.add(k);
    }
}

pub enum Msg {
    Service(Change<Service>),
    Pod(Change<Pod>),
    Endpoints(Change<Endpoints>),
}

pub struct EndpointsController {
    ctx: Ctx,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    endpoints: Arc<Informer<Endpoints>>,
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let services = factory.get::<Service>();
    let pods = factory.get::<Pod>();
    let endpoints = factory.get::<Endpoints>();
    let wiring = runtime::Wiring::new();
    runtime::forward(&services, &wiring.tx, Msg::Service);
    runtime::forward(&pods, &wiring.tx, Msg::Pod);
    runtime::forward(&endpoints, &wiring.tx, Msg::Endpoints);
    runtime::starter(
        EndpointsController {
            ctx: ctx.clone(),
            services,
            pods,
            endpoints,
        },
        wiring.rx,
        WorkQueue::new(),
    )
}

enum Action {
    Create(Endpoints),
    Replace(Endpoints),
    Delete,
}

impl Reconciler for EndpointsController {
    type Msg = Msg;
    type Done = bool;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg {
            Msg::Service(c) => q.add(util::meta_key(&c.object().metadata)),
            Msg::Pod(c) => queue_for_pod(&self.services, &c, q),
            // Repair changes made by others (and re-check after deletes).
            Msg::Endpoints(c) => {
                let key = util::meta_key(&c.object().metadata);
                if self.services.get_key(&key).is_some() {
                    q.add(key);
                }
            }
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, bool>> {
        let (ns, name) = util::split_key(key);
        let existing = self.endpoints.get(ns, name);
        let action = match self.services.get(ns, name) {
            // The service is gone: so are its endpoints (only ones we manage:
            // endpoints of selector-less services belong to their owners).
            None => {
                existing.as_ref()?;
                Action::Delete
            }
            Some(svc) => {
                service_selector(&svc)?;
                let subsets = endpoint_subsets(&svc, &self.pods.list_namespace(ns));
                let labels = endpoints_labels(&svc);
                let subsets_opt = (!subsets.is_empty()).then_some(subsets);
                match existing {
                    None => Action::Create(Endpoints {
                        metadata: ObjectMeta {
                            name: Some(name.to_string()),
                            namespace: Some(ns.to_string()),
                            labels: Some(labels),
                            ..Default::default()
                        },
                        subsets: subsets_opt,
                    }),
                    Some(ep) => {
                        let same_subsets =
                            ep.subsets.clone().filter(|s| !s.is_empty()) == subsets_opt;
                        let same_labels = ep.metadata.labels.clone().unwrap_or_default() == labels;
                        if same_subsets && same_labels {
                            return None;
                        }
                        let mut new = (*ep).clone();
                        new.subsets = subsets_opt;
                        new.metadata.labels = Some(labels);
                        Action::Replace(new)
                    }
                }
            }
        };
        let ctx = self.ctx.clone();
        let (ns, name) = (ns.to_string(), name.to_string());
        Some(Box::pin(async move {
            let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), &ns);
            let r = match action {
                Action::Create(ep) => ctx
                    .call(api.create(&PostParams::default(), &ep))
                    .await
                    .map(|_| ()),
                Action::Replace(ep) => ctx
                    .call(api.replace(&name, &PostParams::default(), &ep))
                    .await
                    .map(|_| ()),
                Action::Delete => ctx
                    .call(api.delete(&name, &DeleteParams::default()))
                    .await
                    .map(|_| ()),
            };
            match r {
                Ok(()) => true,
                Err(e) => util::is_not_found(&e) || util::is_namespace_terminating_error(&e),
            }
        }))
    }

    fn on_done(&mut self, key: &str, ok: bool, q: &mut WorkQueue) {
        sync::retry_or_forget(q, key, ok);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{json, Value};

    pub(crate) fn svc(extra: Value) -> Service {
        let mut v = json!({"metadata": {"name": "web", "namespace": "ns", "labels": {"team": "a"}},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "metrics", "port": 9000, "targetPort": 9090, "protocol": "TCP"}]}});
        for (k, x) in extra.as_object().unwrap() {
            v["spec"][k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    pub(crate) fn pod(name: &str, ip: &str, ready: bool, http_port: Option<i32>) -> Arc<Pod> {
        let ports = match http_port {
            Some(p) => json!([{"name": "http", "containerPort": p, "protocol": "TCP"}]),
            None => json!([]),
        };
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"), "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports}]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})).unwrap())
    }

    #[test]
    fn subsets_split_ready_and_not_ready_sorted_by_ip() {
        let pods = vec![
            pod("b", "10.0.0.10", true, Some(8080)),
            pod("a", "10.0.0.9", true, Some(8080)),
            pod("c", "10.0.0.3", false, Some(8080)),
        ];
        let subsets = endpoint_subsets(&svc(json!({})), &pods);
        assert_eq!(subsets.len(), 1);
        let s = &subsets[0];
        let ips: Vec<&str> = s
            .addresses
            .as_ref()
            .unwrap()
            .iter()
            .map(|a| a.ip.as_str())
            .collect();
        assert_eq!(ips, ["10.0.0.9", "10.0.0.10"]);
        assert_eq!(s.not_ready_addresses.as_ref().unwrap()[0].ip, "10.0.0.3");
        let ports: Vec<(Option<String>, i32)> = s
            .ports
            .as_ref()
            .unwrap()
            .iter()
            .map(|p| (p.name.clone(), p.port))
            .collect();
        assert_eq!(
            ports,
            [(Some("http".into()), 8080), (Some("metrics".into()), 9090)]
        );
        let a = &s.addresses.as_ref().unwrap()[0];
        assert_eq!(a.node_name.as_deref(), Some("n1"));
        assert_eq!(a.target_ref.as_ref().unwrap().name.as_deref(), Some("a"));
    }

    #[test]
    fn pods_group_by_resolved_ports_and_unresolvable_ports_drop() {
        let pods = vec![
            pod("a", "10.0.0.1", true, Some(8080)),
            pod("b", "10.0.0.2", true, Some(8081)),
            pod("c", "10.0.0.3", true, None),
        ];
        let subsets = endpoint_subsets(&svc(json!({})), &pods);
        // c resolves only the numeric metrics port.
        assert_eq!(subsets.len(), 3);
        let total: usize = subsets
            .iter()
            .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
            .sum();
        assert_eq!(total, 3);
    }

    #[test]
    fn excluded_pods_and_selectorless_services() {
        let mut no_ip = (*pod("a", "", true, Some(80))).clone();
        no_ip.status.as_mut().unwrap().pod_ip = None;
        let mut done = (*pod("b", "10.0.0.2", true, Some(80))).clone();
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let mut deleting = (*pod("c", "10.0.0.3", true, Some(80))).clone();
        deleting.metadata.deletion_timestamp = Some(util::now_time());
        let pods = vec![Arc::new(no_ip), Arc::new(done), Arc::new(deleting)];
        assert!(endpoint_subsets(&svc(json!({})), &pods).is_empty());
        let no_selector = svc(json!({"selector": null}));
        assert!(service_selector(&no_selector).is_none());
        assert!(endpoint_subsets(&no_selector, &[pod("a", "10.0.0.1", true, Some(80))]).is_empty());
        // publishNotReadyAddresses puts unready pods under addresses.
        let s = endpoint_subsets(
            &svc(json!({"publishNotReadyAddresses": true})),
            &[pod("a", "10.0.0.1", false, Some(80))],
        );
        assert!(s[0].addresses.is_some() && s[0].not_ready_addresses.is_none());
    }

    #[test]
    fn headless_services_without_ports_and_labels() {
        let h = svc(json!({"clusterIP": "None", "ports": null}));
        let s = endpoint_subsets(&h, &[pod("a", "10.0.0.1", true, None)]);
        assert_eq!(s.len(), 1);
        assert!(s[0].ports.is_none());
        assert_eq!(
            endpoints_labels(&h).get(HEADLESS_LABEL).map(String::as_str),
            Some("")
        );
        assert_eq!(
            endpoints_labels(&svc(json!({})))
                .get("team")
                .map(String::as_str),
            Some("a")
        );
    }
}
