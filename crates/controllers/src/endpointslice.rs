//! The EndpointSlice controller: `discovery.k8s.io/v1` EndpointSlices
//! (addressType IPv4, at most `--max-endpoints-per-slice` endpoints each,
//! labelled `kubernetes.io/service-name` and managed-by
//! `endpointslice-controller.k8s.io`, owned by the Service) with one
//! endpoint per matching pod: conditions ready/serving/terminating,
//! nodeName, targetRef, and the resolved ports. Existing slices are updated
//! in place to keep churn low; a service without endpoints keeps one empty
//! placeholder slice.

use crate::endpoints::{
    pod_hostname, pod_in_endpoints, pod_ports, pod_target_ref, queue_for_pod, service_selector,
};
use crate::informer::{Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::sync;
use crate::util;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

type PortKey = Vec<(String, i32, String)>;

/// `podToEndpoint`.
pub fn pod_endpoint(svc: &Service, pod: &Pod) -> Endpoint {
    let publish_not_ready = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let serving = util::is_pod_ready(pod);
    let terminating = util::is_deleting(&pod.metadata);
    let ready = publish_not_ready || (serving && !terminating);
    Endpoint {
        addresses: vec![pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .unwrap_or_default()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: pod_hostname(pod, svc),
        node_name: util::pod_node_name(pod).map(String::from),
        target_ref: Some(pod_target_ref(pod)),
        ..Default::default()
    }
}

/// Desired endpoints of a service grouped by port set, each list sorted by
/// pod name.
pub fn desired_endpoints(svc: &Service, pods: &[Arc<Pod>]) -> BTreeMap<PortKey, Vec<Endpoint>> {
    let mut out: BTreeMap<PortKey, Vec<Endpoint>> = BTreeMap::new();
    let Some(selector) = service_selector(svc) else {
        return out;
    };
    let headless_no_ports = crate::endpoints::is_headless(svc)
        && svc
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .is_none_or(Vec::is_empty);
    for pod in pods {
        if pod.metadata.namespace != svc.metadata.namespace
            || !util::map_selector_matches(selector, &util::labels_of(&pod.metadata))
        {
            continue;
        }
        if !pod_in_endpoints(pod, true) {
            continue;
        }
        let mut ports = pod_ports(svc, pod);
        if ports.is_empty() && !headless_no_ports {
            continue;
        }
        ports.sort();
        out.entry(ports).or_default().push(pod_endpoint(svc, pod));
    }
    for eps in out.values_mut() {
        eps.sort_by_key(endpoint_id);
    }
    out
}

fn endpoint_id(e: &Endpoint) -> String {
    e.target_ref
        .as_ref()
        .map(|r| {
            format!(
                "{}/{}",
                r.namespace.as_deref().unwrap_or(""),
                r.name.as_deref().unwrap_or("")
            )
        })
        .unwrap_or_else(|| e.addresses.join(","))
}

fn slice_ports(key: &PortKey) -> Option<Vec<EndpointPort>> {
    (!key.is_empty()).then(|| {
        key.iter()
            .map(|(name, port, protocol)| EndpointPort {
                name: Some(name.clone()),
                port: Some(*port),
                protocol: Some(protocol.clone()),
                app_protocol: None,
            })
            .collect()
    })
}

fn port_key_of(slice: &EndpointSlice) -> PortKey {
    let mut k: PortKey = slice
        .ports
        .iter()
        .flatten()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port.unwrap_or(0),
                p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            )
        })
        .collect();
    k.sort();
    k
}

/// The labels every slice of the service carries.
pub fn slice_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut l = svc.metadata.labels.clone().unwrap_or_default();
    l.remove(SERVICE_NAME_LABEL);
    l.remove(MANAGED_BY_LABEL);
    if crate::endpoints::is_headless(svc) {
        l.insert(crate::endpoints::HEADLESS_LABEL.into(), String::new());
    }
    l.insert(
        SERVICE_NAME_LABEL.into(),
        svc.metadata.name.clone().unwrap_or_default(),
    );
    l.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
    l
}

