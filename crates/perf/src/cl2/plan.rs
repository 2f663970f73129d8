//! What phases do to objects (pure): ClusterLoader2's `ExecutePhase`
//! state machine — per namespace and bundle object, replicas above
//! `replicasPerNamespace` are deleted (highest bundle object first),
//! missing ones created, and when the count already matches, every
//! replica is updated — plus object rendering (`.Name`, `.Index`,
//! `.Namespace`, `.BaseName`, `templateFillMap` over the test mapping) and
//! the `--dry-run` plan.

use super::config::{Config, Loader, Phase, StepBody};
use super::template::{Template, Value};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{path}: {reason}")]
    Template { path: String, reason: String },
    #[error("{0}")]
    Bundle(String),
}

/// An object template's identity: ClusterLoader2 keys replica counts by
/// basename, kind and API group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId {
    pub basename: String,
    pub api_version: String,
    pub kind: String,
}

/// `apiVersion` and `kind` of a template, read the way ClusterLoader2's
/// `RawToObject` does: with every `{{...}}` removed.
pub fn raw_kind(text: &str) -> Option<(String, String)> {
    let mut api_version = None;
    let mut kind = None;
    for line in text.lines() {
        let line = match (line.find("{{"), line.rfind("}}")) {
            (Some(a), Some(b)) if b > a => format!("{}{}", &line[..a], &line[b + 2..]),
            _ => line.to_string(),
        };
        let value = |l: &str, key: &str| {
            l.strip_prefix(key)
                .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
                .filter(|v| !v.is_empty())
        };
        if let Some(v) = value(&line, "apiVersion:") {
            api_version.get_or_insert(v);
        }
        if let Some(v) = value(&line, "kind:") {
            kind.get_or_insert(v);
        }
    }
    Some((api_version?, kind?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpKind {
    Create,
    Patch,
    Delete,
}

/// One object operation of a phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjOp {
    pub op: OpKind,
    /// Index into the phase's objectBundle.
    pub object: usize,
    /// "" for cluster-scoped phases (no namespaceRange).
    pub namespace: String,
    pub replica: usize,
}

/// A tuning-set action: operations carried out one after another.
pub type Action = Vec<ObjOp>;

/// Replica counts per (namespace, object).
#[derive(Debug, Clone, Default)]
pub struct State {
    counts: HashMap<(String, ObjectId), usize>,
}

impl State {
    pub fn count(&self, namespace: &str, id: &ObjectId) -> Option<usize> {
        self.counts
            .get(&(namespace.to_string(), id.clone()))
            .copied()
    }
}

/// The namespaces of a phase: `<basename or prefix>-<i>` for i in
/// [min, max], or the cluster scope ("") without a range.
pub fn phase_namespaces(phase: &Phase, prefix: &str) -> Vec<String> {
    match &phase.namespace_range {
        None => vec![String::new()],
        Some(r) => {
            let base = r.basename.as_deref().unwrap_or(prefix);
            (r.min..=r.max).map(|i| format!("{base}-{i}")).collect()
        }
    }
}

/// The actions of `phase` given `state`, which is updated to the desired
/// counts. `existing(ns, object)` gives the replicas of objects listed by
/// `listUnknownObjectOptions` that the state does not know yet.
pub fn phase_actions(
    state: &mut State,
    phase: &Phase,
    ids: &[ObjectId],
    namespaces: &[String],
    existing: &dyn Fn(&str, usize) -> usize,
) -> Result<Vec<Action>, PlanError> {
    let want = phase.replicas_per_namespace;
    let mut actions = Vec::new();
    for ns in namespaces {
        let current: Vec<usize> = ids
            .iter()
            .enumerate()
            .map(|(j, id)| {
                state.count(ns, id).unwrap_or_else(|| {
                    if phase.object_bundle[j].list_unknown_selector.is_some() {
                        existing(ns, j)
                    } else {
                        0
                    }
                })
            })
            .collect();
        if current.windows(2).any(|w| w[0] != w[1]) {
            return Err(PlanError::Bundle(format!(
                "bundle error in namespace {ns:?}: {} has {} replicas while {} has {}",
                ids[0].basename,
                current[0],
                ids[current.iter().position(|c| *c != current[0]).unwrap_or(0)].basename,
                current.iter().find(|c| **c != current[0]).unwrap_or(&0)
            )));
        }
        let cur = current.first().copied().unwrap_or(0);
        for r in want..cur {
            actions.push(
                (0..ids.len())
                    .rev()
                    .map(|j| ObjOp {
                        op: OpKind::Delete,
                        object: j,
                        namespace: ns.clone(),
                        replica: r,
                    })
                    .collect(),
            );
        }
        let mk = |op, r| -> Action {
            (0..ids.len())
                .map(|j| ObjOp {
                    op,
                    object: j,
                    namespace: ns.clone(),
                    replica: r,
                })
                .collect()
        };
        if cur == want {
            actions.extend((0..want).map(|r| mk(OpKind::Patch, r)));
        }
        actions.extend((cur..want).map(|r| mk(OpKind::Create, r)));
        for id in ids {
            state.counts.insert((ns.clone(), id.clone()), want);
        }
    }
    Ok(actions)
}

/// Object templates, parsed once.
#[derive(Default)]
pub struct Templates {
    cache: BTreeMap<String, (Template, ObjectId)>,
}

impl Templates {
    /// Loads (once) the template of bundle object `basename` at `path`.
    pub fn id(
        &mut self,
        loader: &Loader,
        basename: &str,
        path: &str,
    ) -> Result<ObjectId, PlanError> {
        if let Some((_, id)) = self.cache.get(path) {
            return Ok(ObjectId {
                basename: basename.to_string(),
                ..id.clone()
            });
        }
        let full = loader.resolve(path);
        let text = std::fs::read_to_string(&full).map_err(|e| PlanError::Template {
            path: full.display().to_string(),
            reason: format!("reading the object template: {e}"),
        })?;
        let (api_version, kind) = raw_kind(&text).ok_or_else(|| PlanError::Template {
            path: full.display().to_string(),
            reason: "no top-level apiVersion and kind".into(),
        })?;
        let t = Template::parse(&full.display().to_string(), &text).map_err(|e| {
            PlanError::Template {
                path: full.display().to_string(),
                reason: e.to_string(),
            }
        })?;
        let id = ObjectId {
            basename: basename.to_string(),
            api_version,
            kind,
        };
        self.cache.insert(path.to_string(), (t, id.clone()));
        Ok(id)
    }

    /// Renders replica `replica` of `object` in `namespace` as ClusterLoader2
    /// does, and sets its name and namespace.
    pub fn render(
        &mut self,
        loader: &Loader,
        object: &super::config::Object,
        namespace: &str,
        replica: usize,
    ) -> Result<Json, PlanError> {
        self.id(loader, &object.basename, &object.object_template_path)?;
        let Some((t, _)) = self.cache.get(&object.object_template_path) else {
            return Err(PlanError::Template {
                path: object.object_template_path.clone(),
                reason: "template not loaded".into(),
            });
        };
        let name = format!("{}-{replica}", object.basename);
        let mut m = loader.mapping.clone();
        m.extend(object.template_fill_map.clone());
        m.insert("BaseName".into(), Value::Str(object.basename.clone()));
        m.insert("Index".into(), Value::Int(replica as i64));
        m.insert("Name".into(), Value::Str(name.clone()));
        m.insert("Namespace".into(), Value::Str(namespace.to_string()));
        let path = loader
            .resolve(&object.object_template_path)
            .display()
            .to_string();
        let text = t
            .execute(&Value::Map(m), &loader.funcs)
            .map_err(|e| PlanError::Template {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let y: serde_yaml::Value =
            serde_yaml::from_str(&text).map_err(|e| PlanError::Template {
                path: path.clone(),
                reason: format!(
                    "YAML error in the rendered object {name}: {e}{}",
                    e.location()
                        .and_then(|l| text.lines().nth(l.line().saturating_sub(1)))
                        .map(|l| format!(" (rendered line: {l:?})"))
                        .unwrap_or_default()
                ),
            })?;
        let mut j: Json = serde_json::to_value(&y).map_err(|e| PlanError::Template {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if !j.is_object() {
            return Err(PlanError::Template {
                path,
                reason: format!("the rendered object {name} is not a mapping"),
            });
        }
        j["metadata"]["name"] = Json::String(name);
        if !namespace.is_empty() {
            j["metadata"]["namespace"] = Json::String(namespace.to_string());
        }
        Ok(j)
    }
}

/// Pods an object will own once running (for the plan): replicas of
/// Deployments, ReplicaSets, ReplicationControllers and StatefulSets
/// (default 1), a Job's parallelism, one per node for a DaemonSet, 1 for a Pod.
pub fn pods_of(obj: &Json, nodes: usize) -> usize {
    let spec = &obj["spec"];
    let n = |v: &Json| v.as_u64().map(|x| x as usize);
    match obj["kind"].as_str().unwrap_or("") {
        "Deployment" | "ReplicaSet" | "ReplicationController" | "StatefulSet" => {
            n(&spec["replicas"]).unwrap_or(1)
        }
        "Job" => n(&spec["parallelism"]).unwrap_or(1),
        "DaemonSet" => nodes,
        "Pod" => 1,
        _ => 0,
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepPlan {
    pub name: String,
    /// (kind, op) → count.
    pub objects: BTreeMap<(String, OpKind), usize>,
    pub pods_created: usize,
    pub measurements: Vec<(String, String)>,
}

/// The whole plan: every object rendered, every phase's actions counted.
pub fn dry_run(
    config: &Config,
    loader: &Loader,
    prefix: &str,
    nodes: usize,
) -> Result<Vec<StepPlan>, PlanError> {
    let mut state = State::default();
    let mut templates = Templates::default();
    let mut out = Vec::new();
    for (i, step) in config.steps.iter().enumerate() {
        let mut sp = StepPlan {
            name: step_label(i, step.name.as_deref()),
            ..StepPlan::default()
        };
        match &step.body {
            StepBody::Measurements(ms) => {
                sp.measurements = ms
                    .iter()
                    .map(|m| (m.method.clone(), m.identifier.clone()))
                    .collect();
            }
            StepBody::Phases(phases) => {
                for phase in phases {
                    let ids = phase
                        .object_bundle
                        .iter()
                        .map(|o| templates.id(loader, &o.basename, &o.object_template_path))
                        .collect::<Result<Vec<_>, _>>()?;
                    let nss = phase_namespaces(phase, prefix);
                    for action in phase_actions(&mut state, phase, &ids, &nss, &|_, _| 0)? {
                        for op in action {
                            let kind = ids[op.object].kind.clone();
                            if op.op != OpKind::Delete {
                                let obj = templates.render(
                                    loader,
                                    &phase.object_bundle[op.object],
                                    &op.namespace,
                                    op.replica,
                                )?;
                                if op.op == OpKind::Create {
                                    sp.pods_created += pods_of(&obj, nodes);
                                }
                            }
                            *sp.objects.entry((kind, op.op)).or_default() += 1;
                        }
                    }
                }
            }
        }
        out.push(sp);
    }
    Ok(out)
}

/// `[step: 03] name` as ClusterLoader2 labels steps.
pub fn step_label(i: usize, name: Option<&str>) -> String {
    format!("[step: {:02}] {}", i + 1, name.unwrap_or("[unnamed]"))
}

/// The plan as text.
pub fn describe(config: &Config, plan: &[StepPlan], namespaces: &[String]) -> String {
    let mut s = format!(
        "Test {:?}: {} namespace{} ({}), {} tuning set{}, {} steps\n",
        config.name,
        namespaces.len(),
        if namespaces.len() == 1 { "" } else { "s" },
        namespaces.join(", "),
        config.tuning_sets.len(),
        if config.tuning_sets.len() == 1 {
            ""
        } else {
            "s"
        },
        plan.len()
    );
    let mut total_pods = 0;
    let mut totals: BTreeMap<(String, OpKind), usize> = BTreeMap::new();
    for p in plan {
        s.push_str(&format!("  {}\n", p.name));
        for (m, id) in &p.measurements {
            s.push_str(&format!("      measurement {m} ({id})\n"));
        }
        for ((kind, op), n) in &p.objects {
            let verb = match op {
                OpKind::Create => "create",
                OpKind::Patch => "update",
                OpKind::Delete => "delete",
            };
            s.push_str(&format!("      {verb} {n} {kind}\n"));
            *totals.entry((kind.clone(), *op)).or_default() += n;
        }
        if p.pods_created > 0 {
            s.push_str(&format!("      ({} pods)\n", p.pods_created));
        }
        total_pods += p.pods_created;
    }
    s.push_str(&format!("Total: {total_pods} pods created"));
    for ((kind, op), n) in totals.iter().filter(|((_, op), _)| *op == OpKind::Create) {
        let _ = op;
        s.push_str(&format!(", {n} {kind}"));
    }
    s.push('\n');
    s
}

/// Names of the automanaged namespaces: `<prefix>-1` … `<prefix>-<number>`.
pub fn automanaged_namespaces(prefix: &str, number: usize) -> Vec<String> {
    (1..=number).map(|i| format!("{prefix}-{i}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::config::{NamespaceRange, Object};
    use super::super::template::Funcs;
    use super::*;

    fn id(b: &str) -> ObjectId {
        ObjectId {
            basename: b.into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
        }
    }

    fn phase(replicas: usize, objects: &[&str], range: Option<(usize, usize)>) -> Phase {
        Phase {
            namespace_range: range.map(|(min, max)| NamespaceRange {
                min,
                max,
                basename: None,
            }),
            replicas_per_namespace: replicas,
            tuning_set: "t".into(),
            object_bundle: objects
                .iter()
                .map(|b| Object {
                    basename: b.to_string(),
                    object_template_path: "x.yaml".into(),
                    template_fill_map: BTreeMap::new(),
                    list_unknown_selector: None,
                })
                .collect(),
        }
    }

    fn ops(actions: &[Action]) -> Vec<(OpKind, usize, &str, usize)> {
        actions
            .iter()
            .flatten()
            .map(|o| (o.op, o.object, o.namespace.as_str(), o.replica))
            .collect()
    }

    #[test]
    fn create_update_scale_and_delete() {
        use OpKind::*;
        let mut st = State::default();
        let ids = [id("a"), id("b")];
        let p = phase(2, &["a", "b"], Some((1, 1)));
        let ns = phase_namespaces(&p, "t");
        assert_eq!(ns, ["t-1"]);
        let a = phase_actions(&mut st, &p, &ids, &ns, &|_, _| 0).unwrap();
        assert_eq!(a.len(), 2, "one action per replica, the bundle in order");
        assert_eq!(
            ops(&a),
            [
                (Create, 0, "t-1", 0),
                (Create, 1, "t-1", 0),
                (Create, 0, "t-1", 1),
                (Create, 1, "t-1", 1)
            ]
        );
        // Same count again: every replica is updated.
        let a = phase_actions(&mut st, &p, &ids, &ns, &|_, _| 0).unwrap();
        assert_eq!(
            ops(&a),
            [
                (Patch, 0, "t-1", 0),
                (Patch, 1, "t-1", 0),
                (Patch, 0, "t-1", 1),
                (Patch, 1, "t-1", 1)
            ]
        );
        // Scale up from 2 to 3: one create, no updates.
        let a = phase_actions(
            &mut st,
            &phase(3, &["a", "b"], Some((1, 1))),
            &ids,
            &ns,
            &|_, _| 0,
        )
        .unwrap();
        assert_eq!(ops(&a), [(Create, 0, "t-1", 2), (Create, 1, "t-1", 2)]);
        // To 0: deletes, last bundle object first.
        let a = phase_actions(
            &mut st,
            &phase(0, &["a", "b"], Some((1, 1))),
            &ids,
            &ns,
            &|_, _| 0,
        )
        .unwrap();
        assert_eq!(
            ops(&a),
            [
                (Delete, 1, "t-1", 0),
                (Delete, 0, "t-1", 0),
                (Delete, 1, "t-1", 1),
                (Delete, 0, "t-1", 1),
                (Delete, 1, "t-1", 2),
                (Delete, 0, "t-1", 2)
            ]
        );
        assert_eq!(st.count("t-1", &ids[0]), Some(0));
        // Cluster scope and a bundle mismatch.
        let c = phase(1, &["a"], None);
        assert_eq!(phase_namespaces(&c, "t"), [""]);
        let mut st = State::default();
        phase_actions(
            &mut st,
            &phase(1, &["a"], Some((1, 1))),
            &ids[..1],
            &ns,
            &|_, _| 0,
        )
        .unwrap();
        let e = phase_actions(&mut st, &p, &ids, &ns, &|_, _| 0).unwrap_err();
        assert!(
            e.to_string().contains("a has 1 replicas while b has 0"),
            "{e}"
        );
        // listUnknownObjectOptions: the listed count is the starting point.
        let mut st = State::default();
        let mut lp = phase(0, &["a"], Some((1, 2)));
        lp.object_bundle[0].list_unknown_selector = Some("x=y".into());
        let nss = phase_namespaces(&lp, "t");
        let a = phase_actions(&mut st, &lp, &ids[..1], &nss, &|ns, _| {
            if ns == "t-2" {
                2
            } else {
                0
            }
        })
        .unwrap();
        assert_eq!(ops(&a), [(Delete, 0, "t-2", 0), (Delete, 0, "t-2", 1)]);
    }

    #[test]
    fn raw_kinds() {
        assert_eq!(
            raw_kind("apiVersion: apps/v1\nkind: {{.Kind}}Deployment\nmetadata:\n  kind: x\n"),
            Some(("apps/v1".into(), "Deployment".into()))
        );
        assert_eq!(
            raw_kind("apiVersion: \"v1\"\nkind: 'Secret'"),
            Some(("v1".into(), "Secret".into()))
        );
        assert_eq!(raw_kind("kind: {{.K}}\napiVersion: v1"), None);
    }

    #[test]
    fn renders_objects_and_plans() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("dep.yaml"),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{.Name}}\n  labels:\n    group: {{.Group}}\n    idx: \"{{.Index}}\"\n    ns: {{.Namespace}}\nspec:\n  replicas: {{MultiplyInt .Replicas 2}}\n",
        )
        .unwrap();
        let mut mapping = BTreeMap::new();
        mapping.insert("Group".to_string(), Value::Str("global".into()));
        mapping.insert("Nodes".to_string(), Value::Int(3));
        let loader = Loader {
            base_dir: dir.path().to_path_buf(),
            mapping,
            funcs: Funcs::new(dir.path().to_path_buf(), BTreeMap::new(), 0),
        };
        let mut o = phase(2, &["dep"], Some((1, 2))).object_bundle.remove(0);
        o.object_template_path = "dep.yaml".into();
        o.template_fill_map.insert("Replicas".into(), Value::Int(3));
        o.template_fill_map
            .insert("Group".into(), Value::Str("fill".into()));
        let mut t = Templates::default();
        let j = t.render(&loader, &o, "t-2", 1).unwrap();
        assert_eq!(j["metadata"]["name"], "dep-1");
        assert_eq!(j["metadata"]["namespace"], "t-2");
        assert_eq!(
            j["metadata"]["labels"]["group"], "fill",
            "templateFillMap wins over the mapping"
        );
        assert_eq!(j["metadata"]["labels"]["idx"], "1");
        assert_eq!(j["spec"]["replicas"], 6);
        assert_eq!(pods_of(&j, 3), 6);
        assert_eq!(pods_of(&serde_json::json!({"kind": "DaemonSet"}), 3), 3);

        let config = Config {
            name: "t".into(),
            namespace: super::super::config::NamespaceConfig {
                number: 2,
                prefix: None,
                delete_stale_namespaces: false,
                delete_automanaged_namespaces: true,
                enable_existing_namespaces: false,
            },
            tuning_sets: vec![],
            steps: vec![
                super::super::config::Step {
                    name: Some("create".into()),
                    origin: String::new(),
                    body: StepBody::Phases(vec![Phase {
                        object_bundle: vec![o.clone()],
                        ..phase(2, &[], Some((1, 2)))
                    }]),
                },
                super::super::config::Step {
                    name: None,
                    origin: String::new(),
                    body: StepBody::Phases(vec![Phase {
                        object_bundle: vec![o],
                        ..phase(1, &[], Some((1, 2)))
                    }]),
                },
            ],
        };
        let plan = dry_run(&config, &loader, "t", 3).unwrap();
        assert_eq!(
            plan[0].objects[&("Deployment".to_string(), OpKind::Create)],
            4
        );
        assert_eq!(plan[0].pods_created, 24);
        assert_eq!(
            plan[1].objects[&("Deployment".to_string(), OpKind::Delete)],
            2
        );
        assert_eq!(plan[1].name, "[step: 02] [unnamed]");
        let text = describe(&config, &plan, &automanaged_namespaces("t", 2));
        assert!(text.contains("create 4 Deployment"), "{text}");
        assert!(
            text.contains("Total: 24 pods created, 4 Deployment"),
            "{text}"
        );
    }
}
