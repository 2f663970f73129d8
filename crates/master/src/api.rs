//! The REST handlers: get, list, create, update, patch, delete and
//! deletecollection on every registered resource, plus the subresources
//! (status, scale, binding, eviction, token, finalize), with the real API
//! server's semantics and `Status` errors.

use crate::admission;
use crate::auth::UserInfo;
use crate::request::{Query, ResourceRequest};
use crate::token::{BoundObject, TokenClaims, TokenSigner};
use apimachinery::fields;
use apimachinery::patch::{self, PatchType};
use apimachinery::registry::{self, ResourceInfo};
use apimachinery::selector::{FieldSelector, LabelSelector};
use apimachinery::status::success_status;
use apimachinery::{ApiError, Cause};
use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use store::{ListOptions, ListRv, ObjectKey, Store, StoreError, StoredObject};

/// Largest request body accepted (the real server's 3 MiB limit).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// How many times a read-modify-write retries on a concurrent change.
const MAX_RETRIES: usize = 16;

/// What a handler answers: a JSON body and a status code.
#[derive(Debug)]
pub struct Reply {
    pub code: u16,
    pub body: Bytes,
}

impl Reply {
    fn json(code: u16, v: &Value) -> Reply {
        Reply {
            code,
            body: Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
        }
    }

    fn raw(code: u16, body: Bytes) -> Reply {
        Reply { code, body }
    }
}

/// How the client wants objects rendered (from its `Accept` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendering {
    Object,
    Table,
    PartialObjectMetadata,
}

impl Rendering {
    /// Picks the first acceptable form; `Err` when the client accepts none
    /// of JSON, Table or PartialObjectMetadata.
    pub fn from_accept(accept: Option<&str>) -> Result<Rendering, ApiError> {
        let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
            return Ok(Rendering::Object);
        };
        for part in accept.split(',') {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or("");
            let rest: Vec<&str> = params.collect();
            let as_ = rest.iter().find_map(|p| p.strip_prefix("as="));
            match media {
                "application/json" | "application/*" | "*/*" | "application/yaml" => match as_ {
                    Some("Table") => return Ok(Rendering::Table),
                    Some("PartialObjectMetadata" | "PartialObjectMetadataList") => {
                        return Ok(Rendering::PartialObjectMetadata)
                    }
                    Some(_) => continue,
                    None => return Ok(Rendering::Object),
                },
                // Objects, lists and watches are then re-encoded as protobuf
                // (crate::protobuf_response); Table and metadata forms are JSON.
                apimachinery::protobuf::CONTENT_TYPE if as_.is_none() => {
                    return Ok(Rendering::Object)
                }
                _ => continue,
            }
        }
        Err(ApiError::not_acceptable(
            "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf",
        ))
    }
}

impl Rendering {
    /// [`Rendering::from_accept`] for one resource: custom resources are
    /// served as JSON (and YAML) only, as apiextensions-apiserver serves
    /// them, so a client that accepts nothing else but protobuf gets 406;
    /// one that also accepts JSON gets JSON.
    pub fn for_resource(info: &ResourceInfo, accept: Option<&str>) -> Result<Rendering, ApiError> {
        if info.custom.is_some() {
            let only_protobuf = accept.is_some_and(|a| {
                !a.trim().is_empty()
                    && a.split(',').all(|part| {
                        let media = part.split(';').next().unwrap_or("").trim();
                        media == apimachinery::protobuf::CONTENT_TYPE
                    })
            });
            if only_protobuf {
                return Err(ApiError::not_acceptable(
                    "only the following media types are accepted: application/json, application/yaml",
                ));
            }
        }
        Rendering::from_accept(accept)
    }
}

/// Hands out service cluster IPs from the service CIDR (10.96.0.0/12).
#[derive(Debug)]
pub struct ClusterIpAllocator {
    base: u32,
    size: u32,
    used: HashSet<u32>,
    next: u32,
}

impl ClusterIpAllocator {
    pub fn new() -> ClusterIpAllocator {
        ClusterIpAllocator {
            base: u32::from(Ipv4Addr::new(10, 96, 0, 0)),
            size: 1 << 20,
            used: HashSet::new(),
            next: 2,
        }
    }

    fn offset(&self, ip: &str) -> Option<u32> {
        let ip: Ipv4Addr = ip.parse().ok()?;
        let n = u32::from(ip).checked_sub(self.base)?;
        (n > 0 && n < self.size - 1).then_some(n)
    }

    /// Marks an address as used; false if taken or out of range.
    pub fn reserve(&mut self, ip: &str) -> bool {
        match self.offset(ip) {
            Some(n) => self.used.insert(n),
            None => false,
        }
    }

    pub fn release(&mut self, ip: &str) {
        if let Some(n) = self.offset(ip) {
            self.used.remove(&n);
        }
    }

    pub fn in_range(&self, ip: &str) -> bool {
        self.offset(ip).is_some()
    }

    pub fn allocate(&mut self) -> Option<String> {
        for _ in 0..self.size {
            let n = self.next;
            self.next = if self.next + 2 >= self.size {
                2
            } else {
                self.next + 1
            };
            if self.used.insert(n) {
                return Some(Ipv4Addr::from(self.base + n).to_string());
            }
        }
        None
    }
}

impl Default for ClusterIpAllocator {
    fn default() -> Self {
        Self::new()
    }
}

/// The API server's state shared by all connections.
pub struct ApiServer {
    pub store: Store,
    pub signer: TokenSigner,
    pub ca_pem: String,
    pub cluster_ips: Mutex<ClusterIpAllocator>,
    /// The custom resources this master serves (from its stored CRDs).
    pub crds: crate::crd::CrdRegistry,
}

/// RFC 3339 UTC timestamp with second precision, as Kubernetes writes them.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    format_time(now)
}

pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn key_of(r: &ResourceRequest, name: &str) -> ObjectKey {
    ObjectKey {
        namespace: if r.info.namespaced {
            r.namespace.clone()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}

pub fn store_error(info: &ResourceInfo, name: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found(info.group, info.plural, name),
        StoreError::AlreadyExists => ApiError::already_exists(info.group, info.plural, name),
        StoreError::Conflict { .. } => ApiError::stale(info.group, info.plural, name),
        StoreError::PreconditionUidMismatch => ApiError::conflict(
            info.group,
            info.plural,
            name,
            "Precondition failed: UID in precondition does not match UID in object meta",
        ),
        StoreError::Expired { .. } => ApiError::expired(e.to_string()),
        StoreError::ContinueExpired => ApiError::expired(e.to_string()),
        StoreError::InvalidContinue => ApiError::bad_request(e.to_string()),
        StoreError::TooLargeResourceVersion { requested, current } => {
            crate::watch::too_large(requested, current)
        }
        other => ApiError::internal(other.to_string()),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::internal(format!("stored object is not JSON: {e}")))
}

/// Decodes a request body by content type into JSON.
pub fn decode_body(
    content_type: Option<&str>,
    body: &[u8],
    expect_kind: &str,
) -> Result<Value, ApiError> {
    let media = content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    let parsed: Result<Value, String> = match media {
        "" | "application/json" | "*/*" => serde_json::from_slice(body).map_err(|e| e.to_string()),
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            serde_yaml::from_slice::<Value>(body).map_err(|e| e.to_string())
        }
        "application/vnd.kubernetes.protobuf" => apimachinery::protobuf::decode(body).map_err(|e| e.to_string()),
        other => {
            return Err(ApiError::unsupported_media_type(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml; got {other:?}"
            )))
        }
    };
    match parsed {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {expect_kind}): couldn't get version/kind; json parse error: json: cannot unmarshal into Go value of type struct"
        ))),
        Err(e) => {
            let shown: String = String::from_utf8_lossy(&body[..body.len().min(64)]).into_owned();
            Err(ApiError::bad_request(format!(
                "the object provided is unrecognized (must be of type {expect_kind}): couldn't get version/kind; json parse error: {e} ({shown})"
            )))
        }
    }
}

