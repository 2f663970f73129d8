//! Compile-time string building for the registry table: the lower-cased
//! singular name and the discovery `storageVersionHash`, both derived from
//! the k8s-openapi constants so that no such string is written by hand.

/// Longest string built here (`group/version/kind` of a v1.24 resource is
/// well below it; a longer one fails the build, not a request).
const CAP: usize = 128;

/// A string assembled in a `const` item; [`ConstStr::as_str`] borrows it
/// for `'static` once the item is promoted.
#[derive(Clone, Copy)]
pub(crate) struct ConstStr {
    bytes: [u8; CAP],
    len: usize,
}

impl ConstStr {
    const EMPTY: ConstStr = ConstStr {
        bytes: [0; CAP],
        len: 0,
    };

    const fn push(mut self, s: &str) -> ConstStr {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            assert!(self.len < CAP, "registry string longer than CAP");
            self.bytes[self.len] = b[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    /// ASCII lower case of `s` (kinds are ASCII identifiers).
    pub(crate) const fn lowercase(s: &str) -> ConstStr {
        let mut out = ConstStr::EMPTY.push(s);
        let mut i = 0;
        while i < out.len {
            out.bytes[i] = out.bytes[i].to_ascii_lowercase();
            i += 1;
        }
        out
    }

    /// `StorageVersionHash` of k8s.io/apiserver's discovery package:
    /// base64 of the first 8 bytes of sha256(`group/version/kind`); empty
    /// for resources that are not stored (kind `""`).
    pub(crate) const fn storage_version_hash(group: &str, version: &str, kind: &str) -> ConstStr {
        if kind.is_empty() {
            return ConstStr::EMPTY;
        }
        let gvk = ConstStr::EMPTY
            .push(group)
            .push("/")
            .push(version)
            .push("/")
            .push(kind);
        let (input, _) = gvk.bytes.split_at(gvk.len);
        let digest = sha256(input);
        base64_8(&digest)
    }

    pub(crate) const fn as_str(&'static self) -> &'static str {
        let (bytes, _) = self.bytes.split_at(self.len);
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(_) => panic!("registry string is not UTF-8"),
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (with padding) of the first 8 bytes of `d`: 12 chars.
const fn base64_8(d: &[u8; 32]) -> ConstStr {
    let mut out = ConstStr::EMPTY;
    let mut i = 0;
    while i < 8 {
        let b0 = d[i] as u32;
        let b1 = if i + 1 < 8 { d[i + 1] as u32 } else { 0 };
        let b2 = if i + 2 < 8 { d[i + 2] as u32 } else { 0 };
        let n = (b0 << 16) | (b1 << 8) | b2;
        let chars = [
            B64[(n >> 18) as usize & 63],
            B64[(n >> 12) as usize & 63],
            if i + 1 < 8 {
                B64[(n >> 6) as usize & 63]
            } else {
                b'='
            },
            if i + 2 < 8 {
                B64[n as usize & 63]
            } else {
                b'='
            },
        ];
        let mut j = 0;
        while j < 4 {
            out.bytes[out.len] = chars[j];
            out.len += 1;
            j += 1;
        }
        i += 3;
    }
    out
}

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// FIPS 180-4 SHA-256 of a short message, evaluated at compile time (the
/// hash is an identifier here, not a security measure).
const fn sha256(msg: &[u8]) -> [u8; 32] {
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    // Message + 0x80 + zero padding + 64-bit big-endian bit length.
    let total = (msg.len() + 9).div_ceil(64) * 64;
    let mut padded = [0u8; CAP + 64];
    let mut i = 0;
    while i < msg.len() {
        padded[i] = msg[i];
        i += 1;
    }
    padded[msg.len()] = 0x80;
    let bits = (msg.len() as u64) * 8;
    let mut j = 0;
    while j < 8 {
        padded[total - 1 - j] = (bits >> (8 * j)) as u8;
        j += 1;
    }
    let mut block = 0;
    while block < total {
        let mut w = [0u32; 64];
        let mut t = 0;
        while t < 16 {
            let o = block + 4 * t;
            w[t] = u32::from_be_bytes([padded[o], padded[o + 1], padded[o + 2], padded[o + 3]]);
            t += 1;
        }
        while t < 64 {
            let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
            let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16]
                .wrapping_add(s0)
                .wrapping_add(w[t - 7])
                .wrapping_add(s1);
            t += 1;
        }
        let (mut a, mut b, mut c, mut d) = (h[0], h[1], h[2], h[3]);
        let (mut e, mut f, mut g, mut hh) = (h[4], h[5], h[6], h[7]);
        t = 0;
        while t < 64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[t])
                .wrapping_add(w[t]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
            t += 1;
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
        h[4] = h[4].wrapping_add(e);
        h[5] = h[5].wrapping_add(f);
        h[6] = h[6].wrapping_add(g);
        h[7] = h[7].wrapping_add(hh);
        block += 64;
    }
    let mut out = [0u8; 32];
    let mut k = 0;
    while k < 8 {
        let be = h[k].to_be_bytes();
        out[4 * k] = be[0];
        out[4 * k + 1] = be[1];
        out[4 * k + 2] = be[2];
        out[4 * k + 3] = be[3];
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: &[u8]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha256_matches_known_vectors() {
        let cases: &[(&str, &str)] = &[
            (
                "",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                "abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            // 56 bytes: the padding spills into a second block.
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(hex(&sha256(input.as_bytes())), *want, "{input:?}");
        }
    }

    #[test]
    fn storage_version_hashes_match_the_recorded_v1_24_discovery() {
        static POD: ConstStr = ConstStr::storage_version_hash("", "v1", "Pod");
        static DEPLOY: ConstStr = ConstStr::storage_version_hash("apps", "v1", "Deployment");
        static NONE: ConstStr = ConstStr::storage_version_hash("", "v1", "");
        assert_eq!(POD.as_str(), "xPOwRZ+Yhw8=");
        assert_eq!(DEPLOY.as_str(), "8aSe+NMegvE=");
        assert_eq!(NONE.as_str(), "");
        static LOWER: ConstStr = ConstStr::lowercase("CSIDriver");
        assert_eq!(LOWER.as_str(), "csidriver");
    }
}
