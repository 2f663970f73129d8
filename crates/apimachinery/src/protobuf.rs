//! Kubernetes protobuf (`application/vnd.kubernetes.protobuf`): request
//! bodies decoded into the JSON the same object has in the Kubernetes JSON
//! API, and JSON objects, lists, Status and watch events encoded as the Go
//! server's protobuf serializer writes them.
//!
//! client-go's typed clients (used by `kubectl create configmap|secret|
//! deployment|job|...`, `kubectl describe`, `kubectl auth can-i`, every Go
//! controller and the e2e framework) send protobuf bodies and ask for
//! protobuf answers (`Accept: application/vnd.kubernetes.protobuf,
//! application/json`).
//!
//! Wire layout: the 4-byte magic `k8s\0`, then a `runtime.Unknown` message
//! (1 `typeMeta{1 apiVersion, 2 kind}`, 2 `raw`, 3 `contentEncoding`,
//! 4 `contentType`); `raw` is the object encoded by the `generated.proto`
//! files of `k8s.io/api`; a `<Kind>List` is {1 ListMeta, repeated 2 items}.
//! A watch stream is a sequence of frames: a 4-byte big-endian length, then
//! a bare `meta.v1.WatchEvent` {1 type, 2 RawExtension{1 raw}} whose raw is
//! a whole body (magic and envelope) of the object.
//!
//! Unknown fields, of any wire type, are skipped in every message, as
//! protobuf and kube-apiserver do: v1.24 clients send
//! `ObjectMeta.clusterName` (15), which later releases removed.
//!
//! The schema table at the bottom lists, per message, the protobuf field
//! number, the JSON name, the value type and how Go's `encoding/json` emits
//! the field (`omitempty`, pointer vs value), which protobuf files do not
//! carry. Numbers, types, cardinality and names are checked field by field
//! against the prost messages that the `k8s-pb` crate generates from
//! upstream's `generated.proto` (test `tables_match_the_k8s_pb_generated_
//! messages`); the table also covers fields newer than k8s-pb's release,
//! listed in that test, and `tables_cover_every_v1_24_field` checks that
//! every field of the vendored v1.24.0 OpenAPI definitions is in it.
//! Kinds the hand-kept table lacks (storage CSI kinds, RuntimeClass,
//! webhook configurations, APIService, flowcontrol v1beta2,
//! ComponentStatus) have tables generated from k8s-pb and the v1.24
//! definitions (`protobuf_generated.rs`, test `generated_tables_are_current`).
//! Every message reachable from the served kinds is covered.
//!
//! JSON emission follows Go `encoding/json` over the decoded Go struct:
//! - value (non-pointer) scalars are written by the Go marshaller even when
//!   zero, so a zero `omitempty` scalar is omitted and a zero non-`omitempty`
//!   scalar is emitted as `""`/`0`/`false`;
//! - pointer fields are emitted whenever present on the wire, even if zero;
//! - value structs are always emitted (`resources: {}`, `status: {}`);
//! - lists and maps are emitted when present (Go would print `null` for an
//!   absent non-`omitempty` list; we omit it, which JSON readers treat alike);
//! - map keys are sorted, as Go sorts them;
//! - a zero `metav1.Time` is omitted for `omitempty` fields and `null`
//!   otherwise; a zero `IntOrString` in an `omitempty` field (only
//!   `ServicePort.targetPort`) is omitted, because the API server's
//!   defaulting treats `0` as unset anyway.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

/// Prefix of every Kubernetes protobuf body.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// Media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Deepest message nesting accepted; real objects nest about 12 levels.
const MAX_DEPTH: usize = 64;

/// Largest protobuf field number (2^29 - 1).
const MAX_FIELD: u64 = (1 << 29) - 1;

/// Why a protobuf body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    #[error("body does not start with the Kubernetes protobuf prefix \"k8s\\x00\"")]
    MissingMagic,
    #[error("truncated protobuf data in {message}")]
    Truncated { message: &'static str },
    #[error("protobuf varint longer than 10 bytes in {message}")]
    VarintOverflow { message: &'static str },
    #[error("invalid protobuf field tag {tag} in {message}")]
    InvalidTag { message: &'static str, tag: u64 },
    #[error("field {field} of {message} has unexpected wire type {wire_type}")]
    WireType {
        message: &'static str,
        field: u32,
        wire_type: u8,
    },
    #[error("unsupported kind {kind:?} (apiVersion {api_version:?}) in protobuf body")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("unsupported protobuf content encoding {0:?}")]
    UnsupportedEncoding(String),
    #[error("unsupported content type {0:?} inside the protobuf envelope")]
    UnsupportedContentType(String),
    #[error("field {field} of {message} is not valid UTF-8")]
    InvalidUtf8 { message: &'static str, field: u32 },
    #[error("field {field} of {message} is invalid: {reason}")]
    InvalidValue {
        message: &'static str,
        field: u32,
        reason: String,
    },
    #[error("protobuf messages nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("internal protobuf schema has no message {0}")]
    Schema(&'static str),
}

type Result<T> = std::result::Result<T, ProtobufError>;

/// Decodes a Kubernetes protobuf body (magic prefix plus `runtime.Unknown`
/// envelope) into the object's JSON, with `kind` and `apiVersion` first.
pub fn decode(body: &[u8]) -> Result<Value> {
    let rest = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(ProtobufError::MissingMagic)?;
    let envelope = decode_envelope(rest)?;
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedEncoding(
            envelope.content_encoding,
        ));
    }
    if !envelope.content_type.is_empty() && envelope.content_type != CONTENT_TYPE {
        return Err(ProtobufError::UnsupportedContentType(envelope.content_type));
    }
    decode_object(&envelope.api_version, &envelope.kind, envelope.raw, 0)
}

/// The `(apiVersion, kind)` pairs `decode` understands; apiVersion `*`
/// matches any group version (`DeleteOptions` is registered in every one).
pub fn supported_kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    all_kinds().map(|(gv, kind, _)| (*gv, *kind))
}

/// Whether objects of this kind, and lists of them, can be encoded.
pub fn supports(api_version: &str, kind: &str) -> bool {
    target(api_version, kind).is_ok()
}

struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

const UNKNOWN: &str = "runtime.Unknown";
const TYPE_META: &str = "runtime.TypeMeta";

fn decode_envelope(data: &[u8]) -> Result<Envelope<'_>> {
    let mut env = Envelope {
        api_version: String::new(),
        kind: String::new(),
        raw: &[],
        content_encoding: String::new(),
        content_type: String::new(),
    };
    let mut r = Reader::new(data, UNKNOWN);
    while let Some((field, wire)) = r.next_field()? {
        // Unknown fields, of any wire type, are skipped as protobuf requires.
        if !(1..=4).contains(&field) {
            continue;
        }
        let bytes = wire.bytes(UNKNOWN, field)?;
        match field {
            1 => {
                let mut t = Reader::new(bytes, TYPE_META);
                while let Some((tf, tw)) = t.next_field()? {
                    if tf == 1 || tf == 2 {
                        let s = utf8(tw.bytes(TYPE_META, tf)?, TYPE_META, tf)?;
                        if tf == 1 {
                            env.api_version = s;
                        } else {
                            env.kind = s;
                        }
                    }
                }
            }
            2 => env.raw = bytes,
            3 => env.content_encoding = utf8(bytes, UNKNOWN, field)?,
            _ => env.content_type = utf8(bytes, UNKNOWN, field)?,
        }
    }
    Ok(env)
}

/// What a `(apiVersion, kind)` pair is encoded as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// A message of the table.
    One(&'static str),
    /// A `<Kind>List`: {1 ListMeta metadata, repeated 2 items}.
    List(&'static str),
}

fn target(api_version: &str, kind: &str) -> Result<Target> {
    let find = |kind: &str| {
        all_kinds()
            .find(|(gv, k, _)| *k == kind && (*gv == "*" || *gv == api_version))
            .map(|(_, _, m)| *m)
    };
    if let Some(m) = find(kind) {
        return Ok(Target::One(m));
    }
    // Every served kind has a list type of the same group version.
    if let Some(m) = kind
        .strip_suffix("List")
        .filter(|item| !item.is_empty())
        .and_then(find)
    {
        return Ok(Target::List(m));
    }
    Err(ProtobufError::UnsupportedKind {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
    })
}

const LIST_META: &str = "meta.v1.ListMeta";

/// Decodes `raw` as the object of the given type; `depth` counts enclosing
/// messages (non-zero for objects embedded in a `RawExtension`).
fn decode_object(api_version: &str, kind: &str, raw: &[u8], depth: usize) -> Result<Value> {
    let target = target(api_version, kind)?;
    // Go prints the embedded TypeMeta first: kind, then apiVersion.
    let mut out = Map::new();
    out.insert("kind".into(), Value::String(kind.to_string()));
    out.insert("apiVersion".into(), Value::String(api_version.to_string()));
    match target {
        Target::One(message) => out.extend(decode_message(message, raw, depth + 1)?),
        Target::List(item) => {
            if depth + 1 > MAX_DEPTH {
                return Err(ProtobufError::TooDeep(MAX_DEPTH));
            }
            let list_name = "List";
            let mut meta = Vec::new();
            let mut items = Vec::new();
            let mut r = Reader::new(raw, list_name);
            while let Some((num, wire)) = r.next_field()? {
                match num {
                    1 => meta.push(wire.bytes(list_name, num)?),
                    2 => items.push(Value::Object(decode_message(
                        item,
                        wire.bytes(list_name, num)?,
                        depth + 2,
                    )?)),
                    _ => {} // unknown fields are skipped
                }
            }
            let meta = decode_message(LIST_META, &joined(&meta), depth + 2)?;
            out.insert("metadata".into(), Value::Object(meta));
            out.insert("items".into(), Value::Array(items));
        }
    }
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------
// Encoding: JSON objects as the Go server's protobuf serializer writes them.

/// Media type of a protobuf watch stream.
pub const WATCH_CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// Whether a client's `Accept` header prefers Kubernetes protobuf: the
/// first media range we can serve decides (client-go sends
/// `application/vnd.kubernetes.protobuf, */*`; kubectl asks for JSON or a
/// Table for `get`). `as=` forms (Table, PartialObjectMetadata) are JSON.
pub fn accepts(accept: Option<&str>) -> bool {
    for part in accept.unwrap_or("").split(',') {
        let mut params = part.split(';').map(str::trim);
        let media = params.next().unwrap_or("");
        let has_as = params.any(|p| p.starts_with("as="));
        match media {
            CONTENT_TYPE if !has_as => return true,
            CONTENT_TYPE => continue,
            "application/json" | "application/yaml" | "application/*" | "*/*" => return false,
            _ => continue,
        }
    }
    false
}

/// Encodes an object, list or Status (its JSON, with `kind` and
/// `apiVersion`) as a Kubernetes protobuf body: the magic prefix and a
/// `runtime.Unknown` envelope around the object's message.
pub fn encode(obj: &Value) -> Result<Vec<u8>> {
    let o = obj.as_object().ok_or(ProtobufError::InvalidValue {
        message: UNKNOWN,
        field: 2,
        reason: "the object to encode is not a JSON object".into(),
    })?;
    let text = |key: &str| o.get(key).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    let raw = match target(api_version, kind)? {
        Target::One(message) => encode_message(message, o, 0)?,
        Target::List(item) => {
            let mut out = Vec::new();
            let empty = Map::new();
            let meta = o
                .get("metadata")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            put_bytes(&mut out, 1, &encode_message(LIST_META, meta, 1)?);
            for v in o
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let item_obj = v.as_object().ok_or_else(|| ProtobufError::InvalidValue {
                    message: "List",
                    field: 2,
                    reason: "a list item is not a JSON object".into(),
                })?;
                put_bytes(&mut out, 2, &encode_message(item, item_obj, 1)?);
            }
            out
        }
    };
    Ok(envelope(api_version, kind, &raw))
}

/// One watch event as a frame of a protobuf watch stream: a 4-byte
/// big-endian length, then a `meta.v1.WatchEvent` {1 type, 2 object}
/// without envelope, whose object is a whole protobuf body (magic and
/// envelope), as client-go's stream decoder expects.
pub fn encode_watch_frame(event_type: &str, object: &Value) -> Result<Vec<u8>> {
    let mut raw_ext = Vec::new();
    put_bytes(&mut raw_ext, 1, &encode(object)?);
    let mut event = Vec::new();
    put_bytes(&mut event, 1, event_type.as_bytes());
    put_bytes(&mut event, 2, &raw_ext);
    let len = u32::try_from(event.len()).map_err(|_| ProtobufError::InvalidValue {
        message: "meta.v1.WatchEvent",
        field: 2,
        reason: "event larger than 4 GiB".into(),
    })?;
    let mut out = Vec::with_capacity(event.len() + 4);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&event);
    Ok(out)
}

/// Splits the frames of a protobuf watch stream and decodes each event:
/// `(type, object JSON)`. For clients and tests; `Truncated` when the
/// stream ends inside a frame.
pub fn decode_watch_frames(mut stream: &[u8]) -> Result<Vec<(String, Value)>> {
    const W: &str = "meta.v1.WatchEvent";
    let mut events = Vec::new();
    while !stream.is_empty() {
        let (len, rest) = stream
            .split_first_chunk::<4>()
            .ok_or(ProtobufError::Truncated { message: W })?;
        let len = u32::from_be_bytes(*len) as usize;
        if len > rest.len() {
            return Err(ProtobufError::Truncated { message: W });
        }
        let (frame, rest) = rest.split_at(len);
        stream = rest;
        let (mut event_type, mut object) = (String::new(), Value::Null);
        let mut r = Reader::new(frame, W);
        while let Some((num, wire)) = r.next_field()? {
            match num {
                1 => event_type = utf8(wire.bytes(W, num)?, W, num)?,
                2 => {
                    let mut inner = Reader::new(wire.bytes(W, num)?, "runtime.RawExtension");
                    while let Some((n, w)) = inner.next_field()? {
                        if n == 1 {
                            object = decode(w.bytes("runtime.RawExtension", n)?)?;
                        }
                    }
                }
                _ => {}
            }
        }
        events.push((event_type, object));
    }
    Ok(events)
}

fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Vec::new();
    put_bytes(&mut type_meta, 1, api_version.as_bytes());
    put_bytes(&mut type_meta, 2, kind.as_bytes());
    let mut out = Vec::with_capacity(raw.len() + type_meta.len() + 16);
    out.extend_from_slice(&MAGIC);
    put_bytes(&mut out, 1, &type_meta);
    put_bytes(&mut out, 2, raw);
    // Go writes the empty contentEncoding and contentType too.
    put_bytes(&mut out, 3, b"");
    put_bytes(&mut out, 4, b"");
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn put_bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn put_int(out: &mut Vec<u8>, field: u32, v: i64) {
    put_key(out, field, 0);
    // Negative ints travel as ten-byte two's complement, as in Go.
    put_varint(out, v as u64);
}

/// Writes the fields of `name` found in `obj` in field-number order, as
/// Go's generated marshallers do: value fields always (their zero when
/// absent), pointers and lists only when set. JSON keys the table does not
/// know (e.g. `kind`, `apiVersion`) have no protobuf field and are left out.
fn encode_message(name: &'static str, obj: &Map<String, Value>, depth: usize) -> Result<Vec<u8>> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep(MAX_DEPTH));
    }
    let msg = lookup(name)?;
    let mut fields: Vec<&Field> = msg.fields.iter().collect();
    fields.sort_by_key(|f| f.num);
    let mut out = Vec::new();
    for f in fields {
        let v = obj.get(f.json).filter(|v| !v.is_null());
        match f.card {
            Card::Inline => {
                let Ty::Msg(inner) = f.ty else {
                    return Err(ProtobufError::Schema(name));
                };
                put_bytes(&mut out, f.num, &encode_message(inner, obj, depth + 1)?);
            }
            Card::Rep => {
                for item in v
                    .map(|v| as_array(v, name, f))
                    .transpose()?
                    .into_iter()
                    .flatten()
                {
                    encode_value(&mut out, name, f, item, depth)?;
                }
            }
            Card::Map => {
                // serde_json keeps insertion order; Go sorts map keys.
                let mut entries: Vec<_> = v
                    .map(|v| as_object(v, name, f))
                    .transpose()?
                    .into_iter()
                    .flatten()
                    .collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                for (k, val) in entries {
                    let mut e = Vec::new();
                    put_bytes(&mut e, 1, k.as_bytes());
                    if !val.is_null() {
                        encode_value(&mut e, name, &Field { num: 2, ..*f }, val, depth)?;
                    }
                    put_bytes(&mut out, f.num, &e);
                }
            }
            Card::Ptr => {
                if let Some(v) = v {
                    encode_value(&mut out, name, f, v, depth)?;
                }
            }
            Card::Opt | Card::Req => match v {
                Some(v) => encode_value(&mut out, name, f, v, depth)?,
                None => encode_zero(&mut out, f.num, f.ty, depth)?,
            },
        }
    }
    Ok(out)
}

fn invalid_json(message: &'static str, f: &Field, want: &str) -> ProtobufError {
    ProtobufError::InvalidValue {
        message,
        field: f.num,
        reason: format!("JSON field {:?} is not {want}", f.json),
    }
}

fn as_array<'v>(v: &'v Value, message: &'static str, f: &Field) -> Result<&'v Vec<Value>> {
    v.as_array()
        .ok_or_else(|| invalid_json(message, f, "a list"))
}

fn as_object<'v>(v: &'v Value, message: &'static str, f: &Field) -> Result<&'v Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| invalid_json(message, f, "an object"))
}

fn as_str<'v>(v: &'v Value, message: &'static str, f: &Field) -> Result<&'v str> {
    v.as_str()
        .ok_or_else(|| invalid_json(message, f, "a string"))
}

fn as_int(v: &Value, message: &'static str, f: &Field) -> Result<i64> {
    v.as_i64()
        .or_else(|| v.as_u64().and_then(|u| i64::try_from(u).ok()))
        .or_else(|| {
            v.as_f64()
                .filter(|x| x.fract() == 0.0 && x.abs() < 9.0e18)
                .map(|x| x as i64)
        })
        .ok_or_else(|| invalid_json(message, f, "an integer"))
}

/// Writes one value (a scalar, a list item or a map value) as field `f.num`.
fn encode_value(
    out: &mut Vec<u8>,
    message: &'static str,
    f: &Field,
    v: &Value,
    depth: usize,
) -> Result<()> {
    let num = f.num;
    match f.ty {
        Ty::Str => put_bytes(out, num, as_str(v, message, f)?.as_bytes()),
        Ty::Bytes => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(as_str(v, message, f)?)
                .map_err(|_| invalid_json(message, f, "base64"))?;
            put_bytes(out, num, &bytes);
        }
        Ty::Bool => {
            let b = v
                .as_bool()
                .ok_or_else(|| invalid_json(message, f, "a boolean"))?;
            put_int(out, num, i64::from(b));
        }
        Ty::I32 => {
            let n = as_int(v, message, f)?;
            let n = i32::try_from(n).map_err(|_| invalid_json(message, f, "an int32"))?;
            put_int(out, num, i64::from(n));
        }
        Ty::I64 => put_int(out, num, as_int(v, message, f)?),
        Ty::Msg(inner) => put_bytes(
            out,
            num,
            &encode_message(inner, as_object(v, message, f)?, depth + 1)?,
        ),
        Ty::Time | Ty::MicroTime => {
            let s = as_str(v, message, f)?;
            let (secs, nanos) =
                parse_time(s).ok_or_else(|| invalid_json(message, f, "an RFC 3339 time"))?;
            let mut t = Vec::new();
            put_int(&mut t, 1, secs);
            put_int(&mut t, 2, i64::from(nanos));
            put_bytes(out, num, &t);
        }
        Ty::Quantity => {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(invalid_json(message, f, "a quantity")),
            };
            let mut q = Vec::new();
            put_bytes(&mut q, 1, s.as_bytes());
            put_bytes(out, num, &q);
        }
        Ty::IntOrString => {
            let mut i = Vec::new();
            match v {
                Value::String(s) => {
                    put_int(&mut i, 1, 1);
                    put_int(&mut i, 2, 0);
                    put_bytes(&mut i, 3, s.as_bytes());
                }
                other => {
                    let n = as_int(other, message, f)?;
                    let n = i32::try_from(n).map_err(|_| invalid_json(message, f, "an int32"))?;
                    put_int(&mut i, 1, 0);
                    put_int(&mut i, 2, i64::from(n));
                    put_bytes(&mut i, 3, b"");
                }
            }
            put_bytes(out, num, &i);
        }
        Ty::RawExtension | Ty::FieldsV1 => {
            // The server holds these as JSON; Go sends the raw JSON bytes.
            let json = serde_json::to_vec(v).map_err(|e| ProtobufError::InvalidValue {
                message,
                field: num,
                reason: e.to_string(),
            })?;
            let mut r = Vec::new();
            put_bytes(&mut r, 1, &json);
            put_bytes(out, num, &r);
        }
        Ty::StringList => {
            let mut l = Vec::new();
            for s in as_array(v, message, f)? {
                put_bytes(&mut l, 1, as_str(s, message, f)?.as_bytes());
            }
            put_bytes(out, num, &l);
        }
    }
    Ok(())
}

/// The Go zero value of an unset value (non-pointer) field, as Go writes it.
fn encode_zero(out: &mut Vec<u8>, num: u32, ty: Ty, depth: usize) -> Result<()> {
    match ty {
        Ty::Str => put_bytes(out, num, b""),
        Ty::Bool | Ty::I32 | Ty::I64 => put_int(out, num, 0),
        // A nil []byte is not written.
        Ty::Bytes => {}
        Ty::Msg(inner) => put_bytes(out, num, &encode_message(inner, &Map::new(), depth + 1)?),
        // The zero Quantity, IntOrString, Time and RawExtension are empty messages.
        Ty::Quantity
        | Ty::IntOrString
        | Ty::Time
        | Ty::MicroTime
        | Ty::RawExtension
        | Ty::FieldsV1
        | Ty::StringList => put_bytes(out, num, b""),
    }
    Ok(())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 (`2006-01-02T15:04:05[.frac](Z|+07:00)`) as Unix seconds and
/// nanoseconds; `None` when malformed.
fn parse_time(s: &str) -> Option<(i64, i32)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut pos = 19;
    let mut nanos = 0i64;
    if b.get(pos) == Some(&b'.') {
        let start = pos + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == start {
            return None;
        }
        let digits = &s[start..end.min(start + 9)];
        nanos = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
        pos = end;
    }
    let offset = match b.get(pos)? {
        b'Z' | b'z' if pos + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if pos + 6 == b.len() && b[pos + 3] == b':' => {
            let mins = num(pos + 1..pos + 3)? * 60 + num(pos + 4..pos + 6)?;
            if *sign == b'+' {
                mins * 60
            } else {
                -mins * 60
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some((secs, nanos as i32))
}

// ---------------------------------------------------------------------------
// Wire format reader.

/// One field occurrence as it appears on the wire.
#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// A fixed32, fixed64 or group value (wire type 5, 1 or 3), already
    /// skipped: no Kubernetes field uses them, but unknown fields may.
    Other(u8),
}

impl<'a> Wire<'a> {
    fn bytes(self, message: &'static str, field: u32) -> Result<&'a [u8]> {
        match self {
            Wire::Bytes(b) => Ok(b),
            other => Err(ProtobufError::WireType {
                message,
                field,
                wire_type: other.wire_type(),
            }),
        }
    }

    fn varint(self, message: &'static str, field: u32) -> Result<u64> {
        match self {
            Wire::Varint(v) => Ok(v),
            other => Err(ProtobufError::WireType {
                message,
                field,
                wire_type: other.wire_type(),
            }),
        }
    }

    fn wire_type(self) -> u8 {
        match self {
            Wire::Varint(_) => 0,
            Wire::Bytes(_) => 2,
            Wire::Other(w) => w,
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    message: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], message: &'static str) -> Self {
        Reader {
            buf,
            pos: 0,
            message,
        }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = *self.buf.get(self.pos).ok_or(ProtobufError::Truncated {
                message: self.message,
            })?;
            self.pos += 1;
            // The 10th byte may only carry the top bit of a u64.
            if i == 9 && byte > 1 {
                return Err(ProtobufError::VarintOverflow {
                    message: self.message,
                });
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(ProtobufError::VarintOverflow {
            message: self.message,
        })
    }

    /// The next field number and value, or `None` at the end of the buffer.
    /// Kubernetes types only use varint and length-delimited fields; fixed
    /// and group values are skipped so that unknown fields of any wire type
    /// can be ignored, as protobuf requires.
    fn next_field(&mut self) -> Result<Option<(u32, Wire<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let (field, wire) = self.tag()?;
        let value = match wire {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.skip(8)?;
                Wire::Other(1)
            }
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| self.truncated())?;
                let start = self.pos;
                self.skip(len)?;
                Wire::Bytes(&self.buf[start..self.pos])
            }
            3 => {
                self.skip_group(field, 0)?;
                Wire::Other(3)
            }
            5 => {
                self.skip(4)?;
                Wire::Other(5)
            }
            wire => {
                return Err(ProtobufError::WireType {
                    message: self.message,
                    field,
                    wire_type: wire,
                })
            }
        };
        Ok(Some((field, value)))
    }

    /// Reads a field tag: (field number, wire type).
    fn tag(&mut self) -> Result<(u32, u8)> {
        let tag = self.varint()?;
        let field = tag >> 3;
        if field == 0 || field > MAX_FIELD {
            return Err(ProtobufError::InvalidTag {
                message: self.message,
                tag,
            });
        }
        Ok((field as u32, (tag & 7) as u8))
    }

    fn truncated(&self) -> ProtobufError {
        ProtobufError::Truncated {
            message: self.message,
        }
    }

    fn skip(&mut self, len: usize) -> Result<()> {
        if len > self.buf.len() - self.pos {
            return Err(self.truncated());
        }
        self.pos += len;
        Ok(())
    }

    /// Skips a (deprecated) group up to its matching end-group tag.
    fn skip_group(&mut self, field: u32, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(ProtobufError::TooDeep(MAX_DEPTH));
        }
        loop {
            if self.pos >= self.buf.len() {
                return Err(self.truncated());
            }
            let (inner, wire) = self.tag()?;
            match wire {
                0 => {
                    self.varint()?;
                }
                1 => self.skip(8)?,
                2 => {
                    let len = self.varint()?;
                    self.skip(usize::try_from(len).map_err(|_| self.truncated())?)?;
                }
                3 => self.skip_group(inner, depth + 1)?,
                4 if inner == field => return Ok(()),
                5 => self.skip(4)?,
                wire => {
                    return Err(ProtobufError::WireType {
                        message: self.message,
                        field: inner,
                        wire_type: wire,
                    })
                }
            }
        }
    }
}

fn utf8(bytes: &[u8], message: &'static str, field: u32) -> Result<String> {
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|_| ProtobufError::InvalidUtf8 { message, field })
}

fn base64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Joins the occurrences of a singular message field: protobuf merges
/// repeated occurrences, which equals decoding their concatenation.
fn joined<'a>(chunks: &[&'a [u8]]) -> std::borrow::Cow<'a, [u8]> {
    match chunks {
        [] => std::borrow::Cow::Borrowed(&[]),
        [one] => std::borrow::Cow::Borrowed(one),
        many => std::borrow::Cow::Owned(many.concat()),
    }
}

// ---------------------------------------------------------------------------
// Schema-driven conversion.

/// The value type of a field (for maps: of the map's values; keys are
/// always strings in Kubernetes types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Str,
    /// `[]byte`: base64 in JSON.
    Bytes,
    Bool,
    I32,
    I64,
    /// A message of the table.
    Msg(&'static str),
    /// `metav1.Time`: Timestamp{1 seconds, 2 nanos}, RFC 3339 in seconds.
    Time,
    /// `metav1.MicroTime`: as Time, printed with microseconds.
    MicroTime,
    /// `resource.Quantity`: {1 string}, a JSON string.
    Quantity,
    /// `intstr.IntOrString`: {1 type, 2 intVal, 3 strVal}.
    IntOrString,
    /// `runtime.RawExtension`: {1 raw}, embedded JSON or protobuf.
    RawExtension,
    /// `metav1.FieldsV1`: {1 Raw}, embedded JSON.
    FieldsV1,
    /// Named `[]string` used as a map value (`ExtraValue`): {repeated 1 items}.
    StringList,
}

/// How Go's `encoding/json` treats the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Card {
    /// Value field with `omitempty`: omitted when zero (structs never are).
    Opt,
    /// Value field without `omitempty`: always emitted, zero if absent.
    Req,
    /// Pointer field: emitted whenever present on the wire.
    Ptr,
    /// Slice: repeated field.
    Rep,
    /// `map[string]T`: repeated entries {1 key, 2 value}.
    Map,
    /// Embedded struct with `json:",inline"`: its fields join the parent.
    Inline,
}

struct Field {
    num: u32,
    json: &'static str,
    ty: Ty,
    card: Card,
}

struct Message {
    name: &'static str,
    fields: &'static [Field],
}

const fn f(num: u32, json: &'static str, ty: Ty, card: Card) -> Field {
    Field {
        num,
        json,
        ty,
        card,
    }
}

