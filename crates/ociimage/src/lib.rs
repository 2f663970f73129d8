//! Writing OCI image archives of a binary and its runtime files, without a
//! daemon.
//!
//! `build` packs a Linux ELF binary at /usr/local/bin/kubemark together
//! with its dynamic loader and every shared library it loads (found the
//! way glibc's loader finds them, see `resolve.rs`), the host's CA
//! certificates, a minimal /etc/passwd, /etc/group and /etc/nsswitch.conf
//! and a /tmp, into one gzipped layer, and writes an `oci-archive` (a tar
//! of an OCI image layout: `oci-layout`, `index.json`, `blobs/sha256/*`).
//! Entries are sorted and carry fixed owners and mtimes, so the same inputs
//! always give the same manifest digest.
//!
//! The libraries are found by reading the ELF files here (with `object`)
//! rather than by running `ldd`: `ldd` may execute the binary's own loader
//! on the file (unsafe for an arbitrary `--binary`), its output is not a
//! stable format, it is missing on some hosts, and parsing keeps the
//! resolution a pure, unit-tested function.

mod digest;
mod elf;
mod layer;
mod ldcache;
mod resolve;
mod spec;

use layer::{Content, Entry};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub use digest::Digest;

/// The tag recorded when `--tag` is not given.
pub const DEFAULT_TAG: &str = concat!("kubemark:", env!("CARGO_PKG_VERSION"));
/// Where the binary goes in the image; also the entrypoint.
pub const BINARY_PATH: &str = "/usr/local/bin/kubemark";
/// The host's CA bundle (Debian/Ubuntu/Alpine layout), copied to the same path.
pub const CA_CERTIFICATES: &str = "/etc/ssl/certs/ca-certificates.crt";
const LD_CACHE: &str = "/etc/ld.so.cache";
/// gzip level of the layer. The fastest: a debug kubemark is hundreds of
/// MB, and level 6 costs several times the time for about a tenth less size.
const GZIP_LEVEL: u32 = 1;

const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\n";
/// Host names from /etc/hosts (which Kubernetes writes into every pod)
/// before DNS; glibc's default without this file asks DNS first.
const NSSWITCH: &str = "hosts: files dns\n";

/// `kubemark image build`: write an OCI image archive of kubemark.
#[derive(clap::Args, Debug, Clone)]
pub struct ImageBuildArgs {
    /// Where to write the image, an `oci-archive` tar (OCI image layout).
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
    /// Image name and tag, recorded as the `org.opencontainers.image.ref.name`
    /// annotation.
    #[arg(long, default_value = DEFAULT_TAG)]
    pub tag: String,
    /// The binary to package [default: this kubemark binary].
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
}