/// Checks `apiVersion`/`kind` of a body against the endpoint's kind.
fn check_kind(body: &Value, group: &str, version: &str, kind: &str) -> Result<(), ApiError> {
    let got_kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    let got_av = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if got_kind.is_empty() && got_av.is_empty() {
        return Ok(());
    }
    let (got_group, got_version) = registry::split_api_version(got_av);
    if got_kind == kind && got_group == group {
        return Ok(());
    }
    let internal = if group.is_empty() {
        "core"
    } else {
        group.split('.').next().unwrap_or(group)
    };
    let shown_version = if got_version.is_empty() {
        version
    } else {
        got_version
    };
    Err(ApiError::bad_request(format!(
        "{got_kind} in version {shown_version:?} cannot be handled as a {kind}: converting ({shown_version}.{got_kind}) to ({internal}.{kind}): unknown conversion"
    )))
}

/// Field values of an object for field selectors.
fn field_values(info: &ResourceInfo, v: &Value) -> Vec<(&'static str, String)> {
    fields::field_values(&info.storage_name(), info.namespaced, v)
}

fn meta_str<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn meta_mut(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    let m = &mut v["metadata"];
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    match m {
        Value::Object(map) => map,
        // Made an object just above.
        _ => unreachable!("metadata was just made an object"),
    }
}

fn finalizers(v: &Value) -> Vec<String> {
    v.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Puts `kind` and `apiVersion` first, as Go serializes them.
fn with_type_meta(info: &ResourceInfo, v: Value) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!(info.kind));
    out.insert("apiVersion".into(), json!(info.api_version()));
    if let Value::Object(m) = v {
        for (k, val) in m {
            if k != "kind" && k != "apiVersion" {
                out.insert(k, val);
            }
        }
    }
    Value::Object(out)
}

/// Options of a DELETE, from its body or its query.
#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    pub fn parse(query: &Query, body: &[u8]) -> Result<DeleteOptions, ApiError> {
        let mut o = DeleteOptions {
            grace_period_seconds: query.int("gracePeriodSeconds")?,
            propagation_policy: query.non_empty("propagationPolicy").map(String::from),
            dry_run: query.non_empty("dryRun").is_some(),
            ..DeleteOptions::default()
        };
        if query.flag("orphanDependents").unwrap_or(false) {
            o.propagation_policy.get_or_insert_with(|| "Orphan".into());
        }
        if !body.iter().all(u8::is_ascii_whitespace) {
            let v: Value = serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("couldn't decode DeleteOptions: {e}"))
            })?;
            if let Some(g) = v.get("gracePeriodSeconds").and_then(Value::as_i64) {
                o.grace_period_seconds = Some(g);
            }
            if let Some(p) = v.get("propagationPolicy").and_then(Value::as_str) {
                o.propagation_policy = Some(p.to_string());
            }
            if v.get("orphanDependents") == Some(&Value::Bool(true)) {
                o.propagation_policy.get_or_insert_with(|| "Orphan".into());
            }
            if let Some(u) = v.pointer("/preconditions/uid").and_then(Value::as_str) {
                o.precondition_uid = Some(u.to_string());
            }
            if let Some(r) = v
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
            {
                o.precondition_rv = Some(r.to_string());
            }
            if v.get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                o.dry_run = true;
            }
        }
        if let Some(p) = &o.propagation_policy {
            if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
                return Err(ApiError::invalid_request_with(
                    "propagationPolicy",
                    p,
                    "must be one of Orphan, Background, Foreground",
                ));
            }
        }
        Ok(o)
    }
}

trait InvalidRequestWith {
    fn invalid_request_with(field: &str, value: &str, detail: &str) -> ApiError;
}

impl InvalidRequestWith for ApiError {
    fn invalid_request_with(field: &str, value: &str, detail: &str) -> ApiError {
        ApiError::invalid(
            "",
            "DeleteOptions",
            "",
            vec![Cause::invalid(field, &json!(value), detail)],
        )
    }
}

fn parse_rv(s: &str) -> Result<u64, ApiError> {
    s.parse::<u64>()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {s:?}")))
}

/// Label + field selector of a list or watch, checked against what the
/// resource supports.
pub struct Selection {
    pub labels: Option<LabelSelector>,
    pub fields: Option<FieldSelector>,
}

impl Selection {
    pub fn parse(info: &ResourceInfo, query: &Query) -> Result<Selection, ApiError> {
        let labels = match query.non_empty("labelSelector") {
            Some(s) => {
                let sel = LabelSelector::parse(s).map_err(|e| e.to_api_error())?;
                (!sel.is_empty()).then_some(sel)
            }
            None => None,
        };
        let fields = match query.non_empty("fieldSelector") {
            Some(s) => {
                let sel = FieldSelector::parse(s).map_err(|e| e.to_api_error())?;
                // Aliases (e.g. pods' spec.host) become canonical labels.
                let sel = fields::convert_field_selector(&info.storage_name(), &sel)
                    .map_err(|e| e.to_api_error())?;
                (!sel.is_empty()).then_some(sel)
            }
            None => None,
        };
        Ok(Selection { labels, fields })
    }

    pub fn is_everything(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    pub fn matches(&self, o: &StoredObject) -> bool {
        if let Some(l) = &self.labels {
            if !l.matches(&o.labels) {
                return false;
            }
        }
        if let Some(f) = &self.fields {
            let get = |name: &str| {
                o.fields
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            };
            if !f.matches(get) {
                return false;
            }
        }
        true
    }
}

impl ApiServer {
    pub fn new(store: Store, signer: TokenSigner, ca_pem: String) -> ApiServer {
        let api = ApiServer {
            store,
            signer,
            ca_pem,
            cluster_ips: Mutex::new(ClusterIpAllocator::new()),
            crds: crate::crd::CrdRegistry::default(),
        };
        // CRDs stored before a restart are served again at once.
        api.refresh_crds();
        api
    }

    /// Routes a request path, custom resources included.
    pub fn classify(
        &self,
        method: &str,
        path: &str,
        watch: bool,
    ) -> Result<crate::request::Target, ApiError> {
        crate::request::classify_with(method, path, watch, &|g, v, p| self.crds.lookup(g, v, p))
    }

    /// Every stored CRD, parsed.
    fn stored_crds(&self) -> Vec<Value> {
        let opts = ListOptions {
            namespace: None,
            rv: ListRv::Latest,
            limit: None,
            continue_token: None,
        };
        match self.store.list(crate::crd::CRD_STORAGE, &opts, None) {
            Ok(list) => list
                .items
                .iter()
                .filter_map(|o| serde_json::from_slice(&o.json).ok())
                .collect(),
            Err(e) => {
                tracing::warn!("listing CustomResourceDefinitions failed: {e}");
                Vec::new()
            }
        }
    }

    /// Serves what the stored CRDs say.
    pub fn refresh_crds(&self) {
        self.crds.reload(&self.stored_crds());
    }

