//! Discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/<group>`,
//! `/apis/<group>/<version>`), the aggregated discovery form newer clients
//! ask for, and `/version`. Everything is generated from the registry, in
//! the shape the real v1.24 server answers (see `discovery_*.json` in the
//! reference recordings).

use apimachinery::registry::{self, ResourceInfo, Subresource};
use serde_json::{json, Map, Value};

/// The version we report. The API we serve is v1.24's (discovery, field
/// names, behaviour), so the version is v1.24.10 like the recorded server;
/// the `+kubemark` build metadata says which implementation answers without
/// changing semver precedence, so clients' version-skew checks see 1.24.10.
pub const GIT_VERSION: &str = "v1.24.10+kubemark";

/// `Content-Type` of an aggregated discovery response.
pub const AGGREGATED_DISCOVERY_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// `GET /version`: the shape of the real `version.json`.
pub fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "24",
        "gitVersion": GIT_VERSION,
        "gitCommit": "",
        "gitTreeState": "",
        "buildDate": "1970-01-01T00:00:00Z",
        // Not built by Go: say what built us instead of inventing a Go version.
        "goVersion": "",
        "compiler": "rustc",
        "platform": platform(),
    })
}

/// `linux/amd64`, `linux/arm64`: Go's names for our target.
fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

/// `GET /api`: the legacy group's versions and the address clients reach us
/// at (`host:port`).
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": core_versions(),
        "serverAddressByClientCIDRs": [
            { "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }
        ],
    })
}

fn core_versions() -> Vec<&'static str> {
    let mut out = Vec::new();
    for r in registry::RESOURCES.iter().filter(|r| r.group.is_empty()) {
        if !out.contains(&r.version) {
            out.push(r.version);
        }
    }
    out
}

/// Versions of a group in registry order (the first is preferred).
fn group_versions(group: &str) -> Vec<&'static str> {
    group_versions_in(group, &[])
}

