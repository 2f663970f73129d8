//! Protobuf responses for clients that ask for them (`Accept:
//! application/vnd.kubernetes.protobuf`, as client-go's typed clients do):
//! the JSON a handler produced is re-encoded as Kubernetes protobuf (the
//! `k8s\0` magic and `runtime.Unknown` envelope; lists as `<Kind>List`;
//! errors as `Status`), and a watch stream's JSON lines become 4-byte
//! length-prefixed `WatchEvent` frames. A body we cannot encode (a kind
//! without protobuf tables) stays JSON with its JSON content type, which
//! client-go decodes as well because it also accepts JSON.

use crate::server::RespBody;
use apimachinery::protobuf;
use bytes::Bytes;
use http::{HeaderValue, Response};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Whether the request prefers protobuf responses.
pub fn wanted(headers: &http::HeaderMap) -> bool {
    let accept = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    protobuf::accepts(accept)
}

fn is_json(resp: &Response<RespBody>) -> bool {
    resp.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.split(';').next().map(str::trim) == Some("application/json"))
}

/// Re-encodes a JSON response (whole or a watch stream) as protobuf.
/// `watch_kind` is `(apiVersion, kind)` of a watch's objects: a stream is
/// only converted when that kind has protobuf tables, because its content
/// type is sent before any event.
pub fn convert(resp: Response<RespBody>, watch_kind: (&str, &str)) -> Response<RespBody> {
    if !is_json(&resp) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let body = match body {
        RespBody::Full(Some(bytes)) => match encode_body(&bytes) {
            Some(pb) => {
                parts.headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static(protobuf::CONTENT_TYPE),
                );
                RespBody::Full(Some(Bytes::from(pb)))
            }
            None => RespBody::Full(Some(bytes)),
        },
        RespBody::Stream(rx) if protobuf::supports(watch_kind.0, watch_kind.1) => {
            parts.headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(protobuf::WATCH_CONTENT_TYPE),
            );
            RespBody::Stream(relay_frames(rx))
        }
        other => other,
    };
    Response::from_parts(parts, body)
}

fn encode_body(json: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(json).ok()?;
    protobuf::encode(&v).ok()
}

/// One JSON watch line (`{"type":..,"object":..}`) as a protobuf frame; an
/// object that cannot be encoded becomes an ERROR event with a Status.
pub fn watch_frame(line: &[u8]) -> Vec<u8> {
    let parsed: Option<(String, Value)> =
        serde_json::from_slice::<Value>(line)
            .ok()
            .and_then(|mut v| {
                let t = v.get("type")?.as_str()?.to_string();
                Some((t, v.get_mut("object")?.take()))
            });
    let result = match parsed {
        Some((t, object)) => protobuf::encode_watch_frame(&t, &object).map_err(|e| e.to_string()),
        None => Err("the watch event is not valid JSON".to_string()),
    };
    result.unwrap_or_else(|reason| {
        let status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("cannot encode the watch event as protobuf: {reason}"),
            "reason": "InternalError", "code": 500,
        });
        // A Status always encodes; an empty frame is the last resort.
        protobuf::encode_watch_frame("ERROR", &status).unwrap_or_else(|_| vec![0, 0, 0, 0])
    })
}