    /// Finishes deleting CRDs marked for deletion: deletes their custom
    /// resources, then drops the cleanup finalizer (which lets the CRD go),
    /// as the real server's finalizer controller does.
    async fn finish_crd_deletions(&self) -> Result<(), ApiError> {
        let Some(crd_info) =
            registry::lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        else {
            return Err(ApiError::internal("no customresourcedefinitions resource"));
        };
        for crd in self.stored_crds() {
            if !crate::crd::is_terminating(&crd)
                || !finalizers(&crd)
                    .iter()
                    .any(|f| f == crate::crd::CLEANUP_FINALIZER)
            {
                continue;
            }
            let group = crd
                .pointer("/spec/group")
                .and_then(Value::as_str)
                .unwrap_or("");
            let plural = crd
                .pointer("/spec/names/plural")
                .and_then(Value::as_str)
                .unwrap_or("");
            let storage = format!("{plural}.{group}");
            // Nothing may be served for it any more while it goes.
            self.refresh_crds();
            let opts = ListOptions {
                namespace: None,
                rv: ListRv::Latest,
                limit: None,
                continue_token: None,
            };
            let items = self
                .store
                .list(&storage, &opts, None)
                .map_err(|e| store_error(crd_info, meta_str(&crd, "name"), e))?
                .items;
            for item in items {
                match self.store.delete(&storage, &item.key, None, None).await {
                    Ok(_) | Err(StoreError::NotFound) => {}
                    Err(e) => return Err(store_error(crd_info, &item.key.name, e)),
                }
            }
            let name = meta_str(&crd, "name").to_string();
            let key = ObjectKey {
                namespace: String::new(),
                name: name.clone(),
            };
            for _ in 0..MAX_RETRIES {
                let Some(current) = self.store.get(crate::crd::CRD_STORAGE, &key) else {
                    break;
                };
                let mut obj = parse_json(&current.json)?;
                let left: Vec<String> = finalizers(&obj)
                    .into_iter()
                    .filter(|f| f != crate::crd::CLEANUP_FINALIZER)
                    .collect();
                let result = if left.is_empty() {
                    self.store
                        .delete(crate::crd::CRD_STORAGE, &key, Some(current.rv), None)
                        .await
                } else {
                    meta_mut(&mut obj).insert("finalizers".into(), json!(left));
                    let fields = field_values(crd_info, &obj);
                    self.store
                        .update(
                            crate::crd::CRD_STORAGE,
                            key.clone(),
                            obj,
                            fields,
                            Some(current.rv),
                        )
                        .await
                };
                match result {
                    Ok(_) | Err(StoreError::NotFound) => break,
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(store_error(crd_info, &name, e)),
                }
            }
        }
        self.refresh_crds();
        Ok(())
    }

    /// CRD admission: validation, the cleanup finalizer and the status the
    /// real server's controllers set.
    fn admit_crd(&self, obj: &mut Value, creating: bool) -> Vec<Cause> {
        let causes = crate::crd::validate_crd(obj);
        if !causes.is_empty() {
            return causes;
        }
        if creating {
            let mut f = finalizers(obj);
            if !f.iter().any(|x| x == crate::crd::CLEANUP_FINALIZER) {
                f.push(crate::crd::CLEANUP_FINALIZER.to_string());
            }
            meta_mut(obj).insert("finalizers".into(), json!(f));
        }
        let others = self.stored_crds();
        crate::crd::set_status(obj, &others, &now_rfc3339());
        Vec::new()
    }

    /// Marks the cluster IPs of stored services as used (after a restart).
    pub fn load_cluster_ips(&self) -> Result<(), ApiError> {
        let services = self
            .store
            .list(
                "services",
                &ListOptions {
                    namespace: None,
                    rv: ListRv::Latest,
                    limit: None,
                    continue_token: None,
                },
                None,
            )
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let mut ips = self.cluster_ips.lock();
        for s in services.items {
            let v = parse_json(&s.json)?;
            if let Some(ip) = v.pointer("/spec/clusterIP").and_then(Value::as_str) {
                ips.reserve(ip);
            }
        }
        Ok(())
    }

    // ---- reads ------------------------------------------------------------

    pub fn get(&self, r: &ResourceRequest) -> Result<Arc<StoredObject>, ApiError> {
        let obj = self
            .store
            .get(&r.info.storage_name(), &key_of(r, &r.name))
            .ok_or_else(|| ApiError::not_found(r.info.group, r.info.plural, &r.name))?;
        Ok(at_version(r.info, obj))
    }

    /// A list as JSON bytes plus the parsed items when a Table or metadata
    /// rendering needs them.
    pub fn list(&self, r: &ResourceRequest, query: &Query) -> Result<store::ListResult, ApiError> {
        let selection = Selection::parse(r.info, query)?;
        let limit = query.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
        let continue_token = query.non_empty("continue").map(String::from);
        // Upstream's ValidateListOptions rules (422/400): crate::watch.
        let list_rv =
            crate::watch::list_rv(&crate::watch::VersionParams::from_query(query, false)?)?;
        let opts = ListOptions {
            namespace: (!r.namespace.is_empty()).then(|| r.namespace.clone()),
            rv: list_rv,
            limit,
            continue_token,
        };
        let filter = |o: &StoredObject| selection.matches(o);
        let result = if selection.is_everything() {
            self.store.list(&r.info.storage_name(), &opts, None)
        } else {
            self.store
                .list(&r.info.storage_name(), &opts, Some(&filter))
        };
        let mut result = result.map_err(|e| store_error(r.info, "", e))?;
        if r.info.custom.is_some() {
            result.items = result
                .items
                .into_iter()
                .map(|o| at_version(r.info, o))
                .collect();
        }
        Ok(result)
    }