fn new_slice(svc: &Service, ports: &PortKey, endpoints: Vec<Endpoint>) -> EndpointSlice {
    let name = svc.metadata.name.clone().unwrap_or_default();
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: svc.metadata.namespace.clone(),
            labels: Some(slice_labels(svc)),
            owner_references: Some(vec![util::controller_owner_ref(
                "v1",
                "Service",
                &name,
                svc.metadata.uid.as_deref().unwrap_or(""),
            )]),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints,
        ports: slice_ports(ports),
    }
}

/// The writes that bring the slices in line.
#[derive(Debug, Clone, Default)]
pub struct SlicePlan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<String>,
}

/// Reconciles existing slices with the desired endpoints: keep endpoints
/// where they are (refreshing their data), drop gone ones, fill free room,
/// create new slices for the rest, delete slices left empty.
pub fn plan_slices(
    svc: &Service,
    desired: &BTreeMap<PortKey, Vec<Endpoint>>,
    existing: &[Arc<EndpointSlice>],
    max: usize,
) -> SlicePlan {
    let max = max.max(1);
    let labels = slice_labels(svc);
    let mut plan = SlicePlan::default();
    let mut by_ports: BTreeMap<PortKey, Vec<EndpointSlice>> = BTreeMap::new();
    for s in existing {
        by_ports
            .entry(port_key_of(s))
            .or_default()
            .push((**s).clone());
    }
    let total_desired: usize = desired.values().map(Vec::len).sum();
    if total_desired == 0 {
        // Keep exactly one empty placeholder slice.
        let mut all: Vec<EndpointSlice> = by_ports.into_values().flatten().collect();
        all.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let mut iter = all.into_iter();
        match iter.next() {
            Some(mut keep) => {
                let wrong = !keep.endpoints.is_empty()
                    || keep.ports.is_some()
                    || keep.metadata.labels.as_ref() != Some(&labels);
                if wrong {
                    keep.endpoints = Vec::new();
                    keep.ports = None;
                    keep.metadata.labels = Some(labels.clone());
                    plan.update.push(keep);
                }
            }
            None => plan.create.push(new_slice(svc, &Vec::new(), Vec::new())),
        }
        plan.delete.extend(iter.filter_map(|s| s.metadata.name));
        return plan;
    }
    for (ports, slices) in &mut by_ports {
        if !desired.contains_key(ports) {
            plan.delete
                .extend(slices.drain(..).filter_map(|s| s.metadata.name));
        }
    }
    for (ports, eps) in desired {
        let wanted: BTreeMap<String, &Endpoint> = eps.iter().map(|e| (endpoint_id(e), e)).collect();
        let mut placed: HashSet<String> = HashSet::new();
        let mut slices = by_ports.remove(ports).unwrap_or_default();
        slices.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let mut changed: Vec<bool> = vec![false; slices.len()];
        for (i, s) in slices.iter_mut().enumerate() {
            let mut kept = Vec::new();
            for e in &s.endpoints {
                let id = endpoint_id(e);
                match wanted.get(&id) {
                    Some(w) if !placed.contains(&id) && kept.len() < max => {
                        placed.insert(id);
                        kept.push((*w).clone());
                    }
                    _ => {}
                }
            }
            if kept != s.endpoints {
                s.endpoints = kept;
                changed[i] = true;
            }
            if s.metadata.labels.as_ref() != Some(&labels) {
                s.metadata.labels = Some(labels.clone());
                changed[i] = true;
            }
        }
        let mut rest: Vec<&Endpoint> = eps
            .iter()
            .filter(|e| !placed.contains(&endpoint_id(e)))
            .collect();
        // Fill slices that have room, fullest first (fewer, denser slices).
        let mut order: Vec<usize> = (0..slices.len()).collect();
        order.sort_by_key(|i| std::cmp::Reverse(slices[*i].endpoints.len()));
        for i in order {
            while slices[i].endpoints.len() < max {
                let Some(e) = rest.pop() else { break };
                slices[i].endpoints.push(e.clone());
                changed[i] = true;
            }
        }
        for (i, s) in slices.into_iter().enumerate() {
            if s.endpoints.is_empty() {
                plan.delete.extend(s.metadata.name);
            } else if changed[i] {
                plan.update.push(s);
            }
        }
        rest.reverse();
        for chunk in rest.chunks(max) {
            plan.create.push(new_slice(
                svc,
                ports,
                chunk.iter().map(|e| (*e).clone()).collect(),
            ));
        }
    }
    plan
}