const fn m(name: &'static str, fields: &'static [Field]) -> Message {
    Message { name, fields }
}

fn lookup(name: &'static str) -> Result<&'static Message> {
    [schema::MESSAGES, generated::MESSAGES]
        .into_iter()
        .find_map(|table| {
            table
                .binary_search_by(|m| m.name.cmp(name))
                .ok()
                .map(|i| &table[i])
        })
        .ok_or(ProtobufError::Schema(name))
}

/// Every `(apiVersion, kind, message)`: the hand-kept table and the
/// generated one.
fn all_kinds() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    schema::KINDS.iter().chain(generated::KINDS)
}

/// Field occurrences gathered before the JSON is built in Go field order.
enum Slot<'a> {
    Empty,
    Scalar(Value),
    Chunks(Vec<&'a [u8]>),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

fn decode_message(name: &'static str, data: &[u8], depth: usize) -> Result<Map<String, Value>> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep(MAX_DEPTH));
    }
    let msg = lookup(name)?;
    let mut slots: Vec<Slot<'_>> = msg.fields.iter().map(|_| Slot::Empty).collect();
    let mut r = Reader::new(data, name);
    while let Some((num, wire)) = r.next_field()? {
        // Unknown fields (e.g. ObjectMeta.clusterName, 15, which v1.24
        // clients still send) are skipped, as protobuf and kube-apiserver do.
        let Some(idx) = msg.fields.iter().position(|f| f.num == num) else {
            continue;
        };
        let field = &msg.fields[idx];
        let slot = &mut slots[idx];
        match field.card {
            Card::Rep => {
                if !matches!(slot, Slot::List(_)) {
                    *slot = Slot::List(Vec::new());
                }
                if let Slot::List(list) = slot {
                    push_repeated(list, name, field, wire, depth)?;
                }
            }
            Card::Map => {
                let (key, value) =
                    decode_map_entry(name, field, wire.bytes(name, num)?, depth + 1)?;
                match slot {
                    Slot::Map(map) => {
                        map.insert(key, value);
                    }
                    _ => *slot = Slot::Map(BTreeMap::from([(key, value)])),
                }
            }
            Card::Opt | Card::Req | Card::Ptr | Card::Inline => {
                if let Some(v) = scalar(field.ty, name, num, wire)? {
                    *slot = Slot::Scalar(v);
                } else {
                    let chunk = wire.bytes(name, num)?;
                    match slot {
                        Slot::Chunks(chunks) => chunks.push(chunk),
                        _ => *slot = Slot::Chunks(vec![chunk]),
                    }
                }
            }
        }
    }

    let mut out = Map::new();
    for (field, slot) in msg.fields.iter().zip(slots) {
        let json = field.json.to_string();
        match (field.card, slot) {
            (Card::Rep, Slot::List(list)) => {
                out.insert(json, Value::Array(list));
            }
            (Card::Map, Slot::Map(map)) => {
                out.insert(json, Value::Object(map.into_iter().collect()));
            }
            (Card::Inline, slot) => {
                let chunks = match slot {
                    Slot::Chunks(chunks) => chunks,
                    _ => Vec::new(),
                };
                let Ty::Msg(inner) = field.ty else {
                    return Err(ProtobufError::Schema(name));
                };
                out.extend(decode_message(inner, &joined(&chunks), depth + 1)?);
            }
            (Card::Ptr, Slot::Scalar(v)) => {
                out.insert(json, v);
            }
            (Card::Ptr, Slot::Chunks(chunks)) => {
                let v = decode_embedded(field.ty, name, field.num, &joined(&chunks), depth + 1)?;
                out.insert(json, v);
            }
            (Card::Opt | Card::Req, slot) => {
                if let Some(v) = value_field(name, field, slot, depth)? {
                    out.insert(json, v);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The JSON of a non-pointer, non-repeated field, or `None` when Go's
/// `encoding/json` leaves it out.
fn value_field(
    message: &'static str,
    field: &Field,
    slot: Slot<'_>,
    depth: usize,
) -> Result<Option<Value>> {
    let omitempty = field.card == Card::Opt;
    let value = match slot {
        Slot::Scalar(v) => v,
        Slot::Chunks(chunks) => {
            decode_embedded(field.ty, message, field.num, &joined(&chunks), depth + 1)?
        }
        _ => decode_embedded_absent(field.ty, message, field.num, depth)?,
    };
    let zero = match field.ty {
        Ty::Str | Ty::Bytes => value.as_str() == Some(""),
        Ty::Bool => value == Value::Bool(false),
        Ty::I32 | Ty::I64 | Ty::IntOrString => value.as_i64() == Some(0),
        Ty::Time | Ty::MicroTime => value.is_null(),
        _ => false,
    };
    if zero && omitempty {
        return Ok(None);
    }
    // Absent `[]byte` and RawExtension are Go nil (`null`): leave them out.
    if value.is_null() && !matches!(field.ty, Ty::Time | Ty::MicroTime) {
        return Ok(None);
    }
    Ok(Some(value))
}

/// The value a non-pointer field has when it is missing from the wire.
fn decode_embedded_absent(ty: Ty, message: &'static str, num: u32, depth: usize) -> Result<Value> {
    Ok(match ty {
        Ty::Str => Value::String(String::new()),
        Ty::Bool => Value::Bool(false),
        Ty::I32 | Ty::I64 => Value::from(0),
        Ty::Bytes => Value::Null,
        _ => decode_embedded(ty, message, num, &[], depth + 1)?,
    })
}

/// Converts a varint or string/bytes occurrence of a scalar type; `None`
/// for message-like types, which are decoded once all occurrences are in.
fn scalar(ty: Ty, message: &'static str, field: u32, wire: Wire<'_>) -> Result<Option<Value>> {
    Ok(Some(match ty {
        Ty::Str => Value::String(utf8(wire.bytes(message, field)?, message, field)?),
        Ty::Bytes => base64(wire.bytes(message, field)?),
        Ty::Bool => Value::Bool(wire.varint(message, field)? != 0),
        // int32 travels sign-extended to 64 bits; truncation restores it.
        Ty::I32 => Value::from(wire.varint(message, field)? as i32),
        Ty::I64 => Value::from(wire.varint(message, field)? as i64),
        _ => return Ok(None),
    }))
}

fn push_repeated(
    list: &mut Vec<Value>,
    message: &'static str,
    field: &Field,
    wire: Wire<'_>,
    depth: usize,
) -> Result<()> {
    match (field.ty, wire) {
        // Packed encoding of numeric lists: a run of varints.
        (Ty::Bool | Ty::I32 | Ty::I64, Wire::Bytes(packed)) => {
            let mut r = Reader::new(packed, message);
            while r.pos < packed.len() {
                let v = r.varint()?;
                if let Some(value) = scalar(field.ty, message, field.num, Wire::Varint(v))? {
                    list.push(value);
                }
            }
        }
        _ => match scalar(field.ty, message, field.num, wire)? {
            Some(v) => list.push(v),
            None => {
                let bytes = wire.bytes(message, field.num)?;
                list.push(decode_embedded(
                    field.ty,
                    message,
                    field.num,
                    bytes,
                    depth + 1,
                )?);
            }
        },
    }
    Ok(())
}

fn decode_map_entry(
    message: &'static str,
    field: &Field,
    data: &[u8],
    depth: usize,
) -> Result<(String, Value)> {
    let mut key = String::new();
    let mut value = None;
    let mut chunks = Vec::new();
    let mut r = Reader::new(data, message);
    while let Some((num, wire)) = r.next_field()? {
        match num {
            1 => key = utf8(wire.bytes(message, field.num)?, message, field.num)?,
            2 => match scalar(field.ty, message, field.num, wire)? {
                Some(v) => value = Some(v),
                None => chunks.push(wire.bytes(message, field.num)?),
            },
            // Unknown fields are skipped, as protobuf requires.
            _ => {}
        }
    }
    let value = match value {
        Some(v) => v,
        None => match field.ty {
            // A missing value is the Go zero value.
            Ty::Str | Ty::Bytes => Value::String(String::new()),
            ty => decode_embedded(ty, message, field.num, &joined(&chunks), depth + 1)?,
        },
    };
    Ok((key, value))
}

/// Decodes a length-delimited message-like value (message, Time, Quantity,
/// ...) found in field `field` of `message`.
fn decode_embedded(
    ty: Ty,
    message: &'static str,
    field: u32,
    data: &[u8],
    depth: usize,
) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep(MAX_DEPTH));
    }
    let invalid = |reason: String| ProtobufError::InvalidValue {
        message,
        field,
        reason,
    };
    match ty {
        Ty::Msg(inner) => Ok(Value::Object(decode_message(inner, data, depth)?)),
        Ty::Time | Ty::MicroTime => {
            let Some((seconds, nanos)) = decode_timestamp(data)? else {
                return Ok(Value::Null);
            };
            format_time(seconds, nanos, ty == Ty::MicroTime)
                .map(Value::String)
                .ok_or_else(|| invalid(format!("timestamp {seconds}s {nanos}ns is out of range")))
        }
        Ty::Quantity => {
            const Q: &str = "resource.Quantity";
            let mut s = None;
            let mut r = Reader::new(data, Q);
            while let Some((num, wire)) = r.next_field()? {
                if num != 1 {
                    continue; // unknown field
                }
                s = Some(utf8(wire.bytes(Q, num)?, Q, num)?);
            }
            match s {
                // An empty message is the zero Quantity.
                None => Ok(Value::String("0".into())),
                Some(s) if s.is_empty() => Err(invalid("empty quantity".into())),
                Some(s) => Ok(Value::String(s)),
            }
        }
        Ty::IntOrString => {
            const I: &str = "intstr.IntOrString";
            let (mut kind, mut int, mut string) = (0i64, 0i32, String::new());
            let mut r = Reader::new(data, I);
            while let Some((num, wire)) = r.next_field()? {
                match num {
                    1 => kind = wire.varint(I, num)? as i64,
                    2 => int = wire.varint(I, num)? as i32,
                    3 => string = utf8(wire.bytes(I, num)?, I, num)?,
                    // Unknown fields are skipped, as protobuf requires.
                    _ => {}
                }
            }
            match kind {
                0 => Ok(Value::from(int)),
                1 => Ok(Value::String(string)),
                other => Err(invalid(format!("IntOrString type {other}"))),
            }
        }
        Ty::RawExtension | Ty::FieldsV1 => {
            let inner: &'static str = if ty == Ty::FieldsV1 {
                "meta.v1.FieldsV1"
            } else {
                "runtime.RawExtension"
            };
            let mut raw: Option<&[u8]> = None;
            let mut r = Reader::new(data, inner);
            while let Some((num, wire)) = r.next_field()? {
                if num != 1 {
                    continue; // unknown field
                }
                raw = Some(wire.bytes(inner, num)?);
            }
            match raw {
                None | Some([]) => Ok(Value::Null),
                Some(raw) => match raw.strip_prefix(MAGIC.as_slice()) {
                    Some(rest) if ty == Ty::RawExtension => {
                        let env = decode_envelope(rest)?;
                        decode_object(&env.api_version, &env.kind, env.raw, depth)
                    }
                    _ => serde_json::from_slice(raw)
                        .map_err(|e| invalid(format!("embedded JSON: {e}"))),
                },
            }
        }
        Ty::StringList => {
            const L: &str = "ExtraValue";
            let mut items = Vec::new();
            let mut r = Reader::new(data, L);
            while let Some((num, wire)) = r.next_field()? {
                if num != 1 {
                    continue; // unknown field
                }
                items.push(Value::String(utf8(wire.bytes(L, num)?, L, num)?));
            }
            Ok(Value::Array(items))
        }
        Ty::Str | Ty::Bytes | Ty::Bool | Ty::I32 | Ty::I64 => {
            // Scalars never reach here; the wire type was wrong for them.
            Err(ProtobufError::WireType {
                message,
                field,
                wire_type: 2,
            })
        }
    }
}

/// `metav1.Timestamp` {1 seconds, 2 nanos}; `None` for the zero time (an
/// empty message, as Go writes it, or explicit zeros).
fn decode_timestamp(data: &[u8]) -> Result<Option<(i64, i32)>> {
    const T: &str = "meta.v1.Timestamp";
    // Unix seconds of Go's zero time.Time (January 1, year 1).
    const GO_ZERO: i64 = -62_135_596_800;
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut r = Reader::new(data, T);
    while let Some((num, wire)) = r.next_field()? {
        match num {
            1 => seconds = wire.varint(T, num)? as i64,
            2 => nanos = wire.varint(T, num)? as i32,
            // Unknown fields are skipped, as protobuf requires.
            _ => {}
        }
    }
    if nanos == 0 && (seconds == 0 || seconds == GO_ZERO) {
        return Ok(None);
    }
    Ok(Some((seconds, nanos)))
}

/// RFC 3339 in UTC as `metav1.Time` (whole seconds) or `metav1.MicroTime`
/// (six fractional digits) print it; `None` outside years 0..=9999.
fn format_time(seconds: i64, nanos: i32, micro: bool) -> Option<String> {
    let nanos = i64::from(nanos);
    let total = seconds.checked_add(nanos.div_euclid(1_000_000_000))?;
    let nanos = nanos.rem_euclid(1_000_000_000);
    let days = total.div_euclid(86_400);
    let secs = total.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days)?;
    if !(0..=9999).contains(&year) {
        return None;
    }
    let (h, min, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    Some(if micro {
        let us = nanos / 1000;
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{min:02}:{s:02}.{us:06}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{min:02}:{s:02}Z")
    })
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// algorithm); `None` when the year would overflow.
fn civil_from_days(days: i64) -> Option<(i64, u32, u32)> {
    let z = days.checked_add(719_468)?;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe.checked_add(era.checked_mul(400)?)? + i64::from(month <= 2);
    Some((year, month, day))
}

// Tables generated from the k8s-pb messages and the v1.24 OpenAPI
// definitions, for kinds the hand-kept table below does not cover.
#[rustfmt::skip]
#[path = "protobuf_generated.rs"]
mod generated;

// ---------------------------------------------------------------------------
// Schema: per message, (field number, JSON name, type, JSON treatment) in Go
// struct order, which is the order Go prints JSON keys in. Facts taken from
// the `protobuf:` and `json:` tags of the Kubernetes v1.37 API types.

#[rustfmt::skip]
mod schema {
    use super::Ty::{
        Bool, Bytes, FieldsV1, IntOrString, MicroTime, Msg, Quantity, RawExtension, Str,
        StringList, Time, I32, I64,
    };
    use super::{f, m, Card, Message};

    const OPT: Card = Card::Opt;
    const REQ: Card = Card::Req;
    const PTR: Card = Card::Ptr;
    const REP: Card = Card::Rep;
    const MAP: Card = Card::Map;
    const INLINE: Card = Card::Inline;

    /// (apiVersion, kind, message); apiVersion `*` matches any.
    pub(super) static KINDS: &[(&str, &str, &str)] = &[
        ("v1", "Binding", "core.v1.Binding"),
        ("v1", "ConfigMap", "core.v1.ConfigMap"),
        ("v1", "Endpoints", "core.v1.Endpoints"),
        ("v1", "Event", "core.v1.Event"),
        ("v1", "LimitRange", "core.v1.LimitRange"),
        ("v1", "Namespace", "core.v1.Namespace"),
        ("v1", "Node", "core.v1.Node"),
        ("v1", "PersistentVolume", "core.v1.PersistentVolume"),
        ("v1", "PersistentVolumeClaim", "core.v1.PersistentVolumeClaim"),
        ("v1", "Pod", "core.v1.Pod"),
        ("v1", "PodTemplate", "core.v1.PodTemplate"),
        ("v1", "ReplicationController", "core.v1.ReplicationController"),
        ("v1", "ResourceQuota", "core.v1.ResourceQuota"),
        ("v1", "Secret", "core.v1.Secret"),
        ("v1", "Service", "core.v1.Service"),
        ("v1", "ServiceAccount", "core.v1.ServiceAccount"),
        ("apps/v1", "ControllerRevision", "apps.v1.ControllerRevision"),
        ("apps/v1", "DaemonSet", "apps.v1.DaemonSet"),
        ("apps/v1", "Deployment", "apps.v1.Deployment"),
        ("apps/v1", "ReplicaSet", "apps.v1.ReplicaSet"),
        ("apps/v1", "StatefulSet", "apps.v1.StatefulSet"),
        ("batch/v1", "CronJob", "batch.v1.CronJob"),
        ("batch/v1", "Job", "batch.v1.Job"),
        ("scheduling.k8s.io/v1", "PriorityClass", "scheduling.v1.PriorityClass"),
        ("policy/v1", "Eviction", "policy.v1.Eviction"),
        ("policy/v1", "PodDisruptionBudget", "policy.v1.PodDisruptionBudget"),
        ("autoscaling/v1", "HorizontalPodAutoscaler", "autoscaling.v1.HorizontalPodAutoscaler"),
        ("autoscaling/v1", "Scale", "autoscaling.v1.Scale"),
        ("autoscaling/v2", "HorizontalPodAutoscaler", "autoscaling.v2.HorizontalPodAutoscaler"),
        ("coordination.k8s.io/v1", "Lease", "coordination.v1.Lease"),
        ("events.k8s.io/v1", "Event", "events.v1.Event"),
        ("discovery.k8s.io/v1", "EndpointSlice", "discovery.v1.EndpointSlice"),
        ("networking.k8s.io/v1", "Ingress", "networking.v1.Ingress"),
        ("networking.k8s.io/v1", "IngressClass", "networking.v1.IngressClass"),
        ("networking.k8s.io/v1", "NetworkPolicy", "networking.v1.NetworkPolicy"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "rbac.v1.ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "rbac.v1.ClusterRoleBinding"),
        ("rbac.authorization.k8s.io/v1", "Role", "rbac.v1.Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding", "rbac.v1.RoleBinding"),
        ("authentication.k8s.io/v1", "SelfSubjectReview", "authentication.v1.SelfSubjectReview"),
        ("authentication.k8s.io/v1", "TokenRequest", "authentication.v1.TokenRequest"),
        ("authentication.k8s.io/v1", "TokenReview", "authentication.v1.TokenReview"),
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview", "authorization.v1.LocalSubjectAccessReview"),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview", "authorization.v1.SelfSubjectAccessReview"),
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview", "authorization.v1.SelfSubjectRulesReview"),
        ("authorization.k8s.io/v1", "SubjectAccessReview", "authorization.v1.SubjectAccessReview"),
        ("storage.k8s.io/v1", "StorageClass", "storage.v1.StorageClass"),
        ("certificates.k8s.io/v1", "CertificateSigningRequest", "certificates.v1.CertificateSigningRequest"),
        ("*", "DeleteOptions", "meta.v1.DeleteOptions"),
        ("v1", "Status", "meta.v1.Status"),
    ];

    /// Sorted by name for binary search.
    pub(super) static MESSAGES: &[Message] = &[
        m("apps.v1.ControllerRevision", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT), f(2, "data", RawExtension, REQ),
            f(3, "revision", I64, REQ),
        ]),
        m("apps.v1.DaemonSet", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("apps.v1.DaemonSetSpec"), OPT),
            f(3, "status", Msg("apps.v1.DaemonSetStatus"), OPT),
        ]),
        m("apps.v1.DaemonSetCondition", &[
            f(1, "type", Str, REQ), f(2, "status", Str, REQ), f(3, "lastTransitionTime", Time, OPT),
            f(4, "reason", Str, OPT), f(5, "message", Str, OPT),
        ]),
        m("apps.v1.DaemonSetSpec", &[
            f(1, "selector", Msg("meta.v1.LabelSelector"), PTR),
            f(2, "template", Msg("core.v1.PodTemplateSpec"), REQ),
            f(3, "updateStrategy", Msg("apps.v1.DaemonSetUpdateStrategy"), OPT),
            f(4, "minReadySeconds", I32, OPT), f(6, "revisionHistoryLimit", I32, PTR),
        ]),
        m("apps.v1.DaemonSetStatus", &[
            f(1, "currentNumberScheduled", I32, REQ), f(2, "numberMisscheduled", I32, REQ),
            f(3, "desiredNumberScheduled", I32, REQ), f(4, "numberReady", I32, REQ),
            f(5, "observedGeneration", I64, OPT), f(6, "updatedNumberScheduled", I32, OPT),
            f(7, "numberAvailable", I32, OPT), f(8, "numberUnavailable", I32, OPT),
            f(9, "collisionCount", I32, PTR),
            f(10, "conditions", Msg("apps.v1.DaemonSetCondition"), REP),
        ]),
        m("apps.v1.DaemonSetUpdateStrategy", &[
            f(1, "type", Str, OPT), f(2, "rollingUpdate", Msg("apps.v1.RollingUpdateDaemonSet"), PTR),
        ]),
        m("apps.v1.Deployment", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("apps.v1.DeploymentSpec"), OPT),
            f(3, "status", Msg("apps.v1.DeploymentStatus"), OPT),
        ]),
        m("apps.v1.DeploymentCondition", &[
            f(1, "type", Str, REQ), f(2, "status", Str, REQ), f(6, "lastUpdateTime", Time, OPT),
            f(7, "lastTransitionTime", Time, OPT), f(4, "reason", Str, OPT), f(5, "message", Str, OPT),
        ]),
        m("apps.v1.DeploymentSpec", &[
            f(1, "replicas", I32, PTR), f(2, "selector", Msg("meta.v1.LabelSelector"), PTR),
            f(3, "template", Msg("core.v1.PodTemplateSpec"), REQ),
            f(4, "strategy", Msg("apps.v1.DeploymentStrategy"), OPT),
            f(5, "minReadySeconds", I32, OPT), f(6, "revisionHistoryLimit", I32, PTR),
            f(7, "paused", Bool, OPT), f(9, "progressDeadlineSeconds", I32, PTR),
        ]),
        m("apps.v1.DeploymentStatus", &[
            f(1, "observedGeneration", I64, OPT), f(2, "replicas", I32, OPT),
            f(3, "updatedReplicas", I32, OPT), f(7, "readyReplicas", I32, OPT),
            f(4, "availableReplicas", I32, OPT), f(5, "unavailableReplicas", I32, OPT),
            f(9, "terminatingReplicas", I32, PTR),
            f(6, "conditions", Msg("apps.v1.DeploymentCondition"), REP),
            f(8, "collisionCount", I32, PTR),
        ]),
        m("apps.v1.DeploymentStrategy", &[
            f(1, "type", Str, OPT), f(2, "rollingUpdate", Msg("apps.v1.RollingUpdateDeployment"), PTR),
        ]),
        m("apps.v1.ReplicaSet", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("apps.v1.ReplicaSetSpec"), OPT),
            f(3, "status", Msg("apps.v1.ReplicaSetStatus"), OPT),
        ]),
        m("apps.v1.ReplicaSetCondition", &[
            f(1, "type", Str, REQ), f(2, "status", Str, REQ), f(3, "lastTransitionTime", Time, OPT),
            f(4, "reason", Str, OPT), f(5, "message", Str, OPT),
        ]),
        m("apps.v1.ReplicaSetSpec", &[
            f(1, "replicas", I32, PTR), f(4, "minReadySeconds", I32, OPT),
            f(2, "selector", Msg("meta.v1.LabelSelector"), PTR),
            f(3, "template", Msg("core.v1.PodTemplateSpec"), OPT),
        ]),
        m("apps.v1.ReplicaSetStatus", &[
            f(1, "replicas", I32, REQ), f(2, "fullyLabeledReplicas", I32, OPT),
            f(4, "readyReplicas", I32, OPT), f(5, "availableReplicas", I32, OPT),
            f(7, "terminatingReplicas", I32, PTR), f(3, "observedGeneration", I64, OPT),
            f(6, "conditions", Msg("apps.v1.ReplicaSetCondition"), REP),
        ]),
        m("apps.v1.RollingUpdateDaemonSet", &[
            f(1, "maxUnavailable", IntOrString, PTR), f(2, "maxSurge", IntOrString, PTR),
        ]),
        m("apps.v1.RollingUpdateDeployment", &[
            f(1, "maxUnavailable", IntOrString, PTR), f(2, "maxSurge", IntOrString, PTR),
        ]),
        m("apps.v1.RollingUpdateStatefulSetStrategy", &[
            f(1, "partition", I32, PTR), f(2, "maxUnavailable", IntOrString, PTR),
        ]),
        m("apps.v1.StatefulSet", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("apps.v1.StatefulSetSpec"), OPT),
            f(3, "status", Msg("apps.v1.StatefulSetStatus"), OPT),
        ]),
        m("apps.v1.StatefulSetCondition", &[
            f(1, "type", Str, REQ), f(2, "status", Str, REQ), f(3, "lastTransitionTime", Time, OPT),
            f(4, "reason", Str, OPT), f(5, "message", Str, OPT),
        ]),
        m("apps.v1.StatefulSetOrdinals", &[
            f(1, "start", I32, REQ),
        ]),
        m("apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy", &[
            f(1, "whenDeleted", Str, OPT), f(2, "whenScaled", Str, OPT),
        ]),
        m("apps.v1.StatefulSetSpec", &[
            f(1, "replicas", I32, PTR), f(2, "selector", Msg("meta.v1.LabelSelector"), PTR),
            f(3, "template", Msg("core.v1.PodTemplateSpec"), REQ),
            f(4, "volumeClaimTemplates", Msg("core.v1.PersistentVolumeClaim"), REP),
            f(5, "serviceName", Str, REQ), f(6, "podManagementPolicy", Str, OPT),
            f(7, "updateStrategy", Msg("apps.v1.StatefulSetUpdateStrategy"), OPT),
            f(8, "revisionHistoryLimit", I32, PTR), f(9, "minReadySeconds", I32, OPT),
            f(10, "persistentVolumeClaimRetentionPolicy", Msg("apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy"), PTR),
            f(11, "ordinals", Msg("apps.v1.StatefulSetOrdinals"), PTR),
        ]),
        m("apps.v1.StatefulSetStatus", &[
            f(1, "observedGeneration", I64, OPT), f(2, "replicas", I32, REQ),
            f(3, "readyReplicas", I32, OPT), f(4, "currentReplicas", I32, OPT),
            f(5, "updatedReplicas", I32, OPT), f(6, "currentRevision", Str, OPT),
            f(7, "updateRevision", Str, OPT), f(9, "collisionCount", I32, PTR),
            f(10, "conditions", Msg("apps.v1.StatefulSetCondition"), REP),
            f(11, "availableReplicas", I32, REQ),
        ]),
        m("apps.v1.StatefulSetUpdateStrategy", &[
            f(1, "type", Str, OPT),
            f(2, "rollingUpdate", Msg("apps.v1.RollingUpdateStatefulSetStrategy"), PTR),
        ]),
        m("authentication.v1.BoundObjectReference", &[
            f(1, "kind", Str, OPT), f(2, "apiVersion", Str, OPT), f(3, "name", Str, OPT),
            f(4, "uid", Str, OPT),
        ]),
        m("authentication.v1.SelfSubjectReview", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "status", Msg("authentication.v1.SelfSubjectReviewStatus"), OPT),
        ]),
        m("authentication.v1.SelfSubjectReviewStatus", &[
            f(1, "userInfo", Msg("authentication.v1.UserInfo"), OPT),
        ]),
        m("authentication.v1.TokenRequest", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("authentication.v1.TokenRequestSpec"), REQ),
            f(3, "status", Msg("authentication.v1.TokenRequestStatus"), OPT),
        ]),
        m("authentication.v1.TokenRequestSpec", &[
            f(1, "audiences", Str, REP), f(4, "expirationSeconds", I64, PTR),
            f(3, "boundObjectRef", Msg("authentication.v1.BoundObjectReference"), PTR),
            f(5, "attestations", StringList, MAP),
        ]),
        m("authentication.v1.TokenRequestStatus", &[
            f(1, "token", Str, REQ), f(2, "expirationTimestamp", Time, REQ),
        ]),
        m("authentication.v1.TokenReview", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("authentication.v1.TokenReviewSpec"), REQ),
            f(3, "status", Msg("authentication.v1.TokenReviewStatus"), OPT),
        ]),
        m("authentication.v1.TokenReviewSpec", &[
            f(1, "token", Str, OPT), f(2, "audiences", Str, REP),
        ]),
        m("authentication.v1.TokenReviewStatus", &[
            f(1, "authenticated", Bool, OPT), f(2, "user", Msg("authentication.v1.UserInfo"), OPT),
            f(4, "audiences", Str, REP), f(3, "error", Str, OPT),
        ]),
        m("authentication.v1.UserInfo", &[
            f(1, "username", Str, OPT), f(2, "uid", Str, OPT), f(3, "groups", Str, REP),
            f(4, "extra", StringList, MAP),
        ]),
        m("authorization.v1.FieldSelectorAttributes", &[
            f(1, "rawSelector", Str, OPT),
            f(2, "requirements", Msg("meta.v1.FieldSelectorRequirement"), REP),
        ]),
        m("authorization.v1.LabelSelectorAttributes", &[
            f(1, "rawSelector", Str, OPT),
            f(2, "requirements", Msg("meta.v1.LabelSelectorRequirement"), REP),
        ]),
        m("authorization.v1.LocalSubjectAccessReview", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("authorization.v1.SubjectAccessReviewSpec"), REQ),
            f(3, "status", Msg("authorization.v1.SubjectAccessReviewStatus"), OPT),
        ]),
        m("authorization.v1.NonResourceAttributes", &[
            f(1, "path", Str, OPT), f(2, "verb", Str, OPT),
        ]),
        m("authorization.v1.NonResourceRule", &[
            f(1, "verbs", Str, REP), f(2, "nonResourceURLs", Str, REP),
        ]),
        m("authorization.v1.ResourceAttributes", &[
            f(1, "namespace", Str, OPT), f(2, "verb", Str, OPT), f(3, "group", Str, OPT),
            f(4, "version", Str, OPT), f(5, "resource", Str, OPT), f(6, "subresource", Str, OPT),
            f(7, "name", Str, OPT),
            f(8, "fieldSelector", Msg("authorization.v1.FieldSelectorAttributes"), PTR),
            f(9, "labelSelector", Msg("authorization.v1.LabelSelectorAttributes"), PTR),
        ]),
        m("authorization.v1.ResourceRule", &[
            f(1, "verbs", Str, REP), f(2, "apiGroups", Str, REP), f(3, "resources", Str, REP),
            f(4, "resourceNames", Str, REP),
        ]),
        m("authorization.v1.SelfSubjectAccessReview", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("authorization.v1.SelfSubjectAccessReviewSpec"), REQ),
            f(3, "status", Msg("authorization.v1.SubjectAccessReviewStatus"), OPT),
        ]),
        m("authorization.v1.SelfSubjectAccessReviewSpec", &[
            f(1, "resourceAttributes", Msg("authorization.v1.ResourceAttributes"), PTR),
            f(2, "nonResourceAttributes", Msg("authorization.v1.NonResourceAttributes"), PTR),
        ]),
        m("authorization.v1.SelfSubjectRulesReview", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("authorization.v1.SelfSubjectRulesReviewSpec"), REQ),
            f(3, "status", Msg("authorization.v1.SubjectRulesReviewStatus"), OPT),
        ]),
        m("authorization.v1.SelfSubjectRulesReviewSpec", &[
            f(1, "namespace", Str, OPT),
        ]),
        m("authorization.v1.SubjectAccessReview", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("authorization.v1.SubjectAccessReviewSpec"), REQ),
            f(3, "status", Msg("authorization.v1.SubjectAccessReviewStatus"), OPT),
        ]),
        m("authorization.v1.SubjectAccessReviewSpec", &[
            f(1, "resourceAttributes", Msg("authorization.v1.ResourceAttributes"), PTR),
            f(2, "nonResourceAttributes", Msg("authorization.v1.NonResourceAttributes"), PTR),
            f(3, "user", Str, OPT), f(4, "groups", Str, REP), f(5, "extra", StringList, MAP),
            f(6, "uid", Str, OPT),
        ]),
        m("authorization.v1.SubjectAccessReviewStatus", &[
            f(1, "allowed", Bool, REQ), f(4, "denied", Bool, OPT), f(2, "reason", Str, OPT),
            f(3, "evaluationError", Str, OPT),
        ]),
        m("authorization.v1.SubjectRulesReviewStatus", &[
            f(1, "resourceRules", Msg("authorization.v1.ResourceRule"), REP),
            f(2, "nonResourceRules", Msg("authorization.v1.NonResourceRule"), REP),
            f(3, "incomplete", Bool, REQ), f(4, "evaluationError", Str, OPT),
        ]),
        m("autoscaling.v1.CrossVersionObjectReference", &[
            f(1, "kind", Str, REQ), f(2, "name", Str, REQ), f(3, "apiVersion", Str, OPT),
        ]),
        m("autoscaling.v1.HorizontalPodAutoscaler", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("autoscaling.v1.HorizontalPodAutoscalerSpec"), OPT),
            f(3, "status", Msg("autoscaling.v1.HorizontalPodAutoscalerStatus"), OPT),
        ]),
        m("autoscaling.v1.HorizontalPodAutoscalerSpec", &[
            f(1, "scaleTargetRef", Msg("autoscaling.v1.CrossVersionObjectReference"), REQ),
            f(2, "minReplicas", I32, PTR), f(3, "maxReplicas", I32, REQ),
            f(4, "targetCPUUtilizationPercentage", I32, PTR),
        ]),
        m("autoscaling.v1.HorizontalPodAutoscalerStatus", &[
            f(1, "observedGeneration", I64, PTR), f(2, "lastScaleTime", Time, PTR),
            f(3, "currentReplicas", I32, REQ), f(4, "desiredReplicas", I32, REQ),
            f(5, "currentCPUUtilizationPercentage", I32, PTR),
        ]),
        m("autoscaling.v1.Scale", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("autoscaling.v1.ScaleSpec"), OPT),
            f(3, "status", Msg("autoscaling.v1.ScaleStatus"), OPT),
        ]),
        m("autoscaling.v1.ScaleSpec", &[
            f(1, "replicas", I32, OPT),
        ]),
        m("autoscaling.v1.ScaleStatus", &[
            f(1, "replicas", I32, REQ), f(2, "selector", Str, OPT),
        ]),
        m("autoscaling.v2.ContainerResourceMetricSource", &[
            f(1, "name", Str, REQ), f(2, "target", Msg("autoscaling.v2.MetricTarget"), REQ),
            f(3, "container", Str, REQ),
        ]),
        m("autoscaling.v2.ContainerResourceMetricStatus", &[
            f(1, "name", Str, REQ), f(2, "current", Msg("autoscaling.v2.MetricValueStatus"), REQ),
            f(3, "container", Str, REQ),
        ]),
        m("autoscaling.v2.CrossVersionObjectReference", &[
            f(1, "kind", Str, REQ), f(2, "name", Str, REQ), f(3, "apiVersion", Str, OPT),
        ]),
        m("autoscaling.v2.ExternalMetricSource", &[
            f(1, "metric", Msg("autoscaling.v2.MetricIdentifier"), REQ),
            f(2, "target", Msg("autoscaling.v2.MetricTarget"), REQ),
        ]),
        m("autoscaling.v2.ExternalMetricStatus", &[
            f(1, "metric", Msg("autoscaling.v2.MetricIdentifier"), REQ),
            f(2, "current", Msg("autoscaling.v2.MetricValueStatus"), REQ),
        ]),
        m("autoscaling.v2.HPAScalingPolicy", &[
            f(1, "type", Str, REQ), f(2, "value", I32, REQ), f(3, "periodSeconds", I32, REQ),
        ]),
        m("autoscaling.v2.HPAScalingRules", &[
            f(3, "stabilizationWindowSeconds", I32, PTR), f(1, "selectPolicy", Str, PTR),
            f(2, "policies", Msg("autoscaling.v2.HPAScalingPolicy"), REP),
            f(4, "tolerance", Quantity, PTR),
        ]),
        m("autoscaling.v2.HorizontalPodAutoscaler", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("autoscaling.v2.HorizontalPodAutoscalerSpec"), OPT),
            f(3, "status", Msg("autoscaling.v2.HorizontalPodAutoscalerStatus"), OPT),
        ]),
        m("autoscaling.v2.HorizontalPodAutoscalerBehavior", &[
            f(1, "scaleUp", Msg("autoscaling.v2.HPAScalingRules"), PTR),
            f(2, "scaleDown", Msg("autoscaling.v2.HPAScalingRules"), PTR),
        ]),
        m("autoscaling.v2.HorizontalPodAutoscalerCondition", &[
            f(1, "type", Str, REQ), f(2, "status", Str, REQ), f(3, "lastTransitionTime", Time, OPT),
            f(4, "reason", Str, OPT), f(5, "message", Str, OPT), f(6, "observedGeneration", I64, PTR),
        ]),
        m("autoscaling.v2.HorizontalPodAutoscalerSpec", &[
            f(1, "scaleTargetRef", Msg("autoscaling.v2.CrossVersionObjectReference"), REQ),
            f(2, "minReplicas", I32, PTR), f(3, "maxReplicas", I32, REQ),
            f(4, "metrics", Msg("autoscaling.v2.MetricSpec"), REP),
            f(5, "behavior", Msg("autoscaling.v2.HorizontalPodAutoscalerBehavior"), PTR),
        ]),
        m("autoscaling.v2.HorizontalPodAutoscalerStatus", &[
            f(1, "observedGeneration", I64, PTR), f(2, "lastScaleTime", Time, PTR),
            f(3, "currentReplicas", I32, OPT), f(4, "desiredReplicas", I32, REQ),
            f(5, "currentMetrics", Msg("autoscaling.v2.MetricStatus"), REP),
            f(6, "conditions", Msg("autoscaling.v2.HorizontalPodAutoscalerCondition"), REP),
        ]),
        m("autoscaling.v2.MetricIdentifier", &[
            f(1, "name", Str, REQ), f(2, "selector", Msg("meta.v1.LabelSelector"), PTR),
        ]),
        m("autoscaling.v2.MetricSpec", &[
            f(1, "type", Str, REQ), f(2, "object", Msg("autoscaling.v2.ObjectMetricSource"), PTR),
            f(3, "pods", Msg("autoscaling.v2.PodsMetricSource"), PTR),
            f(4, "resource", Msg("autoscaling.v2.ResourceMetricSource"), PTR),
            f(7, "containerResource", Msg("autoscaling.v2.ContainerResourceMetricSource"), PTR),
            f(5, "external", Msg("autoscaling.v2.ExternalMetricSource"), PTR),
        ]),
        m("autoscaling.v2.MetricStatus", &[
            f(1, "type", Str, REQ), f(2, "object", Msg("autoscaling.v2.ObjectMetricStatus"), PTR),
            f(3, "pods", Msg("autoscaling.v2.PodsMetricStatus"), PTR),
            f(4, "resource", Msg("autoscaling.v2.ResourceMetricStatus"), PTR),
            f(7, "containerResource", Msg("autoscaling.v2.ContainerResourceMetricStatus"), PTR),
            f(5, "external", Msg("autoscaling.v2.ExternalMetricStatus"), PTR),
        ]),
        m("autoscaling.v2.MetricTarget", &[
            f(1, "type", Str, REQ), f(2, "value", Quantity, PTR), f(3, "averageValue", Quantity, PTR),
            f(4, "averageUtilization", I32, PTR),
        ]),
        m("autoscaling.v2.MetricValueStatus", &[
            f(1, "value", Quantity, PTR), f(2, "averageValue", Quantity, PTR),
            f(3, "averageUtilization", I32, PTR),
        ]),
        m("autoscaling.v2.ObjectMetricSource", &[
            f(1, "describedObject", Msg("autoscaling.v2.CrossVersionObjectReference"), REQ),
            f(2, "target", Msg("autoscaling.v2.MetricTarget"), REQ),
            f(3, "metric", Msg("autoscaling.v2.MetricIdentifier"), REQ),
        ]),
        m("autoscaling.v2.ObjectMetricStatus", &[
            f(1, "metric", Msg("autoscaling.v2.MetricIdentifier"), REQ),
            f(2, "current", Msg("autoscaling.v2.MetricValueStatus"), REQ),
            f(3, "describedObject", Msg("autoscaling.v2.CrossVersionObjectReference"), REQ),
        ]),
        m("autoscaling.v2.PodsMetricSource", &[
            f(1, "metric", Msg("autoscaling.v2.MetricIdentifier"), REQ),
            f(2, "target", Msg("autoscaling.v2.MetricTarget"), REQ),
        ]),
        m("autoscaling.v2.PodsMetricStatus", &[
            f(1, "metric", Msg("autoscaling.v2.MetricIdentifier"), REQ),
            f(2, "current", Msg("autoscaling.v2.MetricValueStatus"), REQ),
        ]),
        m("autoscaling.v2.ResourceMetricSource", &[
            f(1, "name", Str, REQ), f(2, "target", Msg("autoscaling.v2.MetricTarget"), REQ),
        ]),
        m("autoscaling.v2.ResourceMetricStatus", &[
            f(1, "name", Str, REQ), f(2, "current", Msg("autoscaling.v2.MetricValueStatus"), REQ),
        ]),
        m("batch.v1.CronJob", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("batch.v1.CronJobSpec"), OPT),
            f(3, "status", Msg("batch.v1.CronJobStatus"), OPT),
        ]),
        m("batch.v1.CronJobSpec", &[
            f(1, "schedule", Str, REQ), f(8, "timeZone", Str, PTR),
            f(2, "startingDeadlineSeconds", I64, PTR), f(3, "concurrencyPolicy", Str, OPT),
            f(4, "suspend", Bool, PTR), f(5, "jobTemplate", Msg("batch.v1.JobTemplateSpec"), REQ),
            f(6, "successfulJobsHistoryLimit", I32, PTR), f(7, "failedJobsHistoryLimit", I32, PTR),
        ]),
        m("batch.v1.CronJobStatus", &[
            f(1, "active", Msg("core.v1.ObjectReference"), REP), f(4, "lastScheduleTime", Time, PTR),
            f(5, "lastSuccessfulTime", Time, PTR),
        ]),
        m("batch.v1.Job", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("batch.v1.JobSpec"), OPT), f(3, "status", Msg("batch.v1.JobStatus"), OPT),
        ]),
        m("batch.v1.JobCondition", &[
            f(1, "type", Str, REQ), f(2, "status", Str, REQ), f(3, "lastProbeTime", Time, OPT),
            f(4, "lastTransitionTime", Time, OPT), f(5, "reason", Str, OPT), f(6, "message", Str, OPT),
        ]),
        m("batch.v1.JobSchedulingConfiguration", &[
            f(1, "schedulingPolicy", Msg("scheduling.v1alpha3.WorkloadPodGroupSchedulingPolicy"), PTR),
            f(2, "schedulingConstraints", Msg("scheduling.v1alpha3.WorkloadPodGroupSchedulingConstraints"), PTR),
            f(3, "disruptionMode", Msg("scheduling.v1alpha3.WorkloadPodGroupDisruptionMode"), PTR),
            f(4, "resourceClaims", Msg("scheduling.v1alpha3.WorkloadPodGroupResourceClaim"), REP),
        ]),
        m("batch.v1.JobSpec", &[
            f(1, "parallelism", I32, PTR), f(2, "completions", I32, PTR),
            f(3, "activeDeadlineSeconds", I64, PTR),
            f(11, "podFailurePolicy", Msg("batch.v1.PodFailurePolicy"), PTR),
            f(16, "successPolicy", Msg("batch.v1.SuccessPolicy"), PTR), f(7, "backoffLimit", I32, PTR),
            f(12, "backoffLimitPerIndex", I32, PTR), f(13, "maxFailedIndexes", I32, PTR),
            f(4, "selector", Msg("meta.v1.LabelSelector"), PTR), f(5, "manualSelector", Bool, PTR),
            f(6, "template", Msg("core.v1.PodTemplateSpec"), REQ),
            f(8, "ttlSecondsAfterFinished", I32, PTR), f(9, "completionMode", Str, PTR),
            f(10, "suspend", Bool, PTR), f(14, "podReplacementPolicy", Str, PTR),
            f(15, "managedBy", Str, PTR),
            f(17, "scheduling", Msg("batch.v1.JobSchedulingConfiguration"), PTR),
        ]),
        m("batch.v1.JobStatus", &[
            f(1, "conditions", Msg("batch.v1.JobCondition"), REP), f(2, "startTime", Time, PTR),
            f(3, "completionTime", Time, PTR), f(4, "active", I32, OPT), f(5, "succeeded", I32, OPT),
            f(6, "failed", I32, OPT), f(11, "terminating", I32, PTR),
            f(7, "completedIndexes", Str, OPT), f(10, "failedIndexes", Str, PTR),
            f(8, "uncountedTerminatedPods", Msg("batch.v1.UncountedTerminatedPods"), PTR),
            f(9, "ready", I32, PTR),
        ]),
        m("batch.v1.JobTemplateSpec", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("batch.v1.JobSpec"), OPT),
        ]),
        m("batch.v1.PodFailurePolicy", &[
            f(1, "rules", Msg("batch.v1.PodFailurePolicyRule"), REP),
        ]),
        m("batch.v1.PodFailurePolicyOnExitCodesRequirement", &[
            f(1, "containerName", Str, PTR), f(2, "operator", Str, REQ), f(3, "values", I32, REP),
        ]),
        m("batch.v1.PodFailurePolicyOnPodConditionsPattern", &[
            f(1, "type", Str, REQ), f(2, "status", Str, REQ),
        ]),
        m("batch.v1.PodFailurePolicyRule", &[
            f(1, "action", Str, REQ),
            f(2, "onExitCodes", Msg("batch.v1.PodFailurePolicyOnExitCodesRequirement"), PTR),
            f(3, "onPodConditions", Msg("batch.v1.PodFailurePolicyOnPodConditionsPattern"), REP),
        ]),
        m("batch.v1.SuccessPolicy", &[
            f(1, "rules", Msg("batch.v1.SuccessPolicyRule"), REP),
        ]),
        m("batch.v1.SuccessPolicyRule", &[
            f(1, "succeededIndexes", Str, PTR), f(2, "succeededCount", I32, PTR),
        ]),
        m("batch.v1.UncountedTerminatedPods", &[
            f(1, "succeeded", Str, REP), f(2, "failed", Str, REP),
        ]),
        m("certificates.v1.CertificateSigningRequest", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("certificates.v1.CertificateSigningRequestSpec"), REQ),
            f(3, "status", Msg("certificates.v1.CertificateSigningRequestStatus"), OPT),
        ]),
        m("certificates.v1.CertificateSigningRequestCondition", &[
            f(1, "type", Str, REQ), f(6, "status", Str, REQ), f(2, "reason", Str, OPT),
            f(3, "message", Str, OPT), f(4, "lastUpdateTime", Time, OPT),
            f(5, "lastTransitionTime", Time, OPT),
        ]),
        m("certificates.v1.CertificateSigningRequestSpec", &[
            f(1, "request", Bytes, REQ), f(7, "signerName", Str, REQ),
            f(8, "expirationSeconds", I32, PTR), f(5, "usages", Str, REP), f(2, "username", Str, OPT),
            f(3, "uid", Str, OPT), f(4, "groups", Str, REP), f(6, "extra", StringList, MAP),
        ]),
        m("certificates.v1.CertificateSigningRequestStatus", &[
            f(1, "conditions", Msg("certificates.v1.CertificateSigningRequestCondition"), REP),
            f(2, "certificate", Bytes, OPT),
        ]),
        m("coordination.v1.Lease", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("coordination.v1.LeaseSpec"), OPT),
        ]),
        m("coordination.v1.LeaseSpec", &[
            f(1, "holderIdentity", Str, PTR), f(2, "leaseDurationSeconds", I32, PTR),
            f(3, "acquireTime", MicroTime, PTR), f(4, "renewTime", MicroTime, PTR),
            f(5, "leaseTransitions", I32, PTR), f(6, "strategy", Str, PTR),
            f(7, "preferredHolder", Str, PTR),
        ]),
        m("core.v1.AWSElasticBlockStoreVolumeSource", &[
            f(1, "volumeID", Str, REQ), f(2, "fsType", Str, OPT), f(3, "partition", I32, OPT),
            f(4, "readOnly", Bool, OPT),
        ]),
        m("core.v1.Affinity", &[
            f(1, "nodeAffinity", Msg("core.v1.NodeAffinity"), PTR),
            f(2, "podAffinity", Msg("core.v1.PodAffinity"), PTR),
            f(3, "podAntiAffinity", Msg("core.v1.PodAntiAffinity"), PTR),
        ]),
        m("core.v1.AppArmorProfile", &[
            f(1, "type", Str, REQ), f(2, "localhostProfile", Str, PTR),
        ]),
        m("core.v1.AttachedVolume", &[
            f(1, "name", Str, REQ), f(2, "devicePath", Str, REQ),
        ]),
        m("core.v1.AzureDiskVolumeSource", &[
            f(1, "diskName", Str, REQ), f(2, "diskURI", Str, REQ), f(3, "cachingMode", Str, PTR),
            f(4, "fsType", Str, PTR), f(5, "readOnly", Bool, PTR), f(6, "kind", Str, PTR),
        ]),
        m("core.v1.AzureFilePersistentVolumeSource", &[
            f(1, "secretName", Str, REQ), f(2, "shareName", Str, REQ), f(3, "readOnly", Bool, OPT),
            f(4, "secretNamespace", Str, PTR),
        ]),
        m("core.v1.AzureFileVolumeSource", &[
            f(1, "secretName", Str, REQ), f(2, "shareName", Str, REQ), f(3, "readOnly", Bool, OPT),
        ]),
        m("core.v1.Binding", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "target", Msg("core.v1.ObjectReference"), REQ),
        ]),
        m("core.v1.CSIPersistentVolumeSource", &[
            f(1, "driver", Str, REQ), f(2, "volumeHandle", Str, REQ), f(3, "readOnly", Bool, OPT),
            f(4, "fsType", Str, OPT), f(5, "volumeAttributes", Str, MAP),
            f(6, "controllerPublishSecretRef", Msg("core.v1.SecretReference"), PTR),
            f(7, "nodeStageSecretRef", Msg("core.v1.SecretReference"), PTR),
            f(8, "nodePublishSecretRef", Msg("core.v1.SecretReference"), PTR),
            f(9, "controllerExpandSecretRef", Msg("core.v1.SecretReference"), PTR),
            f(10, "nodeExpandSecretRef", Msg("core.v1.SecretReference"), PTR),
        ]),
        m("core.v1.CSIVolumeSource", &[
            f(1, "driver", Str, REQ), f(2, "readOnly", Bool, PTR), f(3, "fsType", Str, PTR),
            f(4, "volumeAttributes", Str, MAP),
            f(5, "nodePublishSecretRef", Msg("core.v1.LocalObjectReference"), PTR),
        ]),
        m("core.v1.Capabilities", &[
            f(1, "add", Str, REP), f(2, "drop", Str, REP),
        ]),
        m("core.v1.CephFSPersistentVolumeSource", &[
            f(1, "monitors", Str, REP), f(2, "path", Str, OPT), f(3, "user", Str, OPT),
            f(4, "secretFile", Str, OPT), f(5, "secretRef", Msg("core.v1.SecretReference"), PTR),
            f(6, "readOnly", Bool, OPT),
        ]),
        m("core.v1.CephFSVolumeSource", &[
            f(1, "monitors", Str, REP), f(2, "path", Str, OPT), f(3, "user", Str, OPT),
            f(4, "secretFile", Str, OPT), f(5, "secretRef", Msg("core.v1.LocalObjectReference"), PTR),
            f(6, "readOnly", Bool, OPT),
        ]),
        m("core.v1.CinderPersistentVolumeSource", &[
            f(1, "volumeID", Str, REQ), f(2, "fsType", Str, OPT), f(3, "readOnly", Bool, OPT),
            f(4, "secretRef", Msg("core.v1.SecretReference"), PTR),
        ]),
        m("core.v1.CinderVolumeSource", &[
            f(1, "volumeID", Str, REQ), f(2, "fsType", Str, OPT), f(3, "readOnly", Bool, OPT),
            f(4, "secretRef", Msg("core.v1.LocalObjectReference"), PTR),
        ]),
        m("core.v1.ClientIPConfig", &[
            f(1, "timeoutSeconds", I32, PTR),
        ]),
        m("core.v1.ClusterTrustBundleProjection", &[
            f(1, "name", Str, PTR), f(2, "signerName", Str, PTR),
            f(3, "labelSelector", Msg("meta.v1.LabelSelector"), PTR), f(5, "optional", Bool, PTR),
            f(4, "path", Str, REQ), f(6, "user", I64, PTR),
        ]),
        m("core.v1.ConfigMap", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT), f(4, "immutable", Bool, PTR),
            f(2, "data", Str, MAP), f(3, "binaryData", Bytes, MAP),
        ]),
        m("core.v1.ConfigMapEnvSource", &[
            f(1, "", Msg("core.v1.LocalObjectReference"), INLINE), f(2, "optional", Bool, PTR),
        ]),
        m("core.v1.ConfigMapKeySelector", &[
            f(1, "", Msg("core.v1.LocalObjectReference"), INLINE), f(2, "key", Str, REQ),
            f(3, "optional", Bool, PTR),
        ]),
        m("core.v1.ConfigMapNodeConfigSource", &[
            f(1, "namespace", Str, REQ), f(2, "name", Str, REQ), f(3, "uid", Str, OPT),
            f(4, "resourceVersion", Str, OPT), f(5, "kubeletConfigKey", Str, REQ),
        ]),
        m("core.v1.ConfigMapProjection", &[
            f(1, "", Msg("core.v1.LocalObjectReference"), INLINE),
            f(2, "items", Msg("core.v1.KeyToPath"), REP), f(4, "optional", Bool, PTR),
        ]),
        m("core.v1.ConfigMapVolumeSource", &[
            f(1, "", Msg("core.v1.LocalObjectReference"), INLINE),
            f(2, "items", Msg("core.v1.KeyToPath"), REP), f(3, "defaultMode", I32, PTR),
            f(4, "optional", Bool, PTR), f(5, "defaultUser", I64, PTR),
        ]),
        m("core.v1.Container", &[
            f(1, "name", Str, REQ), f(2, "image", Str, OPT), f(3, "command", Str, REP),
            f(4, "args", Str, REP), f(5, "workingDir", Str, OPT),
            f(6, "ports", Msg("core.v1.ContainerPort"), REP),
            f(19, "envFrom", Msg("core.v1.EnvFromSource"), REP),
            f(7, "env", Msg("core.v1.EnvVar"), REP),
            f(8, "resources", Msg("core.v1.ResourceRequirements"), OPT),
            f(23, "resizePolicy", Msg("core.v1.ContainerResizePolicy"), REP),
            f(24, "restartPolicy", Str, PTR),
            f(25, "restartPolicyRules", Msg("core.v1.ContainerRestartRule"), REP),
            f(9, "volumeMounts", Msg("core.v1.VolumeMount"), REP),
            f(21, "volumeDevices", Msg("core.v1.VolumeDevice"), REP),
            f(10, "livenessProbe", Msg("core.v1.Probe"), PTR),
            f(11, "readinessProbe", Msg("core.v1.Probe"), PTR),
            f(22, "startupProbe", Msg("core.v1.Probe"), PTR),
            f(12, "lifecycle", Msg("core.v1.Lifecycle"), PTR),
            f(13, "terminationMessagePath", Str, OPT), f(20, "terminationMessagePolicy", Str, OPT),
            f(14, "imagePullPolicy", Str, OPT),
            f(15, "securityContext", Msg("core.v1.SecurityContext"), PTR), f(16, "stdin", Bool, OPT),
            f(17, "stdinOnce", Bool, OPT), f(18, "tty", Bool, OPT),
        ]),
        m("core.v1.ContainerExtendedResourceRequest", &[
            f(1, "containerName", Str, REQ), f(2, "resourceName", Str, REQ),
            f(3, "requestName", Str, REQ),
        ]),
        m("core.v1.ContainerImage", &[
            f(1, "names", Str, REP), f(2, "sizeBytes", I64, OPT),
        ]),
        m("core.v1.ContainerPort", &[
            f(1, "name", Str, OPT), f(2, "hostPort", I32, OPT), f(3, "containerPort", I32, REQ),
            f(4, "protocol", Str, OPT), f(5, "hostIP", Str, OPT),
        ]),
        m("core.v1.ContainerResizePolicy", &[
            f(1, "resourceName", Str, REQ), f(2, "restartPolicy", Str, REQ),
        ]),
        m("core.v1.ContainerRestartRule", &[
            f(1, "action", Str, OPT),
            f(2, "exitCodes", Msg("core.v1.ContainerRestartRuleOnExitCodes"), PTR),
        ]),
        m("core.v1.ContainerRestartRuleOnExitCodes", &[
            f(1, "operator", Str, OPT), f(2, "values", I32, REP),
        ]),
        m("core.v1.ContainerState", &[
            f(1, "waiting", Msg("core.v1.ContainerStateWaiting"), PTR),
            f(2, "running", Msg("core.v1.ContainerStateRunning"), PTR),
            f(3, "terminated", Msg("core.v1.ContainerStateTerminated"), PTR),
        ]),
        m("core.v1.ContainerStateRunning", &[
            f(1, "startedAt", Time, OPT),
        ]),
        m("core.v1.ContainerStateTerminated", &[
            f(1, "exitCode", I32, REQ), f(2, "signal", I32, OPT), f(3, "reason", Str, OPT),
            f(4, "message", Str, OPT), f(5, "startedAt", Time, OPT), f(6, "finishedAt", Time, OPT),
            f(7, "containerID", Str, OPT),
        ]),
        m("core.v1.ContainerStateWaiting", &[
            f(1, "reason", Str, OPT), f(2, "message", Str, OPT),
        ]),
        m("core.v1.ContainerStatus", &[
            f(1, "name", Str, REQ), f(2, "state", Msg("core.v1.ContainerState"), OPT),
            f(3, "lastState", Msg("core.v1.ContainerState"), OPT), f(4, "ready", Bool, REQ),
            f(5, "restartCount", I32, REQ), f(6, "image", Str, REQ), f(7, "imageID", Str, REQ),
            f(8, "containerID", Str, OPT), f(9, "started", Bool, PTR),
            f(10, "allocatedResources", Quantity, MAP),
            f(11, "resources", Msg("core.v1.ResourceRequirements"), PTR),
            f(12, "volumeMounts", Msg("core.v1.VolumeMountStatus"), REP),
            f(13, "user", Msg("core.v1.ContainerUser"), PTR),
            f(14, "allocatedResourcesStatus", Msg("core.v1.ResourceStatus"), REP),
            f(15, "stopSignal", Str, PTR),
        ]),
        m("core.v1.ContainerUser", &[
            f(1, "linux", Msg("core.v1.LinuxContainerUser"), PTR),
        ]),
        m("core.v1.DaemonEndpoint", &[
            f(1, "Port", I32, REQ),
        ]),
        m("core.v1.DownwardAPIProjection", &[
            f(1, "items", Msg("core.v1.DownwardAPIVolumeFile"), REP),
        ]),
        m("core.v1.DownwardAPIVolumeFile", &[
            f(1, "path", Str, REQ), f(2, "fieldRef", Msg("core.v1.ObjectFieldSelector"), PTR),
            f(3, "resourceFieldRef", Msg("core.v1.ResourceFieldSelector"), PTR),
            f(4, "mode", I32, PTR), f(5, "user", I64, PTR),
        ]),
        m("core.v1.DownwardAPIVolumeSource", &[
            f(1, "items", Msg("core.v1.DownwardAPIVolumeFile"), REP), f(2, "defaultMode", I32, PTR),
            f(3, "defaultUser", I64, PTR),
        ]),
        m("core.v1.EmptyDirVolumeSource", &[
            f(1, "medium", Str, OPT), f(2, "sizeLimit", Quantity, PTR), f(3, "mode", I32, PTR),
        ]),
        m("core.v1.EndpointAddress", &[
            f(1, "ip", Str, REQ), f(3, "hostname", Str, OPT), f(4, "nodeName", Str, PTR),
            f(2, "targetRef", Msg("core.v1.ObjectReference"), PTR),
        ]),
        m("core.v1.EndpointPort", &[
            f(1, "name", Str, OPT), f(2, "port", I32, REQ), f(3, "protocol", Str, OPT),
            f(4, "appProtocol", Str, PTR),
        ]),
        m("core.v1.EndpointSubset", &[
            f(1, "addresses", Msg("core.v1.EndpointAddress"), REP),
            f(2, "notReadyAddresses", Msg("core.v1.EndpointAddress"), REP),
            f(3, "ports", Msg("core.v1.EndpointPort"), REP),
        ]),
        m("core.v1.Endpoints", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "subsets", Msg("core.v1.EndpointSubset"), REP),
        ]),
        m("core.v1.EnvFromSource", &[
            f(1, "prefix", Str, OPT), f(2, "configMapRef", Msg("core.v1.ConfigMapEnvSource"), PTR),
            f(3, "secretRef", Msg("core.v1.SecretEnvSource"), PTR),
        ]),
        m("core.v1.EnvVar", &[
            f(1, "name", Str, REQ), f(2, "value", Str, OPT),
            f(3, "valueFrom", Msg("core.v1.EnvVarSource"), PTR),
        ]),
        m("core.v1.EnvVarSource", &[
            f(1, "fieldRef", Msg("core.v1.ObjectFieldSelector"), PTR),
            f(2, "resourceFieldRef", Msg("core.v1.ResourceFieldSelector"), PTR),
            f(3, "configMapKeyRef", Msg("core.v1.ConfigMapKeySelector"), PTR),
            f(4, "secretKeyRef", Msg("core.v1.SecretKeySelector"), PTR),
            f(5, "fileKeyRef", Msg("core.v1.FileKeySelector"), PTR),
        ]),
        m("core.v1.EphemeralContainer", &[
            f(1, "", Msg("core.v1.EphemeralContainerCommon"), INLINE),
            f(2, "targetContainerName", Str, OPT),
        ]),
        m("core.v1.EphemeralContainerCommon", &[
            f(1, "name", Str, REQ), f(2, "image", Str, OPT), f(3, "command", Str, REP),
            f(4, "args", Str, REP), f(5, "workingDir", Str, OPT),
            f(6, "ports", Msg("core.v1.ContainerPort"), REP),
            f(19, "envFrom", Msg("core.v1.EnvFromSource"), REP),
            f(7, "env", Msg("core.v1.EnvVar"), REP),
            f(8, "resources", Msg("core.v1.ResourceRequirements"), OPT),
            f(23, "resizePolicy", Msg("core.v1.ContainerResizePolicy"), REP),
            f(24, "restartPolicy", Str, PTR),
            f(25, "restartPolicyRules", Msg("core.v1.ContainerRestartRule"), REP),
            f(9, "volumeMounts", Msg("core.v1.VolumeMount"), REP),
            f(21, "volumeDevices", Msg("core.v1.VolumeDevice"), REP),
            f(10, "livenessProbe", Msg("core.v1.Probe"), PTR),
            f(11, "readinessProbe", Msg("core.v1.Probe"), PTR),
            f(22, "startupProbe", Msg("core.v1.Probe"), PTR),
            f(12, "lifecycle", Msg("core.v1.Lifecycle"), PTR),
            f(13, "terminationMessagePath", Str, OPT), f(20, "terminationMessagePolicy", Str, OPT),
            f(14, "imagePullPolicy", Str, OPT),
            f(15, "securityContext", Msg("core.v1.SecurityContext"), PTR), f(16, "stdin", Bool, OPT),
            f(17, "stdinOnce", Bool, OPT), f(18, "tty", Bool, OPT),
        ]),
        m("core.v1.EphemeralVolumeSource", &[
            f(1, "volumeClaimTemplate", Msg("core.v1.PersistentVolumeClaimTemplate"), PTR),
        ]),
        m("core.v1.Event", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), REQ),
            f(2, "involvedObject", Msg("core.v1.ObjectReference"), REQ), f(3, "reason", Str, OPT),
            f(4, "message", Str, OPT), f(5, "source", Msg("core.v1.EventSource"), OPT),
            f(6, "firstTimestamp", Time, OPT), f(7, "lastTimestamp", Time, OPT),
            f(8, "count", I32, OPT), f(9, "type", Str, OPT), f(10, "eventTime", MicroTime, OPT),
            f(11, "series", Msg("core.v1.EventSeries"), PTR), f(12, "action", Str, OPT),
            f(13, "related", Msg("core.v1.ObjectReference"), PTR),
            f(14, "reportingComponent", Str, REQ), f(15, "reportingInstance", Str, REQ),
        ]),
        m("core.v1.EventSeries", &[
            f(1, "count", I32, OPT), f(2, "lastObservedTime", MicroTime, OPT),
        ]),
        m("core.v1.EventSource", &[
            f(1, "component", Str, OPT), f(2, "host", Str, OPT),
        ]),
        m("core.v1.EvictionResponder", &[
            f(1, "name", Str, REQ), f(2, "priority", I32, PTR),
        ]),
        m("core.v1.ExecAction", &[
            f(1, "command", Str, REP),
        ]),
        m("core.v1.FCVolumeSource", &[
            f(1, "targetWWNs", Str, REP), f(2, "lun", I32, PTR), f(3, "fsType", Str, OPT),
            f(4, "readOnly", Bool, OPT), f(5, "wwids", Str, REP),
        ]),
        m("core.v1.FileKeySelector", &[
            f(1, "volumeName", Str, REQ), f(2, "path", Str, REQ), f(3, "key", Str, REQ),
            f(4, "optional", Bool, PTR),
        ]),
        m("core.v1.FlexPersistentVolumeSource", &[
            f(1, "driver", Str, REQ), f(2, "fsType", Str, OPT),
            f(3, "secretRef", Msg("core.v1.SecretReference"), PTR), f(4, "readOnly", Bool, OPT),
            f(5, "options", Str, MAP),
        ]),
        m("core.v1.FlexVolumeSource", &[
            f(1, "driver", Str, REQ), f(2, "fsType", Str, OPT),
            f(3, "secretRef", Msg("core.v1.LocalObjectReference"), PTR), f(4, "readOnly", Bool, OPT),
            f(5, "options", Str, MAP),
        ]),
        m("core.v1.FlockerVolumeSource", &[
            f(1, "datasetName", Str, OPT), f(2, "datasetUUID", Str, OPT),
        ]),
        m("core.v1.GCEPersistentDiskVolumeSource", &[
            f(1, "pdName", Str, REQ), f(2, "fsType", Str, OPT), f(3, "partition", I32, OPT),
            f(4, "readOnly", Bool, OPT),
        ]),
        m("core.v1.GRPCAction", &[
            f(1, "port", I32, REQ), f(2, "service", Str, PTR), f(3, "mode", Str, PTR),
        ]),
        m("core.v1.GitRepoVolumeSource", &[
            f(1, "repository", Str, REQ), f(2, "revision", Str, OPT), f(3, "directory", Str, OPT),
        ]),
        m("core.v1.GlusterfsPersistentVolumeSource", &[
            f(1, "endpoints", Str, REQ), f(2, "path", Str, REQ), f(3, "readOnly", Bool, OPT),
            f(4, "endpointsNamespace", Str, PTR),
        ]),
        m("core.v1.GlusterfsVolumeSource", &[
            f(1, "endpoints", Str, REQ), f(2, "path", Str, REQ), f(3, "readOnly", Bool, OPT),
        ]),
        m("core.v1.HTTPGetAction", &[
            f(1, "path", Str, OPT), f(2, "port", IntOrString, REQ), f(3, "host", Str, OPT),
            f(4, "scheme", Str, OPT), f(5, "httpHeaders", Msg("core.v1.HTTPHeader"), REP),
            f(6, "protocol", Str, PTR),
        ]),
        m("core.v1.HTTPHeader", &[
            f(1, "name", Str, REQ), f(2, "value", Str, REQ),
        ]),
        m("core.v1.HostAlias", &[
            f(1, "ip", Str, REQ), f(2, "hostnames", Str, REP),
        ]),
        m("core.v1.HostIP", &[
            f(1, "ip", Str, REQ),
        ]),
        m("core.v1.HostPathVolumeSource", &[
            f(1, "path", Str, REQ), f(2, "type", Str, PTR),
        ]),
        m("core.v1.ISCSIPersistentVolumeSource", &[
            f(1, "targetPortal", Str, REQ), f(2, "iqn", Str, REQ), f(3, "lun", I32, REQ),
            f(4, "iscsiInterface", Str, OPT), f(5, "fsType", Str, OPT), f(6, "readOnly", Bool, OPT),
            f(7, "portals", Str, REP), f(8, "chapAuthDiscovery", Bool, OPT),
            f(11, "chapAuthSession", Bool, OPT),
            f(10, "secretRef", Msg("core.v1.SecretReference"), PTR), f(12, "initiatorName", Str, PTR),
        ]),
        m("core.v1.ISCSIVolumeSource", &[
            f(1, "targetPortal", Str, REQ), f(2, "iqn", Str, REQ), f(3, "lun", I32, REQ),
            f(4, "iscsiInterface", Str, OPT), f(5, "fsType", Str, OPT), f(6, "readOnly", Bool, OPT),
            f(7, "portals", Str, REP), f(8, "chapAuthDiscovery", Bool, OPT),
            f(11, "chapAuthSession", Bool, OPT),
            f(10, "secretRef", Msg("core.v1.LocalObjectReference"), PTR),
            f(12, "initiatorName", Str, PTR),
        ]),
        m("core.v1.ImageVolumeSource", &[
            f(1, "reference", Str, OPT), f(2, "pullPolicy", Str, OPT),
        ]),
        m("core.v1.ImageVolumeStatus", &[
            f(1, "imageRef", Str, OPT),
        ]),
        m("core.v1.KeyToPath", &[
            f(1, "key", Str, REQ), f(2, "path", Str, REQ), f(3, "mode", I32, PTR),
            f(4, "user", I64, PTR),
        ]),
        m("core.v1.Lifecycle", &[
            f(1, "postStart", Msg("core.v1.LifecycleHandler"), PTR),
            f(2, "preStop", Msg("core.v1.LifecycleHandler"), PTR), f(3, "stopSignal", Str, PTR),
        ]),
        m("core.v1.LifecycleHandler", &[
            f(1, "exec", Msg("core.v1.ExecAction"), PTR),
            f(2, "httpGet", Msg("core.v1.HTTPGetAction"), PTR),
            f(3, "tcpSocket", Msg("core.v1.TCPSocketAction"), PTR),
            f(4, "sleep", Msg("core.v1.SleepAction"), PTR),
        ]),
        m("core.v1.LimitRange", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("core.v1.LimitRangeSpec"), OPT),
        ]),
        m("core.v1.LimitRangeItem", &[
            f(1, "type", Str, REQ), f(2, "max", Quantity, MAP), f(3, "min", Quantity, MAP),
            f(4, "default", Quantity, MAP), f(5, "defaultRequest", Quantity, MAP),
            f(6, "maxLimitRequestRatio", Quantity, MAP),
        ]),
        m("core.v1.LimitRangeSpec", &[
            f(1, "limits", Msg("core.v1.LimitRangeItem"), REP),
        ]),
        m("core.v1.LinuxContainerUser", &[
            f(1, "uid", I64, REQ), f(2, "gid", I64, REQ), f(3, "supplementalGroups", I64, REP),
        ]),
        m("core.v1.LoadBalancerIngress", &[
            f(1, "ip", Str, OPT), f(2, "hostname", Str, OPT), f(3, "ipMode", Str, PTR),
            f(4, "ports", Msg("core.v1.PortStatus"), REP),
        ]),
        m("core.v1.LoadBalancerStatus", &[
            f(1, "ingress", Msg("core.v1.LoadBalancerIngress"), REP),
        ]),
        m("core.v1.LocalObjectReference", &[
            f(1, "name", Str, OPT),
        ]),
        m("core.v1.LocalVolumeSource", &[
            f(1, "path", Str, REQ), f(2, "fsType", Str, PTR),
        ]),
        m("core.v1.ModifyVolumeStatus", &[
            f(1, "targetVolumeAttributesClassName", Str, OPT), f(2, "status", Str, REQ),
        ]),
        m("core.v1.NFSVolumeSource", &[
            f(1, "server", Str, REQ), f(2, "path", Str, REQ), f(3, "readOnly", Bool, OPT),
        ]),
        m("core.v1.Namespace", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("core.v1.NamespaceSpec"), OPT),
            f(3, "status", Msg("core.v1.NamespaceStatus"), OPT),
        ]),
        m("core.v1.NamespaceCondition", &[
            f(1, "type", Str, REQ), f(2, "status", Str, REQ), f(4, "lastTransitionTime", Time, OPT),
            f(5, "reason", Str, OPT), f(6, "message", Str, OPT),
        ]),
        m("core.v1.NamespaceSpec", &[
            f(1, "finalizers", Str, REP),
        ]),
        m("core.v1.NamespaceStatus", &[
            f(1, "phase", Str, OPT), f(2, "conditions", Msg("core.v1.NamespaceCondition"), REP),
        ]),
        m("core.v1.Node", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("core.v1.NodeSpec"), OPT), f(3, "status", Msg("core.v1.NodeStatus"), OPT),
        ]),
        m("core.v1.NodeAddress", &[
            f(1, "type", Str, REQ), f(2, "address", Str, REQ),
        ]),
        m("core.v1.NodeAffinity", &[
            f(1, "requiredDuringSchedulingIgnoredDuringExecution", Msg("core.v1.NodeSelector"), PTR),
            f(2, "preferredDuringSchedulingIgnoredDuringExecution", Msg("core.v1.PreferredSchedulingTerm"), REP),
        ]),
        m("core.v1.NodeAllocatableMappedResources", &[
            f(1, "name", Str, REQ), f(2, "quantity", Quantity, PTR),
        ]),
        m("core.v1.NodeAllocatableOverheadResources", &[
            f(1, "name", Str, REQ), f(2, "perPod", Quantity, PTR), f(3, "perContainer", Quantity, PTR),
        ]),
        m("core.v1.NodeAllocatableResourceClaimStatus", &[
            f(1, "resourceClaimName", Str, REQ), f(2, "containers", Str, REP),
            f(4, "mapping", Msg("core.v1.NodeAllocatableMappedResources"), REP),
            f(5, "overhead", Msg("core.v1.NodeAllocatableOverheadResources"), REP),
        ]),
        m("core.v1.NodeCondition", &[
            f(1, "type", Str, REQ), f(2, "status", Str, REQ), f(3, "lastHeartbeatTime", Time, OPT),
            f(4, "lastTransitionTime", Time, OPT), f(5, "reason", Str, OPT), f(6, "message", Str, OPT),
        ]),
        m("core.v1.NodeConfigSource", &[
            f(2, "configMap", Msg("core.v1.ConfigMapNodeConfigSource"), PTR),
        ]),
        m("core.v1.NodeConfigStatus", &[
            f(1, "assigned", Msg("core.v1.NodeConfigSource"), PTR),
            f(2, "active", Msg("core.v1.NodeConfigSource"), PTR),
            f(3, "lastKnownGood", Msg("core.v1.NodeConfigSource"), PTR), f(4, "error", Str, OPT),
        ]),
        m("core.v1.NodeDaemonEndpoints", &[
            f(1, "kubeletEndpoint", Msg("core.v1.DaemonEndpoint"), OPT),
        ]),
        m("core.v1.NodeFeatures", &[
            f(1, "supplementalGroupsPolicy", Bool, PTR),
        ]),
        m("core.v1.NodePodPreemptionPolicy", &[
            f(1, "disableResizePreemption", Str, REP),
        ]),
        m("core.v1.NodeRuntimeHandler", &[
            f(1, "name", Str, REQ), f(2, "features", Msg("core.v1.NodeRuntimeHandlerFeatures"), PTR),
        ]),
        m("core.v1.NodeRuntimeHandlerFeatures", &[
            f(1, "recursiveReadOnlyMounts", Bool, PTR), f(2, "userNamespaces", Bool, PTR),
        ]),
        m("core.v1.NodeSelector", &[
            f(1, "nodeSelectorTerms", Msg("core.v1.NodeSelectorTerm"), REP),
        ]),
        m("core.v1.NodeSelectorRequirement", &[
            f(1, "key", Str, REQ), f(2, "operator", Str, REQ), f(3, "values", Str, REP),
        ]),
        m("core.v1.NodeSelectorTerm", &[
            f(1, "matchExpressions", Msg("core.v1.NodeSelectorRequirement"), REP),
            f(2, "matchFields", Msg("core.v1.NodeSelectorRequirement"), REP),
        ]),
        m("core.v1.NodeSpec", &[
            f(1, "podCIDR", Str, OPT), f(7, "podCIDRs", Str, REP), f(3, "providerID", Str, OPT),
            f(4, "unschedulable", Bool, OPT), f(5, "taints", Msg("core.v1.Taint"), REP),
            f(6, "configSource", Msg("core.v1.NodeConfigSource"), PTR), f(2, "externalID", Str, OPT),
            f(8, "podPreemptionPolicy", Msg("core.v1.NodePodPreemptionPolicy"), PTR),
        ]),
        m("core.v1.NodeStatus", &[
            f(1, "capacity", Quantity, MAP), f(2, "allocatable", Quantity, MAP),
            f(3, "phase", Str, OPT), f(4, "conditions", Msg("core.v1.NodeCondition"), REP),
            f(5, "addresses", Msg("core.v1.NodeAddress"), REP),
            f(6, "daemonEndpoints", Msg("core.v1.NodeDaemonEndpoints"), OPT),
            f(7, "nodeInfo", Msg("core.v1.NodeSystemInfo"), OPT),
            f(8, "images", Msg("core.v1.ContainerImage"), REP), f(9, "volumesInUse", Str, REP),
            f(10, "volumesAttached", Msg("core.v1.AttachedVolume"), REP),
            f(11, "config", Msg("core.v1.NodeConfigStatus"), PTR),
            f(12, "runtimeHandlers", Msg("core.v1.NodeRuntimeHandler"), REP),
            f(13, "features", Msg("core.v1.NodeFeatures"), PTR), f(14, "declaredFeatures", Str, REP),
        ]),
        m("core.v1.NodeSwapStatus", &[
            f(1, "capacity", I64, PTR),
        ]),
        m("core.v1.NodeSystemInfo", &[
            f(1, "machineID", Str, REQ), f(2, "systemUUID", Str, REQ), f(3, "bootID", Str, REQ),
            f(4, "kernelVersion", Str, REQ), f(5, "osImage", Str, REQ),
            f(6, "containerRuntimeVersion", Str, REQ), f(7, "kubeletVersion", Str, REQ),
            f(8, "kubeProxyVersion", Str, REQ), f(9, "operatingSystem", Str, REQ),
            f(10, "architecture", Str, REQ), f(11, "swap", Msg("core.v1.NodeSwapStatus"), PTR),
            f(12, "runningInUserNamespace", Bool, PTR),
        ]),
        m("core.v1.ObjectFieldSelector", &[
            f(1, "apiVersion", Str, OPT), f(2, "fieldPath", Str, REQ),
        ]),
        m("core.v1.ObjectReference", &[
            f(1, "kind", Str, OPT), f(2, "namespace", Str, OPT), f(3, "name", Str, OPT),
            f(4, "uid", Str, OPT), f(5, "apiVersion", Str, OPT), f(6, "resourceVersion", Str, OPT),
            f(7, "fieldPath", Str, OPT),
        ]),
        m("core.v1.PersistentVolume", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("core.v1.PersistentVolumeSpec"), OPT),
            f(3, "status", Msg("core.v1.PersistentVolumeStatus"), OPT),
        ]),
        m("core.v1.PersistentVolumeClaim", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("core.v1.PersistentVolumeClaimSpec"), OPT),
            f(3, "status", Msg("core.v1.PersistentVolumeClaimStatus"), OPT),
        ]),
        m("core.v1.PersistentVolumeClaimCondition", &[
            f(1, "type", Str, REQ), f(2, "status", Str, REQ), f(3, "lastProbeTime", Time, OPT),
            f(4, "lastTransitionTime", Time, OPT), f(5, "reason", Str, OPT), f(6, "message", Str, OPT),
        ]),
        m("core.v1.PersistentVolumeClaimSpec", &[
            f(1, "accessModes", Str, REP), f(4, "selector", Msg("meta.v1.LabelSelector"), PTR),
            f(2, "resources", Msg("core.v1.VolumeResourceRequirements"), OPT),
            f(3, "volumeName", Str, OPT), f(5, "storageClassName", Str, PTR),
            f(6, "volumeMode", Str, PTR),
            f(7, "dataSource", Msg("core.v1.TypedLocalObjectReference"), PTR),
            f(8, "dataSourceRef", Msg("core.v1.TypedObjectReference"), PTR),
            f(9, "volumeAttributesClassName", Str, PTR),
        ]),
        m("core.v1.PersistentVolumeClaimStatus", &[
            f(1, "phase", Str, OPT), f(2, "accessModes", Str, REP), f(3, "capacity", Quantity, MAP),
            f(4, "conditions", Msg("core.v1.PersistentVolumeClaimCondition"), REP),
            f(5, "allocatedResources", Quantity, MAP),
            // v1.24 alpha (RecoverVolumeExpansionFailure), tombstoned in v1.28.
            f(6, "resizeStatus", Str, PTR), f(7, "allocatedResourceStatuses", Str, MAP),
            f(8, "currentVolumeAttributesClassName", Str, PTR),
            f(9, "modifyVolumeStatus", Msg("core.v1.ModifyVolumeStatus"), PTR),
            f(10, "healthStatus", Msg("core.v1.VolumeHealthStatus"), PTR),
        ]),
        m("core.v1.PersistentVolumeClaimTemplate", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("core.v1.PersistentVolumeClaimSpec"), REQ),
        ]),
        m("core.v1.PersistentVolumeClaimVolumeSource", &[
            f(1, "claimName", Str, REQ), f(2, "readOnly", Bool, OPT),
        ]),
        m("core.v1.PersistentVolumeSource", &[
            f(1, "gcePersistentDisk", Msg("core.v1.GCEPersistentDiskVolumeSource"), PTR),
            f(2, "awsElasticBlockStore", Msg("core.v1.AWSElasticBlockStoreVolumeSource"), PTR),
            f(3, "hostPath", Msg("core.v1.HostPathVolumeSource"), PTR),
            f(4, "glusterfs", Msg("core.v1.GlusterfsPersistentVolumeSource"), PTR),
            f(5, "nfs", Msg("core.v1.NFSVolumeSource"), PTR),
            f(6, "rbd", Msg("core.v1.RBDPersistentVolumeSource"), PTR),
            f(7, "iscsi", Msg("core.v1.ISCSIPersistentVolumeSource"), PTR),
            f(8, "cinder", Msg("core.v1.CinderPersistentVolumeSource"), PTR),
            f(9, "cephfs", Msg("core.v1.CephFSPersistentVolumeSource"), PTR),
            f(10, "fc", Msg("core.v1.FCVolumeSource"), PTR),
            f(11, "flocker", Msg("core.v1.FlockerVolumeSource"), PTR),
            f(12, "flexVolume", Msg("core.v1.FlexPersistentVolumeSource"), PTR),
            f(13, "azureFile", Msg("core.v1.AzureFilePersistentVolumeSource"), PTR),
            f(14, "vsphereVolume", Msg("core.v1.VsphereVirtualDiskVolumeSource"), PTR),
            f(15, "quobyte", Msg("core.v1.QuobyteVolumeSource"), PTR),
            f(16, "azureDisk", Msg("core.v1.AzureDiskVolumeSource"), PTR),
            f(17, "photonPersistentDisk", Msg("core.v1.PhotonPersistentDiskVolumeSource"), PTR),
            f(18, "portworxVolume", Msg("core.v1.PortworxVolumeSource"), PTR),
            f(19, "scaleIO", Msg("core.v1.ScaleIOPersistentVolumeSource"), PTR),
            f(20, "local", Msg("core.v1.LocalVolumeSource"), PTR),
            f(21, "storageos", Msg("core.v1.StorageOSPersistentVolumeSource"), PTR),
            f(22, "csi", Msg("core.v1.CSIPersistentVolumeSource"), PTR),
        ]),
        m("core.v1.PersistentVolumeSpec", &[
            f(1, "capacity", Quantity, MAP), f(2, "", Msg("core.v1.PersistentVolumeSource"), INLINE),
            f(3, "accessModes", Str, REP), f(4, "claimRef", Msg("core.v1.ObjectReference"), PTR),
            f(5, "persistentVolumeReclaimPolicy", Str, OPT), f(6, "storageClassName", Str, OPT),
            f(7, "mountOptions", Str, REP), f(8, "volumeMode", Str, PTR),
            f(9, "nodeAffinity", Msg("core.v1.VolumeNodeAffinity"), PTR),
            f(10, "volumeAttributesClassName", Str, PTR),
        ]),
        m("core.v1.PersistentVolumeStatus", &[
            f(1, "phase", Str, OPT), f(2, "message", Str, OPT), f(3, "reason", Str, OPT),
            f(4, "lastPhaseTransitionTime", Time, PTR),
        ]),
        m("core.v1.PhotonPersistentDiskVolumeSource", &[
            f(1, "pdID", Str, REQ), f(2, "fsType", Str, OPT),
        ]),
        m("core.v1.Pod", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("core.v1.PodSpec"), OPT), f(3, "status", Msg("core.v1.PodStatus"), OPT),
        ]),
        m("core.v1.PodAffinity", &[
            f(1, "requiredDuringSchedulingIgnoredDuringExecution", Msg("core.v1.PodAffinityTerm"), REP),
            f(2, "preferredDuringSchedulingIgnoredDuringExecution", Msg("core.v1.WeightedPodAffinityTerm"), REP),
        ]),
        m("core.v1.PodAffinityTerm", &[
            f(1, "labelSelector", Msg("meta.v1.LabelSelector"), PTR), f(2, "namespaces", Str, REP),
            f(3, "topologyKey", Str, REQ),
            f(4, "namespaceSelector", Msg("meta.v1.LabelSelector"), PTR),
            f(5, "matchLabelKeys", Str, REP), f(6, "mismatchLabelKeys", Str, REP),
        ]),
        m("core.v1.PodAntiAffinity", &[
            f(1, "requiredDuringSchedulingIgnoredDuringExecution", Msg("core.v1.PodAffinityTerm"), REP),
            f(2, "preferredDuringSchedulingIgnoredDuringExecution", Msg("core.v1.WeightedPodAffinityTerm"), REP),
        ]),
        m("core.v1.PodCertificateProjection", &[
            f(1, "signerName", Str, OPT), f(2, "keyType", Str, OPT),
            f(3, "maxExpirationSeconds", I32, PTR), f(4, "credentialBundlePath", Str, OPT),
            f(5, "keyPath", Str, OPT), f(6, "certificateChainPath", Str, OPT),
            f(7, "userAnnotations", Str, MAP), f(8, "user", I64, PTR),
        ]),
        m("core.v1.PodCondition", &[
            f(1, "type", Str, REQ), f(7, "observedGeneration", I64, OPT), f(2, "status", Str, REQ),
            f(3, "lastProbeTime", Time, OPT), f(4, "lastTransitionTime", Time, OPT),
            f(5, "reason", Str, OPT), f(6, "message", Str, OPT),
        ]),
        m("core.v1.PodDNSConfig", &[
            f(1, "nameservers", Str, REP), f(2, "searches", Str, REP),
            f(3, "options", Msg("core.v1.PodDNSConfigOption"), REP),
        ]),
        m("core.v1.PodDNSConfigOption", &[
            f(1, "name", Str, OPT), f(2, "value", Str, PTR),
        ]),
        m("core.v1.PodExtendedResourceClaimStatus", &[
            f(1, "requestMappings", Msg("core.v1.ContainerExtendedResourceRequest"), REP),
            f(2, "resourceClaimName", Str, REQ),
        ]),
        m("core.v1.PodIP", &[
            f(1, "ip", Str, REQ),
        ]),
        m("core.v1.PodOS", &[
            f(1, "name", Str, REQ),
        ]),
        m("core.v1.PodReadinessGate", &[
            f(1, "conditionType", Str, REQ),
        ]),
        m("core.v1.PodResourceClaim", &[
            f(1, "name", Str, REQ), f(3, "resourceClaimName", Str, PTR),
            f(4, "resourceClaimTemplateName", Str, PTR),
        ]),
        m("core.v1.PodResourceClaimStatus", &[
            f(1, "name", Str, REQ), f(2, "resourceClaimName", Str, PTR),
        ]),
        m("core.v1.PodSchedulingGate", &[
            f(1, "name", Str, REQ),
        ]),
        m("core.v1.PodSchedulingGroup", &[
            f(1, "podGroupName", Str, PTR),
        ]),
        m("core.v1.PodSecurityContext", &[
            f(1, "seLinuxOptions", Msg("core.v1.SELinuxOptions"), PTR),
            f(8, "windowsOptions", Msg("core.v1.WindowsSecurityContextOptions"), PTR),
            f(2, "runAsUser", I64, PTR), f(6, "runAsGroup", I64, PTR), f(3, "runAsNonRoot", Bool, PTR),
            f(4, "supplementalGroups", I64, REP), f(12, "supplementalGroupsPolicy", Str, PTR),
            f(5, "fsGroup", I64, PTR), f(7, "sysctls", Msg("core.v1.Sysctl"), REP),
            f(9, "fsGroupChangePolicy", Str, PTR),
            f(10, "seccompProfile", Msg("core.v1.SeccompProfile"), PTR),
            f(11, "appArmorProfile", Msg("core.v1.AppArmorProfile"), PTR),
            f(13, "seLinuxChangePolicy", Str, PTR),
        ]),
        m("core.v1.PodSpec", &[
            f(1, "volumes", Msg("core.v1.Volume"), REP),
            f(20, "initContainers", Msg("core.v1.Container"), REP),
            f(2, "containers", Msg("core.v1.Container"), REP),
            f(34, "ephemeralContainers", Msg("core.v1.EphemeralContainer"), REP),
            f(3, "restartPolicy", Str, OPT), f(4, "terminationGracePeriodSeconds", I64, PTR),
            f(5, "activeDeadlineSeconds", I64, PTR), f(6, "dnsPolicy", Str, OPT),
            f(7, "nodeSelector", Str, MAP), f(8, "serviceAccountName", Str, OPT),
            f(9, "serviceAccount", Str, OPT), f(21, "automountServiceAccountToken", Bool, PTR),
            f(10, "nodeName", Str, OPT), f(11, "hostNetwork", Bool, OPT), f(12, "hostPID", Bool, OPT),
            f(13, "hostIPC", Bool, OPT), f(27, "shareProcessNamespace", Bool, PTR),
            f(14, "securityContext", Msg("core.v1.PodSecurityContext"), PTR),
            f(15, "imagePullSecrets", Msg("core.v1.LocalObjectReference"), REP),
            f(16, "hostname", Str, OPT), f(17, "subdomain", Str, OPT),
            f(18, "affinity", Msg("core.v1.Affinity"), PTR), f(19, "schedulerName", Str, OPT),
            f(22, "tolerations", Msg("core.v1.Toleration"), REP),
            f(23, "hostAliases", Msg("core.v1.HostAlias"), REP), f(24, "priorityClassName", Str, OPT),
            f(25, "priority", I32, PTR), f(26, "dnsConfig", Msg("core.v1.PodDNSConfig"), PTR),
            f(28, "readinessGates", Msg("core.v1.PodReadinessGate"), REP),
            f(29, "runtimeClassName", Str, PTR), f(30, "enableServiceLinks", Bool, PTR),
            f(31, "preemptionPolicy", Str, PTR), f(32, "overhead", Quantity, MAP),
            f(33, "topologySpreadConstraints", Msg("core.v1.TopologySpreadConstraint"), REP),
            f(35, "setHostnameAsFQDN", Bool, PTR), f(36, "os", Msg("core.v1.PodOS"), PTR),
            f(37, "hostUsers", Bool, PTR),
            f(38, "schedulingGates", Msg("core.v1.PodSchedulingGate"), REP),
            f(39, "resourceClaims", Msg("core.v1.PodResourceClaim"), REP),
            f(40, "resources", Msg("core.v1.ResourceRequirements"), PTR),
            f(41, "hostnameOverride", Str, PTR),
            f(43, "schedulingGroup", Msg("core.v1.PodSchedulingGroup"), PTR),
            f(44, "evictionResponders", Msg("core.v1.EvictionResponder"), REP),
        ]),
        m("core.v1.PodStatus", &[
            f(17, "observedGeneration", I64, OPT), f(1, "phase", Str, OPT),
            f(2, "conditions", Msg("core.v1.PodCondition"), REP), f(3, "message", Str, OPT),
            f(4, "reason", Str, OPT), f(11, "nominatedNodeName", Str, OPT), f(5, "hostIP", Str, OPT),
            f(16, "hostIPs", Msg("core.v1.HostIP"), REP), f(6, "podIP", Str, OPT),
            f(12, "podIPs", Msg("core.v1.PodIP"), REP), f(7, "startTime", Time, PTR),
            f(10, "initContainerStatuses", Msg("core.v1.ContainerStatus"), REP),
            f(8, "containerStatuses", Msg("core.v1.ContainerStatus"), REP), f(9, "qosClass", Str, OPT),
            f(13, "ephemeralContainerStatuses", Msg("core.v1.ContainerStatus"), REP),
            f(14, "resize", Str, OPT),
            f(15, "resourceClaimStatuses", Msg("core.v1.PodResourceClaimStatus"), REP),
            f(18, "extendedResourceClaimStatus", Msg("core.v1.PodExtendedResourceClaimStatus"), PTR),
            f(19, "allocatedResources", Quantity, MAP),
            f(20, "resources", Msg("core.v1.ResourceRequirements"), PTR),
            f(21, "nodeAllocatableResourceClaimStatuses", Msg("core.v1.NodeAllocatableResourceClaimStatus"), REP),
            f(22, "volumeHealth", Msg("core.v1.PodVolumeHealth"), REP),
        ]),
        m("core.v1.PodTemplate", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "template", Msg("core.v1.PodTemplateSpec"), OPT),
        ]),
        m("core.v1.PodTemplateSpec", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("core.v1.PodSpec"), OPT),
        ]),
        m("core.v1.PodVolumeHealth", &[
            f(1, "name", Str, REQ),
            f(2, "healthConditions", Msg("core.v1.VolumeHealthCondition"), REP),
            f(3, "lastTransitionTime", Time, OPT),
        ]),
        m("core.v1.PortStatus", &[
            f(1, "port", I32, REQ), f(2, "protocol", Str, REQ), f(3, "error", Str, PTR),
        ]),
        m("core.v1.PortworxVolumeSource", &[
            f(1, "volumeID", Str, REQ), f(2, "fsType", Str, OPT), f(3, "readOnly", Bool, OPT),
        ]),
        m("core.v1.PreferredSchedulingTerm", &[
            f(1, "weight", I32, REQ), f(2, "preference", Msg("core.v1.NodeSelectorTerm"), REQ),
        ]),
        m("core.v1.Probe", &[
            f(1, "", Msg("core.v1.ProbeHandler"), INLINE), f(2, "initialDelaySeconds", I32, OPT),
            f(3, "timeoutSeconds", I32, OPT), f(4, "periodSeconds", I32, OPT),
            f(5, "successThreshold", I32, OPT), f(6, "failureThreshold", I32, OPT),
            f(7, "terminationGracePeriodSeconds", I64, PTR),
        ]),
        m("core.v1.ProbeHandler", &[
            f(1, "exec", Msg("core.v1.ExecAction"), PTR),
            f(2, "httpGet", Msg("core.v1.HTTPGetAction"), PTR),
            f(3, "tcpSocket", Msg("core.v1.TCPSocketAction"), PTR),
            f(4, "grpc", Msg("core.v1.GRPCAction"), PTR),
        ]),
        m("core.v1.ProjectedVolumeSource", &[
            f(1, "sources", Msg("core.v1.VolumeProjection"), REP), f(2, "defaultMode", I32, PTR),
            f(3, "defaultUser", I64, PTR),
        ]),
        m("core.v1.QuobyteVolumeSource", &[
            f(1, "registry", Str, REQ), f(2, "volume", Str, REQ), f(3, "readOnly", Bool, OPT),
            f(4, "user", Str, OPT), f(5, "group", Str, OPT), f(6, "tenant", Str, OPT),
        ]),
        m("core.v1.RBDPersistentVolumeSource", &[
            f(1, "monitors", Str, REP), f(2, "image", Str, REQ), f(3, "fsType", Str, OPT),
            f(4, "pool", Str, OPT), f(5, "user", Str, OPT), f(6, "keyring", Str, OPT),
            f(7, "secretRef", Msg("core.v1.SecretReference"), PTR), f(8, "readOnly", Bool, OPT),
        ]),
        m("core.v1.RBDVolumeSource", &[
            f(1, "monitors", Str, REP), f(2, "image", Str, REQ), f(3, "fsType", Str, OPT),
            f(4, "pool", Str, OPT), f(5, "user", Str, OPT), f(6, "keyring", Str, OPT),
            f(7, "secretRef", Msg("core.v1.LocalObjectReference"), PTR), f(8, "readOnly", Bool, OPT),
        ]),
        m("core.v1.ReplicationController", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("core.v1.ReplicationControllerSpec"), OPT),
            f(3, "status", Msg("core.v1.ReplicationControllerStatus"), OPT),
        ]),
        m("core.v1.ReplicationControllerCondition", &[
            f(1, "type", Str, REQ), f(2, "status", Str, REQ), f(3, "lastTransitionTime", Time, OPT),
            f(4, "reason", Str, OPT), f(5, "message", Str, OPT),
        ]),
        m("core.v1.ReplicationControllerSpec", &[
            f(1, "replicas", I32, PTR), f(4, "minReadySeconds", I32, OPT), f(2, "selector", Str, MAP),
            f(3, "template", Msg("core.v1.PodTemplateSpec"), PTR),
        ]),
        m("core.v1.ReplicationControllerStatus", &[
            f(1, "replicas", I32, REQ), f(2, "fullyLabeledReplicas", I32, OPT),
            f(4, "readyReplicas", I32, OPT), f(5, "availableReplicas", I32, OPT),
            f(3, "observedGeneration", I64, OPT),
            f(6, "conditions", Msg("core.v1.ReplicationControllerCondition"), REP),
        ]),
        m("core.v1.ResourceClaim", &[
            f(1, "name", Str, REQ), f(2, "request", Str, OPT),
        ]),
        m("core.v1.ResourceFieldSelector", &[
            f(1, "containerName", Str, OPT), f(2, "resource", Str, REQ),
            f(3, "divisor", Quantity, OPT),
        ]),
        m("core.v1.ResourceHealth", &[
            f(1, "resourceID", Str, REQ), f(2, "health", Str, OPT), f(6, "message", Str, PTR),
        ]),
        m("core.v1.ResourceQuota", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("core.v1.ResourceQuotaSpec"), OPT),
            f(3, "status", Msg("core.v1.ResourceQuotaStatus"), OPT),
        ]),
        m("core.v1.ResourceQuotaSpec", &[
            f(1, "hard", Quantity, MAP), f(2, "scopes", Str, REP),
            f(3, "scopeSelector", Msg("core.v1.ScopeSelector"), PTR),
        ]),
        m("core.v1.ResourceQuotaStatus", &[
            f(1, "hard", Quantity, MAP), f(2, "used", Quantity, MAP),
        ]),
        m("core.v1.ResourceRequirements", &[
            f(1, "limits", Quantity, MAP), f(2, "requests", Quantity, MAP),
            f(3, "claims", Msg("core.v1.ResourceClaim"), REP),
        ]),
        m("core.v1.ResourceStatus", &[
            f(1, "name", Str, REQ), f(2, "resources", Msg("core.v1.ResourceHealth"), REP),
        ]),
        m("core.v1.SELinuxOptions", &[
            f(1, "user", Str, OPT), f(2, "role", Str, OPT), f(3, "type", Str, OPT),
            f(4, "level", Str, OPT),
        ]),
        m("core.v1.ScaleIOPersistentVolumeSource", &[
            f(1, "gateway", Str, REQ), f(2, "system", Str, REQ),
            f(3, "secretRef", Msg("core.v1.SecretReference"), PTR), f(4, "sslEnabled", Bool, OPT),
            f(5, "protectionDomain", Str, OPT), f(6, "storagePool", Str, OPT),
            f(7, "storageMode", Str, OPT), f(8, "volumeName", Str, OPT), f(9, "fsType", Str, OPT),
            f(10, "readOnly", Bool, OPT),
        ]),
        m("core.v1.ScaleIOVolumeSource", &[
            f(1, "gateway", Str, REQ), f(2, "system", Str, REQ),
            f(3, "secretRef", Msg("core.v1.LocalObjectReference"), PTR), f(4, "sslEnabled", Bool, OPT),
            f(5, "protectionDomain", Str, OPT), f(6, "storagePool", Str, OPT),
            f(7, "storageMode", Str, OPT), f(8, "volumeName", Str, OPT), f(9, "fsType", Str, OPT),
            f(10, "readOnly", Bool, OPT),
        ]),
        m("core.v1.ScopeSelector", &[
            f(1, "matchExpressions", Msg("core.v1.ScopedResourceSelectorRequirement"), REP),
        ]),
        m("core.v1.ScopedResourceSelectorRequirement", &[
            f(1, "scopeName", Str, REQ), f(2, "operator", Str, REQ), f(3, "values", Str, REP),
        ]),
        m("core.v1.SeccompProfile", &[
            f(1, "type", Str, REQ), f(2, "localhostProfile", Str, PTR),
        ]),
        m("core.v1.Secret", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT), f(5, "immutable", Bool, PTR),
            f(2, "data", Bytes, MAP), f(4, "stringData", Str, MAP), f(3, "type", Str, OPT),
        ]),
        m("core.v1.SecretEnvSource", &[
            f(1, "", Msg("core.v1.LocalObjectReference"), INLINE), f(2, "optional", Bool, PTR),
        ]),
        m("core.v1.SecretKeySelector", &[
            f(1, "", Msg("core.v1.LocalObjectReference"), INLINE), f(2, "key", Str, REQ),
            f(3, "optional", Bool, PTR),
        ]),
        m("core.v1.SecretProjection", &[
            f(1, "", Msg("core.v1.LocalObjectReference"), INLINE),
            f(2, "items", Msg("core.v1.KeyToPath"), REP), f(4, "optional", Bool, PTR),
        ]),
        m("core.v1.SecretReference", &[
            f(1, "name", Str, OPT), f(2, "namespace", Str, OPT),
        ]),
        m("core.v1.SecretVolumeSource", &[
            f(1, "secretName", Str, OPT), f(2, "items", Msg("core.v1.KeyToPath"), REP),
            f(3, "defaultMode", I32, PTR), f(4, "optional", Bool, PTR), f(5, "defaultUser", I64, PTR),
        ]),
        m("core.v1.SecurityContext", &[
            f(1, "capabilities", Msg("core.v1.Capabilities"), PTR), f(2, "privileged", Bool, PTR),
            f(3, "seLinuxOptions", Msg("core.v1.SELinuxOptions"), PTR),
            f(10, "windowsOptions", Msg("core.v1.WindowsSecurityContextOptions"), PTR),
            f(4, "runAsUser", I64, PTR), f(8, "runAsGroup", I64, PTR), f(5, "runAsNonRoot", Bool, PTR),
            f(6, "readOnlyRootFilesystem", Bool, PTR), f(7, "allowPrivilegeEscalation", Bool, PTR),
            f(9, "procMount", Str, PTR), f(11, "seccompProfile", Msg("core.v1.SeccompProfile"), PTR),
            f(12, "appArmorProfile", Msg("core.v1.AppArmorProfile"), PTR),
        ]),
        m("core.v1.Service", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("core.v1.ServiceSpec"), OPT),
            f(3, "status", Msg("core.v1.ServiceStatus"), OPT),
        ]),
        m("core.v1.ServiceAccount", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "secrets", Msg("core.v1.ObjectReference"), REP),
            f(3, "imagePullSecrets", Msg("core.v1.LocalObjectReference"), REP),
            f(4, "automountServiceAccountToken", Bool, PTR),
        ]),
        m("core.v1.ServiceAccountTokenProjection", &[
            f(1, "audience", Str, OPT), f(2, "expirationSeconds", I64, PTR), f(3, "path", Str, REQ),
            f(4, "user", I64, PTR),
        ]),
        m("core.v1.ServicePort", &[
            f(1, "name", Str, OPT), f(2, "protocol", Str, OPT), f(6, "appProtocol", Str, PTR),
            f(3, "port", I32, REQ), f(4, "targetPort", IntOrString, OPT), f(5, "nodePort", I32, OPT),
        ]),
        m("core.v1.ServiceSpec", &[
            f(1, "ports", Msg("core.v1.ServicePort"), REP), f(2, "selector", Str, MAP),
            f(3, "clusterIP", Str, OPT), f(18, "clusterIPs", Str, REP), f(4, "type", Str, OPT),
            f(5, "externalIPs", Str, REP), f(7, "sessionAffinity", Str, OPT),
            f(8, "loadBalancerIP", Str, OPT), f(9, "loadBalancerSourceRanges", Str, REP),
            f(10, "externalName", Str, OPT), f(11, "externalTrafficPolicy", Str, OPT),
            f(12, "healthCheckNodePort", I32, OPT), f(13, "publishNotReadyAddresses", Bool, OPT),
            f(14, "sessionAffinityConfig", Msg("core.v1.SessionAffinityConfig"), PTR),
            f(19, "ipFamilies", Str, REP), f(17, "ipFamilyPolicy", Str, PTR),
            f(20, "allocateLoadBalancerNodePorts", Bool, PTR), f(21, "loadBalancerClass", Str, PTR),
            f(22, "internalTrafficPolicy", Str, PTR), f(23, "trafficDistribution", Str, PTR),
        ]),
        m("core.v1.ServiceStatus", &[
            f(1, "loadBalancer", Msg("core.v1.LoadBalancerStatus"), OPT),
            f(2, "conditions", Msg("meta.v1.Condition"), REP),
        ]),
        m("core.v1.SessionAffinityConfig", &[
            f(1, "clientIP", Msg("core.v1.ClientIPConfig"), PTR),
        ]),
        m("core.v1.SleepAction", &[
            f(1, "seconds", I64, REQ),
        ]),
        m("core.v1.StorageOSPersistentVolumeSource", &[
            f(1, "volumeName", Str, OPT), f(2, "volumeNamespace", Str, OPT), f(3, "fsType", Str, OPT),
            f(4, "readOnly", Bool, OPT), f(5, "secretRef", Msg("core.v1.ObjectReference"), PTR),
        ]),
        m("core.v1.StorageOSVolumeSource", &[
            f(1, "volumeName", Str, OPT), f(2, "volumeNamespace", Str, OPT), f(3, "fsType", Str, OPT),
            f(4, "readOnly", Bool, OPT), f(5, "secretRef", Msg("core.v1.LocalObjectReference"), PTR),
        ]),
        m("core.v1.Sysctl", &[
            f(1, "name", Str, REQ), f(2, "value", Str, REQ),
        ]),
        m("core.v1.TCPSocketAction", &[
            f(1, "port", IntOrString, REQ), f(2, "host", Str, OPT),
        ]),
        m("core.v1.Taint", &[
            f(1, "key", Str, REQ), f(2, "value", Str, OPT), f(3, "effect", Str, REQ),
            f(4, "timeAdded", Time, PTR),
        ]),
        m("core.v1.Toleration", &[
            f(1, "key", Str, OPT), f(2, "operator", Str, OPT), f(3, "value", Str, OPT),
            f(4, "effect", Str, OPT), f(5, "tolerationSeconds", I64, PTR),
        ]),
        m("core.v1.TopologySelectorLabelRequirement", &[
            f(1, "key", Str, REQ), f(2, "values", Str, REP),
        ]),
        m("core.v1.TopologySelectorTerm", &[
            f(1, "matchLabelExpressions", Msg("core.v1.TopologySelectorLabelRequirement"), REP),
        ]),
        m("core.v1.TopologySpreadConstraint", &[
            f(1, "maxSkew", I32, REQ), f(2, "topologyKey", Str, REQ),
            f(3, "whenUnsatisfiable", Str, REQ),
            f(4, "labelSelector", Msg("meta.v1.LabelSelector"), PTR), f(5, "minDomains", I32, PTR),
            f(6, "nodeAffinityPolicy", Str, PTR), f(7, "nodeTaintsPolicy", Str, PTR),
            f(8, "matchLabelKeys", Str, REP),
        ]),
        m("core.v1.TypedLocalObjectReference", &[
            f(1, "apiGroup", Str, PTR), f(2, "kind", Str, REQ), f(3, "name", Str, REQ),
        ]),
        m("core.v1.TypedObjectReference", &[
            f(1, "apiGroup", Str, PTR), f(2, "kind", Str, REQ), f(3, "name", Str, REQ),
            f(4, "namespace", Str, PTR),
        ]),
        m("core.v1.Volume", &[
            f(1, "name", Str, REQ), f(2, "", Msg("core.v1.VolumeSource"), INLINE),
        ]),
        m("core.v1.VolumeDevice", &[
            f(1, "name", Str, REQ), f(2, "devicePath", Str, REQ),
        ]),
        m("core.v1.VolumeHealthCondition", &[
            f(1, "status", Str, REQ), f(2, "reason", Str, REQ), f(3, "message", Str, OPT),
        ]),
        m("core.v1.VolumeHealthStatus", &[
            f(1, "healthConditions", Msg("core.v1.VolumeHealthCondition"), REP),
            f(2, "lastTransitionTime", Time, OPT),
        ]),
        m("core.v1.VolumeMount", &[
            f(1, "name", Str, REQ), f(2, "readOnly", Bool, OPT), f(7, "recursiveReadOnly", Str, PTR),
            f(3, "mountPath", Str, REQ), f(4, "subPath", Str, OPT), f(5, "mountPropagation", Str, PTR),
            f(6, "subPathExpr", Str, OPT), f(8, "bindMountOptions", Str, REP),
        ]),
        m("core.v1.VolumeMountStatus", &[
            f(1, "name", Str, REQ), f(2, "mountPath", Str, REQ), f(3, "readOnly", Bool, OPT),
            f(4, "recursiveReadOnly", Str, PTR),
            f(5, "volumeStatus", Msg("core.v1.VolumeStatus"), PTR),
        ]),
        m("core.v1.VolumeNodeAffinity", &[
            f(1, "required", Msg("core.v1.NodeSelector"), PTR),
        ]),
        m("core.v1.VolumeProjection", &[
            f(1, "secret", Msg("core.v1.SecretProjection"), PTR),
            f(2, "downwardAPI", Msg("core.v1.DownwardAPIProjection"), PTR),
            f(3, "configMap", Msg("core.v1.ConfigMapProjection"), PTR),
            f(4, "serviceAccountToken", Msg("core.v1.ServiceAccountTokenProjection"), PTR),
            f(5, "clusterTrustBundle", Msg("core.v1.ClusterTrustBundleProjection"), PTR),
            f(6, "podCertificate", Msg("core.v1.PodCertificateProjection"), PTR),
        ]),
        m("core.v1.VolumeResourceRequirements", &[
            f(1, "limits", Quantity, MAP), f(2, "requests", Quantity, MAP),
        ]),
        m("core.v1.VolumeSource", &[
            f(1, "hostPath", Msg("core.v1.HostPathVolumeSource"), PTR),
            f(2, "emptyDir", Msg("core.v1.EmptyDirVolumeSource"), PTR),
            f(3, "gcePersistentDisk", Msg("core.v1.GCEPersistentDiskVolumeSource"), PTR),
            f(4, "awsElasticBlockStore", Msg("core.v1.AWSElasticBlockStoreVolumeSource"), PTR),
            f(5, "gitRepo", Msg("core.v1.GitRepoVolumeSource"), PTR),
            f(6, "secret", Msg("core.v1.SecretVolumeSource"), PTR),
            f(7, "nfs", Msg("core.v1.NFSVolumeSource"), PTR),
            f(8, "iscsi", Msg("core.v1.ISCSIVolumeSource"), PTR),
            f(9, "glusterfs", Msg("core.v1.GlusterfsVolumeSource"), PTR),
            f(10, "persistentVolumeClaim", Msg("core.v1.PersistentVolumeClaimVolumeSource"), PTR),
            f(11, "rbd", Msg("core.v1.RBDVolumeSource"), PTR),
            f(12, "flexVolume", Msg("core.v1.FlexVolumeSource"), PTR),
            f(13, "cinder", Msg("core.v1.CinderVolumeSource"), PTR),
            f(14, "cephfs", Msg("core.v1.CephFSVolumeSource"), PTR),
            f(15, "flocker", Msg("core.v1.FlockerVolumeSource"), PTR),
            f(16, "downwardAPI", Msg("core.v1.DownwardAPIVolumeSource"), PTR),
            f(17, "fc", Msg("core.v1.FCVolumeSource"), PTR),
            f(18, "azureFile", Msg("core.v1.AzureFileVolumeSource"), PTR),
            f(19, "configMap", Msg("core.v1.ConfigMapVolumeSource"), PTR),
            f(20, "vsphereVolume", Msg("core.v1.VsphereVirtualDiskVolumeSource"), PTR),
            f(21, "quobyte", Msg("core.v1.QuobyteVolumeSource"), PTR),
            f(22, "azureDisk", Msg("core.v1.AzureDiskVolumeSource"), PTR),
            f(23, "photonPersistentDisk", Msg("core.v1.PhotonPersistentDiskVolumeSource"), PTR),
            f(26, "projected", Msg("core.v1.ProjectedVolumeSource"), PTR),
            f(24, "portworxVolume", Msg("core.v1.PortworxVolumeSource"), PTR),
            f(25, "scaleIO", Msg("core.v1.ScaleIOVolumeSource"), PTR),
            f(27, "storageos", Msg("core.v1.StorageOSVolumeSource"), PTR),
            f(28, "csi", Msg("core.v1.CSIVolumeSource"), PTR),
            f(29, "ephemeral", Msg("core.v1.EphemeralVolumeSource"), PTR),
            f(30, "image", Msg("core.v1.ImageVolumeSource"), PTR),
        ]),
        m("core.v1.VolumeStatus", &[
            f(1, "image", Msg("core.v1.ImageVolumeStatus"), PTR),
        ]),
        m("core.v1.VsphereVirtualDiskVolumeSource", &[
            f(1, "volumePath", Str, REQ), f(2, "fsType", Str, OPT),
            f(3, "storagePolicyName", Str, OPT), f(4, "storagePolicyID", Str, OPT),
        ]),
        m("core.v1.WeightedPodAffinityTerm", &[
            f(1, "weight", I32, REQ), f(2, "podAffinityTerm", Msg("core.v1.PodAffinityTerm"), REQ),
        ]),
        m("core.v1.WindowsSecurityContextOptions", &[
            f(1, "gmsaCredentialSpecName", Str, PTR), f(2, "gmsaCredentialSpec", Str, PTR),
            f(3, "runAsUserName", Str, PTR), f(4, "hostProcess", Bool, PTR),
        ]),
        m("discovery.v1.Endpoint", &[
            f(1, "addresses", Str, REP),
            f(2, "conditions", Msg("discovery.v1.EndpointConditions"), OPT),
            f(3, "hostname", Str, PTR), f(4, "targetRef", Msg("core.v1.ObjectReference"), PTR),
            f(5, "deprecatedTopology", Str, MAP), f(6, "nodeName", Str, PTR), f(7, "zone", Str, PTR),
            f(8, "hints", Msg("discovery.v1.EndpointHints"), PTR),
        ]),
        m("discovery.v1.EndpointConditions", &[
            f(1, "ready", Bool, PTR), f(2, "serving", Bool, PTR), f(3, "terminating", Bool, PTR),
        ]),
        m("discovery.v1.EndpointHints", &[
            f(1, "forZones", Msg("discovery.v1.ForZone"), REP),
            f(2, "forNodes", Msg("discovery.v1.ForNode"), REP),
        ]),
        m("discovery.v1.EndpointPort", &[
            f(1, "name", Str, PTR), f(2, "protocol", Str, PTR), f(3, "port", I32, PTR),
            f(4, "appProtocol", Str, PTR),
        ]),
        m("discovery.v1.EndpointSlice", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT), f(4, "addressType", Str, REQ),
            f(2, "endpoints", Msg("discovery.v1.Endpoint"), REP),
            f(3, "ports", Msg("discovery.v1.EndpointPort"), REP),
        ]),
        m("discovery.v1.ForNode", &[
            f(1, "name", Str, REQ),
        ]),
        m("discovery.v1.ForZone", &[
            f(1, "name", Str, REQ),
        ]),
        m("events.v1.Event", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), REQ), f(2, "eventTime", MicroTime, REQ),
            f(3, "series", Msg("events.v1.EventSeries"), PTR), f(4, "reportingController", Str, OPT),
            f(5, "reportingInstance", Str, OPT), f(6, "action", Str, OPT), f(7, "reason", Str, OPT),
            f(8, "regarding", Msg("core.v1.ObjectReference"), OPT),
            f(9, "related", Msg("core.v1.ObjectReference"), PTR), f(10, "note", Str, OPT),
            f(11, "type", Str, OPT), f(12, "deprecatedSource", Msg("core.v1.EventSource"), OPT),
            f(13, "deprecatedFirstTimestamp", Time, OPT), f(14, "deprecatedLastTimestamp", Time, OPT),
            f(15, "deprecatedCount", I32, OPT),
        ]),
        m("events.v1.EventSeries", &[
            f(1, "count", I32, REQ), f(2, "lastObservedTime", MicroTime, REQ),
        ]),
        m("meta.v1.Condition", &[
            f(1, "type", Str, REQ), f(2, "status", Str, REQ), f(3, "observedGeneration", I64, OPT),
            f(4, "lastTransitionTime", Time, REQ), f(5, "reason", Str, REQ), f(6, "message", Str, REQ),
        ]),
        m("meta.v1.DeleteOptions", &[
            f(1, "gracePeriodSeconds", I64, PTR),
            f(2, "preconditions", Msg("meta.v1.Preconditions"), PTR),
            f(3, "orphanDependents", Bool, PTR), f(4, "propagationPolicy", Str, PTR),
            f(5, "dryRun", Str, REP),
            f(6, "ignoreStoreReadErrorWithClusterBreakingPotential", Bool, PTR),
        ]),
        m("meta.v1.FieldSelectorRequirement", &[
            f(1, "key", Str, REQ), f(2, "operator", Str, REQ), f(3, "values", Str, REP),
        ]),
        m("meta.v1.LabelSelector", &[
            f(1, "matchLabels", Str, MAP),
            f(2, "matchExpressions", Msg("meta.v1.LabelSelectorRequirement"), REP),
        ]),
        m("meta.v1.LabelSelectorRequirement", &[
            f(1, "key", Str, REQ), f(2, "operator", Str, REQ), f(3, "values", Str, REP),
        ]),
        m("meta.v1.ListMeta", &[
            f(1, "selfLink", Str, OPT), f(2, "resourceVersion", Str, OPT), f(3, "continue", Str, OPT),
            f(4, "remainingItemCount", I64, PTR),
        ]),
        m("meta.v1.ManagedFieldsEntry", &[
            f(1, "manager", Str, OPT), f(2, "operation", Str, OPT), f(3, "apiVersion", Str, OPT),
            f(4, "time", Time, PTR), f(6, "fieldsType", Str, OPT), f(7, "fieldsV1", FieldsV1, PTR),
            f(8, "subresource", Str, OPT),
        ]),
        m("meta.v1.ObjectMeta", &[
            f(1, "name", Str, OPT), f(2, "generateName", Str, OPT), f(3, "namespace", Str, OPT),
            f(4, "selfLink", Str, OPT), f(5, "uid", Str, OPT), f(6, "resourceVersion", Str, OPT),
            f(7, "generation", I64, OPT), f(8, "creationTimestamp", Time, OPT),
            f(9, "deletionTimestamp", Time, PTR), f(10, "deletionGracePeriodSeconds", I64, PTR),
            f(11, "labels", Str, MAP), f(12, "annotations", Str, MAP),
            f(13, "ownerReferences", Msg("meta.v1.OwnerReference"), REP),
            f(14, "finalizers", Str, REP),
            f(17, "managedFields", Msg("meta.v1.ManagedFieldsEntry"), REP),
        ]),
        m("meta.v1.OwnerReference", &[
            f(5, "apiVersion", Str, REQ), f(1, "kind", Str, REQ), f(3, "name", Str, REQ),
            f(4, "uid", Str, REQ), f(6, "controller", Bool, PTR),
            f(7, "blockOwnerDeletion", Bool, PTR),
        ]),
        m("meta.v1.Preconditions", &[
            f(1, "uid", Str, PTR), f(2, "resourceVersion", Str, PTR),
        ]),
        m("meta.v1.Status", &[
            f(1, "metadata", Msg("meta.v1.ListMeta"), OPT), f(2, "status", Str, OPT),
            f(3, "message", Str, OPT), f(4, "reason", Str, OPT),
            f(5, "details", Msg("meta.v1.StatusDetails"), PTR), f(6, "code", I32, OPT),
        ]),
        m("meta.v1.StatusCause", &[
            f(1, "reason", Str, OPT), f(2, "message", Str, OPT), f(3, "field", Str, OPT),
        ]),
        m("meta.v1.StatusDetails", &[
            f(1, "name", Str, OPT), f(2, "group", Str, OPT), f(3, "kind", Str, OPT),
            f(6, "uid", Str, OPT), f(4, "causes", Msg("meta.v1.StatusCause"), REP),
            f(5, "retryAfterSeconds", I32, OPT),
        ]),
        m("meta.v1.WatchEvent", &[
            f(1, "type", Str, REQ), f(2, "object", RawExtension, REQ),
        ]),
        m("networking.v1.HTTPIngressPath", &[
            f(1, "path", Str, OPT), f(3, "pathType", Str, PTR),
            f(2, "backend", Msg("networking.v1.IngressBackend"), REQ),
        ]),
        m("networking.v1.HTTPIngressRuleValue", &[
            f(1, "paths", Msg("networking.v1.HTTPIngressPath"), REP),
        ]),
        m("networking.v1.IPBlock", &[
            f(1, "cidr", Str, REQ), f(2, "except", Str, REP),
        ]),
        m("networking.v1.Ingress", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("networking.v1.IngressSpec"), OPT),
            f(3, "status", Msg("networking.v1.IngressStatus"), OPT),
        ]),
        m("networking.v1.IngressBackend", &[
            f(4, "service", Msg("networking.v1.IngressServiceBackend"), PTR),
            f(3, "resource", Msg("core.v1.TypedLocalObjectReference"), PTR),
        ]),
        m("networking.v1.IngressClass", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("networking.v1.IngressClassSpec"), OPT),
        ]),
        m("networking.v1.IngressClassParametersReference", &[
            f(1, "apiGroup", Str, PTR), f(2, "kind", Str, REQ), f(3, "name", Str, REQ),
            f(4, "scope", Str, PTR), f(5, "namespace", Str, PTR),
        ]),
        m("networking.v1.IngressClassSpec", &[
            f(1, "controller", Str, OPT),
            f(2, "parameters", Msg("networking.v1.IngressClassParametersReference"), PTR),
        ]),
        m("networking.v1.IngressLoadBalancerIngress", &[
            f(1, "ip", Str, OPT), f(2, "hostname", Str, OPT),
            f(4, "ports", Msg("networking.v1.IngressPortStatus"), REP),
        ]),
        m("networking.v1.IngressLoadBalancerStatus", &[
            f(1, "ingress", Msg("networking.v1.IngressLoadBalancerIngress"), REP),
        ]),
        m("networking.v1.IngressPortStatus", &[
            f(1, "port", I32, REQ), f(2, "protocol", Str, REQ), f(3, "error", Str, PTR),
        ]),
        m("networking.v1.IngressRule", &[
            f(1, "host", Str, OPT), f(2, "", Msg("networking.v1.IngressRuleValue"), INLINE),
        ]),
        m("networking.v1.IngressRuleValue", &[
            f(1, "http", Msg("networking.v1.HTTPIngressRuleValue"), PTR),
        ]),
        m("networking.v1.IngressServiceBackend", &[
            f(1, "name", Str, REQ), f(2, "port", Msg("networking.v1.ServiceBackendPort"), OPT),
        ]),
        m("networking.v1.IngressSpec", &[
            f(4, "ingressClassName", Str, PTR),
            f(1, "defaultBackend", Msg("networking.v1.IngressBackend"), PTR),
            f(2, "tls", Msg("networking.v1.IngressTLS"), REP),
            f(3, "rules", Msg("networking.v1.IngressRule"), REP),
        ]),
        m("networking.v1.IngressStatus", &[
            f(1, "loadBalancer", Msg("networking.v1.IngressLoadBalancerStatus"), OPT),
        ]),
        m("networking.v1.IngressTLS", &[
            f(1, "hosts", Str, REP), f(2, "secretName", Str, OPT),
        ]),
        m("networking.v1.NetworkPolicy", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("networking.v1.NetworkPolicySpec"), OPT),
            // v1.24 alpha (NetworkPolicyStatus), tombstoned in v1.26.
            f(3, "status", Msg("networking.v1.NetworkPolicyStatus"), OPT),
        ]),
        m("networking.v1.NetworkPolicyEgressRule", &[
            f(1, "ports", Msg("networking.v1.NetworkPolicyPort"), REP),
            f(2, "to", Msg("networking.v1.NetworkPolicyPeer"), REP),
        ]),
        m("networking.v1.NetworkPolicyIngressRule", &[
            f(1, "ports", Msg("networking.v1.NetworkPolicyPort"), REP),
            f(2, "from", Msg("networking.v1.NetworkPolicyPeer"), REP),
        ]),
        m("networking.v1.NetworkPolicyPeer", &[
            f(1, "podSelector", Msg("meta.v1.LabelSelector"), PTR),
            f(2, "namespaceSelector", Msg("meta.v1.LabelSelector"), PTR),
            f(3, "ipBlock", Msg("networking.v1.IPBlock"), PTR),
        ]),
        m("networking.v1.NetworkPolicyPort", &[
            f(1, "protocol", Str, PTR), f(2, "port", IntOrString, PTR), f(3, "endPort", I32, PTR),
        ]),
        m("networking.v1.NetworkPolicySpec", &[
            f(1, "podSelector", Msg("meta.v1.LabelSelector"), REQ),
            f(2, "ingress", Msg("networking.v1.NetworkPolicyIngressRule"), REP),
            f(3, "egress", Msg("networking.v1.NetworkPolicyEgressRule"), REP),
            f(4, "policyTypes", Str, REP),
        ]),
        m("networking.v1.NetworkPolicyStatus", &[
            f(1, "conditions", Msg("meta.v1.Condition"), REP),
        ]),
        m("networking.v1.ServiceBackendPort", &[
            f(1, "name", Str, OPT), f(2, "number", I32, OPT),
        ]),
        m("policy.v1.Eviction", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "deleteOptions", Msg("meta.v1.DeleteOptions"), PTR),
        ]),
        m("policy.v1.PodDisruptionBudget", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "spec", Msg("policy.v1.PodDisruptionBudgetSpec"), OPT),
            f(3, "status", Msg("policy.v1.PodDisruptionBudgetStatus"), OPT),
        ]),
        m("policy.v1.PodDisruptionBudgetSpec", &[
            f(1, "minAvailable", IntOrString, PTR),
            f(2, "selector", Msg("meta.v1.LabelSelector"), PTR),
            f(3, "maxUnavailable", IntOrString, PTR), f(4, "unhealthyPodEvictionPolicy", Str, PTR),
        ]),
        m("policy.v1.PodDisruptionBudgetStatus", &[
            f(1, "observedGeneration", I64, OPT), f(2, "disruptedPods", Time, MAP),
            f(3, "disruptionsAllowed", I32, REQ), f(4, "currentHealthy", I32, REQ),
            f(5, "desiredHealthy", I32, REQ), f(6, "expectedPods", I32, REQ),
            f(7, "conditions", Msg("meta.v1.Condition"), REP),
        ]),
        m("rbac.v1.AggregationRule", &[
            f(1, "clusterRoleSelectors", Msg("meta.v1.LabelSelector"), REP),
        ]),
        m("rbac.v1.ClusterRole", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "rules", Msg("rbac.v1.PolicyRule"), REP),
            f(3, "aggregationRule", Msg("rbac.v1.AggregationRule"), PTR),
        ]),
        m("rbac.v1.ClusterRoleBinding", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "subjects", Msg("rbac.v1.Subject"), REP),
            f(3, "roleRef", Msg("rbac.v1.RoleRef"), REQ),
        ]),
        m("rbac.v1.PolicyRule", &[
            f(1, "verbs", Str, REP), f(2, "apiGroups", Str, REP), f(3, "resources", Str, REP),
            f(4, "resourceNames", Str, REP), f(5, "nonResourceURLs", Str, REP),
        ]),
        m("rbac.v1.Role", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "rules", Msg("rbac.v1.PolicyRule"), REP),
        ]),
        m("rbac.v1.RoleBinding", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT),
            f(2, "subjects", Msg("rbac.v1.Subject"), REP),
            f(3, "roleRef", Msg("rbac.v1.RoleRef"), REQ),
        ]),
        m("rbac.v1.RoleRef", &[
            f(1, "apiGroup", Str, REQ), f(2, "kind", Str, REQ), f(3, "name", Str, REQ),
        ]),
        m("rbac.v1.Subject", &[
            f(1, "kind", Str, REQ), f(2, "apiGroup", Str, OPT), f(3, "name", Str, REQ),
            f(4, "namespace", Str, OPT),
        ]),
        m("scheduling.v1.PriorityClass", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT), f(2, "value", I32, REQ),
            f(3, "globalDefault", Bool, OPT), f(4, "description", Str, OPT),
            f(5, "preemptionPolicy", Str, PTR),
        ]),
        m("scheduling.v1alpha3.TopologyConstraint", &[
            f(1, "key", Str, REQ),
        ]),
        m("scheduling.v1alpha3.WorkloadPodGroupAllDisruptionMode", &[]),
        m("scheduling.v1alpha3.WorkloadPodGroupBasicSchedulingPolicy", &[]),
        m("scheduling.v1alpha3.WorkloadPodGroupDisruptionMode", &[
            f(1, "single", Msg("scheduling.v1alpha3.WorkloadPodGroupSingleDisruptionMode"), PTR),
            f(2, "all", Msg("scheduling.v1alpha3.WorkloadPodGroupAllDisruptionMode"), PTR),
        ]),
        m("scheduling.v1alpha3.WorkloadPodGroupGangSchedulingPolicy", &[
            f(1, "minCount", I32, PTR),
        ]),
        m("scheduling.v1alpha3.WorkloadPodGroupResourceClaim", &[
            f(1, "name", Str, REQ), f(2, "resourceClaimName", Str, PTR),
            f(3, "resourceClaimTemplateName", Str, PTR),
        ]),
        m("scheduling.v1alpha3.WorkloadPodGroupSchedulingConstraints", &[
            f(1, "topology", Msg("scheduling.v1alpha3.TopologyConstraint"), REP),
        ]),
        m("scheduling.v1alpha3.WorkloadPodGroupSchedulingPolicy", &[
            f(1, "basic", Msg("scheduling.v1alpha3.WorkloadPodGroupBasicSchedulingPolicy"), PTR),
            f(2, "gang", Msg("scheduling.v1alpha3.WorkloadPodGroupGangSchedulingPolicy"), PTR),
        ]),
        m("scheduling.v1alpha3.WorkloadPodGroupSingleDisruptionMode", &[]),
        m("storage.v1.StorageClass", &[
            f(1, "metadata", Msg("meta.v1.ObjectMeta"), OPT), f(2, "provisioner", Str, REQ),
            f(3, "parameters", Str, MAP), f(4, "reclaimPolicy", Str, PTR),
            f(5, "mountOptions", Str, REP), f(6, "allowVolumeExpansion", Bool, PTR),
            f(7, "volumeBindingMode", Str, PTR),
            f(8, "allowedTopologies", Msg("core.v1.TopologySelectorTerm"), REP),
        ]),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    // The production encoder (`encode`, `encode_message`) writes the test
    // bodies; `independent_encoder_*` tests check it against prost.

    fn encode_msg(name: &'static str, obj: &Map<String, Value>) -> Vec<u8> {
        encode_message(name, obj, 0).unwrap()
    }

    fn encode(obj: &Value) -> Vec<u8> {
        super::encode(obj).unwrap()
    }

    /// decode(encode(v)) == v (key order is checked separately).
    fn round_trip(v: Value) {
        let decoded = decode(&encode(&v)).unwrap();
        assert_eq!(decoded, v);
    }

    // -- Schema table sanity.

    #[test]
    fn schema_table_is_consistent() {
        for table in [schema::MESSAGES, generated::MESSAGES] {
            for pair in table.windows(2) {
                assert!(pair[0].name < pair[1].name, "{} not sorted", pair[1].name);
            }
        }
        for msg in schema::MESSAGES.iter().chain(generated::MESSAGES) {
            assert!(
                schema::MESSAGES
                    .iter()
                    .filter(|m| m.name == msg.name)
                    .count()
                    + generated::MESSAGES
                        .iter()
                        .filter(|m| m.name == msg.name)
                        .count()
                    == 1,
                "{} in both tables",
                msg.name
            );
            let mut nums: Vec<u32> = msg.fields.iter().map(|f| f.num).collect();
            nums.sort_unstable();
            nums.dedup();
            assert_eq!(
                nums.len(),
                msg.fields.len(),
                "duplicate number in {}",
                msg.name
            );
            let mut names: Vec<&str> = msg.fields.iter().map(|f| f.json).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(
                names.len(),
                msg.fields.len(),
                "duplicate name in {}",
                msg.name
            );
            for f in msg.fields {
                if let Ty::Msg(inner) = f.ty {
                    assert!(lookup(inner).is_ok(), "{} -> {inner}", msg.name);
                }
                assert_eq!(f.card == Card::Inline, f.json.is_empty(), "{}", msg.name);
                if f.card == Card::Inline {
                    assert!(matches!(f.ty, Ty::Msg(_)), "{}", msg.name);
                }
                if f.ty == Ty::StringList {
                    assert_eq!(f.card, Card::Map, "{}", msg.name);
                }
            }
        }
        for (_, _, m) in all_kinds() {
            assert!(lookup(m).is_ok(), "{m}");
        }
    }

    #[test]
    fn every_kind_decodes_an_empty_object() {
        for (gv, kind) in supported_kinds() {
            let gv = if gv == "*" { "meta.k8s.io/v1" } else { gv };
            let v = decode(&envelope(gv, kind, &[])).unwrap();
            assert_eq!(v["kind"], kind);
            assert_eq!(v["apiVersion"], gv);
            assert!(supported_kinds().count() > 40);
        }
    }

    // -- What kubectl sends.

    #[test]
    fn kubectl_create_configmap_shape() {
        // Go writes every value field; only the set ones may come out.
        let raw = encode_msg(
            "core.v1.ConfigMap",
            json!({"metadata": {"name": "x", "namespace": "default"}, "data": {"b": "2", "a": "1"}})
                .as_object()
                .unwrap(),
        );
        let v = decode(&envelope("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(
            v.to_string(),
            r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x","namespace":"default"},"data":{"a":"1","b":"2"}}"#
        );
    }

    #[test]
    fn hand_written_envelope() {
        let body: Vec<u8> = [
            &b"k8s\0"[..],
            // 1 typeMeta {1 "v1", 2 "Namespace"}
            &[0x0a, 0x0f, 0x0a, 0x02],
            b"v1",
            &[0x12, 0x09],
            b"Namespace",
            // 2 raw: Namespace{1 metadata{1 "ns", 8 creationTimestamp{}}, 2 spec{}, 3 status{}}
            &[0x12, 0x0c, 0x0a, 0x06, 0x0a, 0x02],
            b"ns",
            &[0x42, 0x00, 0x12, 0x00, 0x1a, 0x00],
            // 3 contentEncoding "", 4 contentType ""
            &[0x1a, 0x00, 0x22, 0x00],
        ]
        .concat();
        assert_eq!(
            decode(&body).unwrap().to_string(),
            r#"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"ns"},"spec":{},"status":{}}"#
        );
    }

    #[test]
    fn repeated_ints_packed_and_unpacked() {
        let data: Vec<u8> = [
            &[0x12, 0x02][..],
            b"In",
            // unpacked 1, 2
            &[0x18, 0x01, 0x18, 0x02],
            // packed 3, 300
            &[0x1a, 0x03, 0x03, 0xac, 0x02],
            // unpacked -1 (int32 sign-extended to ten bytes)
            &[
                0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
        ]
        .concat();
        let v = decode_message("batch.v1.PodFailurePolicyOnExitCodesRequirement", &data, 0);
        assert_eq!(
            Value::Object(v.unwrap()),
            json!({"operator": "In", "values": [1, 2, 3, 300, -1]})
        );
        // int64 list (supplementalGroups) packed.
        let v = decode_message("core.v1.PodSecurityContext", &[0x22, 0x02, 0x05, 0x06], 0);
        assert_eq!(
            Value::Object(v.unwrap()),
            json!({"supplementalGroups": [5, 6]})
        );
    }

    #[test]
    fn scalars_last_occurrence_wins_and_messages_merge() {
        // metadata sent twice: name set twice (last wins), labels in the second.
        let mut first = Vec::new();
        put_bytes(&mut first, 1, b"first");
        put_bytes(&mut first, 1, b"second");
        let mut entry = Vec::new();
        put_bytes(&mut entry, 1, b"k");
        put_bytes(&mut entry, 2, b"v");
        let mut second = Vec::new();
        put_bytes(&mut second, 11, &entry);
        let mut cm = Vec::new();
        put_bytes(&mut cm, 1, &first);
        put_bytes(&mut cm, 1, &second);
        let v = decode(&envelope("v1", "ConfigMap", &cm)).unwrap();
        assert_eq!(
            v["metadata"],
            json!({"name": "second", "labels": {"k": "v"}})
        );
    }

    #[test]
    fn zero_values_follow_go_json() {
        // Pointer zero is kept; omitempty zero dropped; non-omitempty zero kept.
        let raw = encode_msg(
            "core.v1.Service",
            json!({"spec": {"ports": [{"port": 0, "targetPort": 0}], "allocateLoadBalancerNodePorts": false}})
                .as_object()
                .unwrap(),
        );
        let v = decode(&envelope("v1", "Service", &raw)).unwrap();
        assert_eq!(
            v["spec"],
            json!({"ports": [{"port": 0}], "allocateLoadBalancerNodePorts": false})
        );
        assert_eq!(v["status"], json!({"loadBalancer": {}}));
        // Non-omitempty Time zero is null (metav1.Condition.lastTransitionTime).
        let v = decode_message("meta.v1.Condition", &[], 0).unwrap();
        assert_eq!(
            Value::Object(v),
            json!({"type": "", "status": "", "lastTransitionTime": null, "reason": "", "message": ""})
        );
    }

    /// Bodies kubectl v1.37.1 sent to a capture server, and the JSON that
    /// `kubectl <command> --dry-run=client -o json` prints for the same
    /// object (`create token` and `auth can-i` have no dry run: their JSON
    /// follows Go's encoding of the zero fields).
    const KUBECTL_BODIES: &[(&str, &str, &str)] = &[
        (
            "create configmap cm1 --from-literal=a=1 --from-literal=b=2",
            "6b3873000a0f0a0276311209436f6e6669674d617012250a130a03636d3112001a0022002a003200\
             3800420012060a016112013112060a01621201321a002200",
            r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm1"},"data":{"a":"1","b":"2"}}"#,
        ),
        (
            "create secret generic s1 --from-literal=pw=hunter2",
            "6b3873000a0c0a027631120653656372657412250a120a02733112001a0022002a00320038004200\
             120d0a027077120768756e746572321a001a002200",
            r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s1"},"data":{"pw":"aHVudGVyMg=="}}"#,
        ),
        (
            "create deployment web --image=nginx --replicas=2 --port=80",
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b8010a1f0a0377656212001a\
             0022002a003200380042005a0a0a0361707012037765621286010802120c0a0a0a03617070120377\
             65621a6c0a1c0a0012001a0022002a003200380042005a0a0a036170701203776562124c122e0a05\
             6e67696e7812056e67696e782a00320a0a001000185022002a0042006a0072008001008801009001\
             00a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a0028003800\
             1a0c0800100018002000280038001a002200",
            r#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx","ports":[{"containerPort":80}],"resources":{}}]}},"strategy":{}},"status":{}}"#,
        ),
        (
            "create service clusterip svc1 --tcp=80:8080",
            "6b3873000a0d0a027631120753657276696365126c0a210a047376633112001a0022002a00320038\
             0042005a0b0a0361707012047376633112430a1b0a0738302d383038301203544350185022070800\
             10903f1a002800120b0a036170701204737663311a002209436c757374657249503a00420052005a\
             00600068001a020a001a002200",
            r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"svc1","labels":{"app":"svc1"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"svc1"},"type":"ClusterIP"},"status":{"loadBalancer":{}}}"#,
        ),
        (
            "create job j1 --image=busybox -- echo hi",
            "6b3873000a0f0a0862617463682f763112034a6f621284010a120a026a3112001a0022002a003200\
             38004200126432620a100a0012001a0022002a00320038004200124e122b0a026a31120762757379\
             626f781a046563686f1a0268692a0042006a007200800100880100900100a201001a054e65766572\
             320042004a0052005800600068008201008a01009a0100c201001a082000280030003a001a002200",
            r#"{"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"j1"},"spec":{"template":{"metadata":{},"spec":{"containers":[{"name":"j1","image":"busybox","command":["echo","hi"],"resources":{}}],"restartPolicy":"Never"}}},"status":{}}"#,
        ),
        (
            "create namespace ns1",
            "6b3873000a0f0a02763112094e616d657370616365121b0a130a036e733112001a0022002a003200\
             3800420012001a020a001a002200",
            r#"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"ns1"},"spec":{},"status":{}}"#,
        ),
        (
            "create priorityclass high --value=1000 --description=x",
            "6b3873000a250a147363686564756c696e672e6b38732e696f2f7631120d5072696f72697479436c\
             61737312340a140a046869676812001a0022002a0032003800420010e80718002201782a14507265\
             656d70744c6f7765725072696f726974791a002200",
            r#"{"kind":"PriorityClass","apiVersion":"scheduling.k8s.io/v1","metadata":{"name":"high"},"value":1000,"description":"x","preemptionPolicy":"PreemptLowerPriority"}"#,
        ),
        (
            "create pdb p1 --selector=app=web --min-available=50%",
            "6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e427564676574123b\
             0a120a02703112001a0022002a0032003800420012190a09080110001a03353025120c0a0a0a0361\
             707012037765621a0a080018002000280030001a002200",
            r#"{"kind":"PodDisruptionBudget","apiVersion":"policy/v1","metadata":{"name":"p1"},"spec":{"minAvailable":"50%","selector":{"matchLabels":{"app":"web"}}},"status":{"disruptionsAllowed":0,"currentHealthy":0,"desiredHealthy":0,"expectedPods":0}}"#,
        ),
        (
            "create token sa1 --audience=api --duration=10m",
            "6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e52\
             65717565737412220a100a0012001a0022002a0032003800420012080a0361706920d8041a040a00\
             12001a002200",
            r#"{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","metadata":{},"spec":{"audiences":["api"],"expirationSeconds":600},"status":{"token":"","expirationTimestamp":null}}"#,
        ),
        (
            "auth can-i get pods",
            "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c66537562\
             6a656374416363657373526576696577123c0a100a0012001a0022002a00320038004200121e0a1c\
             0a0764656661756c7412036765741a0022002a04706f647332003a001a08080012001a0020001a00\
             2200",
            r#"{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{},"spec":{"resourceAttributes":{"namespace":"default","verb":"get","resource":"pods"}},"status":{"allowed":false}}"#,
        ),
    ];

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn kubectl_bodies_decode_to_kubectl_json() {
        for (command, body, want) in KUBECTL_BODIES {
            let got = decode(&unhex(body)).unwrap();
            assert_eq!(got.to_string(), *want, "kubectl {command}");
        }
    }

    // -- Round trips.

    #[test]
    fn round_trip_configmap() {
        round_trip(json!({
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {
                "name": "cfg", "namespace": "default", "uid": "0b5b2f4e-1111-2222-3333-444455556666",
                "resourceVersion": "42", "creationTimestamp": "2026-01-02T03:04:05Z",
                "labels": {"app": "web", "tier": "fe"}, "annotations": {"note": "x"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                    "uid": "u1", "controller": true, "blockOwnerDeletion": true}],
                "finalizers": ["example.com/f"]
            },
            "immutable": false,
            "data": {"a": "1", "b": ""},
            "binaryData": {"bin": "AAEC/w=="}
        }));
    }

    #[test]
    fn round_trip_secret() {
        round_trip(json!({
            "kind": "Secret", "apiVersion": "v1",
            "metadata": {"name": "s", "namespace": "ns", "generateName": "s-",
                "deletionTimestamp": "2026-02-03T04:05:06Z", "deletionGracePeriodSeconds": 0,
                "generation": 3},
            "immutable": true,
            "data": {"password": "aHVudGVyMg==", "empty": ""},
            "stringData": {"user": "admin"},
            "type": "Opaque"
        }));
    }

    #[test]
    fn round_trip_service() {
        round_trip(json!({
            "kind": "Service", "apiVersion": "v1",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "appProtocol": "http", "port": 80,
                        "targetPort": 8080, "nodePort": 30080},
                    {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "metrics"}
                ],
                "selector": {"app": "web"},
                "clusterIP": "10.0.0.10", "clusterIPs": ["10.0.0.10"], "type": "NodePort",
                "externalIPs": ["1.2.3.4"], "sessionAffinity": "ClientIP",
                "loadBalancerIP": "5.6.7.8", "loadBalancerSourceRanges": ["0.0.0.0/0"],
                "externalName": "ext.example.com", "externalTrafficPolicy": "Local",
                "healthCheckNodePort": 30000, "publishNotReadyAddresses": true,
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "allocateLoadBalancerNodePorts": true, "loadBalancerClass": "lb",
                "internalTrafficPolicy": "Cluster"
            },
            "status": {"loadBalancer": {"ingress": [{"ip": "9.9.9.9",
                "ports": [{"port": 80, "protocol": "TCP"}]}]}}
        }));
    }

    fn deployment() -> Value {
        // A string: the json! macro would exceed the default recursion limit.
        serde_json::from_str(
            r#"{
            "kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {
                "name": "web", "namespace": "default", "uid": "d1", "resourceVersion": "7",
                "generation": 2, "creationTimestamp": "2026-01-02T03:04:05Z",
                "labels": {"app": "web"},
                "annotations": {"deployment.kubernetes.io/revision": "1"}
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"},
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "volumes": [
                            {"name": "cfg", "configMap": {"name": "web-cfg",
                                "items": [{"key": "a", "path": "a.txt", "mode": 256}], "defaultMode": 420}},
                            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
                            {"name": "sec", "secret": {"secretName": "s", "defaultMode": 384, "optional": true}},
                            {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
                            {"name": "pvc", "persistentVolumeClaim": {"claimName": "data", "readOnly": true}},
                            {"name": "dapi", "downwardAPI": {"items": [{"path": "labels",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}}]}},
                            {"name": "proj", "projected": {"sources": [
                                {"serviceAccountToken": {"audience": "api", "expirationSeconds": 3600, "path": "token"}},
                                {"configMap": {"name": "ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}
                            ], "defaultMode": 420}}
                        ],
                        "initContainers": [{"name": "init", "image": "busybox",
                            "command": ["sh", "-c", "true"], "resources": {}}],
                        "containers": [{
                            "name": "web", "image": "nginx:1.25", "command": ["nginx"],
                            "args": ["-g", "daemon off;"], "workingDir": "/srv",
                            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"},
                                {"hostPort": 8443, "containerPort": 443, "protocol": "TCP", "hostIP": "0.0.0.0"}],
                            "envFrom": [{"configMapRef": {"name": "web-env"}},
                                {"prefix": "S_", "secretRef": {"name": "web-sec", "optional": true}}],
                            "env": [
                                {"name": "A", "value": "1"},
                                {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "b"}}},
                                {"name": "C", "valueFrom": {"secretKeyRef": {"name": "s", "key": "c", "optional": false}}},
                                {"name": "D", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
                                {"name": "E", "valueFrom": {"resourceFieldRef": {"containerName": "web",
                                    "resource": "limits.cpu", "divisor": "1m"}}}
                            ],
                            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m"}},
                            "volumeMounts": [{"name": "cfg", "readOnly": true, "mountPath": "/etc/web", "subPath": "x"}],
                            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP",
                                    "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                                "initialDelaySeconds": 5, "timeoutSeconds": 1, "periodSeconds": 10,
                                "successThreshold": 1, "failureThreshold": 3},
                            "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
                            "startupProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "failureThreshold": 30},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent",
                            "securityContext": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
                                "privileged": false, "runAsUser": 1000, "runAsNonRoot": true,
                                "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false},
                            "stdin": true, "stdinOnce": true, "tty": true
                        }],
                        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                        "activeDeadlineSeconds": 100,
                        "dnsPolicy": "ClusterFirst", "nodeSelector": {"disk": "ssd"},
                        "serviceAccountName": "web", "serviceAccount": "web",
                        "automountServiceAccountToken": false, "nodeName": "node-1",
                        "hostNetwork": true, "hostPID": true, "hostIPC": true,
                        "shareProcessNamespace": true,
                        "securityContext": {"runAsUser": 1000, "supplementalGroups": [1, 2], "fsGroup": 2000},
                        "imagePullSecrets": [{"name": "regcred"}],
                        "hostname": "h", "subdomain": "sub",
                        "affinity": {"nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]},
                            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1,
                                "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}}]}},
                        "schedulerName": "default-scheduler",
                        "tolerations": [
                            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
                            {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                "effect": "NoExecute", "tolerationSeconds": 300}
                        ],
                        "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a.local"]}],
                        "priorityClassName": "high", "priority": 1000,
                        "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["svc"],
                            "options": [{"name": "ndots", "value": "2"}]},
                        "readinessGates": [{"conditionType": "Ready2"}],
                        "runtimeClassName": "runc", "enableServiceLinks": true,
                        "preemptionPolicy": "Never", "overhead": {"cpu": "10m"},
                        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                            "whenUnsatisfiable": "DoNotSchedule",
                            "labelSelector": {"matchLabels": {"app": "web"}}}],
                        "setHostnameAsFQDN": false, "os": {"name": "linux"}, "hostUsers": true
                    }
                },
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
                "minReadySeconds": 5, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600
            },
            "status": {
                "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
                "availableReplicas": 3,
                "conditions": [{"type": "Available", "status": "True",
                    "lastUpdateTime": "2026-01-02T03:04:05Z", "lastTransitionTime": "2026-01-02T03:04:05Z",
                    "reason": "MinimumReplicasAvailable", "message": "ok"}]
            }
        }"#,
        )
        .unwrap()
    }

    #[test]
    fn round_trip_deployment() {
        round_trip(deployment());
    }

    #[test]
    fn round_trip_kubectl_create_deployment() {
        // What `kubectl create deployment web --image=nginx` builds.
        round_trip(json!({
            "kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}
                },
                "strategy": {}
            },
            "status": {}
        }));
    }

    #[test]
    fn round_trip_replicaset_statefulset_daemonset() {
        let template = json!({"metadata": {}, "spec": {"containers": [{"name": "c", "image": "i", "resources": {}}]}});
        round_trip(json!({
            "kind": "ReplicaSet", "apiVersion": "apps/v1", "metadata": {"name": "rs"},
            "spec": {"replicas": 2, "minReadySeconds": 1, "selector": {"matchLabels": {"a": "b"}}, "template": template},
            "status": {"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 1, "observedGeneration": 1}
        }));
        round_trip(json!({
            "kind": "StatefulSet", "apiVersion": "apps/v1", "metadata": {"name": "db"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}}, "template": template,
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}}}, "status": {}}],
                "serviceName": "db", "podManagementPolicy": "Parallel",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "revisionHistoryLimit": 10,
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"},
                "ordinals": {"start": 0}},
            "status": {"replicas": 1, "availableReplicas": 1}
        }));
        round_trip(json!({
            "kind": "DaemonSet", "apiVersion": "apps/v1", "metadata": {"name": "ds"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": template,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
            "status": {"currentNumberScheduled": 1, "numberMisscheduled": 0, "desiredNumberScheduled": 1,
                "numberReady": 1}
        }));
    }

    #[test]
    fn round_trip_job_and_cronjob() {
        let job_spec = json!({
            "parallelism": 1, "completions": 1, "backoffLimit": 6,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
            "manualSelector": false,
            "template": {"metadata": {"labels": {"job-name": "pi"}}, "spec": {
                "containers": [{"name": "pi", "image": "perl", "command": ["perl", "-e", "1"], "resources": {}}],
                "restartPolicy": "Never"}},
            "ttlSecondsAfterFinished": 100, "completionMode": "NonIndexed", "suspend": false,
            "podFailurePolicy": {"rules": [{"action": "FailJob",
                "onExitCodes": {"operator": "In", "values": [42]}}]},
            "podReplacementPolicy": "TerminatingOrFailed"
        });
        round_trip(json!({
            "kind": "Job", "apiVersion": "batch/v1",
            "metadata": {"name": "pi", "annotations": {"cronjob.kubernetes.io/instantiate": "manual"}},
            "spec": job_spec,
            "status": {"conditions": [{"type": "Complete", "status": "True",
                    "lastProbeTime": "2026-01-02T03:04:05Z", "lastTransitionTime": "2026-01-02T03:04:05Z"}],
                "startTime": "2026-01-02T03:00:00Z", "completionTime": "2026-01-02T03:04:05Z",
                "succeeded": 1, "ready": 0, "uncountedTerminatedPods": {}}
        }));
        round_trip(json!({
            "kind": "CronJob", "apiVersion": "batch/v1", "metadata": {"name": "hourly"},
            "spec": {"schedule": "0 * * * *", "timeZone": "UTC", "concurrencyPolicy": "Forbid",
                "suspend": false,
                "jobTemplate": {"metadata": {"name": "hourly"}, "spec": job_spec},
                "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1},
            "status": {"active": [{"kind": "Job", "namespace": "default", "name": "hourly-1"}],
                "lastScheduleTime": "2026-01-02T03:00:00Z"}
        }));
    }

    #[test]
    fn round_trip_namespace_serviceaccount_priorityclass() {
        round_trip(json!({
            "kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "team-a"},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}
        }));
        round_trip(json!({
            "kind": "ServiceAccount", "apiVersion": "v1",
            "metadata": {"name": "builder", "namespace": "ci"},
            "secrets": [{"name": "builder-token"}], "imagePullSecrets": [{"name": "reg"}],
            "automountServiceAccountToken": false
        }));
        round_trip(json!({
            "kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1",
            "metadata": {"name": "high"}, "value": -5, "globalDefault": true,
            "description": "important", "preemptionPolicy": "Never"
        }));
        round_trip(json!({
            "kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1",
            "metadata": {"name": "zero"}, "value": 0
        }));
    }

    #[test]
    fn round_trip_eviction_and_delete_options() {
        round_trip(json!({
            "kind": "Eviction", "apiVersion": "policy/v1",
            "metadata": {"name": "web-1", "namespace": "default"},
            "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "u", "resourceVersion": "9"},
                "propagationPolicy": "Background", "dryRun": ["All"]}
        }));
        round_trip(json!({
            "kind": "DeleteOptions", "apiVersion": "apps/v1",
            "gracePeriodSeconds": 30, "orphanDependents": false
        }));
    }

    #[test]
    fn round_trip_pod_binding_scale_lease_event_node() {
        round_trip(json!({
            "kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": {}}],
                "schedulingGates": [{"name": "g"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                    "lastTransitionTime": "2026-01-02T03:04:05Z"}],
                "hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.1"}], "podIP": "10.1.0.5",
                "podIPs": [{"ip": "10.1.0.5"}], "startTime": "2026-01-02T03:04:05Z",
                "containerStatuses": [{"name": "c", "state": {"running": {"startedAt": "2026-01-02T03:04:06Z"}},
                    "lastState": {}, "ready": true, "restartCount": 0, "image": "i", "imageID": "sha",
                    "containerID": "containerd://x", "started": true}],
                "qosClass": "BestEffort"}
        }));
        round_trip(json!({
            "kind": "Binding", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "default"},
            "target": {"kind": "Node", "name": "node-1"}
        }));
        round_trip(json!({
            "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 5}, "status": {"replicas": 3, "selector": "app=web"}
        }));
        round_trip(json!({
            "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
            "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                "acquireTime": "2026-01-02T03:04:05.000000Z", "renewTime": "2026-01-02T03:04:05.123456Z",
                "leaseTransitions": 0}
        }));
        round_trip(json!({
            "kind": "Event", "apiVersion": "v1", "metadata": {"name": "e1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "p", "uid": "u",
                "apiVersion": "v1", "resourceVersion": "1", "fieldPath": "spec.containers{c}"},
            "reason": "Pulled", "message": "pulled", "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2026-01-02T03:04:05Z", "lastTimestamp": "2026-01-02T03:04:05Z",
            "count": 1, "type": "Normal", "eventTime": "2026-01-02T03:04:05.000001Z",
            "reportingComponent": "kubelet", "reportingInstance": "node-1"
        }));
        round_trip(json!({
            "kind": "Node", "apiVersion": "v1", "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
            "spec": {"podCIDR": "10.1.0.0/24", "podCIDRs": ["10.1.0.0/24"], "providerID": "kubemark://node-1",
                "unschedulable": true,
                "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule",
                    "timeAdded": "2026-01-02T03:04:05Z"}]},
            "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "3900m", "memory": "15Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-01-02T03:04:05Z",
                    "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "KubeletReady", "message": "ready"}],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"machineID": "m", "systemUUID": "s", "bootID": "b", "kernelVersion": "6",
                    "osImage": "linux", "containerRuntimeVersion": "containerd://1", "kubeletVersion": "v1.24.0",
                    "kubeProxyVersion": "v1.24.0", "operatingSystem": "linux", "architecture": "amd64"},
                "images": [{"names": ["nginx"], "sizeBytes": 1000}]}
        }));
    }

    #[test]
    fn round_trip_other_groups() {
        round_trip(json!({
            "kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2",
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 1, "maxReplicas": 10,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80}}}]},
            "status": {"desiredReplicas": 0}
        }));
        round_trip(json!({
            "kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "b"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "default"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
        }));
        round_trip(json!({
            "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}},
            "status": {"allowed": false}
        }));
        round_trip(json!({
            "kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {},
            "spec": {"user": "bob", "groups": ["dev"], "extra": {"scopes": ["a", "b"], "none": []}},
            "status": {"allowed": true}
        }));
        round_trip(json!({
            "kind": "ControllerRevision", "apiVersion": "apps/v1", "metadata": {"name": "r"},
            "data": {"spec": {"template": {"x": [1, 2, {"y": null}]}}}, "revision": 2
        }));
        round_trip(json!({
            "kind": "PodDisruptionBudget", "apiVersion": "policy/v1", "metadata": {"name": "pdb"},
            "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"a": "b"}}},
            "status": {"disruptedPods": {"p1": "2026-01-02T03:04:05Z"}, "disruptionsAllowed": 1,
                "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2}
        }));
        round_trip(json!({
            "kind": "CertificateSigningRequest", "apiVersion": "certificates.k8s.io/v1",
            "metadata": {"name": "csr"},
            "spec": {"request": "LS0tLS1CRUdJTg==", "signerName": "kubernetes.io/kube-apiserver-client",
                "usages": ["client auth"]},
            "status": {}
        }));
    }

    #[test]
    fn managed_fields_carry_embedded_json() {
        round_trip(json!({
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": "c", "managedFields": [{"manager": "kubectl", "operation": "Update",
                "apiVersion": "v1", "time": "2026-01-02T03:04:05Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:a": {}}}}]}
        }));
    }

    #[test]
    fn raw_extension_may_hold_a_protobuf_object() {
        let inner =
            encode(&json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}}));
        let mut raw = Vec::new();
        put_bytes(&mut raw, 1, &inner);
        let mut rev = Vec::new();
        put_bytes(&mut rev, 2, &raw);
        put_int(&mut rev, 3, 1);
        let v = decode(&envelope("apps/v1", "ControllerRevision", &rev)).unwrap();
        assert_eq!(
            v["data"],
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}})
        );
    }

    // -- Times.

    #[test]
    fn time_formatting() {
        let cases = [
            (1_767_323_045, 0, false, "2026-01-02T03:04:05Z"),
            (1_709_251_199, 999_999_999, false, "2024-02-29T23:59:59Z"),
            (-1, 0, false, "1969-12-31T23:59:59Z"),
            (
                1_767_323_045,
                123_456_789,
                true,
                "2026-01-02T03:04:05.123456Z",
            ),
            (1_767_323_045, 0, true, "2026-01-02T03:04:05.000000Z"),
            (0, 1_500_000_000, false, "1970-01-01T00:00:01Z"),
            (253_402_300_799, 0, false, "9999-12-31T23:59:59Z"),
        ];
        for (secs, nanos, micro, want) in cases {
            assert_eq!(format_time(secs, nanos, micro).as_deref(), Some(want));
        }
        assert_eq!(format_time(253_402_300_800, 0, false), None);
        assert_eq!(format_time(i64::MAX, 0, false), None);
        assert_eq!(format_time(i64::MIN, -1, false), None);
    }

    #[test]
    fn zero_creation_timestamp_is_dropped() {
        // Explicit zeros as some encoders write them.
        let mut ts = Vec::new();
        put_int(&mut ts, 1, 0);
        put_int(&mut ts, 2, 0);
        let mut meta = Vec::new();
        put_bytes(&mut meta, 1, b"x");
        put_bytes(&mut meta, 8, &ts);
        let mut cm = Vec::new();
        put_bytes(&mut cm, 1, &meta);
        let v = decode(&envelope("v1", "ConfigMap", &cm)).unwrap();
        assert_eq!(v["metadata"], json!({"name": "x"}));
    }

    // -- Errors.

    fn configmap_with(extra: &[u8]) -> Vec<u8> {
        envelope("v1", "ConfigMap", extra)
    }

    #[test]
    fn errors() {
        let with_magic = |b: &[u8]| [&MAGIC[..], b].concat();
        let cases: Vec<(Vec<u8>, ProtobufError)> = vec![
            (vec![], ProtobufError::MissingMagic),
            (b"k8s".to_vec(), ProtobufError::MissingMagic),
            (b"{\"kind\":1}".to_vec(), ProtobufError::MissingMagic),
            (
                with_magic(&[0x0a, 0x80]),
                ProtobufError::Truncated { message: UNKNOWN },
            ),
            (
                with_magic(&[0x0a, 0x05, 0x01]),
                ProtobufError::Truncated { message: UNKNOWN },
            ),
            (
                with_magic(&[
                    0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ]),
                ProtobufError::Truncated { message: UNKNOWN },
            ),
            (
                with_magic(&[
                    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
                ]),
                ProtobufError::VarintOverflow { message: UNKNOWN },
            ),
            (
                with_magic(&[0x0b]),
                ProtobufError::Truncated { message: UNKNOWN },
            ),
            (
                // An empty group in a known field: a wire type mismatch.
                with_magic(&[0x0b, 0x0c]),
                ProtobufError::WireType {
                    message: UNKNOWN,
                    field: 1,
                    wire_type: 3,
                },
            ),
            (
                with_magic(&[0x0e]),
                ProtobufError::WireType {
                    message: UNKNOWN,
                    field: 1,
                    wire_type: 6,
                },
            ),
            (
                with_magic(&[0x09, 0, 0, 0, 0, 0, 0, 0, 0]),
                ProtobufError::WireType {
                    message: UNKNOWN,
                    field: 1,
                    wire_type: 1,
                },
            ),
            (
                with_magic(&[0x08, 0x01]),
                ProtobufError::WireType {
                    message: UNKNOWN,
                    field: 1,
                    wire_type: 0,
                },
            ),
            (
                with_magic(&[0x02, 0x00]),
                ProtobufError::InvalidTag {
                    message: UNKNOWN,
                    tag: 2,
                },
            ),
            (
                // An unknown envelope field is skipped; the kind stays empty.
                with_magic(&[0x2a, 0x00]),
                ProtobufError::UnsupportedKind {
                    api_version: String::new(),
                    kind: String::new(),
                },
            ),
            (
                // metadata.name as a varint
                configmap_with(&[0x0a, 0x02, 0x08, 0x01]),
                ProtobufError::WireType {
                    message: "meta.v1.ObjectMeta",
                    field: 1,
                    wire_type: 0,
                },
            ),
            (
                // immutable as bytes
                configmap_with(&[0x20, 0x01, 0x22, 0x00]),
                ProtobufError::WireType {
                    message: "core.v1.ConfigMap",
                    field: 4,
                    wire_type: 2,
                },
            ),
            (
                configmap_with(&[0x0a, 0x03, 0x0a, 0x01, 0xff]),
                ProtobufError::InvalidUtf8 {
                    message: "meta.v1.ObjectMeta",
                    field: 1,
                },
            ),
            (
                envelope("v1", "Widget", &[]),
                ProtobufError::UnsupportedKind {
                    api_version: "v1".into(),
                    kind: "Widget".into(),
                },
            ),
            (
                envelope("apps/v1", "ConfigMap", &[]),
                ProtobufError::UnsupportedKind {
                    api_version: "apps/v1".into(),
                    kind: "ConfigMap".into(),
                },
            ),
        ];
        for (body, want) in cases {
            assert_eq!(decode(&body), Err(want), "body {body:02x?}");
        }
    }

    #[test]
    fn envelope_encoding_and_content_type() {
        let mut tm = Vec::new();
        put_bytes(&mut tm, 1, b"v1");
        put_bytes(&mut tm, 2, b"ConfigMap");
        let mut u = Vec::new();
        put_bytes(&mut u, 1, &tm);
        put_bytes(&mut u, 3, b"gzip");
        let body = [&MAGIC[..], &u].concat();
        assert_eq!(
            decode(&body),
            Err(ProtobufError::UnsupportedEncoding("gzip".into()))
        );
        let mut u = Vec::new();
        put_bytes(&mut u, 1, &tm);
        put_bytes(&mut u, 4, b"application/json");
        let body = [&MAGIC[..], &u].concat();
        assert_eq!(
            decode(&body),
            Err(ProtobufError::UnsupportedContentType(
                "application/json".into()
            ))
        );
        let mut u = Vec::new();
        put_bytes(&mut u, 1, &tm);
        put_bytes(&mut u, 4, CONTENT_TYPE.as_bytes());
        let body = [&MAGIC[..], &u].concat();
        assert!(decode(&body).is_ok());
    }

    #[test]
    fn invalid_special_values() {
        let service_port = |target: &[u8]| {
            let mut port = Vec::new();
            put_bytes(&mut port, 4, target);
            let mut spec = Vec::new();
            put_bytes(&mut spec, 1, &port);
            let mut svc = Vec::new();
            put_bytes(&mut svc, 2, &spec);
            envelope("v1", "Service", &svc)
        };
        assert!(matches!(
            decode(&service_port(&[0x08, 0x02])),
            Err(ProtobufError::InvalidValue {
                message: "core.v1.ServicePort",
                field: 4,
                ..
            })
        ));
        // An unknown field inside IntOrString is skipped.
        assert_eq!(
            decode(&service_port(&[0x20, 0x01, 0x10, 0x07]))
                .unwrap()
                .pointer("/spec/ports/0/targetPort"),
            Some(&json!(7))
        );
        // creationTimestamp far beyond year 9999.
        let mut ts = Vec::new();
        put_int(&mut ts, 1, i64::MAX);
        let mut meta = Vec::new();
        put_bytes(&mut meta, 8, &ts);
        let mut cm = Vec::new();
        put_bytes(&mut cm, 1, &meta);
        assert!(matches!(
            decode(&envelope("v1", "ConfigMap", &cm)),
            Err(ProtobufError::InvalidValue {
                message: "meta.v1.ObjectMeta",
                field: 8,
                ..
            })
        ));
        // Empty quantity string.
        let mut q = Vec::new();
        put_bytes(&mut q, 1, b"");
        let mut entry = Vec::new();
        put_bytes(&mut entry, 1, b"cpu");
        put_bytes(&mut entry, 2, &q);
        let mut quota_spec = Vec::new();
        put_bytes(&mut quota_spec, 1, &entry);
        let mut quota = Vec::new();
        put_bytes(&mut quota, 2, &quota_spec);
        assert!(matches!(
            decode(&envelope("v1", "ResourceQuota", &quota)),
            Err(ProtobufError::InvalidValue {
                message: "core.v1.ResourceQuotaSpec",
                field: 1,
                ..
            })
        ));
        // Invalid embedded JSON in a RawExtension.
        let mut raw = Vec::new();
        put_bytes(&mut raw, 1, b"{not json");
        let mut rev = Vec::new();
        put_bytes(&mut rev, 2, &raw);
        assert!(matches!(
            decode(&envelope("apps/v1", "ControllerRevision", &rev)),
            Err(ProtobufError::InvalidValue {
                message: "apps.v1.ControllerRevision",
                field: 2,
                ..
            })
        ));
    }

    #[test]
    fn deep_nesting_is_refused() {
        // ControllerRevisions nested through RawExtension, far past the limit.
        let mut body = encode(&json!({"kind": "ConfigMap", "apiVersion": "v1"}));
        for _ in 0..100 {
            let mut raw = Vec::new();
            put_bytes(&mut raw, 1, &body);
            let mut rev = Vec::new();
            put_bytes(&mut rev, 2, &raw);
            body = envelope("apps/v1", "ControllerRevision", &rev);
        }
        assert_eq!(decode(&body), Err(ProtobufError::TooDeep(MAX_DEPTH)));
    }

    // -- Random valid bodies, with and without unknown fields.

    /// A small deterministic generator (xorshift64*), so that the same seed
    /// writes the same known fields with or without unknown ones.
    #[derive(Clone)]
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
        fn text(&mut self) -> String {
            let n = self.below(6);
            (0..n)
                .map(|_| (b'a' + self.below(26) as u8) as char)
                .collect()
        }
    }

    /// Writes random unknown fields of every wire type: numbers the
    /// message does not use (clusterName's 15 for ObjectMeta included).
    fn put_unknown(out: &mut Vec<u8>, known: &[u32], rng: &mut Rng) {
        let num = loop {
            let n = if rng.chance(20) {
                15
            } else {
                1 + rng.below(3000) as u32
            };
            if !known.contains(&n) {
                break n;
            }
        };
        match rng.below(5) {
            0 => put_int(out, num, rng.next() as i64),
            1 => {
                put_key(out, num, 1);
                out.extend_from_slice(&rng.next().to_le_bytes());
            }
            2 => {
                let len = rng.below(12) as usize;
                let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                put_bytes(out, num, &junk);
            }
            3 => {
                put_key(out, num, 5);
                out.extend_from_slice(&(rng.next() as u32).to_le_bytes());
            }
            _ => {
                // A group holding a varint and a string, then its end tag.
                put_key(out, num, 3);
                put_int(out, 1, 7);
                put_bytes(out, 2, b"g");
                put_key(out, num, 4);
            }
        }
    }

    /// A random valid message `name`: content from `content`, unknown
    /// fields (when `unknown` is given) from a second generator, so that the
    /// known fields are identical either way.
    fn random_message(
        name: &'static str,
        content: &mut Rng,
        unknown: &mut Option<Rng>,
        depth: usize,
    ) -> Vec<u8> {
        let msg = lookup(name).unwrap();
        let known: Vec<u32> = msg.fields.iter().map(|f| f.num).collect();
        let mut out = Vec::new();
        for f in msg.fields {
            maybe_unknown(&mut out, &known, unknown);
            if !content.chance(60) {
                continue;
            }
            let count = match f.card {
                Card::Rep | Card::Map => content.below(3),
                _ => 1,
            };
            for _ in 0..count {
                let mut value = Vec::new();
                let num = if f.card == Card::Map { 2 } else { f.num };
                if !random_value(&mut value, num, f.ty, content, unknown, depth) {
                    continue;
                }
                if f.card == Card::Map {
                    let mut entry = Vec::new();
                    put_bytes(&mut entry, 1, content.text().as_bytes());
                    entry.extend(value);
                    put_bytes(&mut out, f.num, &entry);
                } else {
                    out.extend(value);
                }
            }
        }
        maybe_unknown(&mut out, &known, unknown);
        out
    }

    fn maybe_unknown(out: &mut Vec<u8>, known: &[u32], unknown: &mut Option<Rng>) {
        if let Some(u) = unknown.as_mut() {
            while u.chance(30) {
                put_unknown(out, known, u);
            }
        }
    }

    /// One random value of `ty` as field `num`; false when nothing was
    /// written (messages beyond the depth limit).
    fn random_value(
        out: &mut Vec<u8>,
        num: u32,
        ty: Ty,
        content: &mut Rng,
        unknown: &mut Option<Rng>,
        depth: usize,
    ) -> bool {
        match ty {
            Ty::Str => put_bytes(out, num, content.text().as_bytes()),
            Ty::Bytes => {
                let b: Vec<u8> = (0..content.below(5))
                    .map(|_| content.next() as u8)
                    .collect();
                put_bytes(out, num, &b);
            }
            Ty::Bool => put_int(out, num, content.below(2) as i64),
            Ty::I32 => put_int(out, num, i64::from(content.next() as i32)),
            Ty::I64 => put_int(out, num, content.next() as i64),
            Ty::Msg(inner) => {
                if depth > 5 {
                    return false;
                }
                put_bytes(
                    out,
                    num,
                    &random_message(inner, content, unknown, depth + 1),
                );
            }
            Ty::Time | Ty::MicroTime => {
                let mut t = Vec::new();
                put_int(
                    &mut t,
                    1,
                    1_000_000_000 + content.below(2_000_000_000) as i64,
                );
                put_int(&mut t, 2, content.below(1_000_000_000) as i64);
                put_bytes(out, num, &t);
            }
            Ty::Quantity => {
                let mut q = Vec::new();
                let choices = ["100m", "1Gi", "2", "0.5", "1e3"];
                put_bytes(&mut q, 1, choices[content.below(5) as usize].as_bytes());
                put_bytes(out, num, &q);
            }
            Ty::IntOrString => {
                let mut i = Vec::new();
                if content.chance(50) {
                    put_int(&mut i, 1, 0);
                    put_int(&mut i, 2, content.below(1000) as i64);
                } else {
                    put_int(&mut i, 1, 1);
                    put_bytes(&mut i, 3, format!("{}%", content.below(100)).as_bytes());
                }
                put_bytes(out, num, &i);
            }
            Ty::RawExtension | Ty::FieldsV1 => {
                let mut r = Vec::new();
                let json = format!("{{\"f:{}\":{{}}}}", content.text());
                put_bytes(&mut r, 1, json.as_bytes());
                put_bytes(out, num, &r);
            }
            Ty::StringList => {
                let mut l = Vec::new();
                for _ in 0..content.below(3) {
                    put_bytes(&mut l, 1, content.text().as_bytes());
                }
                put_bytes(out, num, &l);
            }
        }
        true
    }

    /// A random valid body of kind `index` (or of its list), with unknown
    /// fields inserted everywhere when `unknown_seed` is given, the
    /// envelope and the list included.
    fn random_body(index: usize, list: bool, seed: u64, unknown_seed: Option<u64>) -> Vec<u8> {
        let kinds: Vec<_> = all_kinds().collect();
        let (gv, kind, message) = *kinds[index % kinds.len()];
        let gv = if gv == "*" { "meta.k8s.io/v1" } else { gv };
        let mut content = Rng(seed | 1);
        let mut unknown = unknown_seed.map(|s| Rng(s | 1));
        let mut u2 = unknown.clone();
        let mut extra = |out: &mut Vec<u8>, known: &[u32]| maybe_unknown(out, known, &mut unknown);
        let (kind, raw) = if list {
            let mut raw = Vec::new();
            extra(&mut raw, &[1, 2]);
            put_bytes(
                &mut raw,
                1,
                &random_message(LIST_META, &mut content, &mut u2, 0),
            );
            for _ in 0..content.below(3) {
                let item = random_message(message, &mut content, &mut u2, 0);
                put_bytes(&mut raw, 2, &item);
                extra(&mut raw, &[1, 2]);
            }
            (format!("{kind}List"), raw)
        } else {
            (
                kind.to_string(),
                random_message(message, &mut content, &mut u2, 0),
            )
        };
        let mut type_meta = Vec::new();
        put_bytes(&mut type_meta, 1, gv.as_bytes());
        extra(&mut type_meta, &[1, 2]);
        put_bytes(&mut type_meta, 2, kind.as_bytes());
        let mut body = MAGIC.to_vec();
        put_bytes(&mut body, 1, &type_meta);
        extra(&mut body, &[1, 2, 3, 4]);
        put_bytes(&mut body, 2, &raw);
        extra(&mut body, &[1, 2, 3, 4]);
        body
    }

    #[test]
    fn random_bodies_of_every_kind_are_valid() {
        for index in 0..all_kinds().count() {
            for list in [false, true] {
                for seed in 1..20 {
                    let body = random_body(index, list, seed, None);
                    let v = decode(&body).unwrap_or_else(|e| panic!("{index} {list} {seed}: {e}"));
                    assert!(v["kind"].as_str().is_some());
                }
            }
        }
    }

    #[test]
    fn object_meta_cluster_name_from_v1_24_clients_is_skipped() {
        // The body a v1.24 client-go sends for `create namespace`: ObjectMeta
        // with clusterName (15) set to "", which kube-apiserver ignores.
        let mut meta = Vec::new();
        put_bytes(&mut meta, 1, b"e2e-tests");
        put_bytes(&mut meta, 15, b"");
        let mut ns = Vec::new();
        put_bytes(&mut ns, 1, &meta);
        let v = decode(&envelope("v1", "Namespace", &ns)).unwrap();
        assert_eq!(
            v,
            json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "e2e-tests"}, "spec": {}, "status": {}})
        );
    }

    // -- The tables against a maintained source: the prost messages of the
    // k8s-pb crate, generated from upstream's `generated.proto` files.

    /// One field of a k8s-pb message: (prost type, label, Rust field name,
    /// Rust type's last path segment).
    type PbField = (String, String, String, String);

    /// k8s-pb's messages by our naming (`core.v1.Pod`), each field by tag,
    /// read from the crate's source (located with `cargo metadata`).
    fn k8s_pb_messages() -> BTreeMap<String, BTreeMap<u32, PbField>> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = std::process::Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--offline"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo metadata runs");
        assert!(out.status.success(), "cargo metadata failed");
        let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
        let manifest = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "k8s-pb")
            .expect("k8s-pb is a dev-dependency")["manifest_path"]
            .as_str()
            .unwrap()
            .to_string();
        let src = std::path::Path::new(&manifest)
            .parent()
            .unwrap()
            .join("src");
        let mut files = vec![src.clone()];
        let mut messages = BTreeMap::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let rel = path.parent().unwrap().strip_prefix(&src).unwrap();
            let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
            let Some(last) = parts.last() else { continue };
            // api/core/v1 -> core.v1; apimachinery/pkg/runtime -> runtime
            let versioned =
                last.starts_with('v') && last[1..].starts_with(|c: char| c.is_ascii_digit());
            let package = if versioned && parts.len() >= 2 {
                format!("{}.{}", parts[parts.len() - 2], last)
            } else {
                last.to_string()
            };
            let text = std::fs::read_to_string(&path).unwrap();
            let mut current: Option<String> = None;
            let mut attr: Option<String> = None;
            for line in text.lines() {
                let t = line.trim();
                if let Some(rest) = line.strip_prefix("pub struct ") {
                    let name = rest.split([' ', '{']).next().unwrap();
                    // k8s-pb renames acronyms (HTTPGetAction -> HttpGetAction).
                    current = Some(format!("{package}.{name}").to_ascii_lowercase());
                    messages
                        .entry(current.clone().unwrap())
                        .or_insert_with(BTreeMap::new);
                } else if line == "}" {
                    current = None;
                } else if t.starts_with("#[prost(")
                    || attr.as_ref().is_some_and(|a| !a.ends_with(")]"))
                {
                    let a = attr.get_or_insert_with(String::new);
                    a.push_str(t);
                } else if let (Some(m), Some(a), Some(field)) =
                    (current.as_ref(), attr.take(), t.strip_prefix("pub "))
                {
                    let name = field.split(':').next().unwrap().trim_start_matches("r#");
                    let rust_ty = field
                        .split(':')
                        .next_back()
                        .unwrap()
                        .trim_end_matches([',', '>', ' '])
                        .rsplit(['<', ':', ' '])
                        .next()
                        .unwrap_or("")
                        .to_string();
                    let inner = a.trim_start_matches("#[prost(").trim_end_matches(")]");
                    let tag: u32 = inner
                        .split("tag = \"")
                        .nth(1)
                        .and_then(|r| r.split('"').next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| panic!("no tag in {a}"));
                    let ty = inner.split([',', ' ', '=']).next().unwrap().to_string();
                    let label = ["optional", "repeated", "required"]
                        .into_iter()
                        .find(|l| {
                            inner.contains(&format!(", {l},")) || inner.contains(&format!(", {l}"))
                        })
                        .unwrap_or("")
                        .to_string();
                    messages
                        .get_mut(m)
                        .unwrap()
                        .insert(tag, (ty, label, name.to_string(), rust_ty));
                } else {
                    attr = None;
                }
            }
        }
        messages
    }

    /// Whether our table's type and cardinality fit a prost field.
    fn fits(f: &Field, (ty, label, _, _): &PbField) -> bool {
        let want_ty = match (f.card, f.ty) {
            (Card::Map, _) => return ty == "btree_map" || ty == "map" || ty == "hash_map",
            (_, Ty::Str) => "string",
            (_, Ty::Bytes) => "bytes",
            (_, Ty::Bool) => "bool",
            (_, Ty::I32) => "int32",
            (_, Ty::I64) => "int64",
            _ => "message",
        };
        let rep = f.card == Card::Rep;
        ty == want_ty && (label == "repeated") == rep
    }

    /// Fields k8s-pb has that our tables leave out on purpose (and so skip
    /// as unknown): PodSpec.workloadRef, an alpha of 1.35 that later
    /// releases replaced with schedulingGroup (43).
    const NOT_DECODED: &[(&str, u32, &str)] = &[("core.v1.PodSpec", 42, "workloadRef")];

    /// Messages of our tables (read from a later release, v1.37) that
    /// k8s-pb 0.9 (generated from Kubernetes 1.35) does not have yet. No
    /// v1.24 client sends them; they only matter to newer clients.
    const NEWER_MESSAGES: &[&str] = &[
        "networking.v1.NetworkPolicyStatus", // v1.24 alpha, removed in v1.26
        "batch.v1.JobSchedulingConfiguration",
        "core.v1.EvictionResponder",
        "core.v1.ImageVolumeStatus",
        "core.v1.NodeAllocatableMappedResources",
        "core.v1.NodeAllocatableOverheadResources",
        "core.v1.NodeAllocatableResourceClaimStatus",
        "core.v1.NodePodPreemptionPolicy",
        "core.v1.PodSchedulingGroup",
        "core.v1.PodVolumeHealth",
        "core.v1.VolumeHealthCondition",
        "core.v1.VolumeHealthStatus",
        "core.v1.VolumeStatus",
        "scheduling.v1alpha3.TopologyConstraint",
        "scheduling.v1alpha3.WorkloadPodGroupAllDisruptionMode",
        "scheduling.v1alpha3.WorkloadPodGroupBasicSchedulingPolicy",
        "scheduling.v1alpha3.WorkloadPodGroupDisruptionMode",
        "scheduling.v1alpha3.WorkloadPodGroupGangSchedulingPolicy",
        "scheduling.v1alpha3.WorkloadPodGroupResourceClaim",
        "scheduling.v1alpha3.WorkloadPodGroupSchedulingConstraints",
        "scheduling.v1alpha3.WorkloadPodGroupSchedulingPolicy",
        "scheduling.v1alpha3.WorkloadPodGroupSingleDisruptionMode",
    ];

    /// Fields of our tables newer than k8s-pb 0.9 (as NEWER_MESSAGES), or
    /// v1.24 alpha fields that later releases removed (and so k8s-pb lacks).
    const NEWER_FIELDS: &[(&str, u32)] = &[
        ("core.v1.PersistentVolumeClaimStatus", 6),
        ("networking.v1.NetworkPolicy", 3),
        ("authentication.v1.TokenRequestSpec", 5),
        ("autoscaling.v2.HorizontalPodAutoscalerCondition", 6),
        ("batch.v1.JobSpec", 17),
        ("core.v1.ClusterTrustBundleProjection", 6),
        ("core.v1.ConfigMapVolumeSource", 5),
        ("core.v1.DownwardAPIVolumeFile", 5),
        ("core.v1.DownwardAPIVolumeSource", 3),
        ("core.v1.EmptyDirVolumeSource", 3),
        ("core.v1.GRPCAction", 3),
        ("core.v1.HTTPGetAction", 6),
        ("core.v1.KeyToPath", 4),
        ("core.v1.NodeSpec", 8),
        ("core.v1.NodeSystemInfo", 12),
        ("core.v1.PersistentVolumeClaimStatus", 10),
        ("core.v1.PodCertificateProjection", 8),
        ("core.v1.PodSpec", 43),
        ("core.v1.PodSpec", 44),
        ("core.v1.PodStatus", 21),
        ("core.v1.PodStatus", 22),
        ("core.v1.ProjectedVolumeSource", 3),
        ("core.v1.ResourceHealth", 6),
        ("core.v1.SecretVolumeSource", 5),
        ("core.v1.ServiceAccountTokenProjection", 4),
        ("core.v1.VolumeMount", 8),
        ("core.v1.VolumeMountStatus", 5),
    ];

    #[test]
    fn tables_match_the_k8s_pb_generated_messages() {
        let pb = k8s_pb_messages();
        assert!(pb.len() > 500, "read {} k8s-pb messages", pb.len());
        let normalize = |s: &str| s.replace('_', "").to_ascii_lowercase();
        let mut problems = Vec::new();
        for msg in schema::MESSAGES.iter().chain(generated::MESSAGES) {
            let Some(theirs) = pb.get(&msg.name.to_ascii_lowercase()) else {
                if !NEWER_MESSAGES.contains(&msg.name) {
                    problems.push(format!("{}: no such k8s-pb message", msg.name));
                }
                continue;
            };
            assert!(
                !NEWER_MESSAGES.contains(&msg.name),
                "{} is in k8s-pb",
                msg.name
            );
            for f in msg.fields {
                let newer = NEWER_FIELDS.contains(&(msg.name, f.num));
                match theirs.get(&f.num) {
                    None if newer => {}
                    Some(_) if newer => {
                        problems.push(format!("{} {} is in k8s-pb", msg.name, f.num))
                    }
                    None => problems.push(format!(
                        "{} {} {:?}: not in k8s-pb",
                        msg.name, f.num, f.json
                    )),
                    Some(p) if !fits(f, p) => problems.push(format!(
                        "{} {} {:?}: {:?}/{:?} vs k8s-pb {:?}",
                        msg.name, f.num, f.json, f.ty, f.card, p
                    )),
                    Some(p) if f.card != Card::Inline && normalize(&p.2) != normalize(f.json) => {
                        problems.push(format!(
                            "{} {}: JSON name {:?} vs k8s-pb {:?}",
                            msg.name, f.num, f.json, p.2
                        ))
                    }
                    Some(_) => {}
                }
            }
            // Generated messages hold exactly the v1.24 fields; k8s-pb's
            // later additions are unknown to a v1.24 server too.
            let v1_24_only = generated::MESSAGES.iter().any(|m| m.name == msg.name);
            for (num, p) in theirs.iter().filter(|_| !v1_24_only) {
                let ours = msg.fields.iter().any(|f| f.num == *num);
                let waived = NOT_DECODED
                    .iter()
                    .any(|(m, n, _)| *m == msg.name && n == num);
                if !ours && !waived {
                    problems.push(format!(
                        "{} {} {:?}: missing from our table",
                        msg.name, num, p.2
                    ));
                }
            }
        }
        assert!(
            problems.is_empty(),
            "{} differences:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }

    // -- The tables against the API version we serve: every field of the
    // vendored v1.24.0 OpenAPI definitions (testdata/README.md) that a
    // message of ours carries must be in our table, or a v1.24 client's
    // value would be skipped as unknown.

    /// v1.24 fields our tables leave out on purpose.
    const V1_24_NOT_DECODED: &[(&str, &str)] = &[
        // ObjectMeta.clusterName (15): deprecated, never used by the server,
        // removed in v1.25; v1.24 client-go still sends it (empty).
        ("meta.v1.ObjectMeta", "clusterName"),
    ];

    /// Our message's JSON field names, inline members included.
    fn json_names(name: &'static str, out: &mut Vec<&'static str>) {
        for f in lookup(name).unwrap().fields {
            match (f.card, f.ty) {
                (Card::Inline, Ty::Msg(inner)) => json_names(inner, out),
                _ => out.push(f.json),
            }
        }
    }

    #[test]
    fn tables_cover_every_v1_24_field() {
        use std::io::Read as _;
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/k8s-v1.24.0-definitions.json.gz"
        );
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let defs: Value = serde_json::from_str(&text).unwrap();
        // io.k8s.api.core.v1.PodSpec -> core.v1.PodSpec
        let by_name: BTreeMap<String, &Value> = defs["definitions"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let parts: Vec<&str> = k.rsplitn(4, '.').collect();
                (format!("{}.{}.{}", parts[2], parts[1], parts[0]), v)
            })
            .collect();
        let mut compared = 0;
        let mut problems = Vec::new();
        for msg in schema::MESSAGES.iter().chain(generated::MESSAGES) {
            let Some(def) = by_name.get(msg.name) else {
                continue;
            };
            compared += 1;
            let mut ours = Vec::new();
            json_names(msg.name, &mut ours);
            for prop in def["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                let waived = V1_24_NOT_DECODED.contains(&(msg.name, prop.as_str()));
                if prop == "kind" || prop == "apiVersion" || waived {
                    continue;
                }
                if !ours.contains(&prop.as_str()) {
                    problems.push(format!("{}.{prop}", msg.name));
                }
            }
        }
        assert!(compared > 200, "compared only {compared} messages");
        assert!(
            problems.is_empty(),
            "v1.24 fields missing from our tables:\n{}",
            problems.join("\n")
        );
    }

    // -- The generated tables (src/protobuf_generated.rs) for kinds the
    // hand-kept table lacks: field numbers and prost types from k8s-pb,
    // JSON names, value types and `required` from the vendored v1.24
    // OpenAPI definitions. Go's `omitempty`/pointer tags are in neither, so
    // a field that is not `required` is treated as a pointer: emitted
    // whenever it is on the wire (Go writes value fields even when zero, so
    // their zeros show up in the JSON, which readers treat alike).

    /// The kinds whose tables are generated: (group, version, kind).
    const GENERATED_ROOTS: &[(&str, &str, &str)] = &[
        ("", "v1", "ComponentStatus"),
        ("storage.k8s.io", "v1", "CSIDriver"),
        ("storage.k8s.io", "v1", "CSINode"),
        ("storage.k8s.io", "v1", "CSIStorageCapacity"),
        ("storage.k8s.io", "v1", "VolumeAttachment"),
        ("node.k8s.io", "v1", "RuntimeClass"),
        (
            "admissionregistration.k8s.io",
            "v1",
            "MutatingWebhookConfiguration",
        ),
        (
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingWebhookConfiguration",
        ),
        ("apiregistration.k8s.io", "v1", "APIService"),
        ("flowcontrol.apiserver.k8s.io", "v1beta2", "FlowSchema"),
        (
            "flowcontrol.apiserver.k8s.io",
            "v1beta2",
            "PriorityLevelConfiguration",
        ),
    ];

    const GENERATED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/protobuf_generated.rs");

    fn v1_24_definitions() -> Value {
        use std::io::Read as _;
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/k8s-v1.24.0-definitions.json.gz"
        );
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// io.k8s.api.core.v1.PodSpec -> core.v1.PodSpec
    fn short_name(definition: &str) -> String {
        let parts: Vec<&str> = definition.rsplitn(4, '.').collect();
        format!("{}.{}.{}", parts[2], parts[1], parts[0])
    }

    fn hand_kept(name: &str) -> bool {
        schema::MESSAGES.iter().any(|m| m.name == name)
    }

    /// (type, cardinality) of a property, queueing referenced messages.
    fn classify(
        owner: &str,
        prop: &str,
        schema: &Value,
        required: bool,
        pb: &PbField,
        queue: &mut Vec<String>,
    ) -> (String, &'static str) {
        let (pb_ty, label, _, _) = pb;
        let scalar = |s: &Value, queue: &mut Vec<String>| -> String {
            if let Some(r) = s["$ref"].as_str() {
                let def = r.trim_start_matches("#/definitions/").to_string();
                let name = short_name(&def);
                return match name.as_str() {
                    "v1.Time" | "meta.v1.Time" => "Time".into(),
                    "meta.v1.MicroTime" => "MicroTime".into(),
                    "resource.Quantity" | "api.resource.Quantity" => "Quantity".into(),
                    "intstr.IntOrString" | "util.intstr.IntOrString" => "IntOrString".into(),
                    "runtime.RawExtension" | "pkg.runtime.RawExtension" => "RawExtension".into(),
                    _ => {
                        if !hand_kept(&name) {
                            queue.push(def);
                        }
                        format!("Msg({name:?})")
                    }
                };
            }
            match (s["type"].as_str(), s["format"].as_str()) {
                (Some("string"), Some("byte")) => "Bytes".into(),
                (Some("string"), _) => "Str".into(),
                (Some("boolean"), _) => "Bool".into(),
                (Some("integer"), Some("int32")) => "I32".into(),
                (Some("integer"), _) => "I64".into(),
                other => panic!("{owner}.{prop}: unsupported schema {other:?}"),
            }
        };
        match schema["type"].as_str() {
            Some("array") => {
                assert_eq!(label, "repeated", "{owner}.{prop}");
                (scalar(&schema["items"], queue), "REP")
            }
            Some("object") if schema.get("additionalProperties").is_some() => {
                assert!(pb_ty.ends_with("map"), "{owner}.{prop}: {pb_ty}");
                let v = &schema["additionalProperties"];
                let ty = if v["type"] == "array" && v["items"]["type"] == "string" {
                    "StringList".to_string()
                } else {
                    scalar(v, queue)
                };
                (ty, "MAP")
            }
            _ => {
                assert_ne!(label, "repeated", "{owner}.{prop}");
                let ty = scalar(schema, queue);
                let want = match ty.as_str() {
                    "Str" => "string",
                    "Bytes" => "bytes",
                    "Bool" => "bool",
                    "I32" => "int32",
                    "I64" => "int64",
                    _ => "message",
                };
                assert_eq!(pb_ty, want, "{owner}.{prop}");
                (ty, if required { "REQ" } else { "PTR" })
            }
        }
    }

    fn generate() -> String {
        let defs = v1_24_definitions();
        let defs = defs["definitions"].as_object().unwrap();
        let pb = k8s_pb_messages();
        let mut kinds = Vec::new();
        let mut queue = Vec::new();
        for (group, version, kind) in GENERATED_ROOTS {
            let (def, _) = defs
                .iter()
                .find(|(_, d)| {
                    d["x-kubernetes-group-version-kind"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|g| {
                            g["group"] == *group && g["version"] == *version && g["kind"] == *kind
                        })
                })
                .unwrap_or_else(|| panic!("no v1.24 definition of {group}/{version} {kind}"));
            let api_version = if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            };
            kinds.push((api_version, kind.to_string(), short_name(def)));
            queue.push(def.clone());
        }
        let normalize = |s: &str| s.replace(['_', '-'], "").to_ascii_lowercase();
        let mut messages: BTreeMap<String, Vec<String>> = BTreeMap::new();
        while let Some(def) = queue.pop() {
            let name = short_name(&def);
            if messages.contains_key(&name) || hand_kept(&name) {
                continue;
            }
            let d = &defs[&def];
            let theirs = pb
                .get(&name.to_ascii_lowercase())
                .unwrap_or_else(|| panic!("no k8s-pb message {name}"));
            let required: Vec<&str> = d["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut fields = Vec::new();
            let mut inline_props = Vec::new();
            let top_level = d.get("x-kubernetes-group-version-kind").is_some();
            for (prop, schema) in d["properties"].as_object().into_iter().flatten() {
                // A kind's TypeMeta is in the envelope, not the message.
                if top_level && (prop == "kind" || prop == "apiVersion") {
                    continue;
                }
                let found = theirs
                    .iter()
                    .find(|(_, (_, _, rust, _))| normalize(rust) == normalize(prop));
                let Some((num, field)) = found else {
                    inline_props.push(prop.clone());
                    continue;
                };
                let (ty, card) = classify(
                    &name,
                    prop,
                    schema,
                    required.contains(&prop.as_str()),
                    field,
                    &mut queue,
                );
                fields.push(format!("f({num}, {prop:?}, {ty}, {card})"));
            }
            // Properties k8s-pb lacks come from a `json:",inline"` struct:
            // a message field of k8s-pb that no property names.
            if !inline_props.is_empty() {
                let package = name.rsplit_once('.').unwrap().0;
                let (num, inline) = theirs
                    .iter()
                    .filter(|(_, (ty, _, rust, _))| {
                        ty == "message"
                            && !d["properties"]
                                .as_object()
                                .unwrap()
                                .keys()
                                .any(|p| normalize(p) == normalize(rust))
                    })
                    .map(|(num, (_, _, _, rust_ty))| (num, format!("{package}.{rust_ty}")))
                    .find(|(_, inner)| {
                        let props: Vec<String> = pb
                            .get(&inner.to_ascii_lowercase())
                            .into_iter()
                            .flat_map(|m| m.values().map(|f| normalize(&f.2)))
                            .collect();
                        inline_props.iter().all(|p| props.contains(&normalize(p)))
                    })
                    .unwrap_or_else(|| panic!("no k8s-pb field for {name}.{inline_props:?}"));
                fields.push(format!("f({num}, \"\", Msg({inline:?}), INLINE)"));
                match defs.keys().find(|k| short_name(k) == inline) {
                    Some(key) if !hand_kept(&inline) => queue.push(key.clone()),
                    Some(_) => {}
                    // Only ever inlined (no definition of its own): its
                    // fields are the parent's properties.
                    None => {
                        let inner = &pb[&inline.to_ascii_lowercase()];
                        let mut inner_fields = Vec::new();
                        for (num, field) in inner {
                            let (prop, schema) = d["properties"]
                                .as_object()
                                .unwrap()
                                .iter()
                                .find(|(p, _)| normalize(p) == normalize(&field.2))
                                .unwrap_or_else(|| panic!("{inline}.{}: no property", field.2));
                            let req = required.contains(&prop.as_str());
                            let (ty, card) =
                                classify(&inline, prop, schema, req, field, &mut queue);
                            inner_fields.push(format!("f({num}, {prop:?}, {ty}, {card})"));
                        }
                        messages.insert(inline, inner_fields);
                    }
                }
            }
            messages.insert(name, fields);
        }
        let mut out = String::from(
            "// @generated by `protobuf::tests::generated_tables_are_current` from the\n\
             // k8s-pb crate's messages (field numbers) and the vendored v1.24.0 OpenAPI\n\
             // definitions (JSON names, types, `required`). Do not edit: run\n\
             // `KUBEMARK_REGENERATE=1 cargo test -p apimachinery generated_tables`.\n\
             #![allow(unused_imports)]\n\
             use super::Ty::{Bool, Bytes, IntOrString, MicroTime, Msg, Quantity, RawExtension, Str, StringList, Time, I32, I64};\n\
             use super::{f, m, Card, Message};\n\n\
             const REQ: Card = Card::Req;\n\
             const PTR: Card = Card::Ptr;\n\
             const REP: Card = Card::Rep;\n\
             const MAP: Card = Card::Map;\n\
             const INLINE: Card = Card::Inline;\n\n\
             pub(super) static KINDS: &[(&str, &str, &str)] = &[\n",
        );
        for (gv, kind, msg) in &kinds {
            out.push_str(&format!("    ({gv:?}, {kind:?}, {msg:?}),\n"));
        }
        out.push_str("];\n\npub(super) static MESSAGES: &[Message] = &[\n");
        for (name, fields) in &messages {
            out.push_str(&format!("    m({name:?}, &[\n"));
            for f in fields {
                out.push_str(&format!("        {f},\n"));
            }
            out.push_str("    ]),\n");
        }
        out.push_str("];\n");
        out
    }

    #[test]
    fn generated_tables_are_current() {
        let want = generate();
        if std::env::var_os("KUBEMARK_REGENERATE").is_some() {
            std::fs::write(GENERATED, &want).unwrap();
        }
        let have = std::fs::read_to_string(GENERATED).unwrap();
        assert!(
            have == want,
            "src/protobuf_generated.rs is stale: run KUBEMARK_REGENERATE=1 cargo test -p apimachinery generated_tables"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Unknown fields of any wire type, anywhere (envelope, lists and
        /// every nested message), never change what a body decodes to.
        #[test]
        fn unknown_fields_are_skipped_for_every_kind(
            index in 0usize..256,
            list in any::<bool>(),
            seed in any::<u64>(),
            unknown_seed in any::<u64>(),
        ) {
            let clean = decode(&random_body(index, list, seed, None)).unwrap();
            let noisy = decode(&random_body(index, list, seed, Some(unknown_seed))).unwrap();
            prop_assert_eq!(noisy, clean);
        }

        /// Our encoder (protobuf responses) writes back what the decoder
        /// read, for objects and lists of every kind.
        #[test]
        fn encode_round_trips_every_kind(
            index in 0usize..256,
            list in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let json = decode(&random_body(index, list, seed, None)).unwrap();
            let again = decode(&super::encode(&json).unwrap()).unwrap();
            prop_assert_eq!(again, json);
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&data);
            let _ = decode(&[&MAGIC[..], &data].concat());
        }

        #[test]
        fn random_raw_for_every_kind_never_panics(
            kind in 0usize..64,
            data in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let kinds: Vec<_> = supported_kinds().collect();
            let (gv, kind) = kinds[kind % kinds.len()];
            let _ = decode(&envelope(gv, kind, &data));
        }

        #[test]
        fn mutated_valid_bodies_never_panic(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in any::<usize>(),
        ) {
            let mut body = encode(&deployment());
            for (at, byte) in edits {
                let i = at % body.len();
                body[i] = byte;
            }
            let _ = decode(&body);
            body.truncate(cut % (body.len() + 1));
            let _ = decode(&body);
        }
    }
}
