//! ClusterLoader2's test config (`clusterloader2/api/types.go`): loading
//! (template mapping from overrides files, `CL2_*` variables, `--param`
//! and `.Nodes`; rendering; modules expanded with their params) and the
//! typed model. Field names match case-insensitively, as Go's JSON
//! decoding does (upstream's load config spells `RandomizedTimeLimitedLoad`);
//! an unknown field is an error naming its path.

use super::template::{Funcs, Template, TemplateError, Value};
use serde_yaml::Value as Y;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{file}{}: YAML error: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Yaml {
        file: String,
        line: Option<usize>,
        reason: String,
    },
    #[error("{file}: {path}: {reason}")]
    Invalid {
        file: String,
        path: String,
        reason: String,
    },
    #[error("{0}")]
    Params(String),
}

/// The template mapping: overrides files in order (later wins), `.Nodes`,
/// then `CL2_*` variables (a value that contradicts an overrides file is
/// an error, as in ClusterLoader2), then `--param KEY=VALUE` (kubemark's
/// own flag, which wins over everything).
pub fn mapping(
    overrides: &[PathBuf],
    params: &[String],
    env: &BTreeMap<String, String>,
    nodes: usize,
) -> Result<BTreeMap<String, Value>, ConfigError> {
    let mut m = BTreeMap::new();
    for path in overrides {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: file.clone(),
            source,
        })?;
        let y: Y = serde_yaml::from_str(&text).map_err(|e| yaml_error(&file, &e))?;
        match Value::from_yaml(&y) {
            Value::Map(o) => m.extend(o),
            Value::Nil => {}
            other => {
                return Err(ConfigError::Invalid {
                    file,
                    path: "(top level)".into(),
                    reason: format!(
                        "an overrides file must be a mapping of parameters, not {other}"
                    ),
                })
            }
        }
    }
    m.insert("Nodes".to_string(), Value::Int(nodes as i64));
    for (k, v) in env.iter().filter(|(k, _)| k.starts_with("CL2_")) {
        let v = Value::from_param(v);
        match m.get(k) {
            Some(old) if *old != v => {
                return Err(ConfigError::Params(format!(
                    "merge conflict for key {k:?}: the overrides give {old}, the environment {v}; unset one of them"
                )))
            }
            _ => {
                m.insert(k.clone(), v);
            }
        }
    }
    for p in params {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| ConfigError::Params(format!("--param {p:?}: expected KEY=VALUE")))?;
        if k.is_empty() {
            return Err(ConfigError::Params(format!("--param {p:?}: empty key")));
        }
        m.insert(k.to_string(), Value::from_param(v));
    }
    Ok(m)
}

fn yaml_error(file: &str, e: &serde_yaml::Error) -> ConfigError {
    ConfigError::Yaml {
        file: file.to_string(),
        line: e.location().map(|l| l.line()),
        reason: e.to_string(),
    }
}

