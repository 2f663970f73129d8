//! Which shared objects a binary loads, found the way glibc's loader finds
//! them (`elf/dl-load.c`, `_dl_map_object`), and where they go in the image.
//!
//! For each DT_NEEDED name not already loaded (by name or soname): a name
//! with a `/` is a path; otherwise, unless the requesting object has
//! DT_RUNPATH, the DT_RPATH of it and of each object up the chain that
//! loaded it; then LD_LIBRARY_PATH; then the requesting object's
//! DT_RUNPATH; then, unless it has DF_1_NODEFLIB, `/etc/ld.so.cache` and the
//! default directories. A candidate of another ELF class or machine is
//! skipped, as the loader does. Not modelled: glibc-hwcaps subdirectories
//! (the baseline library is always found too), `$LIB`/`$PLATFORM` (entries
//! using them are skipped), relative search entries (relative to the
//! working directory at run time, meaningless in an image).
//!
//! Each object keeps its host path (what to read) and its image path (where
//! the image's loader will look): the same, except under `$ORIGIN`, which is
//! expanded with the image location of the requesting object, since the
//! binary itself moves to /usr/local/bin.

use crate::elf::{Class, ElfInfo};
use crate::ldcache::CacheEntry;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How an object was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundBy {
    Executable,
    Interpreter,
    /// A DT_NEEDED entry that is a path.
    Path,
    Rpath,
    LdLibraryPath,
    Runpath,
    Cache,
    DefaultDir,
}

/// One object of the binary's load set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub host_path: PathBuf,
    pub image_path: PathBuf,
    pub info: ElfInfo,
    pub found_by: FoundBy,
}

/// Where to look besides the objects' own paths.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// LD_LIBRARY_PATH entries as the loader would see them.
    pub ld_library_path: Vec<String>,
    pub cache: Vec<CacheEntry>,
    pub default_dirs: Vec<PathBuf>,
}

/// A probe failure other than "absent or not a matching ELF object".
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot read {path}: {message}")]
pub struct ProbeError {
    pub path: PathBuf,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "{needed_by} needs {name}, which was not found (searched: {}); install the \
         library or point LD_LIBRARY_PATH at it",
        display_paths(searched)
    )]
    Missing {
        name: String,
        needed_by: String,
        searched: Vec<PathBuf>,
    },
    #[error(
        "{needed_by} needs {name}, a relative path that only the working directory \
         at run time can resolve; relink it with a plain library name"
    )]
    RelativePath { name: String, needed_by: String },
    #[error(transparent)]
    Probe(#[from] ProbeError),
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".into();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The loader's default directories for objects like `info`, used when the
/// cache has no entry. glibc compiles them in per distribution; this covers
/// Debian-style multiarch and the lib64 layout of other distributions.
pub fn default_dirs(info: &ElfInfo) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(triplet) = multiarch_triplet(info) {
        dirs.push(PathBuf::from(format!("/lib/{triplet}")));
        dirs.push(PathBuf::from(format!("/usr/lib/{triplet}")));
    }
    if info.class == Class::Elf64 {
        dirs.push(PathBuf::from("/lib64"));
        dirs.push(PathBuf::from("/usr/lib64"));
    }
    dirs.push(PathBuf::from("/lib"));
    dirs.push(PathBuf::from("/usr/lib"));
    dirs
}

fn multiarch_triplet(info: &ElfInfo) -> Option<&'static str> {
    use object::elf::*;
    Some(match (info.machine, info.class, info.little_endian) {
        (EM_X86_64, Class::Elf64, true) => "x86_64-linux-gnu",
        (EM_386, Class::Elf32, true) => "i386-linux-gnu",
        (EM_AARCH64, Class::Elf64, true) => "aarch64-linux-gnu",
        (EM_ARM, Class::Elf32, true) => "arm-linux-gnueabihf",
        (EM_PPC64, Class::Elf64, true) => "powerpc64le-linux-gnu",
        (EM_S390, Class::Elf64, false) => "s390x-linux-gnu",
        (EM_RISCV, Class::Elf64, true) => "riscv64-linux-gnu",
        (EM_LOONGARCH, Class::Elf64, true) => "loongarch64-linux-gnu",
        _ => return None,
    })
}