/// What `build` wrote.
#[derive(Debug, Clone)]
pub struct Summary {
    pub output: PathBuf,
    pub tag: String,
    /// `sha256:<hex>` of the image manifest (what registries call the digest).
    pub manifest_digest: String,
    /// Bytes of the archive.
    pub size: u64,
    /// Absolute paths of the regular files in the image.
    pub files: Vec<String>,
    /// `linux/amd64` and the like.
    pub platform: String,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let out = self.output.display();
        write!(
            f,
            "wrote {out} (oci-archive, {}, manifest {}, {:.1} MB, {} files); \
             load it with: skopeo copy oci-archive:{out} docker-daemon:{}",
            self.platform,
            self.manifest_digest,
            self.size as f64 / 1e6,
            self.files.len(),
            self.tag
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot find the running executable ({0}); pass --binary PATH")]
    CurrentExe(io::Error),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{} cannot be packaged: {source}; pass a Linux ELF binary", path.display())]
    Elf {
        path: PathBuf,
        source: elf::ElfError,
    },
    #[error("cannot use {}: {source}; regenerate it with ldconfig", path.display())]
    LdCache {
        path: PathBuf,
        source: ldcache::LdCacheError,
    },
    #[error(
        "CA certificates not found at {}: install them (apt-get install ca-certificates) \
         so that the image can verify TLS servers",
        path.display()
    )]
    MissingCaCertificates { path: PathBuf },
    #[error("the output directory {} does not exist; create it first", path.display())]
    MissingOutputDir { path: PathBuf },
    #[error(transparent)]
    Resolve(#[from] resolve::ResolveError),
    #[error(transparent)]
    Layer(#[from] layer::LayerError),
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ImageError {
    let path = path.to_path_buf();
    move |source| ImageError::Io {
        action,
        path,
        source,
    }
}

/// Host files that the image copies; fixed in `build`, replaceable in tests.
#[derive(Debug, Clone)]
struct Host {
    ca_certificates: PathBuf,
    ld_cache: PathBuf,
    ld_library_path: Option<String>,
}

/// Writes the image archive that `args` describes.
pub fn build(args: &ImageBuildArgs) -> Result<Summary, ImageError> {
    let binary = match &args.binary {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(ImageError::CurrentExe)?,
    };
    let host = Host {
        ca_certificates: CA_CERTIFICATES.into(),
        ld_cache: LD_CACHE.into(),
        ld_library_path: std::env::var("LD_LIBRARY_PATH").ok(),
    };
    build_from(&args.output, &args.tag, &binary, &host)
}

fn read_elf(path: &Path) -> Result<elf::ElfInfo, ImageError> {
    let file = File::open(path).map_err(io_err("open", path))?;
    let cache = object::ReadCache::new(file);
    elf::parse(&cache).map_err(|source| ImageError::Elf {
        path: path.to_path_buf(),
        source,
    })
}

/// The loader's view of a candidate: absent and non-ELF files are skipped.
fn probe(path: &Path) -> Result<Option<elf::ElfInfo>, resolve::ProbeError> {
    match File::open(path) {
        Ok(file) => Ok(elf::parse(&object::ReadCache::new(file)).ok()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(resolve::ProbeError {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
    }
}

fn read_ld_cache(path: &Path) -> Result<Vec<ldcache::CacheEntry>, ImageError> {
    match fs::read(path) {
        Ok(data) => ldcache::parse(&data).map_err(|source| ImageError::LdCache {
            path: path.to_path_buf(),
            source,
        }),
        // No cache (musl, or never generated): the loader goes on without one.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

fn host_file(image_path: &Path, host_path: &Path, mode: u32) -> Result<Entry, ImageError> {
    let meta = fs::metadata(host_path).map_err(io_err("read", host_path))?;
    Ok(Entry {
        path: layer::relative_path(image_path)?,
        mode,
        content: Content::File {
            path: host_path.to_path_buf(),
            size: meta.len(),
        },
    })
}

fn build_from(output: &Path, tag: &str, binary: &Path, host: &Host) -> Result<Summary, ImageError> {
    spec::validate_ref_name(tag)?;
    let out_dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !out_dir.is_dir() {
        return Err(ImageError::MissingOutputDir { path: out_dir });
    }

    let exe_info = read_elf(binary)?;
    let platform = spec::platform_for(&exe_info)?;
    let search = resolve::Search {
        ld_library_path: host
            .ld_library_path
            .as_deref()
            .map(|s| {
                s.split([':', ';'])
                    .filter(|e| !e.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        cache: read_ld_cache(&host.ld_cache)?,
        default_dirs: resolve::default_dirs(&exe_info),
    };
    let exe = resolve::Object {
        host_path: binary.to_path_buf(),
        image_path: BINARY_PATH.into(),
        info: exe_info,
        found_by: resolve::FoundBy::Executable,
    };
    let objects = resolve::resolve(exe, &search, &mut probe)?;

    match fs::metadata(&host.ca_certificates) {
        Ok(m) if m.is_file() => {}
        Ok(_) => {
            return Err(ImageError::MissingCaCertificates {
                path: host.ca_certificates.clone(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ImageError::MissingCaCertificates {
                path: host.ca_certificates.clone(),
            })
        }
        Err(e) => return Err(io_err("read", &host.ca_certificates)(e)),
    }

    let mut entries = Vec::new();
    for o in &objects {
        entries.push(host_file(&o.image_path, &o.host_path, 0o755)?);
    }
    entries.push(host_file(
        Path::new(CA_CERTIFICATES),
        &host.ca_certificates,
        0o644,
    )?);
    entries.push(Entry::bytes("etc/passwd", 0o644, PASSWD));
    entries.push(Entry::bytes("etc/group", 0o644, GROUP));
    entries.push(Entry::bytes("etc/nsswitch.conf", 0o644, NSSWITCH));
    entries.push(Entry::dir("tmp", 0o1777));
    let entries = layer::plan(entries)?;

    let mut env = vec![
        "PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin".to_string(),
        format!("SSL_CERT_FILE={CA_CERTIFICATES}"),
    ];
    let extra = resolve::extra_library_dirs(&objects, &search.default_dirs);
    if !extra.is_empty() {
        let dirs: Vec<String> = extra.iter().map(|d| d.display().to_string()).collect();
        env.push(format!("LD_LIBRARY_PATH={}", dirs.join(":")));
    }
    let run = spec::RunConfig {
        entrypoint: vec![BINARY_PATH.into()],
        env,
        working_dir: "/".into(),
    };

    // The layer goes to a temporary file next to the output: its digest
    // must be known before the archive's index can be written.
    let layer_file =
        tempfile::NamedTempFile::new_in(&out_dir).map_err(io_err("write in", &out_dir))?;
    let (diff_id, layer_digest, layer_size) = write_layer(&entries, layer_file.as_file())
        .map_err(io_err("write the image layer to", layer_file.path()))?;

    let config = spec::config_json(&platform, &run, diff_id)?;
    let config_desc = spec::Descriptor::of(spec::MEDIA_TYPE_CONFIG, &config);
    let layer_desc = spec::Descriptor::new(spec::MEDIA_TYPE_LAYER_GZIP, layer_digest, layer_size);
    let manifest = spec::manifest_json(&config_desc, std::slice::from_ref(&layer_desc))?;
    let manifest_digest = digest::sha256(&manifest);
    let manifest_desc = spec::Descriptor::of(spec::MEDIA_TYPE_MANIFEST, &manifest);
    let index = spec::index_json(&manifest_desc, &platform, tag)?;

    let blob = |d: Digest| format!("blobs/sha256/{}", d.hex());
    let archive_entries = layer::plan(vec![
        Entry::bytes("oci-layout", 0o644, spec::OCI_LAYOUT),
        Entry::bytes("index.json", 0o644, index),
        Entry::bytes(&blob(digest::sha256(&config)), 0o644, config),
        Entry::bytes(&blob(manifest_digest), 0o644, manifest),
        Entry {
            path: blob(layer_digest),
            mode: 0o644,
            content: Content::File {
                path: layer_file.path().to_path_buf(),
                size: layer_size,
            },
        },
    ])?;

    let archive =
        tempfile::NamedTempFile::new_in(&out_dir).map_err(io_err("write in", &out_dir))?;
    let size = write_archive(&archive_entries, archive.as_file())
        .map_err(io_err("write the image archive to", archive.path()))?;
    fs::set_permissions(
        archive.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .map_err(io_err("set permissions of", archive.path()))?;
    archive
        .persist(output)
        .map_err(|e| io_err("write", output)(e.error))?;

    let files = entries
        .iter()
        .filter(|e| !e.is_dir())
        .map(|e| format!("/{}", e.path))
        .collect();
    Ok(Summary {
        output: output.to_path_buf(),
        tag: tag.into(),
        manifest_digest: manifest_digest.to_string(),
        size,
        files,
        platform: format!("{}/{}", platform.os, platform.architecture),
    })
}

/// Writes the gzipped layer; returns the digest of the uncompressed tar
/// (the config's diff_id), the digest and the size of the gzipped blob.
fn write_layer(entries: &[Entry], file: &File) -> io::Result<(Digest, Digest, u64)> {
    let blob = digest::HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
    let gz = flate2::GzBuilder::new().write(blob, flate2::Compression::new(GZIP_LEVEL));
    let tar = digest::HashingWriter::new(BufWriter::with_capacity(1 << 20, gz));
    let (tar_buf, diff_id, _) = layer::write_tar(entries, tar)?.finish();
    let gz = tar_buf
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    let (mut blob_buf, blob_digest, blob_size) = gz.finish()?.finish();
    blob_buf.flush()?;
    Ok((diff_id, blob_digest, blob_size))
}

fn write_archive(entries: &[Entry], file: &File) -> io::Result<u64> {
    let out = digest::HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
    let (mut buf, _, size) = layer::write_tar(entries, out)?.finish();
    buf.flush()?;
    buf.get_ref().sync_all()?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::io::Read;

    fn host(dir: &Path) -> Host {
        let ca = dir.join("ca.crt");
        fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        Host {
            ca_certificates: ca,
            ld_cache: LD_CACHE.into(),
            ld_library_path: None,
        }
    }

    fn untar(data: &[u8]) -> BTreeMap<String, (u32, Vec<u8>)> {
        let mut archive = tar::Archive::new(data);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let mode = e.header().mode().unwrap();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (e.path().unwrap().display().to_string(), (mode, data))
            })
            .collect()
    }

    fn json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn builds_a_consistent_reproducible_archive_of_a_dynamic_binary() {
        let dir = tempfile::tempdir().unwrap();
        let host = host(dir.path());
        // This test binary stands in for kubemark: dynamically linked, real libs.
        let binary = std::env::current_exe().unwrap();
        let a = dir.path().join("a.tar");
        let b = dir.path().join("b.tar");
        let sa = build_from(&a, "kubemark:test", &binary, &host).unwrap();
        let sb = build_from(&b, "kubemark:test", &binary, &host).unwrap();
        assert_eq!(sa.manifest_digest, sb.manifest_digest);
        let bytes = fs::read(&a).unwrap();
        assert_eq!(bytes, fs::read(&b).unwrap());
        assert_eq!(sa.size, bytes.len() as u64);
        assert_eq!(fs::metadata(&a).unwrap().len(), sa.size);

        // Every blob is named by its digest, and the chain index -> manifest
        // -> config/layer holds.
        let files = untar(&bytes);
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(names[..2], ["blobs/", "blobs/sha256/"]);
        assert_eq!(names[names.len() - 2..], ["index.json", "oci-layout"]);
        for (name, (_, data)) in &files {
            if let Some(hex) = name.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
                assert_eq!(digest::sha256(data).hex(), hex);
            }
        }
        let blob = |d: &serde_json::Value| {
            let hex = d["digest"]
                .as_str()
                .unwrap()
                .strip_prefix("sha256:")
                .unwrap();
            let data = &files[&format!("blobs/sha256/{hex}")].1;
            assert_eq!(d["size"].as_u64().unwrap(), data.len() as u64);
            data.clone()
        };
        let index = json(&files["index.json"].1);
        let m = &index["manifests"][0];
        assert_eq!(m["annotations"][spec::ANNOTATION_REF_NAME], "kubemark:test");
        assert_eq!(m["platform"]["os"], "linux");
        assert_eq!(m["digest"], sa.manifest_digest.as_str());
        let manifest = json(&blob(m));
        let config = json(&blob(&manifest["config"]));
        assert_eq!(config["config"]["Entrypoint"][0], BINARY_PATH);
        assert_eq!(
            config["architecture"],
            spec::platform_for(&read_elf(&binary).unwrap())
                .unwrap()
                .architecture
        );
        let layer_gz = blob(&manifest["layers"][0]);
        let mut layer_tar = Vec::new();
        flate2::read::GzDecoder::new(&layer_gz[..])
            .read_to_end(&mut layer_tar)
            .unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            digest::sha256(&layer_tar).to_string()
        );

        // The layer: the binary, its loader and libraries, certs, users, /tmp.
        let layer = untar(&layer_tar);
        assert_eq!(
            layer["usr/local/bin/kubemark"].1,
            fs::read(&binary).unwrap()
        );
        assert_eq!(layer["usr/local/bin/kubemark"].0, 0o755);
        let info = read_elf(&binary).unwrap();
        let interp = info.interpreter.unwrap();
        assert!(
            layer.contains_key(interp.trim_start_matches('/')),
            "{interp}"
        );
        assert!(
            layer.keys().any(|k| k.ends_with("/libc.so.6")),
            "{:?}",
            layer.keys()
        );
        assert_eq!(layer["tmp/"].0, 0o1777);
        assert_eq!(
            layer["etc/ssl/certs/ca-certificates.crt"].1,
            b"-----BEGIN CERTIFICATE-----\n"
        );
        assert!(String::from_utf8_lossy(&layer["etc/passwd"].1).contains("nobody:x:65534"));
        assert!(String::from_utf8_lossy(&layer["etc/group"].1).contains("nobody:x:65534"));
        assert_eq!(layer["etc/nsswitch.conf"].1, NSSWITCH.as_bytes());
        assert!(sa.files.contains(&"/usr/local/bin/kubemark".to_string()));
        assert!(sa.files.contains(&interp));
        // No leftover temporary files next to the output.
        let mut left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["a.tar", "b.tar", "ca.crt"]);

        let line = sa.to_string();
        assert!(line.contains("skopeo copy oci-archive:"), "{line}");
        assert!(line.contains(&sa.manifest_digest), "{line}");
    }

    #[test]
    fn rejects_bad_inputs_with_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let good = host(dir.path());
        let binary = std::env::current_exe().unwrap();
        let out = dir.path().join("out.tar");
        let script = dir.path().join("script.sh");
        fs::write(&script, "#!/bin/sh\n").unwrap();
        let no_ca = Host {
            ca_certificates: dir.path().join("missing.crt"),
            ..good.clone()
        };
        let bad_cache = dir.path().join("ld.so.cache");
        fs::write(&bad_cache, "garbage").unwrap();
        let bad_cache = Host {
            ld_cache: bad_cache,
            ..good.clone()
        };
        let cases: Vec<(&str, PathBuf, &str, &Path, &Host, &str)> = vec![
            (
                "missing CA",
                out.clone(),
                "kubemark:1",
                &binary,
                &no_ca,
                "CA certificates not found",
            ),
            (
                "not ELF",
                out.clone(),
                "kubemark:1",
                &script,
                &good,
                "pass a Linux ELF binary",
            ),
            (
                "missing binary",
                out.clone(),
                "kubemark:1",
                Path::new("/nonexistent/kubemark"),
                &good,
                "cannot open",
            ),
            (
                "bad tag",
                out.clone(),
                "kubemark:",
                &binary,
                &good,
                "invalid tag",
            ),
            (
                "bad cache",
                out.clone(),
                "kubemark:1",
                &binary,
                &bad_cache,
                "ldconfig",
            ),
            (
                "no output dir",
                dir.path().join("nope/out.tar"),
                "kubemark:1",
                &binary,
                &good,
                "does not exist",
            ),
        ];
        for (name, output, tag, bin, host, want) in cases {
            let err = build_from(&output, tag, bin, host).unwrap_err().to_string();
            assert!(err.contains(want), "{name}: {err}");
            assert!(!output.exists(), "{name}");
        }
    }

    #[test]
    fn clap_args_default_to_the_crate_version_tag() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: ImageBuildArgs,
        }
        let cli = Cli::try_parse_from(["x", "--output", "k.tar"]).unwrap();
        assert_eq!(cli.args.tag, DEFAULT_TAG);
        assert_eq!(cli.args.binary, None);
        assert!(DEFAULT_TAG.starts_with("kubemark:"));
        assert!(Cli::try_parse_from(["x"]).is_err(), "--output is required");
    }
}