// ---------------------------------------------------------------- model

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub name: String,
    pub namespace: NamespaceConfig,
    pub tuning_sets: Vec<TuningSet>,
    /// Steps with modules expanded.
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceConfig {
    pub number: usize,
    pub prefix: Option<String>,
    pub delete_stale_namespaces: bool,
    pub delete_automanaged_namespaces: bool,
    pub enable_existing_namespaces: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TuningSet {
    pub name: String,
    pub initial_delay: Duration,
    pub load: Load,
}

/// How a tuning set spaces the actions of a phase (see `tuning`).
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    Qps {
        qps: f64,
    },
    Randomized {
        average_qps: f64,
    },
    Stepped {
        burst_size: usize,
        step_delay: Duration,
    },
    TimeLimited {
        time_limit: Duration,
    },
    RandomizedTimeLimited {
        time_limit: Duration,
    },
    ParallelismLimited {
        parallelism_limit: usize,
    },
    GlobalQps {
        qps: f64,
        burst: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: Option<String>,
    /// Where the step was written: the file, and the module chain.
    pub origin: String,
    pub body: StepBody,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepBody {
    Phases(Vec<Phase>),
    Measurements(Vec<Measurement>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub namespace_range: Option<NamespaceRange>,
    pub replicas_per_namespace: usize,
    pub tuning_set: String,
    pub object_bundle: Vec<Object>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceRange {
    pub min: usize,
    pub max: usize,
    pub basename: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub basename: String,
    pub object_template_path: String,
    pub template_fill_map: BTreeMap<String, Value>,
    /// `listUnknownObjectOptions.labelSelector` as a selector string.
    pub list_unknown_selector: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub method: String,
    pub identifier: String,
    pub params: BTreeMap<String, Value>,
}

// ---------------------------------------------------------------- decoding

/// A YAML mapping being decoded: fields are taken case-insensitively and
/// whatever is left is an unknown field.
struct Obj<'a> {
    file: &'a str,
    path: String,
    fields: Vec<(String, &'a Y, bool)>,
}

impl<'a> Obj<'a> {
    fn new(file: &'a str, path: &str, v: &'a Y) -> Result<Obj<'a>, ConfigError> {
        let Y::Mapping(m) = v else {
            return Err(invalid(
                file,
                path,
                format!("expected a mapping, found {}", describe(v)),
            ));
        };
        let mut fields = Vec::new();
        for (k, v) in m {
            let Y::String(k) = k else {
                return Err(invalid(
                    file,
                    path,
                    format!("non-string key {}", describe(k)),
                ));
            };
            fields.push((k.clone(), v, false));
        }
        Ok(Obj {
            file,
            path: path.to_string(),
            fields,
        })
    }

    fn sub(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Go's JSON decoding: an exact match first, else a case-insensitive one.
    fn take(&mut self, key: &str) -> Option<&'a Y> {
        let i = self
            .fields
            .iter()
            .position(|(k, _, used)| !used && k == key)
            .or_else(|| {
                self.fields
                    .iter()
                    .position(|(k, _, used)| !used && k.eq_ignore_ascii_case(key))
            })?;
        self.fields[i].2 = true;
        match self.fields[i].1 {
            Y::Null => None,
            v => Some(v),
        }
    }

    fn err(&self, key: &str, reason: String) -> ConfigError {
        invalid(self.file, &self.sub(key), reason)
    }

    fn string(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Y::String(s)) => Ok(Some(s.clone())),
            Some(Y::Number(n)) => Ok(Some(n.to_string())),
            Some(Y::Bool(b)) => Ok(Some(b.to_string())),
            Some(v) => Err(self.err(key, format!("expected a string, found {}", describe(v)))),
        }
    }

    fn uint(&mut self, key: &str) -> Result<Option<usize>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Y::Number(n)) => match n.as_u64() {
                Some(u) => Ok(Some(u as usize)),
                None => Err(self.err(key, format!("expected a non-negative integer, found {n}"))),
            },
            Some(v) => Err(self.err(key, format!("expected an integer, found {}", describe(v)))),
        }
    }

    fn float(&mut self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Y::Number(n)) => Ok(n.as_f64()),
            Some(v) => Err(self.err(key, format!("expected a number, found {}", describe(v)))),
        }
    }

    fn boolean(&mut self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Y::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.err(
                key,
                format!("expected true or false, found {}", describe(v)),
            )),
        }
    }

    fn duration(&mut self, key: &str) -> Result<Option<Duration>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Y::String(s)) => crate::args::parse_duration(s)
                .map(Some)
                .map_err(|e| self.err(key, e)),
            // Go's time.Duration as a number: nanoseconds.
            Some(Y::Number(n)) => Ok(Some(Duration::from_nanos(n.as_u64().unwrap_or(0)))),
            Some(v) => Err(self.err(
                key,
                format!("expected a duration like 30s, found {}", describe(v)),
            )),
        }
    }

    fn list(&mut self, key: &str) -> Result<Vec<(String, &'a Y)>, ConfigError> {
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(Y::Sequence(s)) => {
                let p = self.sub(key);
                Ok(s.iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{p}[{i}]"), v))
                    .collect())
            }
            Some(v) => Err(self.err(key, format!("expected a list, found {}", describe(v)))),
        }
    }

    fn map(&mut self, key: &str) -> Result<BTreeMap<String, Value>, ConfigError> {
        match self.take(key) {
            None => Ok(BTreeMap::new()),
            Some(v @ Y::Mapping(_)) => match Value::from_yaml(v) {
                Value::Map(m) => Ok(m),
                _ => Ok(BTreeMap::new()),
            },
            Some(v) => Err(self.err(key, format!("expected a mapping, found {}", describe(v)))),
        }
    }

    fn finish(self) -> Result<(), ConfigError> {
        let unknown: Vec<&str> = self
            .fields
            .iter()
            .filter(|(_, _, used)| !used)
            .map(|(k, _, _)| k.as_str())
            .collect();
        match unknown.first() {
            None => Ok(()),
            Some(k) => Err(invalid(
                self.file,
                &self.sub(k),
                "unknown field (check its spelling against ClusterLoader2's api/types.go)".into(),
            )),
        }
    }
}

