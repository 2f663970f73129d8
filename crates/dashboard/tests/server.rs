//! The dashboard's HTTP API over a real socket: pages, assets, data,
//! comparisons, and errors that name the problem.

mod common;

use anyhow::Result;
use bytes::Bytes;
use common::*;
use dashboard::compare::Tolerances;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

async fn get(method: &str, url: &str) -> Result<(u16, String, String)> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let req = http::Request::builder()
        .method(method)
        .uri(url)
        .body(Empty::new())?;
    let resp = client.request(req).await?;
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, ct, String::from_utf8_lossy(&body).to_string()))
}

#[tokio::test]
async fn api_over_http() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("runs");
    make_runs(&root)?;
    let server = dashboard::server::start(dashboard::server::Config {
        dirs: vec![root.clone()],
        listen: "127.0.0.1:0".parse()?,
        tolerances: Tolerances::default(),
    })
    .await?;
    let u = |p: &str| format!("http://{}{p}", server.addr);

    let (s, ct, body) = get("GET", &u("/")).await?;
    assert_eq!((s, ct.as_str()), (200, "text/html; charset=utf-8"));
    assert!(body.contains("<script src=\"app.js\"></script>"));
    assert!(!body.contains("{{"));
    let (s, ct, body) = get("GET", &u("/app.js")).await?;
    assert_eq!((s, ct.as_str()), (200, "text/javascript; charset=utf-8"));
    assert_eq!(body, dashboard::report::APP_JS);
    let (s, _, _) = get("GET", &u("/app.css")).await?;
    assert_eq!(s, 200);

    let (s, _, body) = get("GET", &u("/api/data")).await?;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&body)?;
    let ids: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["runs/density-1", "runs/density-2", "runs/density-3"]);
    assert_eq!(v["tolerancePct"], 10.0);
    assert!(v["problems"][0]["path"]
        .as_str()
        .unwrap()
        .ends_with("Foreign_density_2026-12-03T16:42:02Z.json"));

    let (s, _, body) = get(
        "GET",
        &u("/api/compare?base=runs%2Fdensity-1&new=runs%2Fdensity-3&tolerance=50%25"),
    )
    .await?;
    assert_eq!(s, 200, "{body}");
    let c: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(c["tolerancePct"], 50.0);
    let row = c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "PodStartupLatency_PodStartupLatency{Metric=pod_startup} Perc99")
        .unwrap();
    assert_eq!(row["verdict"], "worse");

    for (path, status, needle) in [
        ("/api/compare?base=runs%2Fdensity-1", 400, "pass base="),
        (
            "/api/compare?base=x&new=runs%2Fdensity-1",
            404,
            "no run \\\"x\\\"",
        ),
        (
            "/api/compare?base=runs%2Fdensity-1&new=runs%2Fdensity-2&tolerance=lots",
            400,
            "tolerance",
        ),
        ("/nope", 404, "no such page"),
    ] {
        let (s, _, body) = get("GET", &u(path)).await?;
        assert_eq!(s, status, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }
    let (s, _, _) = get("POST", &u("/api/data")).await?;
    assert_eq!(s, 405);
    server.shutdown();
    Ok(())
}
