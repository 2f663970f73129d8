//! The image's single layer as a tar stream: planned as a sorted list of
//! entries (parents before children, every parent directory explicit), and
//! written with fixed owners and mtimes so that the same inputs always give
//! the same bytes and therefore the same digest.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// What an entry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Dir,
    Bytes(Vec<u8>),
    /// A host file, read when the layer is written.
    File {
        path: PathBuf,
        size: u64,
    },
}

/// One tar entry of the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the root, without a leading or trailing `/`.
    pub path: String,
    pub mode: u32,
    pub content: Content,
}

impl Entry {
    pub fn dir(path: &str, mode: u32) -> Self {
        Entry {
            path: path.into(),
            mode,
            content: Content::Dir,
        }
    }

    pub fn bytes(path: &str, mode: u32, bytes: impl Into<Vec<u8>>) -> Self {
        Entry {
            path: path.into(),
            mode,
            content: Content::Bytes(bytes.into()),
        }
    }

    pub fn is_dir(&self) -> bool {
        self.content == Content::Dir
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("image path {0:?} must be absolute, UTF-8 and free of `..`")]
    BadPath(PathBuf),
    #[error("two different entries for /{0} in the image")]
    Conflict(String),
    #[error("/{0} is both a file and the parent of /{1} in the image")]
    FileAsParent(String, String),
}

/// The layer path of an absolute image path (`/usr/lib/x` -> `usr/lib/x`),
/// normalised the way the kernel would resolve it (`a/../b` -> `b`).
pub fn relative_path(path: &Path) -> Result<String, LayerError> {
    let bad = || LayerError::BadPath(path.to_path_buf());
    let mut parts: Vec<&str> = Vec::new();
    let mut components = path.components();
    if components.next() != Some(Component::RootDir) {
        return Err(bad());
    }
    for c in components {
        match c {
            Component::Normal(s) => parts.push(s.to_str().ok_or_else(bad)?),
            Component::CurDir => {}
            // The image has no symlinked directories, so `..` is lexical.
            Component::ParentDir => {
                parts.pop().ok_or_else(bad)?;
            }
            Component::RootDir | Component::Prefix(_) => return Err(bad()),
        }
    }
    if parts.is_empty() {
        return Err(bad());
    }
    Ok(parts.join("/"))
}

/// Adds every missing parent directory (mode 0755), drops exact
/// duplicates, rejects conflicting ones and sorts by path, which puts each
/// directory before its contents.
pub fn plan(entries: Vec<Entry>) -> Result<Vec<Entry>, LayerError> {
    let mut all: Vec<Entry> = Vec::with_capacity(entries.len());
    let push = |e: Entry, all: &mut Vec<Entry>| -> Result<(), LayerError> {
        match all.iter().find(|x| x.path == e.path) {
            None => all.push(e),
            Some(x) if x == &e => {}
            // An implied parent yields to an explicit directory entry.
            Some(x) if x.is_dir() && e.is_dir() => {}
            Some(_) => return Err(LayerError::Conflict(e.path)),
        }
        Ok(())
    };
    // Explicit entries first, so that their modes win over implied parents.
    for e in &entries {
        push(e.clone(), &mut all)?;
    }
    for e in &entries {
        let mut prefix = e.path.as_str();
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            if let Some(x) = all.iter().find(|x| x.path == parent) {
                if !x.is_dir() {
                    return Err(LayerError::FileAsParent(parent.into(), e.path.clone()));
                }
            } else {
                push(Entry::dir(parent, 0o755), &mut all)?;
            }
            prefix = parent;
        }
    }
    all.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(all)
}

/// Writes the entries as a tar stream (without compression) and returns
/// the writer. Files are read from the host here; one that changed size
/// since it was planned is an error rather than a corrupt layer.
pub fn write_tar<W: Write>(entries: &[Entry], out: W) -> io::Result<W> {
    let mut builder = tar::Builder::new(out);
    for e in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(e.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        match &e.content {
            Content::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder.append_data(&mut header, format!("{}/", e.path), io::empty())?;
            }
            Content::Bytes(b) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(b.len() as u64);
                builder.append_data(&mut header, &e.path, b.as_slice())?;
            }
            Content::File { path, size } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(*size);
                let file = File::open(path).map_err(|err| {
                    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
                })?;
                let reader = ExactReader {
                    inner: file.take(*size),
                    remaining: *size,
                    path,
                };
                builder.append_data(&mut header, &e.path, reader)?;
            }
        }
    }
    builder.into_inner()
}

/// Reads exactly `remaining` bytes, failing on an early end of file.
struct ExactReader<'a, R> {
    inner: R,
    remaining: u64,
    path: &'a Path,
}

