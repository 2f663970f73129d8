//! Command-line parameters of `kubemark run` and `kubemark bench density`,
//! and their validation.

use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// The kubelet's default `--max-pods`: pods per node above this cannot run.
pub const MAX_PODS_PER_NODE: usize = 110;

/// Hollow nodes started when no cluster is given.
pub const DEFAULT_NODES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestKind {
    /// ClusterLoader2's density test: saturate nodes, then measure pod startup.
    Density,
    /// ClusterLoader2's load test: a mix of workloads created, scaled and deleted.
    Load,
}

impl TestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TestKind::Density => "density",
            TestKind::Load => "load",
        }
    }
}

impl std::fmt::Display for TestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct ArgsError(pub String);

/// `kubemark run density|load`.
#[derive(Debug, Clone, clap::Args, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunArgs {
    /// The built-in test to run: density or load (or --config instead).
    #[arg(
        value_enum,
        value_name = "TEST",
        required_unless_present = "config",
        conflicts_with = "config"
    )]
    #[serde(skip)]
    pub test_name: Option<TestKind>,
    /// The test [`crate::run`] runs: `test_name`, density for --config.
    #[arg(skip = TestKind::Density)]
    pub test: TestKind,
    /// Run a ClusterLoader2 test config (e.g. perf-tests'
    /// clusterloader2/testing/load/config.yaml) instead of a built-in test.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// ClusterLoader2 overrides file (YAML mapping of template parameters)
    /// for --config or a built-in test (whose flags come first); repeatable,
    /// later files win.
    #[arg(long = "testoverrides")]
    pub testoverrides: Vec<PathBuf>,
    /// A template parameter KEY=VALUE for --config or a built-in test (wins
    /// over the flags, overrides files and CL2_* environment variables);
    /// repeatable.
    #[arg(long = "param")]
    pub param: Vec<String>,
    /// Run a --config even if it uses measurements kubemark does not
    /// implement; they are marked skipped in junit.xml.
    #[arg(long)]
    pub skip_unsupported: bool,
    /// Print the built-in test's ClusterLoader2 config (every file, with
    /// the flags as an overrides file) and exit; with DIR, write the files
    /// there instead, to run with `kubemark run --config DIR/config.yaml
    /// --testoverrides DIR/overrides.yaml`.
    #[arg(
        long,
        value_name = "DIR",
        num_args = 0..=1,
        default_missing_value = "-",
        conflicts_with = "config"
    )]
    #[serde(skip)]
    pub print_config: Option<PathBuf>,
    /// Set when a built-in test runs as its embedded config.
    #[arg(skip)]
    #[serde(skip)]
    pub builtin: Option<TestKind>,
    /// Hollow nodes to start for the run [default: 100 without --kubeconfig;
    /// with --kubeconfig, none: the Ready nodes already there are used].
    #[arg(long)]
    pub nodes: Option<usize>,
    /// The cluster to test. Without it, an ephemeral embedded master is
    /// started. (KUBECONFIG and ~/.kube/config are never used implicitly.)
    #[arg(long, conflicts_with = "cluster")]
    pub kubeconfig: Option<PathBuf>,
    /// A cluster started with `kubemark start --name NAME`: its admin
    /// kubeconfig, and its supervised master processes for CPU/memory.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Where clusters live [default: $XDG_DATA_HOME/kubemark/clusters].
    #[arg(long, env = "KUBEMARK_DIR", hide_env_values = true)]
    pub clusters_dir: Option<PathBuf>,
    /// The run directory for the artifacts [default: ./artifacts/<test>-<timestamp>].
    #[arg(long)]
    pub artifacts: Option<PathBuf>,
    /// Pods per node in the saturation (density) or load phase.
    #[arg(long, default_value_t = 30)]
    pub pods_per_node: usize,
    /// Nodes per test namespace (ClusterLoader2's NODES_PER_NAMESPACE; the
    /// effective value is min(nodes, this)).
    #[arg(long, default_value_t = 100)]
    pub nodes_per_namespace: usize,
    /// Load: pods created (and deleted) per second.
    #[arg(long, default_value_t = 10.0)]
    pub pod_throughput: f64,
    /// Pods of the pod-startup-latency phase [default: max(500, nodes)].
    #[arg(long)]
    pub latency_pods: Option<usize>,
    /// Objects created or deleted per second in the density phases and the
    /// latency phase (ClusterLoader2's Uniform5qps).
    #[arg(long, default_value_t = 5.0)]
    pub qps: f64,
    /// Delete the test namespaces at the end; --delete-namespace=false
    /// keeps them for inspection.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub delete_namespace: bool,
    /// Print the plan (objects per phase) and exit without touching any cluster.
    #[arg(long)]
    pub dry_run: bool,
    /// Timeout of each phase (e.g. 30m, 90s, 1h30m).
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    #[serde(serialize_with = "ser_duration")]
    pub timeout: Duration,
    /// The pod startup SLO threshold (p99 of latency pods).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    #[serde(serialize_with = "ser_duration")]
    pub pod_startup_threshold: Duration,
    /// Seed of the load test's random sizes [default: time-based].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seconds between resource usage samples.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    #[serde(serialize_with = "ser_duration")]
    pub usage_interval: Duration,
    /// Multiplex the hollow nodes started by the run onto this many
    /// connections (default: one per kubelet and per proxy, like real nodes).
    #[arg(long)]
    pub shared_connections: Option<usize>,
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