fn relay_frames(mut rx: mpsc::Receiver<Bytes>) -> mpsc::Receiver<Bytes> {
    let (tx, out) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            // Each chunk is one newline-terminated event (watch::event_line).
            for line in chunk.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                if tx.send(Bytes::from(watch_frame(line))).await.is_err() {
                    return;
                }
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_response(body: &Value) -> Response<RespBody> {
        let mut r = Response::new(RespBody::Full(Some(Bytes::from(body.to_string()))));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    }

    fn full(resp: Response<RespBody>) -> (String, Vec<u8>) {
        let ct = resp.headers()[http::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        match resp.into_body() {
            RespBody::Full(Some(b)) => (ct, b.to_vec()),
            _ => panic!("not a full body"),
        }
    }

    /// Custom resources have no protobuf form: a client that accepts JSON
    /// too gets JSON, objects, lists and watch streams alike.
    #[test]
    fn custom_resources_stay_json() {
        let cases = [
            json!({"kind": "CronTab", "apiVersion": "stable.example.com/v1", "metadata": {"name": "a"}, "spec": {}}),
            json!({"kind": "CronTabList", "apiVersion": "stable.example.com/v1", "metadata": {}, "items": []}),
        ];
        for body in cases {
            let (ct, bytes) = full(convert(
                json_response(&body),
                ("stable.example.com/v1", "CronTab"),
            ));
            assert_eq!(ct, "application/json");
            assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), body);
        }
        let (_tx, rx) = mpsc::channel::<Bytes>(1);
        let mut stream = Response::new(RespBody::Stream(rx));
        stream.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let converted = convert(stream, ("stable.example.com/v1", "CronTab"));
        assert_eq!(
            converted.headers()[http::header::CONTENT_TYPE],
            "application/json"
        );
    }

    #[test]
    fn objects_lists_and_status_become_protobuf() {
        let cases = [
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "a"}, "data": {"k": "v"}}),
            json!({"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"},
                "items": [{"metadata": {"name": "a"}, "data": {"k": "v"}}]}),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "configmaps \"x\" not found", "reason": "NotFound",
                "details": {"name": "x", "kind": "configmaps"}, "code": 404}),
        ];
        for v in cases {
            let (ct, body) = full(convert(json_response(&v), ("v1", "ConfigMap")));
            assert_eq!(ct, protobuf::CONTENT_TYPE, "{v}");
            assert!(body.starts_with(b"k8s\0"));
            assert_eq!(protobuf::decode(&body).unwrap(), v);
        }
    }

    #[test]
    fn unsupported_kinds_and_non_json_stay_as_they_are() {
        let widget =
            json!({"kind": "Widget", "apiVersion": "example.com/v1", "metadata": {"name": "w"}});
        let (ct, body) = full(convert(
            json_response(&widget),
            ("example.com/v1", "Widget"),
        ));
        assert_eq!(ct, "application/json");
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), widget);

        let mut text = Response::new(RespBody::Full(Some(Bytes::from_static(b"ok"))));
        text.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain"),
        );
        let (ct, body) = full(convert(text, ("v1", "ConfigMap")));
        assert_eq!((ct.as_str(), body.as_slice()), ("text/plain", &b"ok"[..]));
    }

    #[test]
    fn watch_lines_become_frames() {
        let obj = json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "n"}, "spec": {}, "status": {}});
        let line = format!("{{\"type\":\"ADDED\",\"object\":{obj}}}\n");
        let frame = watch_frame(line.trim_end().as_bytes());
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        let events = protobuf::decode_watch_frames(&frame).unwrap();
        assert_eq!(events, vec![("ADDED".to_string(), obj)]);

        let bad =
            watch_frame(br#"{"type":"ADDED","object":{"kind":"Widget","apiVersion":"x/v1"}}"#);
        let events = protobuf::decode_watch_frames(&bad).unwrap();
        assert_eq!(events[0].0, "ERROR");
        assert_eq!(events[0].1["code"], 500);
    }

    #[tokio::test]
    async fn watch_streams_are_framed() {
        let (tx, rx) = mpsc::channel(4);
        let mut resp = Response::new(RespBody::Stream(rx));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let resp = convert(resp, ("v1", "Namespace"));
        assert_eq!(
            resp.headers()[http::header::CONTENT_TYPE],
            protobuf::WATCH_CONTENT_TYPE
        );
        let obj = json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "n"}, "spec": {}, "status": {}});
        tx.send(Bytes::from(format!(
            "{{\"type\":\"DELETED\",\"object\":{obj}}}\n"
        )))
        .await
        .unwrap();
        drop(tx);
        let RespBody::Stream(mut out) = resp.into_body() else {
            panic!("not a stream")
        };
        let mut all = Vec::new();
        while let Some(b) = out.recv().await {
            all.extend_from_slice(&b);
        }
        assert_eq!(
            protobuf::decode_watch_frames(&all).unwrap(),
            vec![("DELETED".to_string(), obj)]
        );
    }
}
