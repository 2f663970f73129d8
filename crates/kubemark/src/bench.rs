//! `kubemark bench api-server`: starts the embedded master as its own
//! process and measures GET, LIST (1,000 pods) and PATCH throughput over
//! HTTP/2 with many concurrent clients, memory per 10,000 stored pods, and
//! the memory of holding 20,000 open watches.

use crate::h2client::{Conn, Target};
use anyhow::bail;
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct ApiServerBenchArgs {
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds each throughput phase runs.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Pods stored for the memory measurement.
    #[arg(long, default_value_t = 10_000)]
    pub pods: usize,
    /// Watches held open for the watch-memory measurement.
    #[arg(long, default_value_t = 20_000)]
    pub watches: usize,
    /// Run the master with in-memory storage instead of the durable log.
    #[arg(long)]
    pub ephemeral: bool,
}

/// The master under test, as a child process (its log on our stderr).
struct MasterProcess {
    child: cluster::launcher::MasterChild,
    kubeconfig: String,
}

impl MasterProcess {
    async fn start(ephemeral: bool) -> anyhow::Result<MasterProcess> {
        let mut launch = cluster::launcher::MasterLaunch::ephemeral("-");
        launch.ephemeral = ephemeral;
        launch.output = cluster::launcher::Output::Inherit;
        launch.own_process_group = false;
        let child = cluster::launcher::MasterChild::spawn(&launch).await?;
        let kubeconfig = child.kubeconfig.clone();
        Ok(MasterProcess { child, kubeconfig })
    }

    fn rss_bytes(&self) -> anyhow::Result<u64> {
        rss_of(self.child.pid)
    }

    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        Ok(procstat::sample(&self.child.pid.to_string())?.cpu_seconds)
    }
}

/// Resident set size of a process, from /proc/<pid>/status.
pub fn rss_of(pid: u32) -> anyhow::Result<u64> {
    Ok(procstat::sample(&pid.to_string())?.rss_bytes)
}

fn pod_json(name: &str, node: &str) -> String {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "pod-template-hash": "5d4f8c7b9"}},
        "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.9",
                 "resources": {"requests": {"cpu": "1m", "memory": "10M"}}}],
                 "nodeName": node}
    })
    .to_string()
}