fn invalid(file: &str, path: &str, reason: String) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_string(),
        path: if path.is_empty() {
            "(top level)".into()
        } else {
            path.to_string()
        },
        reason,
    }
}

fn describe(v: &Y) -> String {
    match v {
        Y::Null => "null".into(),
        Y::Bool(b) => format!("{b}"),
        Y::Number(n) => format!("{n}"),
        Y::String(s) => format!("{s:?}"),
        Y::Sequence(_) => "a list".into(),
        Y::Mapping(_) => "a mapping".into(),
        Y::Tagged(t) => format!("tagged {}", t.tag),
    }
}

fn tuning_set(file: &str, path: &str, v: &Y) -> Result<TuningSet, ConfigError> {
    let mut o = Obj::new(file, path, v)?;
    let name = o
        .string("name")?
        .ok_or_else(|| o.err("name", "a tuning set needs a name".into()))?;
    let initial_delay = o.duration("initialDelay")?.unwrap_or_default();
    let mut loads = Vec::new();
    let kinds = [
        "qpsLoad",
        "randomizedLoad",
        "steppedLoad",
        "timeLimitedLoad",
        "randomizedTimeLimitedLoad",
        "parallelismLimitedLoad",
        "globalQPSLoad",
    ];
    for kind in kinds {
        let Some(body) = o.take(kind) else { continue };
        let p = o.sub(kind);
        let mut b = Obj::new(file, &p, body)?;
        let positive = |b: &Obj, key: &str, x: Option<f64>| match x {
            Some(x) if x > 0.0 && x.is_finite() => Ok(x),
            _ => Err(b.err(key, "must be a positive number".into())),
        };
        // Unknown fields are reported before invalid values.
        let load = (|| -> Result<Load, ConfigError> {
            Ok(match kind {
                "qpsLoad" => {
                    let q = b.float("qps")?;
                    Load::Qps {
                        qps: positive(&b, "qps", q)?,
                    }
                }
                "randomizedLoad" => {
                    let q = b.float("averageQps")?;
                    Load::Randomized {
                        average_qps: positive(&b, "averageQps", q)?,
                    }
                }
                "steppedLoad" => Load::Stepped {
                    burst_size: b
                        .uint("burstSize")?
                        .filter(|n| *n > 0)
                        .ok_or_else(|| b.err("burstSize", "must be at least 1".into()))?,
                    step_delay: b.duration("stepDelay")?.unwrap_or_default(),
                },
                "timeLimitedLoad" => Load::TimeLimited {
                    time_limit: b.duration("timeLimit")?.unwrap_or_default(),
                },
                "randomizedTimeLimitedLoad" => Load::RandomizedTimeLimited {
                    time_limit: b.duration("timeLimit")?.unwrap_or_default(),
                },
                "parallelismLimitedLoad" => Load::ParallelismLimited {
                    parallelism_limit: b
                        .uint("parallelismLimit")?
                        .filter(|n| *n > 0)
                        .ok_or_else(|| b.err("parallelismLimit", "must be at least 1".into()))?,
                },
                _ => {
                    let q = b.float("qps")?;
                    Load::GlobalQps {
                        qps: positive(&b, "qps", q)?,
                        burst: b.uint("burst")?.unwrap_or(1).max(1),
                    }
                }
            })
        })();
        b.finish()?;
        let load = load?;
        loads.push(load);
    }
    let p = o.path.clone();
    o.finish()?;
    if loads.len() != 1 {
        return Err(invalid(
            file,
            &p,
            format!(
                "tuning set {name:?} needs exactly one of {} (found {})",
                kinds.join(", "),
                loads.len()
            ),
        ));
    }
    Ok(TuningSet {
        name,
        initial_delay,
        load: loads.remove(0),
    })
}