impl<R: Read> Read for ExactReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} shrank while it was being read ({} bytes missing)",
                    self.path.display(),
                    self.remaining
                ),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        let cases: &[(&str, Option<&str>)] = &[
            ("/usr/local/bin/kubemark", Some("usr/local/bin/kubemark")),
            ("/lib64/./ld.so", Some("lib64/ld.so")),
            (
                "/usr/local/bin/../lib/libfoo.so",
                Some("usr/local/lib/libfoo.so"),
            ),
            ("/tmp/", Some("tmp")),
            ("relative/x", None),
            ("/", None),
            ("/..", None),
        ];
        for (input, want) in cases {
            let got = relative_path(Path::new(input)).ok();
            assert_eq!(got.as_deref(), *want, "{input}");
        }
    }

    #[test]
    fn plan_adds_parents_and_sorts() {
        let planned = plan(vec![
            Entry::bytes("usr/local/bin/kubemark", 0o755, "bin"),
            Entry::dir("tmp", 0o1777),
            Entry::bytes("etc/passwd", 0o644, "p"),
            Entry::bytes("etc/group", 0o644, "g"),
            Entry::bytes("usr-other", 0o644, "x"),
        ])
        .unwrap();
        let got: Vec<(&str, u32, bool)> = planned
            .iter()
            .map(|e| (e.path.as_str(), e.mode, e.is_dir()))
            .collect();
        assert_eq!(
            got,
            [
                ("etc", 0o755, true),
                ("etc/group", 0o644, false),
                ("etc/passwd", 0o644, false),
                ("tmp", 0o1777, true),
                ("usr", 0o755, true),
                ("usr-other", 0o644, false),
                ("usr/local", 0o755, true),
                ("usr/local/bin", 0o755, true),
                ("usr/local/bin/kubemark", 0o755, false),
            ]
        );
    }

    #[test]
    fn plan_rejects_conflicts_and_merges_duplicates() {
        let same = plan(vec![
            Entry::bytes("a/b", 0o644, "x"),
            Entry::bytes("a/b", 0o644, "x"),
        ])
        .unwrap();
        assert_eq!(same.len(), 2);

        let cases = [
            vec![
                Entry::bytes("a/b", 0o644, "x"),
                Entry::bytes("a/b", 0o644, "y"),
            ],
            vec![
                Entry::bytes("a", 0o644, "x"),
                Entry::bytes("a/b", 0o644, "y"),
            ],
            vec![Entry::dir("a", 0o755), Entry::bytes("a", 0o644, "y")],
        ];
        for entries in cases {
            assert!(plan(entries.clone()).is_err(), "{entries:?}");
        }
    }

    fn read_back(tar_bytes: &[u8]) -> Vec<(String, u32, u64, Vec<u8>, tar::EntryType)> {
        let mut archive = tar::Archive::new(tar_bytes);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    data,
                    h.entry_type(),
                )
            })
            .collect()
    }

    #[test]
    fn writes_a_deterministic_tar() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("bin");
        std::fs::write(&host, b"\x7fELF-ish").unwrap();
        let long = format!("opt/{}/file", "d".repeat(120));
        let entries = plan(vec![
            Entry {
                path: "usr/local/bin/kubemark".into(),
                mode: 0o755,
                content: Content::File {
                    path: host.clone(),
                    size: 8,
                },
            },
            Entry::dir("tmp", 0o1777),
            Entry::bytes("etc/passwd", 0o644, "root:x:0:0::/:/x\n"),
            Entry::bytes(&long, 0o644, "long"),
        ])
        .unwrap();
        let a = write_tar(&entries, Vec::new()).unwrap();
        let b = write_tar(&entries, Vec::new()).unwrap();
        assert_eq!(a, b);

        let got = read_back(&a);
        let summary: Vec<(&str, u32, u64, &[u8])> = got
            .iter()
            .map(|(p, m, t, d, _)| (p.as_str(), *m, *t, d.as_slice()))
            .collect();
        assert_eq!(summary.len(), 10);
        assert!(summary.contains(&("tmp/", 0o1777, 0, &b""[..])));
        assert!(summary.contains(&("usr/local/bin/kubemark", 0o755, 0, &b"\x7fELF-ish"[..])));
        assert!(summary.contains(&("etc/passwd", 0o644, 0, &b"root:x:0:0::/:/x\n"[..])));
        assert!(summary.contains(&(long.as_str(), 0o644, 0, &b"long"[..])));
        assert_eq!(got[0].0, "etc/");
        assert_eq!(got[0].4, tar::EntryType::Directory);
    }

    #[test]
    fn a_file_that_shrank_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("bin");
        std::fs::write(&host, b"short").unwrap();
        let entries = vec![Entry {
            path: "bin".into(),
            mode: 0o755,
            content: Content::File {
                path: host,
                size: 100,
            },
        }];
        let err = write_tar(&entries, Vec::new()).unwrap_err();
        assert!(err.to_string().contains("shrank"), "{err}");
    }
}