/// Runs `op` with `concurrency` workers for `secs`; returns requests/s.
async fn throughput<F, Fut>(
    conns: &[Conn],
    concurrency: usize,
    secs: u64,
    op: F,
) -> anyhow::Result<(f64, u64)>
where
    F: Fn(Conn, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let conn = conns[w % conns.len()].clone();
        let op = op.clone();
        let done = done.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop {
                match op(conn.clone(), w).await {
                    Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok((
        done.load(Ordering::Relaxed) as f64 / elapsed,
        errors.load(Ordering::Relaxed),
    ))
}

async fn expect(
    conn: &mut Conn,
    method: &str,
    path: &str,
    ct: Option<&str>,
    body: String,
    want: u16,
) -> anyhow::Result<Bytes> {
    let (code, bytes) = conn.request(method, path, ct, Bytes::from(body)).await?;
    if code != want {
        bail!(
            "{method} {path}: {code} {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        );
    }
    Ok(bytes)
}

pub async fn run(args: ApiServerBenchArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.seconds == 0 {
        bail!("--concurrency and --seconds must be at least 1");
    }
    let master = MasterProcess::start(args.ephemeral).await?;
    let target = Target::from_kubeconfig(&master.kubeconfig)?;
    let mut conns = Vec::new();
    for _ in 0..args.concurrency.div_ceil(16).max(1) {
        conns.push(target.connect().await?);
    }
    let mut c = conns[0].clone();
    let storage = if args.ephemeral {
        "in-memory"
    } else {
        "durable (fsync'd log)"
    };
    println!("kubemark api-server benchmark: embedded master ({storage}), {} concurrent requests over {} HTTP/2 connections, {} s per phase", args.concurrency, conns.len(), args.seconds);
    let rss_start = master.rss_bytes()?;

    // GET of a small ConfigMap.
    expect(
        &mut c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some("application/json"),
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"small"},"data":{"a":"1"}}"#
            .into(),
        201,
    )
    .await?;
    let cpu0 = master.cpu_seconds()?;
    let (get_rps, get_err) = throughput(
        &conns,
        args.concurrency,
        args.seconds,
        |mut c, _| async move {
            expect(
                &mut c,
                "GET",
                "/api/v1/namespaces/default/configmaps/small",
                None,
                String::new(),
                200,
            )
            .await
            .map(|_| ())
        },
    )
    .await?;
    let get_cpu = (master.cpu_seconds()? - cpu0) / args.seconds as f64;
    println!("GET configmap          {get_rps:>10.0} req/s  (errors {get_err}, master CPU {get_cpu:.2} cores)");

    // PATCH: merge patches on one object per worker.
    for w in 0..args.concurrency {
        expect(&mut c, "POST", "/api/v1/namespaces/default/configmaps", Some("application/json"),
            format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"p{w}"}},"data":{{"n":"0"}}}}"#), 201).await?;
    }
    let counter = Arc::new(AtomicU64::new(0));
    let cpu0 = master.cpu_seconds()?;
    let (patch_rps, patch_err) =
        throughput(&conns, args.concurrency, args.seconds, move |mut c, w| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            async move {
                expect(
                    &mut c,
                    "PATCH",
                    &format!("/api/v1/namespaces/default/configmaps/p{w}"),
                    Some("application/merge-patch+json"),
                    format!(r#"{{"data":{{"n":"{n}"}}}}"#),
                    200,
                )
                .await
                .map(|_| ())
            }
        })
        .await?;
    let patch_cpu = (master.cpu_seconds()? - cpu0) / args.seconds as f64;
    println!("PATCH configmap        {patch_rps:>10.0} req/s  (errors {patch_err}, master CPU {patch_cpu:.2} cores)");

    // Store pods: 1,000 in one namespace for LIST, the rest elsewhere.
    expect(
        &mut c,
        "POST",
        "/api/v1/namespaces",
        Some("application/json"),
        r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"list"}}"#.into(),
        201,
    )
    .await?;
    expect(
        &mut c,
        "POST",
        "/api/v1/namespaces",
        Some("application/json"),
        r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bulk"}}"#.into(),
        201,
    )
    .await?;
    let rss_before_pods = master.rss_bytes()?;
    let created = Arc::new(AtomicU64::new(0));
    let total = args.pods.max(1000);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.concurrency {
        let mut c = conns[w % conns.len()].clone();
        let created = created.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = created.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= total {
                    return Ok::<(), anyhow::Error>(());
                }
                let ns = if i < 1000 { "list" } else { "bulk" };
                expect(
                    &mut c,
                    "POST",
                    &format!("/api/v1/namespaces/{ns}/pods"),
                    Some("application/json"),
                    pod_json(&format!("pod-{i}"), &format!("node-{}", i % 100)),
                    201,
                )
                .await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let create_rps = total as f64 / started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after_pods = master.rss_bytes()?;
    let per_pod = (rss_after_pods.saturating_sub(rss_before_pods)) as f64 / total as f64;
    println!("CREATE pod             {create_rps:>10.0} req/s  ({total} pods)");

    let list_conc = args.concurrency.min(16);
    let cpu0 = master.cpu_seconds()?;
    let (list_rps, list_err) = throughput(&conns, list_conc, args.seconds, |mut c, _| async move {
        let body = expect(
            &mut c,
            "GET",
            "/api/v1/namespaces/list/pods",
            None,
            String::new(),
            200,
        )
        .await?;
        if body.len() < 1000 * 500 {
            bail!("short list");
        }
        Ok(())
    })
    .await?;
    let list_cpu = (master.cpu_seconds()? - cpu0) / args.seconds as f64;
    println!("LIST 1,000 pods        {list_rps:>10.1} req/s  ({list_conc} concurrent, errors {list_err}, master CPU {list_cpu:.2} cores)");
    println!(
        "memory per stored pod  {:>10.2} KiB  ({:.0} MiB for {total} pods; RSS {:.0} MiB -> {:.0} MiB)",
        per_pod / 1024.0,
        per_pod * 10_000.0 / 1048576.0,
        rss_before_pods as f64 / 1048576.0,
        rss_after_pods as f64 / 1048576.0
    );
    println!(
        "memory per 10,000 pods {:>10.1} MiB",
        per_pod * 10_000.0 / 1048576.0
    );

    // Watches: kubelet-style pod watches, 80 streams per connection.
    if args.watches > 0 {
        let per_conn = 80;
        let rss_before = master.rss_bytes()?;
        let mut watch_conns = Vec::new();
        let mut bodies = Vec::with_capacity(args.watches);
        let started = Instant::now();
        for i in 0..args.watches {
            if i % per_conn == 0 {
                watch_conns.push(target.connect().await?);
            }
            let Some(conn) = watch_conns.last_mut() else {
                bail!("no connection")
            };
            let path = format!(
                "/api/v1/pods?watch=1&allowWatchBookmarks=true&fieldSelector=spec.nodeName%3Dwatch-node-{i}&resourceVersion=0"
            );
            let (code, body) = conn.open_stream(&path).await?;
            if code != 200 {
                bail!("watch {i} answered {code}");
            }
            bodies.push(body);
        }
        let open_secs = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss_after = master.rss_bytes()?;
        // A write every watcher's filter must skip, to show the index works.
        let t = Instant::now();
        expect(
            &mut c,
            "POST",
            "/api/v1/namespaces/default/pods",
            Some("application/json"),
            pod_json("watched-pod", "watch-node-7"),
            201,
        )
        .await?;
        let write_ms = t.elapsed().as_secs_f64() * 1000.0;
        println!(
            "open watches           {:>10}  (opened in {open_secs:.1} s over {} connections; master RSS {:.0} MiB, +{:.0} MiB for the watches, {:.1} KiB each; a pod create with them open took {write_ms:.1} ms)",
            bodies.len(),
            watch_conns.len(),
            rss_after as f64 / 1048576.0,
            rss_after.saturating_sub(rss_before) as f64 / 1048576.0,
            rss_after.saturating_sub(rss_before) as f64 / bodies.len() as f64 / 1024.0
        );
        drop(bodies);
    }
    println!(
        "master RSS at start    {:>10.0} MiB, at end {:.0} MiB",
        rss_start as f64 / 1048576.0,
        master.rss_bytes()? as f64 / 1048576.0
    );
    Ok(())
}

