//! Arbitrary bytes as the store's data directory, recovered as `Store::open`
//! does (`store::recover_from_bytes`). Input: one flag byte (low bit: the
//! first file is `snapshot.bin`), then files as `u16 LE length | bytes`,
//! the rest being log segments oldest first.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn blobs(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let n = u16::from_le_bytes([data[0], data[1]]) as usize;
        let body = &data[2..];
        let n = n.min(body.len());
        out.push(&body[..n]);
        data = &body[n..];
    }
    if !data.is_empty() {
        out.push(data);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let files = blobs(rest);
    let (snapshot, segments) = match (first & 1, files.split_first()) {
        (1, Some((snap, segs))) => (Some(*snap), segs),
        _ => (None, &files[..]),
    };
    let _ = store::recover_from_bytes(snapshot, segments, 16);
});