impl RunArgs {
    /// Defaults for `test`, as the command line would give them.
    pub fn new(test: TestKind) -> RunArgs {
        RunArgs {
            test_name: Some(test),
            test,
            config: None,
            testoverrides: Vec::new(),
            param: Vec::new(),
            skip_unsupported: false,
            print_config: None,
            builtin: None,
            nodes: None,
            kubeconfig: None,
            cluster: None,
            clusters_dir: None,
            artifacts: None,
            pods_per_node: 30,
            nodes_per_namespace: 100,
            pod_throughput: 10.0,
            latency_pods: None,
            qps: 5.0,
            delete_namespace: true,
            dry_run: false,
            timeout: Duration::from_secs(30 * 60),
            pod_startup_threshold: Duration::from_secs(5),
            seed: None,
            usage_interval: Duration::from_secs(10),
            shared_connections: None,
        }
    }

    /// Hollow nodes this run starts itself: --nodes, or 100 when no
    /// cluster is given; none for an existing cluster without --nodes.
    pub fn hollow_nodes_to_start(&self) -> Option<usize> {
        match (
            self.kubeconfig.is_some() || self.cluster.is_some(),
            self.nodes,
        ) {
            (_, Some(n)) => Some(n),
            (false, None) => Some(DEFAULT_NODES),
            (true, None) => None,
        }
    }

    /// Checks everything that can be checked without a cluster.
    pub fn validate(&self) -> Result<(), ArgsError> {
        let bad = |m: String| Err(ArgsError(m));
        if self.nodes == Some(0) {
            return bad("--nodes must be at least 1 (a test needs nodes to put pods on)".into());
        }
        if self.pods_per_node == 0 {
            return bad("--pods-per-node must be at least 1".into());
        }
        if self.pods_per_node > MAX_PODS_PER_NODE {
            return bad(format!(
                "--pods-per-node {} is above the kubelet's max-pods ({MAX_PODS_PER_NODE}): those pods could never run",
                self.pods_per_node
            ));
        }
        if self.nodes_per_namespace == 0 {
            return bad("--nodes-per-namespace must be at least 1".into());
        }
        if !(self.pod_throughput.is_finite() && self.pod_throughput > 0.0) {
            return bad(format!(
                "--pod-throughput must be a positive number of pods per second, not {}",
                self.pod_throughput
            ));
        }
        if !(self.qps.is_finite() && self.qps > 0.0) {
            return bad(format!(
                "--qps must be a positive number of objects per second, not {}",
                self.qps
            ));
        }
        if self.timeout.is_zero() {
            return bad("--timeout must be positive".into());
        }
        if self.shared_connections == Some(0) {
            return bad("--shared-connections must be at least 1".into());
        }
        if self.usage_interval.is_zero() {
            return bad("--usage-interval must be positive".into());
        }
        for path in &self.testoverrides {
            if !path.is_file() {
                return bad(format!("--testoverrides {}: no such file", path.display()));
            }
        }
        if let Some(path) = &self.config {
            if !path.is_file() {
                return bad(format!("--config {}: no such file", path.display()));
            }
        }
        if let Some(path) = &self.kubeconfig {
            if !self.dry_run && !path.is_file() {
                return bad(format!("--kubeconfig {}: no such file", path.display()));
            }
        }
        Ok(())
    }
}

/// `kubemark bench density`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Node counts to run Density at, one run each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    pub nodes: Vec<usize>,
    /// Pods per node in the saturation phase.
    #[arg(long, default_value_t = 30)]
    pub pods_per_node: usize,
    /// Latency pods per run [default: max(500, nodes)].
    #[arg(long)]
    pub latency_pods: Option<usize>,
    /// Where to put each run's artifacts [default: ./artifacts/bench-density-<timestamp>].
    #[arg(long)]
    pub artifacts: Option<PathBuf>,
    /// Timeout of each phase.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Multiplex the hollow nodes onto this many connections (default:
    /// one per kubelet and per proxy, like real nodes).
    #[arg(long)]
    pub shared_connections: Option<usize>,
}

/// Go-style durations: `1h30m`, `90s`, `500ms`, `2.5m`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs, s);
    }
    hollow::duration::parse_duration(s).map_err(|e| e.to_string())
}