pub enum Msg {
    Service(Change<Service>),
    Pod(Change<Pod>),
    Slice(Change<EndpointSlice>),
}

pub struct EndpointSliceController {
    ctx: Ctx,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    slices: Arc<Informer<EndpointSlice>>,
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let services = factory.get::<Service>();
    let pods = factory.get::<Pod>();
    let slices = factory.get::<EndpointSlice>();
    let wiring = runtime::Wiring::new();
    runtime::forward(&services, &wiring.tx, Msg::Service);
    runtime::forward(&pods, &wiring.tx, Msg::Pod);
    runtime::forward(&slices, &wiring.tx, Msg::Slice);
    runtime::starter(
        EndpointSliceController {
            ctx: ctx.clone(),
            services,
            pods,
            slices,
        },
        wiring.rx,
        WorkQueue::new(),
    )
}

fn ours(s: &EndpointSlice) -> Option<String> {
    let l = s.metadata.labels.as_ref()?;
    (l.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY))
        .then(|| l.get(SERVICE_NAME_LABEL).cloned())
        .flatten()
}

impl Reconciler for EndpointSliceController {
    type Msg = Msg;
    type Done = bool;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg {
            Msg::Service(c) => q.add(util::meta_key(&c.object().metadata)),
            Msg::Pod(c) => queue_for_pod(&self.services, &c, q),
            Msg::Slice(c) => {
                if let Some(svc) = ours(c.object()) {
                    q.add(util::key(c.object().metadata.namespace.as_deref(), &svc));
                }
            }
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, bool>> {
        let (ns, name) = util::split_key(key);
        // Slices of a deleted service go with it through garbage collection.
        let svc = self.services.get(ns, name)?;
        service_selector(&svc)?;
        let existing: Vec<Arc<EndpointSlice>> = self
            .slices
            .list_namespace(ns)
            .into_iter()
            .filter(|s| ours(s).as_deref() == Some(name))
            .collect();
        let desired = desired_endpoints(&svc, &self.pods.list_namespace(ns));
        let plan = plan_slices(
            &svc,
            &desired,
            &existing,
            self.ctx.config.max_endpoints_per_slice,
        );
        if plan.create.is_empty() && plan.update.is_empty() && plan.delete.is_empty() {
            return None;
        }
        let ctx = self.ctx.clone();
        let ns = ns.to_string();
        Some(Box::pin(async move {
            let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &ns);
            let mut ok = true;
            let tolerable =
                |e: &kube::Error| util::is_not_found(e) || util::is_namespace_terminating_error(e);
            for s in plan.update {
                let n = s.metadata.name.clone().unwrap_or_default();
                if let Err(e) = ctx.call(api.replace(&n, &PostParams::default(), &s)).await {
                    ok &= tolerable(&e);
                }
            }
            for s in plan.create {
                if let Err(e) = ctx.call(api.create(&PostParams::default(), &s)).await {
                    ok &= tolerable(&e);
                }
            }
            for n in plan.delete {
                if let Err(e) = ctx.call(api.delete(&n, &DeleteParams::default())).await {
                    ok &= tolerable(&e);
                }
            }
            ok
        }))
    }