    /// Renders a list result as `<Kind>List` JSON without re-parsing items.
    pub fn list_json(info: &ResourceInfo, result: &store::ListResult) -> Bytes {
        let mut meta = Map::new();
        meta.insert("resourceVersion".into(), json!(result.rv.to_string()));
        if let Some(c) = &result.continue_token {
            meta.insert("continue".into(), json!(c));
        }
        if let Some(n) = result.remaining_item_count {
            meta.insert("remainingItemCount".into(), json!(n));
        }
        let head = format!(
            "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
            info.list_kind(),
            info.api_version(),
            Value::Object(meta)
        );
        let total: usize = result.items.iter().map(|o| o.json.len() + 1).sum();
        let mut out = Vec::with_capacity(head.len() + total + 2);
        out.extend_from_slice(head.as_bytes());
        for (i, o) in result.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&o.json);
        }
        out.extend_from_slice(b"]}");
        Bytes::from(out)
    }

    // ---- writes -----------------------------------------------------------

    /// Refuses new objects in a missing or terminating namespace.
    fn check_namespace(&self, r: &ResourceRequest, name: &str) -> Result<(), ApiError> {
        if !r.info.namespaced {
            return Ok(());
        }
        let ns = self
            .store
            .get(
                "namespaces",
                &ObjectKey {
                    namespace: String::new(),
                    name: r.namespace.clone(),
                },
            )
            .ok_or_else(|| ApiError::not_found("", "namespaces", &r.namespace))?;
        let v = parse_json(&ns.json)?;
        let terminating = v
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
            || v.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating");
        if terminating {
            return Err(ApiError::forbidden(
                r.info.group,
                r.info.plural,
                name,
                format!(
                    "unable to create new content in namespace {} because it is being terminated",
                    r.namespace
                ),
            ));
        }
        Ok(())
    }

    /// POST to a collection.
    pub async fn create(
        &self,
        r: &ResourceRequest,
        mut obj: Value,
        dry_run: bool,
    ) -> Result<Reply, ApiError> {
        check_kind(&obj, r.info.group, r.info.version, r.info.kind)?;
        // Namespace in the body must agree with the URL.
        let body_ns = meta_str(&obj, "namespace").to_string();
        if r.info.namespaced && !body_ns.is_empty() && body_ns != r.namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let mut name = meta_str(&obj, "name").to_string();
        let generate = meta_str(&obj, "generateName").to_string();
        if name.is_empty() && !generate.is_empty() {
            name = format!("{generate}{}", admission::random_suffix(5));
        }
        {
            let meta = meta_mut(&mut obj);
            meta.insert("name".into(), json!(name));
            if r.info.namespaced {
                meta.insert("namespace".into(), json!(r.namespace));
            } else {
                meta.remove("namespace");
            }
            for server_owned in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
                "managedFields",
            ] {
                meta.remove(server_owned);
            }
            if meta
                .get("generateName")
                .is_some_and(|g| g.as_str().is_none_or(str::is_empty))
            {
                meta.remove("generateName");
            }
        }
        admission::default_on_create(r.info, &mut obj);
        let mut causes = admission::validate(r.info, &obj);
        if let Some(custom) = r.info.custom {
            if custom.status {
                if let Some(m) = obj.as_object_mut() {
                    m.remove("status");
                }
            }
            causes.extend(crate::crd::admit(custom, &mut obj));
        }
        if causes.is_empty() && crate::crd::is_crd(r.info) {
            causes.extend(self.admit_crd(&mut obj, true));
        }
        if !causes.is_empty() {
            return Err(invalid(r.info, &name, causes));
        }
        self.check_namespace(r, &name)?;
        if r.info.kind == "Pod" {
            self.admit_pod_priority(&mut obj)?;
        }
        let uid = uuid::Uuid::new_v4().to_string();
        {
            let meta = meta_mut(&mut obj);
            meta.insert("uid".into(), json!(uid));
            meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
            if admission::tracks_generation(r.info) || r.info.custom.is_some() {
                meta.insert("generation".into(), json!(1));
            }
        }
        admission::finish_job_selector(&mut obj, &uid);
        let mut allocated_ip = None;
        if r.info.kind == "Service" && r.info.group.is_empty() {
            allocated_ip = self.allocate_cluster_ip(&mut obj, &name, dry_run)?;
        }
        let obj = with_type_meta(r.info, obj);
        if dry_run {
            return Ok(Reply::json(201, &obj));
        }
        let obj = to_storage_version(r.info, obj);
        let fields = field_values(r.info, &obj);
        match self
            .store
            .create(&r.info.storage_name(), key_of(r, &name), obj, fields)
            .await
        {
            Ok(stored) => {
                if crate::crd::is_crd(r.info) {
                    self.refresh_crds();
                }
                Ok(Reply::raw(201, at_version(r.info, stored).json.clone()))
            }
            Err(e) => {
                if let Some(ip) = allocated_ip {
                    self.cluster_ips.lock().release(&ip);
                }
                Err(store_error(r.info, &name, e))
            }
        }
    }

    fn allocate_cluster_ip(
        &self,
        obj: &mut Value,
        name: &str,
        dry_run: bool,
    ) -> Result<Option<String>, ApiError> {
        let info = registry::lookup("", "v1", "services")
            .ok_or_else(|| ApiError::internal("no services"))?;
        if obj.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
            return Ok(None);
        }
        let requested = obj
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if requested == "None" {
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("clusterIPs".into(), json!(["None"]));
            }
            return Ok(None);
        }
        let mut ips = self.cluster_ips.lock();
        let ip = if requested.is_empty() {
            if dry_run {
                "10.96.0.0".to_string()
            } else {
                ips.allocate().ok_or_else(|| {
                    ApiError::internal("failed to allocate a serviceIP: range is full")
                })?
            }
        } else {
            if !ips.in_range(&requested) {
                return Err(admission::invalid(
                    info,
                    name,
                    vec![Cause::invalid(
                        "spec.clusterIPs",
                        &json!([requested]),
                        "failed to allocate IP: the provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12",
                    )],
                ));
            }
            if !dry_run && !ips.reserve(&requested) {
                return Err(admission::invalid(
                    info,
                    name,
                    vec![Cause::invalid(
                        "spec.clusterIPs",
                        &json!([requested]),
                        "failed to allocate IP: provided IP is already allocated",
                    )],
                ));
            }
            requested
        };
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("clusterIP".into(), json!(ip));
            spec.insert("clusterIPs".into(), json!([ip]));
        }
        Ok((!dry_run).then_some(ip))
    }

    /// The Priority admission plugin: resolve `priorityClassName`.
    fn admit_pod_priority(&self, pod: &mut Value) -> Result<(), ApiError> {
        let Some(class) = pod
            .pointer("/spec/priorityClassName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Ok(());
        };
        let class = class.to_string();
        let value = match class.as_str() {
            "system-node-critical" => Some(2_000_001_000),
            "system-cluster-critical" => Some(2_000_000_000),
            _ => self
                .store
                .get(
                    "priorityclasses.scheduling.k8s.io",
                    &ObjectKey {
                        namespace: String::new(),
                        name: class.clone(),
                    },
                )
                .and_then(|pc| serde_json::from_slice::<Value>(&pc.json).ok())
                .and_then(|pc| pc.get("value").and_then(Value::as_i64)),
        };
        let Some(value) = value else {
            return Err(ApiError::forbidden(
                "",
                "pods",
                meta_str(pod, "name"),
                format!("no PriorityClass with name {class} was found"),
            ));
        };
        if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("priority".into(), json!(value));
        }
        Ok(())
    }

    /// PUT of an object or of its status/finalize subresource.
    pub async fn update(
        &self,
        r: &ResourceRequest,
        obj: Value,
        dry_run: bool,
    ) -> Result<Reply, ApiError> {
        check_kind(&obj, r.info.group, r.info.version, r.info.kind)?;
        let body_name = meta_str(&obj, "name");
        if !body_name.is_empty() && body_name != r.name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({})",
                r.name
            )));
        }
        if r.info.namespaced {
            let ns = meta_str(&obj, "namespace");
            if !ns.is_empty() && ns != r.namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let precondition = match meta_str(&obj, "resourceVersion") {
            "" => None,
            v => Some(
                parse_rv(v).map_err(|_| ApiError::stale(r.info.group, r.info.plural, &r.name))?,
            ),
        };
        let obj = Arc::new(obj);
        self.guaranteed_update(r, dry_run, precondition, |_old| Ok((*obj).clone()))
            .await
    }

    /// PATCH of an object or subresource.
    pub async fn patch(
        &self,
        r: &ResourceRequest,
        content_type: Option<&str>,
        body: &[u8],
        dry_run: bool,
    ) -> Result<Reply, ApiError> {
        let media = content_type
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        let kind = PatchType::from_content_type(media).ok_or_else(|| {
            ApiError::unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json",
            )
        })?;
        if kind == PatchType::StrategicMerge && r.info.custom.is_some() {
            // As apiextensions-apiserver: custom resources have no Go
            // struct tags to merge by.
            return Err(ApiError::unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        if kind == PatchType::Apply {
            return Err(ApiError::unsupported_media_type(
                "server-side apply (application/apply-patch+yaml) is not supported by the kubemark embedded master; use client-side apply (kubectl apply without --server-side)",
            ));
        }
        let patch_doc: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
        let kind_name = r.info.kind;
        self.guaranteed_update(r, dry_run, None, |old| {
            let patched = match kind {
                PatchType::Merge => {
                    patch::merge_patch(old, &patch_doc).map_err(|e| e.to_api_error())?
                }
                PatchType::StrategicMerge => patch::strategic_merge(kind_name, old, &patch_doc)
                    .map_err(|e| e.to_api_error())?,
                PatchType::Json => {
                    patch::json_patch(old, &patch_doc).map_err(|e| e.to_api_error())?
                }
                PatchType::Apply => return Err(ApiError::internal("unreachable apply patch")),
            };
            Ok(patched)
        })
        .await
    }

    /// Read-modify-write with retries on concurrent changes: `mutate` gets
    /// the current object and returns the new one. A client-given
    /// resourceVersion (in the new object, or `precondition`) must match.
    async fn guaranteed_update<F>(
        &self,
        r: &ResourceRequest,
        dry_run: bool,
        precondition: Option<u64>,
        mutate: F,
    ) -> Result<Reply, ApiError>
    where
        F: Fn(&Value) -> Result<Value, ApiError>,
    {
        let storage = r.info.storage_name();
        let key = key_of(r, &r.name);
        for _ in 0..MAX_RETRIES {
            let current = self.get(r)?;
            if let Some(p) = precondition {
                if p != current.rv {
                    return Err(ApiError::stale(r.info.group, r.info.plural, &r.name));
                }
            }
            let old = parse_json(&current.json)?;
            let mut new = mutate(&old)?;
            if !new.is_object() {
                return Err(ApiError::bad_request(
                    "the patched object is not a JSON object",
                ));
            }
            check_kind(&new, r.info.group, r.info.version, r.info.kind)?;
            // A resourceVersion inside a patch or body is a precondition.
            let new_rv = meta_str(&new, "resourceVersion");
            if !new_rv.is_empty() && new_rv != current.rv.to_string() {
                return Err(ApiError::stale(r.info.group, r.info.plural, &r.name));
            }
            if meta_str(&new, "name") != r.name && !meta_str(&new, "name").is_empty() {
                return Err(admission::invalid(
                    r.info,
                    &r.name,
                    vec![Cause::invalid(
                        "metadata.name",
                        &json!(meta_str(&new, "name")),
                        "field is immutable",
                    )],
                ));
            }
            {
                let meta = meta_mut(&mut new);
                meta.insert("name".into(), json!(r.name));
                if r.info.namespaced {
                    meta.insert("namespace".into(), json!(r.namespace));
                }
            }
            let subresource = r.subresource.as_str();
            if r.info.kind == "Service" {
                // An update that omits the allocated cluster IP keeps it.
                for k in ["clusterIP", "clusterIPs"] {
                    let missing = new
                        .pointer(&format!("/spec/{k}"))
                        .is_none_or(|v| v.is_null() || v == "");
                    if missing {
                        if let (Some(v), Some(spec)) = (
                            old.pointer(&format!("/spec/{k}")).cloned(),
                            new.get_mut("spec").and_then(Value::as_object_mut),
                        ) {
                            spec.insert(k.into(), v);
                        }
                    }
                }
            }
            admission::prepare_update(r.info, subresource, &mut new, &old);
            admission::default_on_update(r.info, &mut new);
            if subresource == "finalize" {
                if let (Some(f), Some(spec)) = (
                    new.pointer("/spec/finalizers").cloned(),
                    new.get_mut("spec").and_then(Value::as_object_mut),
                ) {
                    spec.insert("finalizers".into(), f);
                }
            }
            let mut causes = admission::validate(r.info, &new);
            causes.extend(admission::validate_update(r.info, &new, &old));
            if let Some(custom) = r.info.custom {
                causes.extend(crate::crd::admit(custom, &mut new));
                if crate::crd::generation_changed(custom, &old, &new) {
                    let g = old
                        .pointer("/metadata/generation")
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    meta_mut(&mut new).insert("generation".into(), json!(g + 1));
                }
            }
            if causes.is_empty() && crate::crd::is_crd(r.info) {
                causes.extend(self.admit_crd(&mut new, false));
            }
            if !causes.is_empty() {
                return Err(invalid(r.info, &r.name, causes));
            }
            let new = to_storage_version(r.info, with_type_meta(r.info, new));
            if new == old {
                // No-op updates do not write (the real server skips them too).
                return Ok(Reply::raw(200, at_version(r.info, current).json.clone()));
            }
            if dry_run {
                return Ok(Reply::json(200, &new));
            }
            // An object being deleted goes away once its finalizers are gone.
            let deleting = new
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|v| !v.is_null());
            let ns_finalizers_done = r.info.kind != "Namespace"
                || new
                    .pointer("/spec/finalizers")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty);
            if deleting
                && finalizers(&new).is_empty()
                && ns_finalizers_done
                && !self.graceful_pending(r.info, &new)
            {
                match self
                    .store
                    .delete(&storage, &key, Some(current.rv), None)
                    .await
                {
                    Ok(gone) => {
                        self.after_delete(r.info, &gone);
                        return Ok(Reply::raw(200, gone.json.clone()));
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(store_error(r.info, &r.name, e)),
                }
            }
            let fields = field_values(r.info, &new);
            match self
                .store
                .update(&storage, key.clone(), new, fields, Some(current.rv))
                .await
            {
                Ok(stored) => {
                    if crate::crd::is_crd(r.info) {
                        self.refresh_crds();
                    }
                    return Ok(Reply::raw(200, at_version(r.info, stored).json.clone()));
                }
                Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
                Err(e) => return Err(store_error(r.info, &r.name, e)),
            }
        }
        Err(ApiError::conflict(
            r.info.group,
            r.info.plural,
            &r.name,
            "too many concurrent changes; please retry",
        ))
    }

    /// A pod with a graceful deletion in progress waits for its kubelet.
    fn graceful_pending(&self, info: &ResourceInfo, obj: &Value) -> bool {
        info.kind == "Pod"
            && info.group.is_empty()
            && obj
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                > 0
    }

    /// Releases what a deleted object held (service cluster IPs).
    fn after_delete(&self, info: &ResourceInfo, gone: &StoredObject) {
        if info.kind == "Service" && info.group.is_empty() {
            if let Ok(v) = serde_json::from_slice::<Value>(&gone.json) {
                if let Some(ip) = v.pointer("/spec/clusterIP").and_then(Value::as_str) {
                    self.cluster_ips.lock().release(ip);
                }
            }
        }
    }

    /// DELETE of one object.
    pub async fn delete(
        &self,
        r: &ResourceRequest,
        opts: &DeleteOptions,
    ) -> Result<Reply, ApiError> {
        let (code, v) = self.delete_one(r, &r.name, opts).await?;
        if crate::crd::is_crd(r.info) && !opts.dry_run {
            self.finish_crd_deletions().await?;
        }
        Ok(Reply::json(code, &v))
    }

    /// Deletes (or starts deleting) one object; returns the status code and
    /// what to answer.
    async fn delete_one(
        &self,
        r: &ResourceRequest,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<(u16, Value), ApiError> {
        // NamespaceLifecycle admission protects the system namespaces.
        if r.info.kind == "Namespace" && matches!(name, "default" | "kube-system" | "kube-public") {
            return Err(ApiError::forbidden(
                "",
                "namespaces",
                name,
                "this namespace may not be deleted",
            ));
        }
        let storage = r.info.storage_name();
        let key = key_of(r, name);
        let info = r.info;
        for _ in 0..MAX_RETRIES {
            let current = self
                .store
                .get(&storage, &key)
                .ok_or_else(|| ApiError::not_found(info.group, info.plural, name))?;
            let mut obj = parse_json(&current.json)?;
            let uid = meta_str(&obj, "uid").to_string();
            if let Some(p) = &opts.precondition_uid {
                if *p != uid {
                    return Err(ApiError::conflict(
                        info.group,
                        info.plural,
                        name,
                        &format!("Precondition failed: UID in precondition: {p}, UID in object meta: {uid}"),
                    ));
                }
            }
            if let Some(p) = &opts.precondition_rv {
                if *p != current.rv.to_string() {
                    return Err(ApiError::conflict(
                        info.group,
                        info.plural,
                        name,
                        &format!(
                            "Precondition failed: ResourceVersion in precondition: {p}, ResourceVersion in object meta: {}",
                            current.rv
                        ),
                    ));
                }
            }
            let mut finals = finalizers(&obj);
            match opts.propagation_policy.as_deref() {
                Some("Foreground") if !finals.iter().any(|f| f == "foregroundDeletion") => {
                    finals.retain(|f| f != "orphan");
                    finals.push("foregroundDeletion".into());
                }
                Some("Orphan") if !finals.iter().any(|f| f == "orphan") => {
                    finals.retain(|f| f != "foregroundDeletion");
                    finals.push("orphan".into());
                }
                _ => {}
            }
            let already_deleting = obj
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|v| !v.is_null());
            let grace = self.grace_period(info, &obj, opts);
            let namespace_pending = info.kind == "Namespace"
                && obj
                    .pointer("/spec/finalizers")
                    .and_then(Value::as_array)
                    .is_some_and(|f| !f.is_empty());
            if !finals.is_empty() || grace > 0 || namespace_pending {
                // Graceful: mark the object and let its owner finish.
                let now = time::OffsetDateTime::now_utc();
                let existing_grace = obj
                    .pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_i64);
                let shorten = already_deleting && existing_grace.is_some_and(|g| grace < g);
                let changed_finalizers = finals != finalizers(&obj);
                if already_deleting && !shorten && !changed_finalizers {
                    return Ok((200, obj));
                }
                {
                    let meta = meta_mut(&mut obj);
                    if !already_deleting || shorten {
                        let when = now + time::Duration::seconds(grace);
                        meta.insert("deletionTimestamp".into(), json!(format_time(when)));
                        meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
                        if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
                            meta.insert("generation".into(), json!(g + 1));
                        }
                    }
                    if finals.is_empty() {
                        meta.remove("finalizers");
                    } else {
                        meta.insert("finalizers".into(), json!(finals));
                    }
                }
                if info.kind == "Namespace" {
                    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
                        status.insert("phase".into(), json!("Terminating"));
                    }
                }
                if opts.dry_run {
                    return Ok((200, obj));
                }
                let fields = field_values(info, &obj);
                match self
                    .store
                    .update(&storage, key.clone(), obj, fields, Some(current.rv))
                    .await
                {
                    Ok(stored) => return Ok((200, parse_json(&stored.json)?)),
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(store_error(info, name, e)),
                }
            }
            if opts.dry_run {
                return Ok((200, obj));
            }
            match self
                .store
                .delete(&storage, &key, Some(current.rv), None)
                .await
            {
                Ok(gone) => {
                    self.after_delete(info, &gone);
                    let returns_object = matches!(info.kind, "Pod" | "Service" | "Namespace");
                    if returns_object {
                        return Ok((200, parse_json(&gone.json)?));
                    }
                    return Ok((200, success_status(info.group, info.plural, name, &uid)));
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(info, name, e)),
            }
        }
        Err(ApiError::conflict(
            info.group,
            info.plural,
            name,
            "too many concurrent changes; please retry",
        ))
    }

    /// Grace period for a delete: pods bound to a node wait for their
    /// kubelet; everything else goes at once.
    fn grace_period(&self, info: &ResourceInfo, obj: &Value, opts: &DeleteOptions) -> i64 {
        if info.kind != "Pod" || !info.group.is_empty() {
            return 0;
        }
        let node = obj
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        let phase = obj
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("");
        if node.is_empty() || phase == "Succeeded" || phase == "Failed" {
            return 0;
        }
        let default = obj
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        // A negative grace period means "now" (as 1 in the real server, we
        // treat it as immediate).
        opts.grace_period_seconds.unwrap_or(default).max(0)
    }

    /// DELETE on a collection: deletes every matching object.
    pub async fn delete_collection(
        &self,
        r: &ResourceRequest,
        query: &Query,
        opts: &DeleteOptions,
    ) -> Result<Reply, ApiError> {
        let result = self.list(r, query)?;
        let mut deleted = Vec::new();
        for item in &result.items {
            let sub = ResourceRequest {
                namespace: item.key.namespace.clone(),
                ..r.clone()
            };
            match self.delete_one(&sub, &item.key.name, opts).await {
                Ok((_, v)) => deleted.push(v),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        if crate::crd::is_crd(r.info) && !opts.dry_run {
            self.finish_crd_deletions().await?;
        }
        let list = json!({
            "kind": r.info.list_kind(),
            "apiVersion": r.info.api_version(),
            "metadata": {"resourceVersion": self.store.current_rv().to_string()},
            "items": deleted,
        });
        Ok(Reply::json(200, &list))
    }

    // ---- subresources -----------------------------------------------------

    /// GET of `<workload>/scale` as an autoscaling/v1 Scale.
    pub fn get_scale(&self, r: &ResourceRequest) -> Result<Reply, ApiError> {
        let stored = self.get(r)?;
        let v = parse_json(&stored.json)?;
        Ok(Reply::json(200, &scale_for(r.info, &v)))
    }

    /// PUT or PATCH of `<workload>/scale`: changes `spec.replicas`.
    pub async fn update_scale(
        &self,
        r: &ResourceRequest,
        verb_patch: Option<(Option<&str>, &[u8])>,
        put_body: Option<Value>,
        dry_run: bool,
    ) -> Result<Reply, ApiError> {
        let main = ResourceRequest {
            subresource: String::new(),
            ..r.clone()
        };
        let patch_parts = match verb_patch {
            Some((ct, body)) => {
                let media = ct
                    .unwrap_or("")
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let kind = PatchType::from_content_type(&media)
                    .filter(|k| *k != PatchType::Apply)
                    .ok_or_else(|| {
                        ApiError::unsupported_media_type("unsupported patch type for scale")
                    })?;
                let doc: Value = serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
                Some((kind, doc))
            }
            None => None,
        };
        let mut precondition = None;
        if let Some(body) = &put_body {
            if body
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k != "Scale")
            {
                return Err(ApiError::bad_request(
                    "the body of a scale update must be a Scale",
                ));
            }
            if let Some(rv) = body
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                precondition = Some(parse_rv(rv)?);
            }
        }
        let reply = self
            .guaranteed_update(&main, dry_run, precondition, |old| {
                let scale = scale_for(r.info, old);
                let new_scale = match (&patch_parts, &put_body) {
                    (Some((PatchType::Merge, doc)), _) => {
                        patch::merge_patch(&scale, doc).map_err(|e| e.to_api_error())?
                    }
                    (Some((PatchType::StrategicMerge, doc)), _) => {
                        patch::strategic_merge("Scale", &scale, doc)
                            .map_err(|e| e.to_api_error())?
                    }
                    (Some((PatchType::Json, doc)), _) => {
                        patch::json_patch(&scale, doc).map_err(|e| e.to_api_error())?
                    }
                    (_, Some(body)) => body.clone(),
                    _ => return Err(ApiError::bad_request("no scale given")),
                };
                let replicas = new_scale
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if replicas < 0 {
                    return Err(ApiError::invalid(
                        "autoscaling",
                        "Scale",
                        meta_str(old, "name"),
                        vec![Cause::invalid(
                            "spec.replicas",
                            &json!(replicas),
                            "must be greater than or equal to 0",
                        )],
                    ));
                }
                let mut new = old.clone();
                if let Some(scale) = r.info.custom.and_then(|c| c.scale.as_ref()) {
                    crate::crd::set_path(&mut new, &scale.spec_replicas_path, json!(replicas));
                } else if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.insert("replicas".into(), json!(replicas));
                }
                if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove("resourceVersion");
                }
                Ok(new)
            })
            .await?;
        let v = parse_json(&reply.body)?;
        Ok(Reply::json(200, &scale_for(r.info, &v)))
    }

    /// POST `pods/binding` or `bindings`: assigns a pod to a node.
    pub async fn bind(&self, r: &ResourceRequest, binding: Value) -> Result<Reply, ApiError> {
        let pod_name = if r.subresource == "binding" {
            r.name.clone()
        } else {
            meta_str(&binding, "name").to_string()
        };
        let target = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if target.is_empty() {
            return Err(ApiError::invalid(
                "",
                "Binding",
                &pod_name,
                vec![Cause::required("target.name")],
            ));
        }
        let pods =
            registry::lookup("", "v1", "pods").ok_or_else(|| ApiError::internal("no pods"))?;
        let pod_req = ResourceRequest {
            info: pods,
            namespace: r.namespace.clone(),
            name: pod_name.clone(),
            subresource: String::new(),
            verb: "update",
        };
        let key = key_of(&pod_req, &pod_name);
        for _ in 0..MAX_RETRIES {
            let current = self.get(&pod_req)?;
            let mut pod = parse_json(&current.json)?;
            if pod
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|v| !v.is_null())
            {
                return Err(ApiError::conflict(
                    "",
                    "pods",
                    &pod_name,
                    "pod is being deleted, cannot be assigned to a host",
                ));
            }
            let existing = pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !existing.is_empty() {
                return Err(ApiError::conflict(
                    "",
                    "pods",
                    &pod_name,
                    &format!("pod {pod_name} is already assigned to node {existing:?}"),
                ));
            }
            if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("nodeName".into(), json!(target));
            }
            set_condition(&mut pod, "PodScheduled", "True", None, None);
            let fields = field_values(pods, &pod);
            match self
                .store
                .update("pods", key.clone(), pod, fields, Some(current.rv))
                .await
            {
                Ok(_) => {
                    return Ok(Reply::json(
                        201,
                        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
                    ))
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(pods, &pod_name, e)),
            }
        }
        Err(ApiError::conflict(
            "",
            "pods",
            &pod_name,
            "too many concurrent changes; please retry",
        ))
    }

    /// POST `pods/eviction`: deletes the pod (there are no disruption
    /// budgets to consult in the embedded master).
    pub async fn evict(&self, r: &ResourceRequest, eviction: Value) -> Result<Reply, ApiError> {
        let pods = r.info;
        let pod_req = ResourceRequest {
            subresource: String::new(),
            verb: "delete",
            ..r.clone()
        };
        let mut opts = DeleteOptions::default();
        if let Some(g) = eviction
            .pointer("/deleteOptions/gracePeriodSeconds")
            .and_then(Value::as_i64)
        {
            opts.grace_period_seconds = Some(g);
        }
        self.delete_one(&pod_req, &r.name, &opts)
            .await
            .map_err(|e| {
                if e.code == 404 {
                    ApiError::not_found(pods.group, pods.plural, &r.name)
                } else {
                    e
                }
            })?;
        Ok(Reply::json(
            201,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        ))
    }

    /// POST `serviceaccounts/<name>/token`: a signed TokenRequest.
    pub fn token_request(&self, r: &ResourceRequest, req: Value) -> Result<Reply, ApiError> {
        let sa = self.get(&ResourceRequest {
            subresource: String::new(),
            ..r.clone()
        })?;
        let sa_obj = parse_json(&sa.json)?;
        let expiration = req
            .pointer("/spec/expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(3600);
        if expiration < 600 {
            return Err(ApiError::invalid(
                "authentication.k8s.io",
                "TokenRequest",
                &r.name,
                vec![Cause::invalid(
                    "spec.expirationSeconds",
                    &json!(expiration),
                    "may not specify a duration less than 10 minutes",
                )],
            ));
        }
        let audiences: Vec<String> = req
            .pointer("/spec/audiences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .filter(|a: &Vec<String>| !a.is_empty())
            .unwrap_or_else(|| vec!["https://kubernetes.default.svc.cluster.local".to_string()]);
        let bound = req.pointer("/spec/boundObjectRef");
        let pod = bound
            .filter(|b| b.get("kind").and_then(Value::as_str) == Some("Pod"))
            .map(|b| BoundObject {
                name: b
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                uid: b
                    .get("uid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            });
        let now = unix_now();
        let claims = TokenClaims {
            namespace: r.namespace.clone(),
            service_account_name: r.name.clone(),
            service_account_uid: meta_str(&sa_obj, "uid").to_string(),
            audiences: audiences.clone(),
            issued_at: now,
            not_before: now,
            expires_at: now + expiration,
            warn_after: None,
            pod,
        };
        let token = self
            .signer
            .issue(claims)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let expires = time::OffsetDateTime::from_unix_timestamp(now + expiration)
            .map(format_time)
            .unwrap_or_default();
        let mut spec = req.get("spec").cloned().unwrap_or_else(|| json!({}));
        if let Some(m) = spec.as_object_mut() {
            m.insert("audiences".into(), json!(audiences));
            m.insert("expirationSeconds".into(), json!(expiration));
        }
        let out = json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": r.name, "namespace": r.namespace, "creationTimestamp": now_rfc3339()},
            "spec": spec,
            "status": {"token": token, "expirationTimestamp": expires},
        });
        Ok(Reply::json(201, &out))
    }

    /// Node name of a stored pod (for node authorization).
    pub fn pod_node(&self, namespace: &str, name: &str) -> Option<String> {
        let pod = self.store.get(
            "pods",
            &ObjectKey {
                namespace: namespace.to_string(),
                name: name.to_string(),
            },
        )?;
        let v: Value = serde_json::from_slice(&pod.json).ok()?;
        v.pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .map(String::from)
    }

    /// Creates an object unless it exists (used to bootstrap namespaces and
    /// the `kubernetes` service at startup).
    pub async fn ensure(
        &self,
        plural_group: (&str, &str),
        namespace: &str,
        obj: Value,
    ) -> Result<(), ApiError> {
        let (group, plural) = plural_group;
        let info = registry::RESOURCES
            .iter()
            .find(|r| r.group == group && r.plural == plural)
            .ok_or_else(|| ApiError::internal(format!("unknown resource {plural}")))?;
        let name = meta_str(&obj, "name").to_string();
        let r = ResourceRequest {
            info,
            namespace: namespace.to_string(),
            name: String::new(),
            subresource: String::new(),
            verb: "create",
        };
        if self
            .store
            .get(&info.storage_name(), &key_of(&r, &name))
            .is_some()
        {
            return Ok(());
        }
        match self.create(&r, obj, false).await {
            Ok(_) => Ok(()),
            Err(e) if e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The user name a request is attributed to in metrics.
    pub fn user_label(user: Option<&UserInfo>) -> String {
        user.map(|u| u.name.clone())
            .unwrap_or_else(|| "system:anonymous".into())
    }
}

/// Sets (or adds) a condition of the given type in `status.conditions`,
/// updating `lastTransitionTime` when the status changes.
pub fn set_condition(
    obj: &mut Value,
    kind: &str,
    status: &str,
    reason: Option<&str>,
    message: Option<&str>,
) {
    let now = now_rfc3339();
    if !obj.get("status").is_some_and(Value::is_object) {
        obj["status"] = json!({});
    }
    let st = &mut obj["status"];
    if !st.get("conditions").is_some_and(Value::is_array) {
        st["conditions"] = json!([]);
    }
    let Some(conds) = st["conditions"].as_array_mut() else {
        return;
    };
    let mut cond =
        json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
    if let Some(r) = reason {
        cond["reason"] = json!(r);
    }
    if let Some(m) = message {
        cond["message"] = json!(m);
    }
    match conds
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
    {
        Some(existing) => {
            if existing.get("status").and_then(Value::as_str) == Some(status) {
                cond["lastTransitionTime"] = existing
                    .get("lastTransitionTime")
                    .cloned()
                    .unwrap_or(json!(now));
            }
            *existing = cond;
        }
        None => conds.push(cond),
    }
}

/// A stored object as read at the request's version (custom resources
/// are stored at their CRD's storage version).
fn at_version(info: &ResourceInfo, obj: Arc<StoredObject>) -> Arc<StoredObject> {
    match crate::crd::at_version(info, &obj.json) {
        Some(json) => Arc::new(StoredObject {
            json: Bytes::from(json),
            ..(*obj).clone()
        }),
        None => obj,
    }
}

/// A custom resource is stored at its CRD's storage version.
fn to_storage_version(info: &ResourceInfo, mut obj: Value) -> Value {
    if let (Some(custom), Some(m)) = (info.custom, obj.as_object_mut()) {
        if custom.storage_version != info.version {
            m.insert(
                "apiVersion".into(),
                json!(format!("{}/{}", info.group, custom.storage_version)),
            );
        }
    }
    obj
}

/// 422 Invalid naming the kind as the real server does: `CronTab.stable.example.com`
/// for custom resources.
fn invalid(info: &ResourceInfo, name: &str, causes: Vec<Cause>) -> ApiError {
    let mut e = admission::invalid(info, name, causes);
    if info.custom.is_some() {
        e.message = e
            .message
            .replacen(info.kind, &format!("{}.{}", info.kind, info.group), 1);
    }
    e
}

/// The Scale of a workload or of a custom resource with a scale
/// subresource.
fn scale_for(info: &ResourceInfo, v: &Value) -> Value {
    match info.custom.and_then(|c| c.scale.as_ref()) {
        Some(scale) => crate::crd::scale_of(scale, v),
        None => scale_of(v),
    }
}

/// The autoscaling/v1 Scale of a workload.
pub fn scale_of(v: &Value) -> Value {
    let meta = v.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let selector = match v.pointer("/spec/selector") {
        Some(sel) if sel.get("matchLabels").is_some() || sel.get("matchExpressions").is_some() => {
            LabelSelector::from_label_selector_json(sel)
                .map(|s| s.to_string())
                .unwrap_or_default()
        }
        // ReplicationControllers have a plain map selector.
        Some(Value::Object(m)) => {
            let mut parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            parts.sort();
            parts.join(",")
        }
        _ => String::new(),
    };
    let mut scale_meta = Map::new();
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(x) = meta.get(k) {
            scale_meta.insert(k.into(), x.clone());
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": v.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)},
        "status": {
            "replicas": v.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers() {
        assert_eq!(Rendering::from_accept(None).ok(), Some(Rendering::Object));
        assert_eq!(
            Rendering::from_accept(Some(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
            ))
            .ok(),
            Some(Rendering::Table)
        );
        assert_eq!(
            Rendering::from_accept(Some("application/vnd.kubernetes.protobuf,application/json"))
                .ok(),
            Some(Rendering::Object)
        );
        assert_eq!(
            Rendering::from_accept(Some(
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
            ))
            .ok(),
            Some(Rendering::PartialObjectMetadata)
        );
        assert_eq!(
            Rendering::from_accept(Some("application/vnd.kubernetes.protobuf")).ok(),
            Some(Rendering::Object)
        );
        assert!(Rendering::from_accept(Some("text/html")).is_err());
    }

    #[test]
    fn wrong_kind_message_matches_the_real_server() {
        let e = check_kind(
            &json!({"apiVersion": "v1", "kind": "Secret"}),
            "",
            "v1",
            "ConfigMap",
        )
        .expect_err("kind");
        assert_eq!(
            e.message,
            "Secret in version \"v1\" cannot be handled as a ConfigMap: converting (v1.Secret) to (core.ConfigMap): unknown conversion"
        );
        assert!(check_kind(
            &json!({"apiVersion": "v1", "kind": "ConfigMap"}),
            "",
            "v1",
            "ConfigMap"
        )
        .is_ok());
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let e = decode_body(Some("application/json"), b"{not json", "ConfigMap").expect_err("bad");
        assert_eq!(e.code, 400);
        assert!(e.message.starts_with(
            "the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: "
        ));
        assert!(e.message.ends_with("({not json)"));
        let yaml = decode_body(
            Some("application/yaml"),
            b"kind: ConfigMap\nmetadata:\n  name: x\n",
            "ConfigMap",
        )
        .expect("yaml");
        assert_eq!(yaml["metadata"]["name"], "x");
    }

    #[test]
    fn cluster_ips_are_unique_and_released() {
        let mut a = ClusterIpAllocator::new();
        assert!(a.reserve("10.96.0.1"));
        assert!(!a.reserve("10.96.0.1"));
        let ip = a.allocate().expect("ip");
        assert_ne!(ip, "10.96.0.1");
        assert!(!a.reserve(&ip));
        a.release(&ip);
        assert!(a.reserve(&ip));
        assert!(!a.in_range("192.168.0.1"));
    }

    #[test]
    fn scale_of_a_deployment() {
        let d = json!({"metadata": {"name": "d", "namespace": "n", "resourceVersion": "5"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "x"}}}, "status": {"replicas": 2}});
        let s = scale_of(&d);
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"]["replicas"], 2);
        assert_eq!(s["status"]["selector"], "app=x");
        assert_eq!(s["metadata"]["resourceVersion"], "5");
    }

    #[test]
    fn conditions_keep_transition_time_when_unchanged() {
        let mut pod = json!({"status": {"conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "old"}]}});
        set_condition(&mut pod, "PodScheduled", "True", None, None);
        assert_eq!(pod["status"]["conditions"][0]["lastTransitionTime"], "old");
        set_condition(&mut pod, "Ready", "False", Some("r"), None);
        assert_eq!(pod["status"]["conditions"][1]["reason"], "r");
    }
}
