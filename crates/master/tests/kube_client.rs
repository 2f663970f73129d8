//! kube-rs against the embedded master: typed Api CRUD, pagination, and the
//! runtime watcher, including a relist after `410 Expired`.

mod common;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use std::collections::BTreeMap;
use std::time::Duration;

fn cm(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_string(), name.to_string())])),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_crud_and_pagination() {
    let m = common::start().await;
    let client = m.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..25 {
        cms.create(&PostParams::default(), &cm(&format!("cm-{i:02}")))
            .await
            .expect("create");
    }
    let got = cms.get("cm-07").await.expect("get");
    assert_eq!(
        got.data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(String::as_str),
        Some("cm-07")
    );

    // Pages of 10: 10, 10, 5, in key order, consistent.
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(10);
    let mut pages = 0;
    loop {
        let page = cms.list(&lp).await.expect("list page");
        pages += 1;
        names.extend(page.items.iter().filter_map(|c| c.metadata.name.clone()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => {
                // A write between pages does not show up in later pages.
                if pages == 1 {
                    cms.create(&PostParams::default(), &cm("cm-99"))
                        .await
                        .expect("create between pages");
                }
                lp = lp.continue_token(&token);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names, expected);

    // Update with a stale resourceVersion conflicts.
    let mut stale = got.clone();
    cms.patch(
        "cm-07",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"data": {"x": "1"}})),
    )
    .await
    .expect("patch");
    stale.data = Some(BTreeMap::from([("k".into(), "changed".into())]));
    let err = cms
        .replace("cm-07", &PostParams::default(), &stale)
        .await
        .expect_err("stale replace");
    match err {
        kube::Error::Api(s) => assert_eq!((s.code, s.reason.as_str()), (409, "Conflict")),
        other => panic!("unexpected error {other:?}"),
    }

    // Label selector list.
    cms.patch(
        "cm-03",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"labels": {"pick": "me"}}})),
    )
    .await
    .expect("label");
    let picked = cms
        .list(&ListParams::default().labels("pick=me"))
        .await
        .expect("list");
    assert_eq!(picked.items.len(), 1);

    cms.delete("cm-03", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(cms.get_opt("cm-03").await.expect("get_opt").is_none());

    // Typed deployments and namespaces.
    let nss: Api<Namespace> = Api::all(client.clone());
    let ns_names: Vec<String> = nss
        .list(&ListParams::default())
        .await
        .expect("ns")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(ns_names.contains(&"kube-node-lease".to_string()));
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                 "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}}}
    }))
    .expect("deployment");
    let created = deploys
        .create(&PostParams::default(), &d)
        .await
        .expect("create deployment");
    assert_eq!(created.spec.and_then(|s| s.replicas), Some(1));
    let scale = deploys.get_scale("d").await.expect("scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(1));
    let pods: Api<Pod> = Api::all(client);
    assert!(pods
        .list(&ListParams::default())
        .await
        .expect("pods")
        .items
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_sees_changes_and_relists_after_410() {
    let m = common::start_with(|c| c.history_capacity = 5).await;
    let client = m.client().await;
    for ns in ["watched", "noise"] {
        let nss: Api<Namespace> = Api::all(client.clone());
        let n: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).expect("ns");
        nss.create(&PostParams::default(), &n)
            .await
            .expect("namespace");
    }
    let watched: Api<ConfigMap> = Api::namespaced(client.clone(), "watched");
    let noise: Api<ConfigMap> = Api::namespaced(client.clone(), "noise");
    watched
        .create(&PostParams::default(), &cm("first"))
        .await
        .expect("create");

    // Short watch timeouts make the watcher re-watch from its last
    // resourceVersion, which the noise below pushes out of history.
    let cfg = watcher::Config::default().timeout(1);
    let mut stream = watcher(watched.clone(), cfg).boxed();
    let mut init_done = 0;
    let mut applied: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline && !applied.contains(&"second".to_string()) {
        let ev = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
        let Ok(Some(ev)) = ev else { continue };
        match ev {
            Ok(watcher::Event::InitDone) => {
                init_done += 1;
                if init_done == 1 {
                    // Writes the watcher does not see, enough to compact
                    // away its resourceVersion.
                    for i in 0..20 {
                        noise
                            .create(&PostParams::default(), &cm(&format!("n{i}")))
                            .await
                            .expect("noise");
                    }
                } else if init_done == 2 {
                    watched
                        .create(&PostParams::default(), &cm("second"))
                        .await
                        .expect("create second");
                }
            }
            Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::InitApply(o)) => {
                if let Some(n) = o.metadata.name {
                    applied.push(n);
                }
            }
            Ok(_) => {}
            Err(e) => {
                // The 410 surfaces as an error before the relist.
                let text = e.to_string();
                assert!(
                    text.contains("410") || text.contains("Expired") || text.contains("too old"),
                    "unexpected watcher error {text}"
                );
            }
        }
    }
    assert!(applied.contains(&"first".to_string()), "{applied:?}");
    assert!(applied.contains(&"second".to_string()), "{applied:?}");
    assert!(
        init_done >= 2,
        "watcher did not relist after 410 (InitDone seen {init_done} times)"
    );
}