fn label_selector(o: &mut Obj) -> Result<Option<String>, ConfigError> {
    let Some(v) = o.take("labelSelector") else {
        return Ok(None);
    };
    let p = o.sub("labelSelector");
    let mut s = Obj::new(o.file, &p, v)?;
    let mut parts: Vec<String> = s
        .map("matchLabels")?
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for (ep, e) in s.list("matchExpressions")? {
        let mut e = Obj::new(o.file, &ep, e)?;
        let key = e.string("key")?.unwrap_or_default();
        let op = e.string("operator")?.unwrap_or_default();
        let values: Vec<String> = e
            .list("values")?
            .iter()
            .map(|(_, v)| Value::from_yaml(v).to_string())
            .collect();
        e.finish()?;
        parts.push(match op.as_str() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key,
            "DoesNotExist" => format!("!{key}"),
            other => return Err(invalid(o.file, &ep, format!("unknown operator {other:?}"))),
        });
    }
    s.finish()?;
    Ok(Some(parts.join(",")))
}

fn phase(file: &str, path: &str, v: &Y) -> Result<Phase, ConfigError> {
    let mut o = Obj::new(file, path, v)?;
    let namespace_range = match o.take("namespaceRange") {
        None => None,
        Some(r) => {
            let mut r = Obj::new(file, &o.sub("namespaceRange"), r)?;
            let nr = NamespaceRange {
                min: r.uint("min")?.unwrap_or(0),
                max: r.uint("max")?.unwrap_or(0),
                basename: r.string("basename")?,
            };
            r.finish()?;
            if nr.max < nr.min {
                return Err(o.err(
                    "namespaceRange",
                    format!("max {} is below min {}", nr.max, nr.min),
                ));
            }
            Some(nr)
        }
    };
    let replicas_per_namespace = o.uint("replicasPerNamespace")?.unwrap_or(0);
    let tuning_set = o
        .string("tuningSet")?
        .ok_or_else(|| o.err("tuningSet", "a phase needs a tuningSet".into()))?;
    let mut object_bundle = Vec::new();
    for (bp, b) in o.list("objectBundle")? {
        let mut b = Obj::new(file, &bp, b)?;
        let basename = b
            .string("basename")?
            .ok_or_else(|| b.err("basename", "an object needs a basename".into()))?;
        let object_template_path = b.string("objectTemplatePath")?.ok_or_else(|| {
            b.err(
                "objectTemplatePath",
                "an object needs an objectTemplatePath".into(),
            )
        })?;
        let template_fill_map = b.map("templateFillMap")?;
        let list_unknown_selector = match b.take("listUnknownObjectOptions") {
            None => None,
            Some(l) => {
                let mut l = Obj::new(file, &b.sub("listUnknownObjectOptions"), l)?;
                let s = label_selector(&mut l)?;
                l.finish()?;
                Some(s.unwrap_or_default())
            }
        };
        b.finish()?;
        object_bundle.push(Object {
            basename,
            object_template_path,
            template_fill_map,
            list_unknown_selector,
        });
    }
    o.finish()?;
    if object_bundle.is_empty() {
        return Err(invalid(file, path, "a phase needs an objectBundle".into()));
    }
    Ok(Phase {
        namespace_range,
        replicas_per_namespace,
        tuning_set,
        object_bundle,
    })
}

fn measurement(file: &str, path: &str, v: &Y) -> Result<Vec<Measurement>, ConfigError> {
    let mut o = Obj::new(file, path, v)?;
    let method = o
        .string("method")?
        .ok_or_else(|| o.err("Method", "a measurement needs a Method".into()))?;
    let identifier = o.string("identifier")?;
    let params = o.map("params")?;
    let instances = o.list("instances")?;
    let out = match (identifier, instances.is_empty()) {
        (Some(identifier), true) => vec![Measurement {
            method,
            identifier,
            params,
        }],
        (None, false) => {
            let mut out = Vec::new();
            for (ip, i) in instances {
                let mut i = Obj::new(file, &ip, i)?;
                let identifier = i
                    .string("identifier")?
                    .ok_or_else(|| i.err("Identifier", "an instance needs an Identifier".into()))?;
                // Instance params win over the measurement's.
                let mut p = params.clone();
                p.extend(i.map("params")?);
                i.finish()?;
                out.push(Measurement {
                    method: method.clone(),
                    identifier,
                    params: p,
                });
            }
            out
        }
        _ => {
            return Err(invalid(
                file,
                path,
                "a measurement needs exactly one of Identifier or Instances".into(),
            ))
        }
    };
    o.finish()?;
    Ok(out)
}

