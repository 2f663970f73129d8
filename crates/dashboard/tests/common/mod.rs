//! A small WebDriver (W3C) client for chromedriver + headless Chromium, and
//! test run directories made from the vendored fixtures (copies of three
//! real `kubemark run density` runs).

#![allow(dead_code, clippy::unwrap_used)]

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
pub const SCREENSHOTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../target/dashboard-screenshots"
);

/// Finds `name` on PATH; the tests fail (not skip) without it.
pub fn which(name: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!("{name} is not on PATH: install Debian's chromium and chromium-driver (scripts/test.sh does)")
}

pub struct Driver {
    child: Child,
    base: String,
    session: String,
    client: Client<HttpConnector, Full<Bytes>>,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Driver {
    /// Starts chromedriver and a headless Chromium session. `offline`
    /// additionally cuts Chromium off any network.
    pub async fn start(offline: bool) -> Result<Driver> {
        let chromedriver = which("chromedriver")?;
        let chromium = which("chromium")?;
        let port = free_port()?;
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", chromedriver.display()))?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        let profile = tempfile::tempdir()?;
        let mut d = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            client,
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match d.request("GET", "/status", None).await {
                Ok(v) if v["value"]["ready"] == json!(true) => break,
                _ if Instant::now() > deadline => {
                    bail!("chromedriver did not become ready on port {port}")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1280,1000".into(),
            format!("--user-data-dir={}", d._profile.path().display()),
        ];
        if offline {
            // No name resolves and every connection goes to a closed proxy.
            args.push("--host-resolver-rules=MAP * ~NOTFOUND".into());
            args.push("--proxy-server=http://127.0.0.1:9".into());
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let v = d.request("POST", "/session", Some(caps)).await?;
        d.session = v["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("no session id in {v}"))?
            .to_string();
        if offline {
            d.cmd(
                "POST",
                "/chromium/network_conditions",
                json!({"network_conditions": {"offline": true, "latency": 0, "download_throughput": 0, "upload_throughput": 0}}),
            )
            .await?;
        }
        Ok(d)
    }

    async fn request(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let resp = self.client.request(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        let v: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{method} {path}: {}", String::from_utf8_lossy(&bytes)))?;
        if !status.is_success() {
            bail!("{method} {path}: HTTP {status}: {v}");
        }
        Ok(v)
    }

    pub async fn cmd(&self, method: &str, path: &str, body: Value) -> Result<Value> {
        let body = if method == "GET" { None } else { Some(body) };
        let v = self
            .request(method, &format!("/session/{}{path}", self.session), body)
            .await?;
        Ok(v["value"].clone())
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.cmd("POST", "/url", json!({ "url": url })).await?;
        Ok(())
    }

    pub async fn exec(&self, script: &str, args: Value) -> Result<Value> {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Sets the location hash and waits for the view to be rendered.
    pub async fn navigate_hash(&self, hash: &str) -> Result<()> {
        self.exec(
            "document.body.setAttribute('data-ready','false'); location.hash = arguments[0];",
            json!([hash]),
        )
        .await?;
        self.wait_ready().await
    }

    /// Waits until the app says its view is rendered.
    pub async fn wait_ready(&self) -> Result<()> {
        self.wait_for("return document.body && document.body.getAttribute('data-ready') === 'true'")
            .await
    }

    pub async fn wait_for(&self, script: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if self.exec(script, json!([])).await? == json!(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let body = self
                    .exec(
                        "return document.body ? document.body.innerText : ''",
                        json!([]),
                    )
                    .await?;
                bail!("timed out waiting for `{script}`; page text: {body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Element ids for a CSS selector.
    pub async fn find_all(&self, css: &str) -> Result<Vec<String>> {
        let v = self
            .cmd(
                "POST",
                "/elements",
                json!({"using": "css selector", "value": css}),
            )
            .await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| {
                        e.as_object()
                            .and_then(|o| o.values().next())
                            .and_then(|x| x.as_str())
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    pub async fn find(&self, css: &str) -> Result<String> {
        self.find_all(css)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("no element matches {css}"))
    }

    pub async fn attr(&self, el: &str, name: &str) -> Result<Option<String>> {
        let v = self
            .cmd(
                "GET",
                &format!("/element/{el}/attribute/{name}"),
                Value::Null,
            )
            .await?;
        Ok(v.as_str().map(str::to_string))
    }

    pub async fn text(&self, el: &str) -> Result<String> {
        let v = self
            .cmd("GET", &format!("/element/{el}/text"), Value::Null)
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    pub async fn click(&self, el: &str) -> Result<()> {
        self.cmd("POST", &format!("/element/{el}/click"), json!({}))
            .await?;
        Ok(())
    }

    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        use base64::Engine as _;
        let v = self.cmd("GET", "/screenshot", Value::Null).await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().ok_or_else(|| anyhow!("screenshot: {v}"))?)?;
        std::fs::create_dir_all(SCREENSHOTS)?;
        let path = Path::new(SCREENSHOTS).join(name);
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Browser console entries since the last call.
    pub async fn logs(&self) -> Result<Vec<Value>> {
        let v = self
            .cmd("POST", "/se/log", json!({"type": "browser"}))
            .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Fails on console errors (and warnings from the page itself).
    pub async fn assert_no_console_errors(&self, what: &str) -> Result<()> {
        let bad: Vec<Value> = self
            .logs()
            .await?
            .into_iter()
            .filter(|e| e["level"] == "SEVERE" || e["level"] == "ERROR")
            .collect();
        if !bad.is_empty() {
            bail!("{what}: console errors: {bad:?}");
        }
        Ok(())
    }

    pub async fn quit(mut self) -> Result<()> {
        let path = format!("/session/{}", self.session);
        let _ = self.request("DELETE", &path, None).await;
        let _ = self.child.kill();
        let _ = self.child.wait();
        Ok(())
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        std::fs::copy(e.path(), to.join(e.file_name()))?;
    }
    Ok(())
}

pub const POD_STARTUP_FILE_PREFIX: &str = "PodStartupLatency_PodStartupLatency_density_";
pub const SLOWDOWN: f64 = 4.0;

/// Three runs: the fixtures density-1 and density-2 as they are, and
/// density-3 with its latency pods' startup made `SLOWDOWN` times slower
/// (the regression the compare view must flag). density-1 also holds a
/// foreign JSON file named like a PerfData file (reported and skipped).
pub fn make_runs(root: &Path) -> Result<()> {
    for i in 1..=3 {
        copy_dir(
            &Path::new(FIXTURES).join(format!("density-{i}")),
            &root.join(format!("density-{i}")),
        )?;
    }
    let d3 = root.join("density-3");
    for e in std::fs::read_dir(&d3)? {
        let p = e?.path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with(POD_STARTUP_FILE_PREFIX) {
            let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p)?)?;
            for item in v["dataItems"].as_array_mut().unwrap() {
                for (_, x) in item["data"].as_object_mut().unwrap() {
                    *x = json!(x.as_f64().unwrap() * SLOWDOWN);
                }
            }
            std::fs::write(&p, serde_json::to_string_pretty(&v)?)?;
        }
    }
    std::fs::write(
        root.join("density-1/Foreign_density_2026-12-03T16:42:02Z.json"),
        r#"{"kind":"Pod","apiVersion":"v1"}"#,
    )?;
    Ok(())
}

/// The pod_startup Perc99 of a run directory.
pub fn pod_startup_p99(dir: &Path) -> Result<f64> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with(POD_STARTUP_FILE_PREFIX) {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p)?)?;
            for item in v["dataItems"].as_array().unwrap() {
                if item["labels"]["Metric"] == "pod_startup" {
                    return item["data"]["Perc99"]
                        .as_f64()
                        .ok_or_else(|| anyhow!("no Perc99"));
                }
            }
        }
    }
    bail!("no pod_startup in {}", dir.display())
}