#[derive(clap::Args, Debug, Clone)]
pub struct SchedulerBenchArgs {
    /// Node counts for the scheduling-loop throughput.
    #[arg(long, value_delimiter = ',', default_values_t = [100usize, 1000])]
    pub nodes: Vec<usize>,
    /// Pods scheduled per throughput measurement.
    #[arg(long, default_value_t = 20_000)]
    pub pods: usize,
    /// Replicas of the end-to-end Deployment (on the largest node count).
    #[arg(long, default_value_t = 30_000)]
    pub replicas: usize,
}

/// Scheduler throughput: the filter/score/assume loop alone, then a whole
/// Deployment through the embedded control plane (API server, controllers,
/// scheduler over loopback HTTPS) until every pod is bound.
pub async fn scheduler(args: SchedulerBenchArgs) -> anyhow::Result<()> {
    if args.nodes.is_empty() || args.nodes.contains(&0) || args.pods == 0 {
        bail!("--nodes and --pods must be positive");
    }
    println!("kubemark scheduler benchmark");
    for &n in &args.nodes {
        let pods = args.pods;
        let r =
            tokio::task::spawn_blocking(move || scheduler::bench_schedule_report(n, pods)).await?;
        println!(
            "scheduling loop, {:>5} nodes: {:>9.0} pods/s ({} scheduled in {:.2} s)",
            r.nodes, r.pods_per_second, r.scheduled, r.seconds
        );
    }
    let nodes = args.nodes.iter().copied().max().unwrap_or(1000);
    let dir = tempfile::tempdir()?;
    let mut m = master::server::MasterConfig::new(dir.path().join("data"));
    m.listen = "127.0.0.1:0".parse()?;
    m.ephemeral = true;
    let cp = cluster::start(cluster::ControlPlaneConfig::new(m)).await?;
    let target = Target::from_kubeconfig(&cp.master.kubeconfig)?;
    let mut c = target.connect().await?;
    let per_node = args.replicas.div_ceil(nodes) + 10;
    for i in 0..nodes {
        let node = serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": format!("bench-node-{i}")},
            "status": {"capacity": {"cpu": "32", "memory": "128Gi", "pods": per_node.to_string()},
                       "allocatable": {"cpu": "32", "memory": "128Gi", "pods": per_node.to_string()},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}]}});
        expect(
            &mut c,
            "POST",
            "/api/v1/nodes",
            Some("application/json"),
            node.to_string(),
            201,
        )
        .await?;
    }
    let deployment = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
        "spec": {"replicas": args.replicas, "selector": {"matchLabels": {"app": "bench"}},
                 "template": {"metadata": {"labels": {"app": "bench"}},
                              "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.9",
                                       "resources": {"requests": {"cpu": "1m", "memory": "10M"}}}]}}}});
    let started = Instant::now();
    expect(
        &mut c,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        Some("application/json"),
        deployment.to_string(),
        201,
    )
    .await?;
    let mut last_bound = 0usize;
    let mut last_t = Instant::now();
    let mut peak = 0.0f64;
    let mut first_bound_at = None;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        // The scheduler's own counter is cheap to read; the final count is
        // checked against the pods themselves below.
        let body = expect(&mut c, "GET", "/metrics", None, String::new(), 200).await?;
        let text = String::from_utf8_lossy(&body);
        let bound = text
            .lines()
            .find(|l| {
                l.starts_with("scheduler_schedule_attempts_total{")
                    && l.contains("result=\"scheduled\"")
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0) as usize;
        if bound > 0 && first_bound_at.is_none() {
            first_bound_at = Some(started.elapsed());
        }
        let dt = last_t.elapsed().as_secs_f64();
        peak = peak.max((bound - last_bound.min(bound)) as f64 / dt);
        last_bound = bound;
        last_t = Instant::now();
        if bound >= args.replicas {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("only {bound} of {} pods bound after 600 s", args.replicas);
        }
    }
    let total = started.elapsed().as_secs_f64();
    let body = expect(
        &mut c,
        "GET",
        "/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3D",
        None,
        String::new(),
        200,
    )
    .await?;
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let unbound = v["items"].as_array().map(Vec::len).unwrap_or(0);
    if unbound > 0 {
        bail!("{unbound} pods are still unbound although the scheduler counted them scheduled");
    }
    println!(
        "Deployment of {} replicas on {nodes} nodes: all pods bound {total:.1} s after create ({:.0} pods/s overall, peak {peak:.0} pods/s over 0.5 s; first bind after {:.2} s)",
        args.replicas,
        args.replicas as f64 / total,
        first_bound_at.map(|d| d.as_secs_f64()).unwrap_or(0.0)
    );
    cp.shutdown().await;
    Ok(())
}
