//! The built-in tests: `kubemark run density|load` are ClusterLoader2
//! configs shipped inside the binary (`crates/perf/configs/`), run by the
//! same engine as `kubemark run --config`. Their flags become template
//! parameters through an overrides file that comes before the user's own
//! `--testoverrides` (so those, `CL2_*` variables and `--param` win), and
//! `--print-config` hands the files out so a user can copy and change them.

use crate::args::{format_duration, RunArgs, TestKind};
use std::path::{Path, PathBuf};

/// (path relative to the config directory, content) of one built-in test.
pub type Files = &'static [(&'static str, &'static str)];

const DENSITY: Files = &[
    (
        "config.yaml",
        include_str!("../../configs/density/config.yaml"),
    ),
    (
        "deployment.yaml",
        include_str!("../../configs/density/deployment.yaml"),
    ),
];

const LOAD: Files = &[
    (
        "config.yaml",
        include_str!("../../configs/load/config.yaml"),
    ),
    (
        "modules/services.yaml",
        include_str!("../../configs/load/modules/services.yaml"),
    ),
    (
        "modules/reconcile-objects.yaml",
        include_str!("../../configs/load/modules/reconcile-objects.yaml"),
    ),
    (
        "modules/pod-startup-latency.yaml",
        include_str!("../../configs/load/modules/pod-startup-latency.yaml"),
    ),
    (
        "configmap.yaml",
        include_str!("../../configs/load/configmap.yaml"),
    ),
    (
        "secret.yaml",
        include_str!("../../configs/load/secret.yaml"),
    ),
    (
        "service.yaml",
        include_str!("../../configs/load/service.yaml"),
    ),
    (
        "deployment.yaml",
        include_str!("../../configs/load/deployment.yaml"),
    ),
    (
        "simple-deployment.yaml",
        include_str!("../../configs/load/simple-deployment.yaml"),
    ),
    (
        "statefulset.yaml",
        include_str!("../../configs/load/statefulset.yaml"),
    ),
    (
        "statefulset_service.yaml",
        include_str!("../../configs/load/statefulset_service.yaml"),
    ),
    ("job.yaml", include_str!("../../configs/load/job.yaml")),
    (
        "daemonset.yaml",
        include_str!("../../configs/load/daemonset.yaml"),
    ),
];

/// The overrides file the flags are written to.
pub const OVERRIDES_FILE: &str = "overrides.yaml";

/// The config files of a built-in test.
pub fn files(test: TestKind) -> Files {
    match test {
        TestKind::Density => DENSITY,
        TestKind::Load => LOAD,
    }
}

/// A number as a template parameter: integers without a decimal point, so
/// that they stay ints (CL2 types parameters by their text).
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The template parameters the flags of `kubemark run density|load` set
/// (pure), as `KEY: value` lines of an overrides file.
pub fn params(args: &RunArgs) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("NODES_PER_NAMESPACE", args.nodes_per_namespace.to_string()),
        ("PODS_PER_NODE", args.pods_per_node.to_string()),
        ("QPS", number(args.qps)),
        (
            "POD_STARTUP_THRESHOLD",
            format_duration(args.pod_startup_threshold),
        ),
        ("OPERATION_TIMEOUT", format_duration(args.timeout)),
    ];
    if args.test == TestKind::Load {
        p.push(("LOAD_TEST_THROUGHPUT", number(args.pod_throughput)));
    }
    if let Some(n) = args.latency_pods {
        p.push(("LATENCY_PODS", n.to_string()));
    }
    p
}

/// The overrides file text for `args` (durations quoted: they are strings).
pub fn overrides_text(args: &RunArgs) -> String {
    let mut s = format!(
        "# The flags of `kubemark run {}` as template parameters.\n",
        args.test
    );
    for (k, v) in params(args) {
        if v.parse::<f64>().is_ok() {
            s.push_str(&format!("{k}: {v}\n"));
        } else {
            s.push_str(&format!("{k}: \"{v}\"\n"));
        }
    }
    s
}

/// Writes the config of `args.test` and the overrides of its flags into
/// `dir` (created if missing).
pub fn write_dir(args: &RunArgs, dir: &Path) -> std::io::Result<()> {
    for (rel, text) in files(args.test) {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, text)?;
    }
    std::fs::write(dir.join(OVERRIDES_FILE), overrides_text(args))
}