    fn on_done(&mut self, key: &str, ok: bool, q: &mut WorkQueue) {
        sync::retry_or_forget(q, key, ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::tests::{pod, svc};
    use serde_json::json;

    fn slice(name: &str, s: &Service, eps: Vec<Endpoint>, ports: &PortKey) -> Arc<EndpointSlice> {
        let mut x = new_slice(s, ports, eps);
        x.metadata.name = Some(name.into());
        Arc::new(x)
    }

    #[test]
    fn endpoints_carry_conditions_and_references() {
        let s = svc(json!({}));
        let mut terminating = (*pod("t", "10.0.0.3", true, Some(8080))).clone();
        terminating.metadata.deletion_timestamp = Some(util::now_time());
        let pods = vec![
            pod("a", "10.0.0.1", true, Some(8080)),
            pod("b", "10.0.0.2", false, Some(8080)),
            Arc::new(terminating),
        ];
        let d = desired_endpoints(&s, &pods);
        assert_eq!(d.len(), 1);
        let eps = d.values().next().unwrap();
        let conds: Vec<(bool, bool, bool)> = eps
            .iter()
            .map(|e| {
                let c = e.conditions.as_ref().unwrap();
                (c.ready.unwrap(), c.serving.unwrap(), c.terminating.unwrap())
            })
            .collect();
        assert_eq!(
            conds,
            [
                (true, true, false),
                (false, false, false),
                (false, true, true)
            ]
        );
        assert_eq!(eps[0].node_name.as_deref(), Some("n1"));
        assert_eq!(
            eps[0].target_ref.as_ref().unwrap().kind.as_deref(),
            Some("Pod")
        );
        assert_eq!(eps[0].addresses, vec!["10.0.0.1".to_string()]);
    }

    #[test]
    fn slices_are_created_chunked_and_labelled() {
        let s = svc(json!({}));
        let pods: Vec<Arc<Pod>> = (0..5)
            .map(|i| pod(&format!("p{i}"), &format!("10.0.0.{i}"), true, Some(8080)))
            .collect();
        let d = desired_endpoints(&s, &pods);
        let plan = plan_slices(&s, &d, &[], 2);
        assert_eq!(plan.create.len(), 3);
        let sizes: Vec<usize> = plan.create.iter().map(|x| x.endpoints.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        let first = &plan.create[0];
        assert_eq!(first.address_type, "IPv4");
        let l = first.metadata.labels.as_ref().unwrap();
        assert_eq!(l[SERVICE_NAME_LABEL], "web");
        assert_eq!(l[MANAGED_BY_LABEL], MANAGED_BY);
        assert_eq!(l["team"], "a");
        assert_eq!(
            first.metadata.owner_references.as_ref().unwrap()[0].kind,
            "Service"
        );
        let ports = first.ports.as_ref().unwrap();
        assert_eq!(
            ports.iter().map(|p| p.port.unwrap()).collect::<Vec<_>>(),
            [8080, 9090]
        );
    }

    #[test]
    fn existing_slices_are_updated_in_place() {
        let s = svc(json!({}));
        let pods = vec![
            pod("a", "10.0.0.1", true, Some(8080)),
            pod("b", "10.0.0.2", true, Some(8080)),
        ];
        let d = desired_endpoints(&s, &pods);
        let key = d.keys().next().unwrap().clone();
        let existing = vec![slice("web-abc", &s, d[&key].clone(), &key)];
        // Nothing changed: nothing to do.
        let plan = plan_slices(&s, &d, &existing, 100);
        assert!(plan.create.is_empty() && plan.update.is_empty() && plan.delete.is_empty());
        // b turns unready, c appears: the same slice is updated.
        let pods = vec![
            pod("a", "10.0.0.1", true, Some(8080)),
            pod("b", "10.0.0.2", false, Some(8080)),
            pod("c", "10.0.0.3", true, Some(8080)),
        ];
        let plan = plan_slices(&s, &desired_endpoints(&s, &pods), &existing, 100);
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].endpoints.len(), 3);
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        // All pods gone: the slice becomes the empty placeholder.
        let plan = plan_slices(&s, &BTreeMap::new(), &existing, 100);
        assert_eq!(plan.update.len(), 1);
        assert!(plan.update[0].endpoints.is_empty() && plan.update[0].ports.is_none());
        // No slice at all: a placeholder is created.
        let plan = plan_slices(&s, &BTreeMap::new(), &[], 100);
        assert_eq!(plan.create.len(), 1);
    }

    #[test]
    fn slices_with_stale_ports_are_deleted() {
        let s = svc(json!({}));
        let old_key: PortKey = vec![("http".into(), 7070, "TCP".into())];
        let existing = vec![slice(
            "web-old",
            &s,
            vec![pod_endpoint(&s, &pod("a", "10.0.0.1", true, Some(7070)))],
            &old_key,
        )];
        let d = desired_endpoints(&s, &[pod("a", "10.0.0.1", true, Some(8080))]);
        let plan = plan_slices(&s, &d, &existing, 100);
        assert_eq!(plan.delete, vec!["web-old".to_string()]);
        assert_eq!(plan.create.len(), 1);
    }
}
