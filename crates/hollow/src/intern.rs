//! Parsed Services and EndpointSlices shared fleet-wide: interned by
//! (UID, resourceVersion), so thousands of hollow proxies hold one copy of
//! each object version. Owned by [`Shared`](crate::shared::Shared).

use crate::proxy_rules::{
    service_info, slice_info, ServiceInfo, ServiceView, SliceInfo, SliceView,
};
use parking_lot::Mutex;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};

type InternMap<T> = Mutex<(HashMap<(u64, u64), Weak<T>>, usize)>;

/// Shares parsed objects between proxies.
#[derive(Default)]
pub struct Interner {
    services: InternMap<ServiceInfo>,
    slices: InternMap<SliceInfo>,
}

fn hash_of(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn intern<T>(map: &InternMap<T>, uid: &str, rv: &str, make: impl FnOnce() -> T) -> Arc<T> {
    let key = (hash_of(uid), hash_of(rv));
    let mut guard = map.lock();
    let (m, pruned_at) = &mut *guard;
    if let Some(v) = m.get(&key).and_then(Weak::upgrade) {
        return v;
    }
    let v = Arc::new(make());
    m.insert(key, Arc::downgrade(&v));
    // Drop dead entries now and then (amortised over inserts).
    if m.len() > 2 * *pruned_at + 1024 {
        m.retain(|_, w| w.strong_count() > 0);
        *pruned_at = m.len();
    }
    v
}

impl Interner {
    pub fn service(&self, v: &ServiceView) -> Arc<ServiceInfo> {
        intern(
            &self.services,
            &v.metadata.uid,
            &v.metadata.resource_version,
            || service_info(v),
        )
    }

    pub fn slice(&self, v: &SliceView) -> Arc<SliceInfo> {
        intern(
            &self.slices,
            &v.metadata.uid,
            &v.metadata.resource_version,
            || slice_info(v),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn interns_by_uid_and_version() {
        let i = Interner::default();
        let v1: ServiceView = serde_json::from_value(json!({"metadata": {"uid": "u", "resourceVersion": "1", "name": "a"}, "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 80}]}})).unwrap();
        let v2: ServiceView = serde_json::from_value(json!({"metadata": {"uid": "u", "resourceVersion": "2", "name": "a"}, "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 80}, {"port": 81}]}})).unwrap();
        let a = i.service(&v1);
        let b = i.service(&v1);
        assert!(Arc::ptr_eq(&a, &b));
        let c = i.service(&v2);
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.ports.len(), 2);
        drop((a, b));
        // A dead entry is rebuilt.
        let d = i.service(&v1);
        assert_eq!(d.ports.len(), 1);
    }
}