/// Loads configs and modules relative to one directory (ClusterLoader2's
/// template provider is rooted at the test config's directory).
pub struct Loader {
    pub base_dir: PathBuf,
    pub mapping: BTreeMap<String, Value>,
    pub funcs: Funcs,
}

const MAX_MODULE_DEPTH: usize = 16;

impl Loader {
    /// `path` relative to the config directory (a leading `/` too, as in
    /// upstream's `/modules/measurements.yaml`).
    pub fn resolve(&self, path: &str) -> PathBuf {
        self.base_dir.join(path.trim_start_matches('/'))
    }

    fn read(&self, path: &Path) -> Result<String, ConfigError> {
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })
    }

    /// Renders `file` with `mapping` and parses the YAML.
    fn render_yaml(
        &self,
        file: &Path,
        mapping: &BTreeMap<String, Value>,
    ) -> Result<(String, Y), ConfigError> {
        let name = file.display().to_string();
        let src = self.read(file)?;
        let text =
            Template::parse(&name, &src)?.execute(&Value::Map(mapping.clone()), &self.funcs)?;
        let y: Y = serde_yaml::from_str(&text).map_err(|e| {
            // The line is of the rendered text; say so when they differ.
            let mut err = yaml_error(&name, &e);
            if let ConfigError::Yaml {
                reason,
                line: Some(l),
                ..
            } = &mut err
            {
                if text.lines().nth(l.saturating_sub(1)) != src.lines().nth(l.saturating_sub(1)) {
                    reason.push_str(&format!(
                        " (line {l} of the rendered template: {:?})",
                        text.lines().nth(l.saturating_sub(1)).unwrap_or("")
                    ));
                }
            }
            err
        })?;
        Ok((name, y))
    }

    /// Loads the test config at `path`.
    pub fn load(&self, path: &Path) -> Result<Config, ConfigError> {
        let (file, y) = self.render_yaml(path, &self.mapping)?;
        let mut o = Obj::new(&file, "", &y)?;
        let name = o.string("name")?.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| "test".into())
        });
        let automanaged = o.uint("automanagedNamespaces")?;
        let namespace = match o.take("namespace") {
            None => NamespaceConfig {
                number: automanaged.unwrap_or(1),
                prefix: None,
                delete_stale_namespaces: false,
                delete_automanaged_namespaces: true,
                enable_existing_namespaces: false,
            },
            Some(n) => {
                let mut n = Obj::new(&file, "namespace", n)?;
                let c = NamespaceConfig {
                    number: n.uint("number")?.or(automanaged).unwrap_or(1),
                    prefix: n.string("prefix")?,
                    delete_stale_namespaces: n.boolean("deleteStaleNamespaces")?.unwrap_or(false),
                    delete_automanaged_namespaces: n
                        .boolean("deleteAutomanagedNamespaces")?
                        .unwrap_or(true),
                    enable_existing_namespaces: n
                        .boolean("enableExistingNamespaces")?
                        .unwrap_or(false),
                };
                n.finish()?;
                c
            }
        };
        let mut tuning_sets = Vec::new();
        for (p, t) in o.list("tuningSets")? {
            tuning_sets.push(tuning_set(&file, &p, t)?);
        }
        if let Some(c) = o.take("chaosMonkey") {
            let mut c = Obj::new(&file, "chaosMonkey", c)?;
            if c.take("nodeFailure").is_some() {
                return Err(c.err(
                    "nodeFailure",
                    "chaos monkey node failures are not supported by kubemark".into(),
                ));
            }
            c.take("excludedNodes");
            c.finish()?;
        }
        let step_values = o.list("steps")?;
        o.finish()?;
        let mut steps = Vec::new();
        for (p, s) in step_values {
            self.step(&file, &p, s, &self.mapping, &file, 0, &mut steps)?;
        }
        let c = Config {
            name,
            namespace,
            tuning_sets,
            steps,
        };
        validate(&c, &file)?;
        Ok(c)
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        file: &str,
        path: &str,
        v: &Y,
        mapping: &BTreeMap<String, Value>,
        origin: &str,
        depth: usize,
        out: &mut Vec<Step>,
    ) -> Result<(), ConfigError> {
        let mut o = Obj::new(file, path, v)?;
        let name = o.string("name")?;
        let phases = o.list("phases")?;
        let measurements = o.list("measurements")?;
        let module = o.take("module");
        o.finish()?;
        let set = usize::from(!phases.is_empty())
            + usize::from(!measurements.is_empty())
            + usize::from(module.is_some());
        if set != 1 {
            return Err(invalid(
                file,
                path,
                "a step needs exactly one of phases, measurements or module".into(),
            ));
        }
        if let Some(m) = module {
            if depth >= MAX_MODULE_DEPTH {
                return Err(invalid(file, path, format!("modules nested deeper than {MAX_MODULE_DEPTH} (a module including itself?)")));
            }
            let mp = format!("{path}.module");
            let mut m = Obj::new(file, &mp, m)?;
            let mpath = m
                .string("path")?
                .ok_or_else(|| m.err("path", "a module needs a path".into()))?;
            let params = m.map("params")?;
            m.finish()?;
            // The module sees the test's mapping plus its params.
            let mut mm = mapping.clone();
            mm.extend(params);
            let (mfile, y) = self.render_yaml(&self.resolve(&mpath), &mm)?;
            let mut mo = Obj::new(&mfile, "", &y)?;
            let steps = mo.list("steps")?;
            mo.finish()?;
            let morigin = format!("{origin} > {mpath}");
            for (sp, s) in steps {
                self.step(&mfile, &sp, s, &mm, &morigin, depth + 1, out)?;
            }
            return Ok(());
        }
        let body = if !phases.is_empty() {
            let mut v = Vec::new();
            for (pp, p) in phases {
                v.push(phase(file, &pp, p)?);
            }
            StepBody::Phases(v)
        } else {
            let mut v = Vec::new();
            for (mp, m) in measurements {
                v.extend(measurement(file, &mp, m)?);
            }
            StepBody::Measurements(v)
        };
        out.push(Step {
            name,
            origin: format!("{origin} {path}"),
            body,
        });
        Ok(())
    }
}

