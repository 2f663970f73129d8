//! glibc's `/etc/ld.so.cache`, which the loader consults after the
//! RPATH/LD_LIBRARY_PATH/RUNPATH directories (glibc's `elf/dl-cache.c`).
//!
//! Two layouts exist: the new one (`glibc-ld.so.cache1.1`, the only one
//! ldconfig writes since glibc 2.32) and the old one (`ld.so-1.7.0`), which
//! older ldconfig wrote followed by the new one. String offsets of the new
//! format are relative to its header, those of the old format to the end of
//! its entry table.

use std::path::PathBuf;

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const OLD_HEADER: usize = 16;
const OLD_ENTRY: usize = 12;
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;
/// Byte-order values of the new header's `flags` field.
const CACHE_BIG_ENDIAN: u8 = 3;

/// One library of the cache: the name a DT_NEEDED entry asks for, and its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub name: String,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LdCacheError {
    #[error("unknown format (neither glibc-ld.so.cache1.1 nor ld.so-1.7.0)")]
    UnknownFormat,
    #[error("truncated at byte {0}")]
    Truncated(usize),
    #[error("string at offset {0} is out of bounds or not UTF-8")]
    BadString(usize),
}

/// The cache's entries in file order (the loader's lookup order), without
/// the glibc-hwcaps variants, which the loader only picks for matching CPUs
/// and which always have a baseline entry too.
pub fn parse(data: &[u8]) -> Result<Vec<CacheEntry>, LdCacheError> {
    if data.starts_with(NEW_MAGIC) {
        return parse_new(data);
    }
    if !data.starts_with(OLD_MAGIC) {
        return Err(LdCacheError::UnknownFormat);
    }
    let nlibs = read_u32(data, 12, false)? as usize;
    let end = nlibs
        .checked_mul(OLD_ENTRY)
        .and_then(|n| n.checked_add(OLD_HEADER))
        .ok_or(LdCacheError::Truncated(data.len()))?;
    // The new format, when present, follows 8-byte aligned.
    let new_start = end.div_ceil(8) * 8;
    if data
        .get(new_start..)
        .is_some_and(|d| d.starts_with(NEW_MAGIC))
    {
        return parse_new(&data[new_start..]);
    }
    let strings = data.get(end..).ok_or(LdCacheError::Truncated(end))?;
    (0..nlibs)
        .map(|i| {
            let at = OLD_HEADER + i * OLD_ENTRY;
            let key = read_u32(data, at + 4, false)? as usize;
            let value = read_u32(data, at + 8, false)? as usize;
            entry(strings, key, value)
        })
        .collect()
}

fn parse_new(data: &[u8]) -> Result<Vec<CacheEntry>, LdCacheError> {
    let big = data.get(28).copied() == Some(CACHE_BIG_ENDIAN);
    let nlibs = read_u32(data, 20, big)? as usize;
    let mut out = Vec::with_capacity(nlibs.min(data.len() / NEW_ENTRY));
    for i in 0..nlibs {
        let at = NEW_HEADER + i * NEW_ENTRY;
        let key = read_u32(data, at + 4, big)? as usize;
        let value = read_u32(data, at + 8, big)? as usize;
        let hwcap = read_u64(data, at + 16, big)?;
        if hwcap != 0 {
            continue;
        }
        out.push(entry(data, key, value)?);
    }
    Ok(out)
}

fn entry(strings: &[u8], key: usize, value: usize) -> Result<CacheEntry, LdCacheError> {
    Ok(CacheEntry {
        name: c_string(strings, key)?,
        path: PathBuf::from(c_string(strings, value)?),
    })
}

fn c_string(data: &[u8], at: usize) -> Result<String, LdCacheError> {
    let rest = data.get(at..).ok_or(LdCacheError::BadString(at))?;
    let len = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or(LdCacheError::BadString(at))?;
    std::str::from_utf8(&rest[..len])
        .map(str::to_owned)
        .map_err(|_| LdCacheError::BadString(at))
}