/// The built-in resources followed by `extra` (a master's custom
/// resources).
fn all_resources(extra: &[&'static ResourceInfo]) -> Vec<&'static ResourceInfo> {
    registry::RESOURCES
        .iter()
        .chain(extra.iter().copied())
        .collect()
}

/// Versions of a group: built-in groups in registry order, custom resource
/// groups by Kubernetes version priority (v2 > v1 > v1beta2 > v1beta1 >
/// v1alpha1 > others), as apiextensions-apiserver orders them.
fn group_versions_in(group: &str, extra: &[&'static ResourceInfo]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for r in registry::RESOURCES.iter().filter(|r| r.group == group) {
        if !out.contains(&r.version) {
            out.push(r.version);
        }
    }
    if !out.is_empty() {
        return out;
    }
    for r in extra.iter().filter(|r| r.group == group) {
        if !out.contains(&r.version) {
            out.push(r.version);
        }
    }
    out.sort_by(|a, b| version_priority(b).cmp(&version_priority(a)).then(a.cmp(b)));
    out
}

/// Sort key of `version.CompareKubeAwareVersionStrings`: GA over beta over
/// alpha, then by major and minor number; non-Kubernetes versions last.
fn version_priority(v: &str) -> (u8, u64, u64) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<u64>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    let (level, minor_text) = if tail.is_empty() {
        (3, "")
    } else if let Some(m) = tail.strip_prefix("beta") {
        (2, m)
    } else if let Some(m) = tail.strip_prefix("alpha") {
        (1, m)
    } else {
        return (0, 0, 0);
    };
    let minor = if minor_text.is_empty() {
        0
    } else {
        match minor_text.parse::<u64>() {
            Ok(n) => n,
            Err(_) => return (0, 0, 0),
        }
    };
    (level, major, minor)
}

fn group_value(group: &str, versions: &[&str]) -> Value {
    let gv = |v: &str| json!({ "groupVersion": format!("{group}/{v}"), "version": v });
    let list: Vec<Value> = versions.iter().map(|v| gv(v)).collect();
    let preferred = versions.first().map(|v| gv(v)).unwrap_or(Value::Null);
    json!({ "name": group, "versions": list, "preferredVersion": preferred })
}

/// `GET /apis`: every named group in registry order.
pub fn api_group_list() -> Value {
    api_group_list_with(&[])
}

/// Named groups: the built-in ones, then those of custom resources.
fn groups_in(extra: &[&'static ResourceInfo]) -> Vec<&'static str> {
    let mut out = registry::groups();
    for r in extra {
        if !out.contains(&r.group) {
            out.push(r.group);
        }
    }
    out
}

/// `GET /apis` with a master's custom resources.
pub fn api_group_list_with(extra: &[&'static ResourceInfo]) -> Value {
    let groups: Vec<Value> = groups_in(extra)
        .into_iter()
        .map(|g| group_value(g, &group_versions_in(g, extra)))
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `GET /apis/<group>`; `None` for a group we do not serve.
pub fn api_group(group: &str) -> Option<Value> {
    api_group_with(group, &[])
}

/// `GET /apis/<group>` with a master's custom resources.
pub fn api_group_with(group: &str, extra: &[&'static ResourceInfo]) -> Option<Value> {
    if group.is_empty() {
        return None;
    }
    let versions = group_versions_in(group, extra);
    if versions.is_empty() {
        return None;
    }
    let mut v = json!({ "kind": "APIGroup", "apiVersion": "v1" });
    if let (Some(out), Value::Object(body)) = (v.as_object_mut(), group_value(group, &versions)) {
        out.extend(body);
    }
    Some(v)
}

/// Kind (and its group/version when it differs from the parent's) of a
/// subresource entry.
fn subresource_kind(
    parent: &ResourceInfo,
    sub: &Subresource,
) -> (Option<(&'static str, &'static str)>, &'static str) {
    let kind = if sub.kind.is_empty() {
        parent.kind
    } else {
        sub.kind
    };
    let gv = sub.kind_group_version.map(registry::split_api_version);
    (gv, kind)
}

fn resource_entry(r: &ResourceInfo) -> Value {
    let mut e = Map::new();
    e.insert("name".into(), json!(r.plural));
    // v1.24 leaves singularName empty for built-ins; apiextensions sets it.
    let singular = if r.custom.is_some() { r.singular } else { "" };
    e.insert("singularName".into(), json!(singular));
    e.insert("namespaced".into(), json!(r.namespaced));
    e.insert("kind".into(), json!(r.kind));
    e.insert("verbs".into(), json!(r.verbs));
    if !r.short_names.is_empty() {
        e.insert("shortNames".into(), json!(r.short_names));
    }
    if !r.categories.is_empty() {
        e.insert("categories".into(), json!(r.categories));
    }
    if !r.storage_version_hash.is_empty() {
        e.insert("storageVersionHash".into(), json!(r.storage_version_hash));
    }
    Value::Object(e)
}

fn subresource_entry(r: &ResourceInfo, sub: &Subresource) -> Value {
    let (gv, kind) = subresource_kind(r, sub);
    let mut e = Map::new();
    e.insert("name".into(), json!(format!("{}/{}", r.plural, sub.name)));
    e.insert("singularName".into(), json!(""));
    e.insert("namespaced".into(), json!(r.namespaced));
    if let Some((g, v)) = gv {
        e.insert("group".into(), json!(g));
        e.insert("version".into(), json!(v));
    }
    e.insert("kind".into(), json!(kind));
    e.insert("verbs".into(), json!(sub.verbs));
    Value::Object(e)
}

/// `GET /api/v1`, `GET /apis/<group>/<version>`; `None` when nothing is
/// served there. Resources and subresources sorted by name like the real
/// server.
pub fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    api_resource_list_with(group, version, &[])
}

/// `GET /apis/<group>/<version>` with a master's custom resources.
pub fn api_resource_list_with(
    group: &str,
    version: &str,
    extra: &[&'static ResourceInfo],
) -> Option<Value> {
    let mut entries: Vec<(String, Value)> = Vec::new();
    let all = all_resources(extra);
    for r in all
        .iter()
        .copied()
        .filter(|r| r.group == group && r.version == version)
    {
        entries.push((r.plural.to_string(), resource_entry(r)));
        for sub in r.subresources {
            entries.push((
                format!("{}/{}", r.plural, sub.name),
                subresource_entry(r, sub),
            ));
        }
    }
    if entries.is_empty() {
        return None;
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let resources: Vec<Value> = entries.into_iter().map(|(_, v)| v).collect();
    // The real core list has no apiVersion; the named groups' lists do.
    Some(if group.is_empty() {
        json!({ "kind": "APIResourceList", "groupVersion": version, "resources": resources })
    } else {
        json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": format!("{group}/{version}"),
            "resources": resources,
        })
    })
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "version": version, "kind": kind })
}

fn aggregated_resource(r: &ResourceInfo) -> Value {
    let mut e = Map::new();
    e.insert("resource".into(), json!(r.plural));
    e.insert("responseKind".into(), gvk(r.group, r.version, r.kind));
    e.insert(
        "scope".into(),
        json!(if r.namespaced {
            "Namespaced"
        } else {
            "Cluster"
        }),
    );
    e.insert("singularResource".into(), json!(r.singular));
    e.insert("verbs".into(), json!(r.verbs));
    if !r.short_names.is_empty() {
        e.insert("shortNames".into(), json!(r.short_names));
    }
    if !r.categories.is_empty() {
        e.insert("categories".into(), json!(r.categories));
    }
    let mut subs: Vec<&Subresource> = r.subresources.iter().collect();
    subs.sort_by_key(|s| s.name);
    if !subs.is_empty() {
        let list: Vec<Value> = subs
            .into_iter()
            .map(|sub| {
                let (gv, kind) = subresource_kind(r, sub);
                let (g, v) = gv.unwrap_or((r.group, r.version));
                json!({ "subresource": sub.name, "responseKind": gvk(g, v, kind), "verbs": sub.verbs })
            })
            .collect();
        e.insert("subresources".into(), Value::Array(list));
    }
    Value::Object(e)
}

fn aggregated_group(group: &str, versions: &[&str], extra: &[&'static ResourceInfo]) -> Value {
    let all = all_resources(extra);
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            let mut rs: Vec<&ResourceInfo> = all
                .iter()
                .copied()
                .filter(|r| r.group == group && r.version == *v)
                .collect();
            rs.sort_by_key(|r| r.plural);
            let resources: Vec<Value> = rs.into_iter().map(aggregated_resource).collect();
            json!({ "version": v, "resources": resources, "freshness": "Current" })
        })
        .collect();
    let metadata = if group.is_empty() {
        json!({ "creationTimestamp": null })
    } else {
        json!({ "name": group, "creationTimestamp": null })
    };
    json!({ "metadata": metadata, "versions": versions })
}

/// Aggregated discovery (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`)
/// for `/api` (`core == true`) or `/apis`, served when the client's Accept
/// asks for `as=APIGroupDiscoveryList`.
pub fn aggregated_discovery(core: bool) -> Value {
    aggregated_discovery_with(core, &[])
}

/// Aggregated discovery with a master's custom resources.
pub fn aggregated_discovery_with(core: bool, extra: &[&'static ResourceInfo]) -> Value {
    let items: Vec<Value> = if core {
        vec![aggregated_group("", &core_versions(), extra)]
    } else {
        groups_in(extra)
            .into_iter()
            .map(|g| aggregated_group(g, &group_versions_in(g, extra), extra))
            .collect()
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

/// `spec.groupPriorityMinimum` of the built-in groups, as kube-apiserver's
/// `apiVersionPriorities` gives them (the order of `/apis`).
fn group_priority(group: &str) -> i64 {
    match group {
        "" | "apiregistration.k8s.io" => 18000,
        "apps" => 17800,
        "events.k8s.io" => 17750,
        "authentication.k8s.io" => 17700,
        "authorization.k8s.io" => 17600,
        "autoscaling" => 17500,
        "batch" => 17400,
        "certificates.k8s.io" => 17300,
        "networking.k8s.io" => 17200,
        "policy" => 17100,
        "rbac.authorization.k8s.io" => 17000,
        "storage.k8s.io" => 16800,
        "admissionregistration.k8s.io" | "apiextensions.k8s.io" => 16700,
        "scheduling.k8s.io" => 16600,
        "coordination.k8s.io" => 16500,
        "node.k8s.io" => 16300,
        "discovery.k8s.io" => 16200,
        "flowcontrol.apiserver.k8s.io" => 16100,
        _ => 1000,
    }
}

/// The local `APIService` objects the aggregator registers on start, one
/// per served group/version (`v1.`, `v1.apps`, ...), each `Available`
/// because it is served by this process. `now` is RFC 3339.
pub fn local_api_services(now: &str) -> Vec<Value> {
    let mut gvs: Vec<(&str, &str)> = core_versions().into_iter().map(|v| ("", v)).collect();
    for g in registry::groups() {
        for v in group_versions(g) {
            gvs.push((g, v));
        }
    }
    gvs.into_iter()
        .map(|(group, version)| {
            // The core group's version priority is 1, named groups' 15.
            let version_priority = if group.is_empty() { 1 } else { 15 };
            json!({
                "apiVersion": "apiregistration.k8s.io/v1",
                "kind": "APIService",
                "metadata": {
                    "name": format!("{version}.{group}"),
                    "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"},
                },
                "spec": {
                    "group": group,
                    "version": version,
                    "groupPriorityMinimum": group_priority(group),
                    "versionPriority": version_priority,
                },
                "status": {"conditions": [{
                    "type": "Available",
                    "status": "True",
                    "lastTransitionTime": now,
                    "reason": "Local",
                    "message": "Local APIServices are always available",
                }]},
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (CONTRIBUTING.md).
mod tests {
    #[test]
    fn local_api_services_follow_the_real_group_order() {
        let services = local_api_services("2024-01-01T00:00:00Z");
        let names: Vec<&str> = services
            .iter()
            .map(|s| s["metadata"]["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"v1.") && names.contains(&"v1.apps"));
        assert!(names.contains(&"v1beta2.flowcontrol.apiserver.k8s.io"));
        assert!(names.contains(&"v1beta1.policy") && names.contains(&"v2.autoscaling"));
        // The recorded /apis lists groups by descending priority.
        let doc = reference("discovery_apis.json");
        let order: Vec<i64> = doc["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| group_priority(g["name"].as_str().unwrap()))
            .collect();
        assert!(order.windows(2).all(|w| w[0] >= w[1]), "{order:?}");
        assert!(order.iter().all(|p| *p > 1000));
    }

    use super::*;

    /// A recording of the real v1.24 kube-apiserver, vendored next to the
    /// tests from `../shared/reference/kube-apiserver-1.24/`. A missing
    /// file fails the test.
    fn reference(file: &str) -> Value {
        let path = format!("{}/tests/reference/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("reference recording {path}: {e} (vendored from ../shared/reference/kube-apiserver-1.24/)")
        });
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The fields a resource entry is compared on.
    fn comparable(e: &Value) -> Value {
        let keep = [
            "name",
            "singularName",
            "namespaced",
            "group",
            "version",
            "kind",
            "verbs",
            "shortNames",
            "categories",
            "storageVersionHash",
        ];
        let m: Map<String, Value> = keep
            .iter()
            .filter_map(|k| e.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
        Value::Object(m)
    }

    #[test]
    fn resource_lists_match_the_real_server_for_what_we_serve() {
        let cases = [
            ("", "v1", "discovery_api_v1.json"),
            ("apps", "v1", "discovery_apis_apps_v1.json"),
            (
                "coordination.k8s.io",
                "v1",
                "discovery_apis_coordination.k8s.io_v1.json",
            ),
            (
                "discovery.k8s.io",
                "v1",
                "discovery_apis_discovery.k8s.io_v1.json",
            ),
            (
                "events.k8s.io",
                "v1",
                "discovery_apis_events.k8s.io_v1.json",
            ),
        ];
        for (group, version, file) in cases {
            let real = reference(file);
            let ours = api_resource_list(group, version).unwrap();
            assert_eq!(ours["kind"], real["kind"]);
            assert_eq!(ours["groupVersion"], real["groupVersion"]);
            assert_eq!(ours.get("apiVersion"), real.get("apiVersion"), "{file}");
            let real_entries = real["resources"].as_array().unwrap();
            let our_entries = ours["resources"].as_array().unwrap();
            for e in our_entries {
                let name = e["name"].as_str().unwrap();
                let r = real_entries
                    .iter()
                    .find(|x| x["name"] == name)
                    .unwrap_or_else(|| panic!("{name} not in {file}"));
                assert_eq!(comparable(e), comparable(r), "{file}: {name}");
                // Same key order as the real document.
                let ours_keys: Vec<&String> = e.as_object().unwrap().keys().collect();
                let real_keys: Vec<&String> = r.as_object().unwrap().keys().collect();
                assert_eq!(ours_keys, real_keys, "{file}: {name}");
            }
            // Our order is the real order restricted to what we serve.
            let names: Vec<&Value> = our_entries.iter().map(|e| &e["name"]).collect();
            let real_names: Vec<&Value> = real_entries
                .iter()
                .map(|e| &e["name"])
                .filter(|n| names.contains(n))
                .collect();
            assert_eq!(names, real_names, "{file}");
        }
    }

    #[test]
    fn api_versions_match_the_real_shape() {
        let ours = api_versions("192.0.2.2:6443");
        assert_eq!(ours, reference("discovery_api.json"));
        assert_eq!(ours["versions"], json!(["v1"]));
    }

    #[test]
    fn group_list_has_every_group_with_preferred_version() {
        let list = api_group_list();
        assert_eq!(list["kind"], "APIGroupList");
        let groups = list["groups"].as_array().unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert_eq!(names, registry::groups());
        let real = reference("discovery_apis.json");
        for g in groups {
            assert_eq!(g["preferredVersion"], g["versions"][0]);
            // Where the real server has only v1 too, the entry is identical.
            let r = real["groups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == g["name"])
                .unwrap();
            if r["versions"].as_array().unwrap().len() == 1 {
                assert_eq!(g, r);
            }
        }
    }

    #[test]
    fn api_group_and_unknowns() {
        let apps = api_group("apps").unwrap();
        assert_eq!(apps["kind"], "APIGroup");
        assert_eq!(apps["name"], "apps");
        assert_eq!(apps["preferredVersion"]["groupVersion"], "apps/v1");
        assert!(api_group("frobnicators.example.com").is_none());
        assert!(api_group("").is_none());
        assert!(api_resource_list("apps", "v2").is_none());
        assert!(api_resource_list("", "v2").is_none());
    }

    #[test]
    fn version_has_the_real_shape() {
        let ours = version_info();
        let keys: Vec<&String> = ours.as_object().unwrap().keys().collect();
        let real = reference("version.json");
        let real_keys: Vec<&String> = real.as_object().unwrap().keys().collect();
        assert_eq!(keys, real_keys);
        assert_eq!(ours["major"], real["major"]);
        assert_eq!(ours["minor"], real["minor"]);
        assert!(ours["gitVersion"]
            .as_str()
            .unwrap()
            .starts_with(real["gitVersion"].as_str().unwrap()));
        assert!(ours["platform"].as_str().unwrap().contains('/'));
    }

    #[test]
    fn aggregated_discovery_describes_resources_and_subresources() {
        let core = aggregated_discovery(true);
        assert_eq!(core["kind"], "APIGroupDiscoveryList");
        assert_eq!(core["apiVersion"], "apidiscovery.k8s.io/v2");
        let items = core["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert!(items[0]["metadata"].get("name").is_none());
        let v1 = &items[0]["versions"][0];
        assert_eq!(v1["version"], "v1");
        assert_eq!(v1["freshness"], "Current");
        let pods = v1["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "pods")
            .unwrap();
        assert_eq!(
            pods["responseKind"],
            json!({"group": "", "version": "v1", "kind": "Pod"})
        );
        assert_eq!(pods["scope"], "Namespaced");
        assert_eq!(pods["singularResource"], "pod");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        let eviction = pods["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subresource"] == "eviction")
            .unwrap();
        assert_eq!(
            eviction["responseKind"],
            json!({"group": "policy", "version": "v1", "kind": "Eviction"})
        );
        let status = pods["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subresource"] == "status")
            .unwrap();
        assert_eq!(status["responseKind"]["kind"], "Pod");
        let nodes = v1["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "nodes")
            .unwrap();
        assert_eq!(nodes["scope"], "Cluster");
        assert!(nodes.get("categories").is_none());

        let groups = aggregated_discovery(false);
        let names: Vec<&str> = groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, registry::groups());
        let apps = &groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["metadata"]["name"] == "apps")
            .unwrap();
        let deploy = apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap();
        let scale = deploy["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subresource"] == "scale")
            .unwrap();
        assert_eq!(
            scale["responseKind"],
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
        );
    }
}
