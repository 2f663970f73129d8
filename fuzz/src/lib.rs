//! Helpers shared by the fuzz targets: cutting one libFuzzer input into
//! several fields and a runtime for async entry points.

use std::sync::OnceLock;

/// Splits `data` at NUL bytes into exactly `N` fields (missing ones are
/// empty; the last takes the rest). NUL never occurs in JSON, YAML, paths or
/// selectors, so seeds stay readable.
pub fn fields<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        if i + 1 == N {
            *slot = rest;
            break;
        }
        match rest.iter().position(|b| *b == 0) {
            Some(p) => {
                *slot = &rest[..p];
                rest = &rest[p + 1..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out
}

/// The first byte picks one of `choices`; returns it and the rest.
pub fn pick<'a, T: Copy>(data: &'a [u8], choices: &[T]) -> Option<(T, &'a [u8])> {
    let (first, rest) = data.split_first()?;
    Some((choices[*first as usize % choices.len()], rest))
}

/// A current-thread Tokio runtime for async entry points, built once.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime builds")
    })
}

/// Every registered resource's storage name (`pods`, `deployments.apps`, ...).
pub fn storage_names() -> Vec<String> {
    apimachinery::registry::RESOURCES
        .iter()
        .map(|r| r.storage_name())
        .collect()
}