fn read_u32(data: &[u8], at: usize, big: bool) -> Result<u32, LdCacheError> {
    let b: [u8; 4] = data
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or(LdCacheError::Truncated(at))?;
    Ok(if big {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

fn read_u64(data: &[u8], at: usize, big: bool) -> Result<u64, LdCacheError> {
    let b: [u8; 8] = data
        .get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .ok_or(LdCacheError::Truncated(at))?;
    Ok(if big {
        u64::from_be_bytes(b)
    } else {
        u64::from_le_bytes(b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new-format cache with `(name, path, hwcap)` entries.
    fn new_cache(entries: &[(&str, &str, u64)]) -> Vec<u8> {
        let table = NEW_HEADER + entries.len() * NEW_ENTRY;
        let mut strings = Vec::new();
        let mut offsets = Vec::new();
        for (name, path, _) in entries {
            let k = table + strings.len();
            strings.extend_from_slice(name.as_bytes());
            strings.push(0);
            let v = table + strings.len();
            strings.extend_from_slice(path.as_bytes());
            strings.push(0);
            offsets.push((k as u32, v as u32));
        }
        let mut d = NEW_MAGIC.to_vec();
        d.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        d.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        d.extend_from_slice(&[2, 0, 0, 0]); // little endian
        d.extend_from_slice(&[0; 16]); // extension offset, unused
        assert_eq!(d.len(), NEW_HEADER);
        for ((k, v), (_, _, hwcap)) in offsets.iter().zip(entries) {
            d.extend_from_slice(&0x0303i32.to_le_bytes()); // libc6, x86-64
            d.extend_from_slice(&k.to_le_bytes());
            d.extend_from_slice(&v.to_le_bytes());
            d.extend_from_slice(&0u32.to_le_bytes());
            d.extend_from_slice(&hwcap.to_le_bytes());
        }
        d.extend_from_slice(&strings);
        d
    }

    fn names(entries: &[CacheEntry]) -> Vec<(&str, &str)> {
        entries
            .iter()
            .map(|e| (e.name.as_str(), e.path.to_str().unwrap()))
            .collect()
    }

    #[test]
    fn parses_new_format_and_skips_hwcaps_variants() {
        let data = new_cache(&[
            ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", 0),
            (
                "libz.so.1",
                "/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libz.so.1",
                1 << 62,
            ),
            ("libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1", 0),
        ]);
        assert_eq!(
            names(&parse(&data).unwrap()),
            [
                ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
                ("libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"),
            ]
        );
    }

    #[test]
    fn parses_old_format_with_new_format_appended() {
        // Old header and one (ignored) old entry, then the new format
        // 8-byte aligned, as glibc < 2.32 wrote in its default mode.
        let mut data = OLD_MAGIC.to_vec();
        data.push(0);
        data.extend_from_slice(&1u32.to_le_bytes());
        data.extend_from_slice(&[0; OLD_ENTRY]);
        data.resize(32, 0);
        data.extend(new_cache(&[("libm.so.6", "/usr/lib/libm.so.6", 0)]));
        assert_eq!(
            names(&parse(&data).unwrap()),
            [("libm.so.6", "/usr/lib/libm.so.6")]
        );
    }

    #[test]
    fn parses_old_format_alone() {
        let strings = b"libc.so.6\0/lib/libc.so.6\0";
        let mut data = OLD_MAGIC.to_vec();
        data.push(0);
        data.extend_from_slice(&1u32.to_le_bytes());
        data.extend_from_slice(&1i32.to_le_bytes());
        data.extend_from_slice(&0u32.to_le_bytes());
        data.extend_from_slice(&10u32.to_le_bytes());
        data.extend_from_slice(strings);
        assert_eq!(
            names(&parse(&data).unwrap()),
            [("libc.so.6", "/lib/libc.so.6")]
        );
    }

    #[test]
    fn rejects_bad_input() {
        let good = new_cache(&[("libc.so.6", "/lib/libc.so.6", 0)]);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("other magic", b"not a cache at all".to_vec()),
            ("truncated header", good[..30].to_vec()),
            ("truncated entries", good[..NEW_HEADER + 10].to_vec()),
            ("truncated strings", good[..good.len() - 3].to_vec()),
        ];
        for (name, data) in cases {
            assert!(parse(&data).is_err(), "{name}");
        }
    }

    #[test]
    fn this_hosts_ld_so_cache_parses() {
        // Every glibc system has one after ldconfig; the CI image is Debian.
        let data = std::fs::read("/etc/ld.so.cache").unwrap();
        let entries = parse(&data).unwrap();
        assert!(entries.iter().any(|e| e.name == "libc.so.6"), "{entries:?}");
    }
}