/// `--print-config` without a directory: every file, each after a
/// `# ==> path <==` line, ready to be split into a directory.
pub fn listing(args: &RunArgs) -> String {
    let mut s = format!(
        "# kubemark's built-in {} test as a ClusterLoader2 config. Save each file below\n\
         # under its path (or use `kubemark run {} --print-config DIR`), then run\n\
         #   kubemark run --config DIR/config.yaml --testoverrides DIR/{OVERRIDES_FILE}\n",
        args.test, args.test
    );
    for (rel, text) in files(args.test)
        .iter()
        .copied()
        .chain(std::iter::once((OVERRIDES_FILE, "")))
    {
        let body = if rel == OVERRIDES_FILE {
            overrides_text(args)
        } else {
            text.to_string()
        };
        s.push_str(&format!("# ==> {rel} <==\n{body}"));
        if !body.ends_with('\n') {
            s.push('\n');
        }
    }
    s
}

/// A built-in test's files in a private temporary directory, removed when
/// dropped.
pub struct Materialized {
    pub dir: PathBuf,
}

impl Materialized {
    pub fn new(args: &RunArgs) -> std::io::Result<Materialized> {
        use rand::Rng;
        let dir = std::env::temp_dir().join(format!(
            "kubemark-{}-{}-{:08x}",
            args.test,
            std::process::id(),
            rand::thread_rng().gen::<u32>()
        ));
        std::fs::create_dir_all(&dir)?;
        let m = Materialized { dir };
        write_dir(args, &m.dir)?;
        Ok(m)
    }

    /// `args` turned into a `--config` run of the built-in test: its
    /// config, and the flags' overrides before the user's own.
    pub fn config_args(&self, args: &RunArgs) -> RunArgs {
        let mut a = args.clone();
        a.config = Some(self.dir.join("config.yaml"));
        a.testoverrides = std::iter::once(self.dir.join(OVERRIDES_FILE))
            .chain(args.testoverrides.iter().cloned())
            .collect();
        a.builtin = Some(args.test);
        a
    }
}

impl Materialized {
    /// An error about the built-in config, naming its files
    /// `builtin:<test>/...` instead of the temporary directory.
    pub fn rename(&self, e: crate::PerfError) -> crate::PerfError {
        match e {
            crate::PerfError::Args(crate::args::ArgsError(m)) => {
                let dir = self.dir.display().to_string();
                let test = self
                    .dir
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .and_then(|n| n.split('-').nth(1).map(str::to_string))
                    .unwrap_or_default();
                crate::PerfError::Args(crate::args::ArgsError(
                    m.replace(&dir, &format!("builtin:{test}")),
                ))
            }
            other => other,
        }
    }
}

impl Drop for Materialized {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn flags_become_parameters() {
        let mut a = RunArgs::new(TestKind::Load);
        a.qps = 2.5;
        a.pod_throughput = 50.0;
        a.latency_pods = Some(7);
        a.timeout = Duration::from_secs(90);
        let text = overrides_text(&a);
        for line in [
            "NODES_PER_NAMESPACE: 100\n",
            "PODS_PER_NODE: 30\n",
            "QPS: 2.5\n",
            "POD_STARTUP_THRESHOLD: \"5s\"\n",
            "OPERATION_TIMEOUT: \"1m30s\"\n",
            "LOAD_TEST_THROUGHPUT: 50\n",
            "LATENCY_PODS: 7\n",
        ] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
        let d = RunArgs::new(TestKind::Density);
        let text = overrides_text(&d);
        assert!(!text.contains("LOAD_TEST_THROUGHPUT"), "{text}");
        assert!(
            !text.contains("LATENCY_PODS"),
            "default: computed by the config"
        );
        assert_eq!(number(5.0), "5");
        assert_eq!(number(0.5), "0.5");
    }

    #[test]
    fn listing_names_every_file() {
        for test in [TestKind::Density, TestKind::Load] {
            let a = RunArgs::new(test);
            let l = listing(&a);
            for (rel, _) in files(test) {
                assert!(l.contains(&format!("# ==> {rel} <==\n")), "{rel}");
            }
            assert!(l.contains(&format!("# ==> {OVERRIDES_FILE} <==\n")));
            let m = Materialized::new(&a).unwrap();
            assert!(m.dir.join("config.yaml").is_file());
            let c = m.config_args(&a);
            assert_eq!(c.testoverrides[0], m.dir.join(OVERRIDES_FILE));
            let dir = m.dir.clone();
            drop(m);
            assert!(!dir.exists(), "removed when dropped");
        }
    }
}
