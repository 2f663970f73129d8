//! Kubernetes protobuf bodies and watch streams. First byte even: the rest
//! is a whole body (`k8s\0` magic and `runtime.Unknown` envelope) and also a
//! watch stream. Odd: the second byte picks a kind the decoder knows and the
//! rest is that kind's message, wrapped in a valid envelope, so every
//! message schema is reached. Whatever decodes is re-encoded and decoded.
#![no_main]

use apimachinery::protobuf;
use libfuzzer_sys::fuzz_target;

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn field(out: &mut Vec<u8>, num: u64, bytes: &[u8]) {
    varint(out, num << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Vec::new();
    field(&mut type_meta, 1, api_version.as_bytes());
    field(&mut type_meta, 2, kind.as_bytes());
    let mut out = b"k8s\0".to_vec();
    field(&mut out, 1, &type_meta);
    field(&mut out, 2, raw);
    out
}

fn check(body: &[u8]) {
    if let Ok(obj) = protobuf::decode(body) {
        // Whatever we accept we must be able to answer with.
        if let Ok(bytes) = protobuf::encode(&obj) {
            let _ = protobuf::decode(&bytes);
        }
        let _ = protobuf::encode_watch_frame("ADDED", &obj);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        check(rest);
        let _ = protobuf::decode_watch_frames(rest);
        return;
    }
    let Some((which, raw)) = rest.split_first() else {
        return;
    };
    let kinds: Vec<_> = protobuf::supported_kinds().collect();
    let (gv, kind) = kinds[*which as usize % kinds.len()];
    let gv = if gv == "*" { "v1" } else { gv };
    check(&envelope(gv, kind, raw));
});