/// Expands `$ORIGIN`/`${ORIGIN}` in a search entry, once for the host and
/// once for the image. `None` for entries the image cannot honour.
pub fn expand(entry: &str, host_origin: &Path, image_origin: &Path) -> Option<(PathBuf, PathBuf)> {
    let host = substitute(entry, &host_origin.to_string_lossy())?;
    let image = substitute(entry, &image_origin.to_string_lossy())?;
    (host.starts_with('/') && image.starts_with('/'))
        .then(|| (PathBuf::from(host), PathBuf::from(image)))
}

fn substitute(entry: &str, origin: &str) -> Option<String> {
    let replaced = entry
        .replace("${ORIGIN}", origin)
        .replace("$ORIGIN", origin);
    // Any other dynamic string token ($LIB, $PLATFORM) is host-specific.
    (!replaced.contains('$')).then_some(replaced)
}

fn parent(p: &Path) -> PathBuf {
    p.parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

/// Finds every object the executable loads, in load (breadth-first)
/// order, starting with the executable and its interpreter.
///
/// `probe(path)` returns the object at `path`, or `None` when there is no
/// file or it is not an ELF object.
pub fn resolve(
    exe: Object,
    search: &Search,
    probe: &mut dyn FnMut(&Path) -> Result<Option<ElfInfo>, ProbeError>,
) -> Result<Vec<Object>, ResolveError> {
    let mut objects = vec![exe];
    // Which object loaded each object (the RPATH chain).
    let mut loader: Vec<Option<usize>> = vec![None];
    let mut names: HashMap<String, usize> = HashMap::new();

    if let Some(interp) = objects[0].info.interpreter.clone() {
        let path = PathBuf::from(&interp);
        let needed_by = objects[0].host_path.display().to_string();
        if !path.is_absolute() {
            return Err(ResolveError::RelativePath {
                name: interp,
                needed_by,
            });
        }
        let info = probe(&path)?.ok_or_else(|| ResolveError::Missing {
            name: interp.clone(),
            needed_by,
            searched: vec![path.clone()],
        })?;
        if let Some(soname) = &info.soname {
            names.insert(soname.clone(), 1);
        }
        names.insert(interp, 1);
        objects.push(Object {
            host_path: path.clone(),
            image_path: path,
            info,
            found_by: FoundBy::Interpreter,
        });
        loader.push(Some(0));
    }

    let mut next = 0;
    while next < objects.len() {
        let requester = next;
        next += 1;
        for name in objects[requester].info.needed.clone() {
            if names.contains_key(&name) {
                continue;
            }
            let found = find(&name, requester, &objects, &loader, search, probe)?;
            let index = match objects.iter().position(|o| o.host_path == found.host_path) {
                Some(i) => i,
                None => {
                    objects.push(found);
                    loader.push(Some(requester));
                    objects.len() - 1
                }
            };
            if let Some(soname) = &objects[index].info.soname {
                names.entry(soname.clone()).or_insert(index);
            }
            names.insert(name, index);
        }
    }
    Ok(objects)
}

fn find(
    name: &str,
    requester: usize,
    objects: &[Object],
    loader: &[Option<usize>],
    search: &Search,
    probe: &mut dyn FnMut(&Path) -> Result<Option<ElfInfo>, ProbeError>,
) -> Result<Object, ResolveError> {
    let req = &objects[requester];
    let exe = &objects[0];
    let needed_by = req.host_path.display().to_string();

    if name.contains('/') {
        let path = PathBuf::from(name);
        if !path.is_absolute() {
            return Err(ResolveError::RelativePath {
                name: name.into(),
                needed_by,
            });
        }
        return match probe(&path)? {
            Some(info) if info.compatible_with(&exe.info) => Ok(Object {
                host_path: path.clone(),
                image_path: path,
                info,
                found_by: FoundBy::Path,
            }),
            _ => Err(ResolveError::Missing {
                name: name.into(),
                needed_by,
                searched: vec![path],
            }),
        };
    }

    // (host dir or file, image dir or file, is a directory, how)
    let mut candidates: Vec<(PathBuf, PathBuf, bool, FoundBy)> = Vec::new();
    let dirs = |entries: &[String], o: &Object, how| -> Vec<(PathBuf, PathBuf, bool, FoundBy)> {
        entries
            .iter()
            .filter_map(|e| expand(e, &parent(&o.host_path), &parent(&o.image_path)))
            .map(|(h, i)| (h, i, true, how))
            .collect()
    };
    if req.info.runpath.is_empty() {
        let mut at = Some(requester);
        while let Some(i) = at {
            candidates.extend(dirs(&objects[i].info.rpath, &objects[i], FoundBy::Rpath));
            at = loader[i];
        }
    }
    candidates.extend(dirs(&search.ld_library_path, exe, FoundBy::LdLibraryPath));
    candidates.extend(dirs(&req.info.runpath, req, FoundBy::Runpath));
    if !req.info.nodeflib {
        candidates.extend(
            search
                .cache
                .iter()
                .filter(|e| e.name == name)
                .map(|e| (e.path.clone(), e.path.clone(), false, FoundBy::Cache)),
        );
        candidates.extend(
            search
                .default_dirs
                .iter()
                .map(|d| (d.clone(), d.clone(), true, FoundBy::DefaultDir)),
        );
    }

    let mut searched = Vec::new();
    for (host, image, is_dir, found_by) in candidates {
        let (host_path, image_path) = if is_dir {
            (host.join(name), image.join(name))
        } else {
            (host, image)
        };
        if searched.contains(&host_path) {
            continue;
        }
        if let Some(info) = probe(&host_path)? {
            if info.compatible_with(&exe.info) {
                return Ok(Object {
                    host_path,
                    image_path,
                    info,
                    found_by,
                });
            }
        }
        searched.push(host_path);
    }
    Err(ResolveError::Missing {
        name: name.into(),
        needed_by,
        searched,
    })
}

/// Directories that the image's loader would not search by itself (it has
/// no ld.so.cache and no LD_LIBRARY_PATH): where objects found through the
/// host's cache or LD_LIBRARY_PATH live, minus the default directories.
/// The image sets LD_LIBRARY_PATH to these.
pub fn extra_library_dirs(objects: &[Object], default_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = objects
        .iter()
        .filter(|o| matches!(o.found_by, FoundBy::Cache | FoundBy::LdLibraryPath))
        .map(|o| parent(&o.image_path))
        .filter(|d| !default_dirs.contains(d))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::elf::{EM_386, EM_X86_64};

    fn lib(soname: &str, needed: &[&str]) -> ElfInfo {
        ElfInfo {
            class: Class::Elf64,
            little_endian: true,
            machine: EM_X86_64,
            interpreter: None,
            soname: Some(soname.into()),
            needed: needed.iter().map(|s| s.to_string()).collect(),
            rpath: vec![],
            runpath: vec![],
            nodeflib: false,
        }
    }

    fn exe_info(needed: &[&str]) -> ElfInfo {
        ElfInfo {
            interpreter: Some("/lib64/ld-linux-x86-64.so.2".into()),
            soname: None,
            ..lib("", needed)
        }
    }

    fn exe(info: ElfInfo) -> Object {
        Object {
            host_path: "/home/u/target/debug/kubemark".into(),
            image_path: "/usr/local/bin/kubemark".into(),
            info,
            found_by: FoundBy::Executable,
        }
    }

    /// A fake filesystem: path -> object.
    struct Fs(HashMap<PathBuf, ElfInfo>, Vec<PathBuf>);

    impl Fs {
        fn new(files: &[(&str, ElfInfo)]) -> Self {
            Fs(
                files
                    .iter()
                    .map(|(p, i)| (PathBuf::from(p), i.clone()))
                    .collect(),
                vec![],
            )
        }
        fn probe(&mut self, p: &Path) -> Result<Option<ElfInfo>, ProbeError> {
            self.1.push(p.to_path_buf());
            Ok(self.0.get(p).cloned())
        }
    }

    fn debian() -> Vec<(&'static str, ElfInfo)> {
        vec![
            (
                "/lib64/ld-linux-x86-64.so.2",
                lib("ld-linux-x86-64.so.2", &[]),
            ),
            (
                "/lib/x86_64-linux-gnu/libc.so.6",
                lib("libc.so.6", &["ld-linux-x86-64.so.2"]),
            ),
            (
                "/lib/x86_64-linux-gnu/libm.so.6",
                lib("libm.so.6", &["libc.so.6"]),
            ),
            (
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                lib("libgcc_s.so.1", &["libc.so.6"]),
            ),
        ]
    }

    fn search(cache: &[(&str, &str)], ld_library_path: &[&str]) -> Search {
        let mut s = Search {
            ld_library_path: ld_library_path.iter().map(|s| s.to_string()).collect(),
            cache: cache
                .iter()
                .map(|(n, p)| CacheEntry {
                    name: n.to_string(),
                    path: p.into(),
                })
                .collect(),
            default_dirs: vec![],
        };
        s.default_dirs = default_dirs(&exe_info(&[]));
        s
    }

    fn paths(objects: &[Object]) -> Vec<(String, String, FoundBy)> {
        objects
            .iter()
            .map(|o| {
                (
                    o.host_path.display().to_string(),
                    o.image_path.display().to_string(),
                    o.found_by,
                )
            })
            .collect()
    }

    fn row(host: &str, image: &str, how: FoundBy) -> (String, String, FoundBy) {
        (host.into(), image.into(), how)
    }

    #[test]
    fn resolves_a_typical_rust_binary_through_the_cache_and_default_dirs() {
        let mut fs = Fs::new(&debian());
        // libm is in the cache, libgcc_s and libc only in a default dir.
        let s = search(&[("libm.so.6", "/lib/x86_64-linux-gnu/libm.so.6")], &[]);
        let objects = resolve(
            exe(exe_info(&["libgcc_s.so.1", "libm.so.6", "libc.so.6"])),
            &s,
            &mut |p| fs.probe(p),
        )
        .unwrap();
        assert_eq!(
            paths(&objects),
            [
                row(
                    "/home/u/target/debug/kubemark",
                    "/usr/local/bin/kubemark",
                    FoundBy::Executable
                ),
                row(
                    "/lib64/ld-linux-x86-64.so.2",
                    "/lib64/ld-linux-x86-64.so.2",
                    FoundBy::Interpreter
                ),
                row(
                    "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                    "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                    FoundBy::DefaultDir
                ),
                row(
                    "/lib/x86_64-linux-gnu/libm.so.6",
                    "/lib/x86_64-linux-gnu/libm.so.6",
                    FoundBy::Cache
                ),
                row(
                    "/lib/x86_64-linux-gnu/libc.so.6",
                    "/lib/x86_64-linux-gnu/libc.so.6",
                    FoundBy::DefaultDir
                ),
            ]
        );
        // libc's need of the interpreter is satisfied by its soname: never searched.
        assert!(!fs
            .1
            .iter()
            .any(|p| p.ends_with("x86_64-linux-gnu/ld-linux-x86-64.so.2")));
        // Default dirs on a Debian host need no LD_LIBRARY_PATH in the image.
        assert!(extra_library_dirs(&objects, &s.default_dirs).is_empty());
    }

    #[test]
    fn search_order_follows_the_loader() {
        // Each case: exe rpath, exe runpath, LD_LIBRARY_PATH, cache, where
        // libfoo exists, expected (host, image, how).
        struct Case {
            name: &'static str,
            rpath: &'static [&'static str],
            runpath: &'static [&'static str],
            ld_library_path: &'static [&'static str],
            cache: &'static [(&'static str, &'static str)],
            nodeflib: bool,
            files: &'static [&'static str],
            want: Option<(&'static str, &'static str, FoundBy)>,
        }
        let cases = [
            Case {
                name: "rpath before LD_LIBRARY_PATH",
                rpath: &["/opt/r"],
                runpath: &[],
                ld_library_path: &["/opt/l"],
                cache: &[],
                nodeflib: false,
                files: &["/opt/r/libfoo.so", "/opt/l/libfoo.so"],
                want: Some(("/opt/r/libfoo.so", "/opt/r/libfoo.so", FoundBy::Rpath)),
            },
            Case {
                name: "LD_LIBRARY_PATH before runpath",
                rpath: &[],
                runpath: &["/opt/rp"],
                ld_library_path: &["/opt/l"],
                cache: &[],
                nodeflib: false,
                files: &["/opt/rp/libfoo.so", "/opt/l/libfoo.so"],
                want: Some((
                    "/opt/l/libfoo.so",
                    "/opt/l/libfoo.so",
                    FoundBy::LdLibraryPath,
                )),
            },
            Case {
                name: "runpath before cache",
                rpath: &[],
                runpath: &["/opt/rp"],
                ld_library_path: &[],
                cache: &[("libfoo.so", "/usr/lib/libfoo.so")],
                nodeflib: false,
                files: &["/opt/rp/libfoo.so", "/usr/lib/libfoo.so"],
                want: Some(("/opt/rp/libfoo.so", "/opt/rp/libfoo.so", FoundBy::Runpath)),
            },
            Case {
                name: "cache before default dirs",
                rpath: &[],
                runpath: &[],
                ld_library_path: &[],
                cache: &[("libfoo.so", "/usr/local/lib/libfoo.so")],
                nodeflib: false,
                files: &["/usr/local/lib/libfoo.so", "/lib/libfoo.so"],
                want: Some((
                    "/usr/local/lib/libfoo.so",
                    "/usr/local/lib/libfoo.so",
                    FoundBy::Cache,
                )),
            },
            Case {
                name: "$ORIGIN moves with the binary",
                rpath: &[],
                runpath: &["$ORIGIN/../lib"],
                ld_library_path: &[],
                cache: &[],
                nodeflib: false,
                files: &["/home/u/target/debug/../lib/libfoo.so"],
                want: Some((
                    "/home/u/target/debug/../lib/libfoo.so",
                    "/usr/local/bin/../lib/libfoo.so",
                    FoundBy::Runpath,
                )),
            },
            Case {
                name: "$LIB entries are skipped",
                rpath: &["/opt/$LIB"],
                runpath: &[],
                ld_library_path: &[],
                cache: &[],
                nodeflib: false,
                files: &["/opt/$LIB/libfoo.so", "/usr/lib/libfoo.so"],
                want: Some((
                    "/usr/lib/libfoo.so",
                    "/usr/lib/libfoo.so",
                    FoundBy::DefaultDir,
                )),
            },
            Case {
                name: "nodeflib skips cache and default dirs",
                rpath: &[],
                runpath: &[],
                ld_library_path: &[],
                cache: &[("libfoo.so", "/usr/lib/libfoo.so")],
                nodeflib: true,
                files: &["/usr/lib/libfoo.so"],
                want: None,
            },
            Case {
                name: "missing everywhere",
                rpath: &[],
                runpath: &[],
                ld_library_path: &["/opt/l"],
                cache: &[],
                nodeflib: false,
                files: &[],
                want: None,
            },
        ];
        for c in cases {
            let mut info = exe_info(&["libfoo.so"]);
            info.interpreter = None;
            info.rpath = c.rpath.iter().map(|s| s.to_string()).collect();
            info.runpath = c.runpath.iter().map(|s| s.to_string()).collect();
            info.nodeflib = c.nodeflib;
            let files: Vec<(&str, ElfInfo)> = c
                .files
                .iter()
                .map(|f| (*f, lib("libfoo.so", &[])))
                .collect();
            let mut fs = Fs::new(&files);
            let s = search(c.cache, c.ld_library_path);
            let got = resolve(exe(info), &s, &mut |p| fs.probe(p));
            match (got, c.want) {
                (Ok(objects), Some((host, image, how))) => {
                    assert_eq!(paths(&objects[1..]), [row(host, image, how)], "{}", c.name)
                }
                (Err(ResolveError::Missing { name, searched, .. }), None) => {
                    assert_eq!(name, "libfoo.so", "{}", c.name);
                    // nodeflib leaves nothing to search here.
                    assert_eq!(searched.is_empty(), c.nodeflib, "{}", c.name);
                }
                (got, want) => panic!("{}: got {got:?}, want {want:?}", c.name),
            }
        }
    }

    #[test]
    fn rpath_of_the_loading_chain_applies_to_indirect_needs() {
        // exe (RPATH /opt/a) -> liba (no paths) -> libb, found via exe's RPATH.
        let mut info = exe_info(&["liba.so"]);
        info.interpreter = None;
        info.rpath = vec!["/opt/a".into()];
        let mut fs = Fs::new(&[
            ("/opt/a/liba.so", lib("liba.so", &["libb.so"])),
            ("/opt/a/libb.so", lib("libb.so", &[])),
        ]);
        let objects = resolve(exe(info.clone()), &search(&[], &[]), &mut |p| fs.probe(p)).unwrap();
        assert_eq!(objects[2].host_path, PathBuf::from("/opt/a/libb.so"));

        // With a RUNPATH on liba, the chain's RPATH no longer applies.
        let mut liba = lib("liba.so", &["libb.so"]);
        liba.runpath = vec!["/nowhere".into()];
        let mut fs = Fs::new(&[
            ("/opt/a/liba.so", liba),
            ("/opt/a/libb.so", lib("libb.so", &[])),
        ]);
        let err = resolve(exe(info), &search(&[], &[]), &mut |p| fs.probe(p)).unwrap_err();
        assert!(err.to_string().contains("libb.so"), "{err}");
    }

    #[test]
    fn skips_libraries_of_another_architecture() {
        let mut i386 = lib("libfoo.so", &[]);
        i386.class = Class::Elf32;
        i386.machine = EM_386;
        let mut info = exe_info(&["libfoo.so"]);
        info.interpreter = None;
        let mut fs = Fs::new(&[
            ("/lib/libfoo.so", i386),
            ("/usr/lib/libfoo.so", lib("libfoo.so", &[])),
        ]);
        let objects = resolve(exe(info), &search(&[], &[]), &mut |p| fs.probe(p)).unwrap();
        assert_eq!(objects[1].host_path, PathBuf::from("/usr/lib/libfoo.so"));
    }

    #[test]
    fn same_file_under_two_names_is_packed_once() {
        let mut info = exe_info(&["libfoo.so", "libfoo.so.1"]);
        info.interpreter = None;
        let mut fs = Fs::new(&[]);
        fs.0.insert("/usr/lib/libfoo.so".into(), lib("libfoo.so.1", &[]));
        let s = search(
            &[
                ("libfoo.so", "/usr/lib/libfoo.so"),
                ("libfoo.so.1", "/usr/lib/libfoo.so"),
            ],
            &[],
        );
        let objects = resolve(exe(info), &s, &mut |p| fs.probe(p)).unwrap();
        assert_eq!(objects.len(), 2);
    }

    #[test]
    fn missing_or_relative_interpreter_is_an_error() {
        let mut fs = Fs::new(&[]);
        let err = resolve(exe(exe_info(&[])), &search(&[], &[]), &mut |p| fs.probe(p)).unwrap_err();
        assert!(
            matches!(&err, ResolveError::Missing { name, .. } if name == "/lib64/ld-linux-x86-64.so.2"),
            "{err:?}"
        );
        let mut info = exe_info(&[]);
        info.interpreter = Some("ld.so".into());
        let err = resolve(exe(info), &search(&[], &[]), &mut |p| fs.probe(p)).unwrap_err();
        assert!(matches!(err, ResolveError::RelativePath { .. }), "{err:?}");
    }

    #[test]
    fn library_dirs_the_image_loader_would_miss() {
        let obj = |path: &str, how| Object {
            host_path: path.into(),
            image_path: path.into(),
            info: lib("x", &[]),
            found_by: how,
        };
        let objects = [
            obj("/usr/local/lib/libfoo.so", FoundBy::Cache),
            obj("/opt/l/libbar.so", FoundBy::LdLibraryPath),
            obj("/opt/l/libbaz.so", FoundBy::LdLibraryPath),
            obj("/lib/x86_64-linux-gnu/libc.so.6", FoundBy::Cache),
            obj("/opt/r/libr.so", FoundBy::Rpath),
        ];
        let defaults = default_dirs(&exe_info(&[]));
        assert_eq!(
            extra_library_dirs(&objects, &defaults),
            [PathBuf::from("/opt/l"), PathBuf::from("/usr/local/lib")]
        );
    }

    #[test]
    fn expands_origin() {
        let h = Path::new("/host/bin");
        let i = Path::new("/usr/local/bin");
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("/opt/lib", Some(("/opt/lib", "/opt/lib"))),
            ("$ORIGIN", Some(("/host/bin", "/usr/local/bin"))),
            (
                "${ORIGIN}/../lib",
                Some(("/host/bin/../lib", "/usr/local/bin/../lib")),
            ),
            ("$PLATFORM/lib", None),
            ("lib", None),
        ];
        for (entry, want) in cases {
            let want = want.map(|(a, b)| (PathBuf::from(a), PathBuf::from(b)));
            assert_eq!(expand(entry, h, i), want, "{entry}");
        }
    }
}