fn secs_to_duration(secs: f64, s: &str) -> Result<Duration, String> {
    if !(secs.is_finite() && secs >= 0.0) || secs > 1e12 {
        return Err(format!("invalid duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `1h30m`, `90s`, `1.5s`, `250ms`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if d.subsec_millis() != 0 {
        return if ms < 1000 {
            format!("{ms}ms")
        } else {
            format!("{}s", d.as_secs_f64())
        };
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, len) in [("h", 3600), ("m", 60)] {
        if secs >= len {
            out.push_str(&format!("{}{unit}", secs / len));
            secs %= len;
        }
    }
    if secs > 0 {
        out.push_str(&format!("{secs}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    #[test]
    fn durations() {
        let ok = [
            ("30m", 1800.0),
            ("90s", 90.0),
            ("1h30m", 5400.0),
            ("500ms", 0.5),
            ("2.5m", 150.0),
            ("45", 45.0),
            ("1m30s", 90.0),
        ];
        for (s, secs) in ok {
            assert_eq!(parse_duration(s).unwrap().as_secs_f64(), secs, "{s}");
        }
        for bad in ["", "m", "5x", "-3s", "1.2.3s", "inf"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn command_line() {
        let c = Cli::parse_from(["x", "density"]);
        assert_eq!(c.run.test_name, Some(TestKind::Density));
        assert!(c.run.delete_namespace);
        assert_eq!(c.run.timeout, Duration::from_secs(1800));
        assert_eq!(c.run.hollow_nodes_to_start(), Some(100));
        let c = Cli::parse_from([
            "x",
            "load",
            "--nodes",
            "7",
            "--delete-namespace=false",
            "--timeout",
            "2m",
            "--pod-throughput",
            "50",
            "--kubeconfig",
            "/k",
        ]);
        assert_eq!(c.run.test_name, Some(TestKind::Load));
        assert!(!c.run.delete_namespace);
        assert_eq!(c.run.timeout, Duration::from_secs(120));
        assert_eq!(c.run.pod_throughput, 50.0);
        assert_eq!(c.run.hollow_nodes_to_start(), Some(7));
        let c = Cli::parse_from(["x", "load", "--kubeconfig", "/k", "--delete-namespace"]);
        assert!(c.run.delete_namespace);
        assert_eq!(c.run.hollow_nodes_to_start(), None);
        assert!(Cli::try_parse_from(["x", "soak"]).is_err());
        let c = Cli::parse_from([
            "x",
            "--config",
            "/c.yaml",
            "--testoverrides",
            "/o1.yaml",
            "--testoverrides",
            "/o2.yaml",
            "--param",
            "A=1",
            "--skip-unsupported",
        ]);
        assert_eq!(
            c.run.config.as_deref(),
            Some(std::path::Path::new("/c.yaml"))
        );
        assert_eq!(c.run.testoverrides.len(), 2);
        assert_eq!(c.run.param, ["A=1"]);
        assert!(c.run.skip_unsupported);
        // The built-in tests are configs too: --param works with them.
        let c = Cli::parse_from(["x", "density", "--param", "A=1"]);
        assert_eq!(c.run.validate(), Ok(()));
        let c = Cli::parse_from(["x", "load", "--print-config"]);
        assert_eq!(
            c.run.print_config.as_deref(),
            Some(std::path::Path::new("-"))
        );
        let c = Cli::parse_from(["x", "load", "--print-config", "/d"]);
        assert_eq!(
            c.run.print_config.as_deref(),
            Some(std::path::Path::new("/d"))
        );
        assert!(Cli::try_parse_from(["x", "--config", "/c", "--print-config"]).is_err());
    }

    #[test]
    fn validation() {
        let base = RunArgs::new(TestKind::Density);
        assert_eq!(base.validate(), Ok(()));
        type Change = Box<dyn Fn(&mut RunArgs)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|a| a.nodes = Some(0)),
                "--nodes must be at least 1",
            ),
            (
                Box::new(|a| a.pods_per_node = 111),
                "above the kubelet's max-pods (110)",
            ),
            (
                Box::new(|a| a.pods_per_node = 0),
                "--pods-per-node must be at least 1",
            ),
            (
                Box::new(|a| a.nodes_per_namespace = 0),
                "--nodes-per-namespace",
            ),
            (Box::new(|a| a.pod_throughput = 0.0), "--pod-throughput"),
            (Box::new(|a| a.qps = f64::NAN), "--qps"),
            (Box::new(|a| a.timeout = Duration::ZERO), "--timeout"),
            (
                Box::new(|a| a.kubeconfig = Some("/nonexistent/kubeconfig".into())),
                "no such file",
            ),
        ];
        for (change, want) in cases {
            let mut a = base.clone();
            change(&mut a);
            let e = a.validate().unwrap_err();
            assert!(e.0.contains(want), "{}", e.0);
        }
        let mut a = base.clone();
        a.pods_per_node = 110;
        assert_eq!(a.validate(), Ok(()));
        // A dry run never reads the kubeconfig.
        a.kubeconfig = Some("/nonexistent/kubeconfig".into());
        a.dry_run = true;
        assert_eq!(a.validate(), Ok(()));
    }
}