fn validate(c: &Config, file: &str) -> Result<(), ConfigError> {
    let mut names = std::collections::BTreeSet::new();
    for t in &c.tuning_sets {
        if !names.insert(t.name.as_str()) {
            return Err(invalid(
                file,
                "tuningSets",
                format!("tuning set {:?} is defined twice", t.name),
            ));
        }
    }
    for s in &c.steps {
        if let StepBody::Phases(ps) = &s.body {
            for p in ps {
                if !names.contains(p.tuning_set.as_str()) {
                    return Err(invalid(
                        file,
                        &s.origin,
                        format!(
                            "unknown tuning set {:?} (defined: {})",
                            p.tuning_set,
                            names.iter().copied().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                if let Some(r) = &p.namespace_range {
                    if r.basename.is_none() && r.max > c.namespace.number {
                        return Err(invalid(
                            file,
                            &s.origin,
                            format!(
                                "namespaceRange max {} is above namespace.number {}",
                                r.max, c.namespace.number
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn loader(dir: &Path, mapping: BTreeMap<String, Value>) -> Loader {
        Loader {
            base_dir: dir.to_path_buf(),
            mapping,
            funcs: Funcs::new(dir.to_path_buf(), BTreeMap::new(), 1),
        }
    }

    const CONFIG: &str = r#"
{{$NODES_PER_NAMESPACE := MinInt .Nodes (DefaultParam .NODES_PER_NAMESPACE 100)}}
{{$namespaces := DivideInt .Nodes $NODES_PER_NAMESPACE}}
name: load
namespace:
  number: {{$namespaces}}
  prefix: t
tuningSets:
- name: Sequence
  parallelismLimitedLoad:
    parallelismLimit: 1
- name: RandomizedSaturationTimeLimited
  RandomizedTimeLimitedLoad:
    timeLimit: {{DivideInt 100 $namespaces}}s
- name: default
  globalQPSLoad:
    qps: 10
    burst: 1
steps:
- module:
    path: /modules/measurements.yaml
    params:
      action: start
- name: create
  phases:
  - namespaceRange:
      min: 1
      max: {{$namespaces}}
    replicasPerNamespace: 2
    tuningSet: RandomizedSaturationTimeLimited
    objectBundle:
    - basename: dep
      objectTemplatePath: deployment.yaml
      templateFillMap:
        Replicas: 3
- module:
    path: modules/measurements.yaml
    params:
      action: gather
"#;

    const MODULE: &str = r#"
{{$action := .action}}
{{$inner := DefaultParam .inner "none"}}
steps:
- name: {{$action}} measurements
  measurements:
  - Identifier: APIResponsivenessPrometheusSimple
    Method: APIResponsivenessPrometheus
    Params:
      action: {{$action}}
      nodes: {{.Nodes}}
  - Method: WaitForControlledPodsRunning
    Instances:
    - Identifier: WaitForRunningDeployments
      Params:
        apiVersion: apps/v1
        kind: Deployment
    - Identifier: WaitForRunningJobs
      Params:
        kind: Job
        operationTimeout: 1m
    Params:
      action: {{$action}}
      operationTimeout: 15m
{{if eq $action "start"}}
- module:
    path: modules/inner.yaml
    params:
      depth: {{AddInt 1 1}}
{{end}}
"#;

    const INNER: &str = r#"
steps:
- name: inner {{.depth}} {{.action}} {{DefaultParam .missing "dflt"}}
  measurements:
  - Identifier: Sleep
    Method: Sleep
    Params:
      duration: {{.depth}}s
"#;

    #[test]
    fn loads_a_config_with_nested_modules() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "config.yaml", CONFIG);
        write(dir.path(), "modules/measurements.yaml", MODULE);
        write(dir.path(), "modules/inner.yaml", INNER);
        let mut m = BTreeMap::new();
        m.insert("Nodes".to_string(), Value::Int(250));
        m.insert("NODES_PER_NAMESPACE".to_string(), Value::Int(100));
        let c = loader(dir.path(), m)
            .load(&dir.path().join("config.yaml"))
            .unwrap();
        assert_eq!(c.name, "load");
        assert_eq!(c.namespace.number, 2);
        assert_eq!(c.namespace.prefix.as_deref(), Some("t"));
        assert!(c.namespace.delete_automanaged_namespaces);
        assert_eq!(
            c.tuning_sets
                .iter()
                .map(|t| t.load.clone())
                .collect::<Vec<_>>(),
            [
                Load::ParallelismLimited {
                    parallelism_limit: 1
                },
                Load::RandomizedTimeLimited {
                    time_limit: Duration::from_secs(50)
                },
                Load::GlobalQps {
                    qps: 10.0,
                    burst: 1
                },
            ]
        );
        let names: Vec<Option<&str>> = c.steps.iter().map(|s| s.name.as_deref()).collect();
        assert_eq!(
            names,
            [
                Some("start measurements"),
                // Nested module: its own params plus the parent module's and the test's.
                Some("inner 2 start dflt"),
                Some("create"),
                Some("gather measurements"),
            ]
        );
        let StepBody::Measurements(ms) = &c.steps[0].body else {
            panic!()
        };
        assert_eq!(ms.len(), 3, "one plus two instances");
        assert_eq!(ms[0].params["nodes"], Value::Int(250));
        assert_eq!(ms[1].identifier, "WaitForRunningDeployments");
        assert_eq!(ms[1].params["operationTimeout"], Value::Str("15m".into()));
        assert_eq!(
            ms[2].params["operationTimeout"],
            Value::Str("1m".into()),
            "instance params win"
        );
        assert_eq!(ms[2].params["action"], Value::Str("start".into()));
        let StepBody::Phases(ps) = &c.steps[2].body else {
            panic!()
        };
        assert_eq!(
            ps[0].namespace_range,
            Some(NamespaceRange {
                min: 1,
                max: 2,
                basename: None
            })
        );
        assert_eq!(
            ps[0].object_bundle[0].template_fill_map["Replicas"],
            Value::Int(3)
        );
        assert!(
            c.steps[1].origin.contains("modules/inner.yaml"),
            "{}",
            c.steps[1].origin
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "modules/measurements.yaml", MODULE);
        write(dir.path(), "modules/inner.yaml", INNER);
        let cases = [
            (CONFIG.replace("  prefix: t", "  prefx: t"), "namespace.prefx: unknown field"),
            (CONFIG.replace("burst: 1", "burst: 1\n    qpz: 1"), "tuningSets[2].globalQPSLoad.qpz: unknown field"),
            (CONFIG.replace("qps: 10", "qpz: 10"), "tuningSets[2].globalQPSLoad.qpz: unknown field"),
            (CONFIG.replace("tuningSet: RandomizedSaturationTimeLimited", "tuningSet: Nope"), "unknown tuning set \"Nope\""),
            (CONFIG.replace("  parallelismLimitedLoad:\n    parallelismLimit: 1", "  qpsLoad:\n    qps: 0"), "tuningSets[0].qpsLoad.qps: must be a positive number"),
            (CONFIG.replace("max: {{$namespaces}}", "max: 9"), "above namespace.number 2"),
            (CONFIG.replace("{{DivideInt 100 $namespaces}}", "{{DivideInt 100 0}}"), "config.yaml:14: error calling DivideInt: division by zero (in {{DivideInt 100 0}})"),
            (CONFIG.replace("path: modules/measurements.yaml", "path: modules/none.yaml"), "modules/none.yaml"),
            (CONFIG.replace("replicasPerNamespace: 2", "replicasPerNamespace: -2"), "replicasPerNamespace: expected a non-negative integer"),
            (CONFIG.replace("- name: create\n", "- name: create\n  measurements: []\n  module: {path: x}\n"), "exactly one of phases, measurements or module"),
            (CONFIG.replace("  prefix: t", "  prefix: [t"), "YAML error"),
        ];
        let mut m = BTreeMap::new();
        m.insert("Nodes".to_string(), Value::Int(200));
        for (text, want) in cases {
            write(dir.path(), "config.yaml", &text);
            let e = loader(dir.path(), m.clone())
                .load(&dir.path().join("config.yaml"))
                .unwrap_err();
            assert!(e.to_string().contains(want), "want {want:?} in: {e}");
        }
        // An error inside a module names the module file and its line.
        write(dir.path(), "config.yaml", CONFIG);
        write(
            dir.path(),
            "modules/inner.yaml",
            "steps:\n- name: x\n  measurements:\n  - Identifier: {{.depth.x}}\n",
        );
        let e = loader(dir.path(), m)
            .load(&dir.path().join("config.yaml"))
            .unwrap_err();
        assert!(e.to_string().contains("modules/inner.yaml:4: "), "{e}");
    }

    #[test]
    fn mapping_sources_and_precedence() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.yaml", "A: 1\nB: x\nCL2_X: 5\n");
        write(dir.path(), "b.yaml", "A: 2.5\n");
        let files = [dir.path().join("a.yaml"), dir.path().join("b.yaml")];
        let mut env = BTreeMap::new();
        env.insert("CL2_X".to_string(), "5".to_string());
        env.insert("CL2_Y".to_string(), "true".to_string());
        env.insert("HOME".to_string(), "/h".to_string());
        let m = mapping(&files, &["B=7".to_string(), "C=s".to_string()], &env, 12).unwrap();
        assert_eq!(m["A"], Value::Float(2.5), "later overrides win");
        assert_eq!(m["B"], Value::Int(7), "--param wins");
        assert_eq!(m["C"], Value::Str("s".into()));
        assert_eq!(m["CL2_X"], Value::Int(5));
        assert_eq!(m["CL2_Y"], Value::Bool(true));
        assert_eq!(m["Nodes"], Value::Int(12));
        assert!(!m.contains_key("HOME"));
        env.insert("CL2_X".to_string(), "6".to_string());
        let e = mapping(&files, &[], &env, 12).unwrap_err();
        assert!(
            e.to_string().contains("merge conflict for key \"CL2_X\""),
            "{e}"
        );
        let e = mapping(&[], &["novalue".to_string()], &BTreeMap::new(), 1).unwrap_err();
        assert!(e.to_string().contains("KEY=VALUE"), "{e}");
    }
}
