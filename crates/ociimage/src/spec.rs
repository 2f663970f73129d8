//! The JSON documents of an OCI image layout (image-spec v1.1): the image
//! config, the image manifest, the index and the `oci-layout` marker.
//! Serialized compactly with a fixed field order, so that equal inputs give
//! equal bytes and equal digests.

use crate::digest::Digest;
use crate::elf::{Class, ElfInfo};
use serde::Serialize;
use std::collections::BTreeMap;

pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The content of the `oci-layout` file.
pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// Fixed creation time: reproducible output matters more than the date.
pub const EPOCH: &str = "1970-01-01T00:00:00Z";

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error(
        "ELF machine {machine} ({class:?}, {endian}) has no OCI architecture name; \
         package a binary for amd64, arm64, 386, arm, ppc64le, s390x, riscv64 or loong64"
    )]
    UnknownArchitecture {
        machine: u16,
        class: Class,
        endian: &'static str,
    },
    #[error(
        "invalid tag {tag:?}: use name:version made of letters, digits and . _ - : @ + /, \
         starting and ending with a letter or digit (e.g. kubemark:0.1.0)"
    )]
    BadTag { tag: String },
    #[error("cannot serialize the {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
}

/// The platform an image runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
}

/// The OCI (GOARCH) architecture of an ELF object; the OS is linux, the
/// only one whose loader and ELF ABI this crate packages for.
pub fn platform_for(info: &ElfInfo) -> Result<Platform, SpecError> {
    use object::elf::*;
    let arch = match (info.machine, info.class, info.little_endian) {
        (EM_X86_64, Class::Elf64, true) => "amd64",
        (EM_AARCH64, Class::Elf64, true) => "arm64",
        (EM_386, Class::Elf32, true) => "386",
        (EM_ARM, Class::Elf32, true) => "arm",
        (EM_PPC64, Class::Elf64, true) => "ppc64le",
        (EM_PPC64, Class::Elf64, false) => "ppc64",
        (EM_S390, Class::Elf64, false) => "s390x",
        (EM_RISCV, Class::Elf64, true) => "riscv64",
        (EM_LOONGARCH, Class::Elf64, true) => "loong64",
        (machine, class, little) => {
            return Err(SpecError::UnknownArchitecture {
                machine,
                class,
                endian: if little {
                    "little-endian"
                } else {
                    "big-endian"
                },
            })
        }
    };
    Ok(Platform {
        architecture: arch.into(),
        os: "linux".into(),
    })
}

/// Checks a tag against the image-spec grammar for
/// `org.opencontainers.image.ref.name`: components of alphanumerics joined
/// by separators (`-._:@+` or `--`), components separated by `/`.
pub fn validate_ref_name(tag: &str) -> Result<(), SpecError> {
    let bad = || SpecError::BadTag { tag: tag.into() };
    if tag.is_empty() {
        return Err(bad());
    }
    for component in tag.split('/') {
        let bytes = component.as_bytes();
        let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
            return Err(bad());
        };
        if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
            return Err(bad());
        }
        let mut prev_sep: Option<u8> = None;
        for &b in bytes {
            if b.is_ascii_alphanumeric() {
                prev_sep = None;
            } else if b"-._:@+".contains(&b) {
                // Only "--" may repeat a separator.
                if prev_sep.is_some() && !(prev_sep == Some(b'-') && b == b'-') {
                    return Err(bad());
                }
                prev_sep = Some(b);
            } else {
                return Err(bad());
            }
        }
    }
    Ok(())
}

/// A content descriptor.
#[derive(Debug, Clone, Serialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: &'static str,
    pub digest: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub fn new(media_type: &'static str, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type,
            digest: digest.to_string(),
            size,
            platform: None,
            annotations: BTreeMap::new(),
        }
    }

    /// The descriptor of a JSON document.
    pub fn of(media_type: &'static str, bytes: &[u8]) -> Self {
        Descriptor::new(media_type, crate::digest::sha256(bytes), bytes.len() as u64)
    }
}

/// What the container runs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub entrypoint: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
}

#[derive(Serialize)]
struct ImageConfig<'a> {
    created: &'static str,
    architecture: &'a str,
    os: &'a str,
    config: ExecConfig<'a>,
    rootfs: RootFs,
    history: Vec<History>,
}

#[derive(Serialize)]
struct ExecConfig<'a> {
    #[serde(rename = "Env")]
    env: &'a [String],
    #[serde(rename = "Entrypoint")]
    entrypoint: &'a [String],
    #[serde(rename = "WorkingDir")]
    working_dir: &'a str,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

#[derive(Serialize)]
struct History {
    created: &'static str,
    created_by: &'static str,
}

fn to_json<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, SpecError> {
    serde_json::to_vec(value).map_err(|source| SpecError::Json { what, source })
}

/// The image config of a one-layer image; `diff_id` is the digest of the
/// uncompressed layer tar.
pub fn config_json(
    platform: &Platform,
    run: &RunConfig,
    diff_id: Digest,
) -> Result<Vec<u8>, SpecError> {
    to_json(
        "image config",
        &ImageConfig {
            created: EPOCH,
            architecture: &platform.architecture,
            os: &platform.os,
            config: ExecConfig {
                env: &run.env,
                entrypoint: &run.entrypoint,
                working_dir: &run.working_dir,
            },
            rootfs: RootFs {
                kind: "layers",
                diff_ids: vec![diff_id.to_string()],
            },
            history: vec![History {
                created: EPOCH,
                created_by: "kubemark image build",
            }],
        },
    )
}

#[derive(Serialize)]
struct Manifest<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    config: &'a Descriptor,
    layers: &'a [Descriptor],
}

pub fn manifest_json(config: &Descriptor, layers: &[Descriptor]) -> Result<Vec<u8>, SpecError> {
    to_json(
        "image manifest",
        &Manifest {
            schema_version: 2,
            media_type: MEDIA_TYPE_MANIFEST,
            config,
            layers,
        },
    )
}

#[derive(Serialize)]
struct Index<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    manifests: &'a [Descriptor],
}

/// The layout's `index.json`: the one manifest, with its platform and the
/// tag as `org.opencontainers.image.ref.name`.
pub fn index_json(
    manifest: &Descriptor,
    platform: &Platform,
    tag: &str,
) -> Result<Vec<u8>, SpecError> {
    let mut m = manifest.clone();
    m.platform = Some(platform.clone());
    m.annotations.insert(ANNOTATION_REF_NAME.into(), tag.into());
    to_json(
        "image index",
        &Index {
            schema_version: 2,
            media_type: MEDIA_TYPE_INDEX,
            manifests: std::slice::from_ref(&m),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256;
    use serde_json::{json, Value};

    fn elf(machine: u16, class: Class, little_endian: bool) -> ElfInfo {
        ElfInfo {
            class,
            little_endian,
            machine,
            interpreter: None,
            soname: None,
            needed: vec![],
            rpath: vec![],
            runpath: vec![],
            nodeflib: false,
        }
    }

    #[test]
    fn architectures() {
        use object::elf::*;
        let cases = [
            (EM_X86_64, Class::Elf64, true, Some("amd64")),
            (EM_AARCH64, Class::Elf64, true, Some("arm64")),
            (EM_386, Class::Elf32, true, Some("386")),
            (EM_ARM, Class::Elf32, true, Some("arm")),
            (EM_PPC64, Class::Elf64, true, Some("ppc64le")),
            (EM_S390, Class::Elf64, false, Some("s390x")),
            (EM_RISCV, Class::Elf64, true, Some("riscv64")),
            (EM_RISCV, Class::Elf32, true, None),
            (EM_X86_64, Class::Elf32, true, None),
            (EM_SPARC, Class::Elf32, false, None),
        ];
        for (machine, class, little, want) in cases {
            let got = platform_for(&elf(machine, class, little)).ok();
            assert_eq!(
                got.as_ref().map(|p| p.architecture.as_str()),
                want,
                "{machine}"
            );
            if let Some(p) = got {
                assert_eq!(p.os, "linux");
            }
        }
    }

    #[test]
    fn ref_names() {
        let cases = [
            ("kubemark:0.1.0", true),
            ("registry.example.com/team/kubemark:v1.2-rc.1", true),
            ("kubemark", true),
            ("a--b", true),
            ("0.1.0", true),
            ("", false),
            ("kubemark:", false),
            (":tag", false),
            ("a//b", false),
            ("a..b", false),
            ("a_-b", false),
            ("Kube mark", false),
            ("kubemark:tag!", false),
        ];
        for (tag, ok) in cases {
            assert_eq!(validate_ref_name(tag).is_ok(), ok, "{tag}");
        }
    }

    #[test]
    fn documents_follow_the_image_spec() {
        let platform = Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
        };
        let run = RunConfig {
            entrypoint: vec!["/usr/local/bin/kubemark".into()],
            env: vec!["PATH=/usr/local/bin:/usr/bin:/bin".into()],
            working_dir: "/".into(),
        };
        let diff_id = sha256(b"layer tar");
        let config = config_json(&platform, &run, diff_id).unwrap();
        let v: Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(
            v,
            json!({
                "created": EPOCH,
                "architecture": "amd64",
                "os": "linux",
                "config": {
                    "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
                    "Entrypoint": ["/usr/local/bin/kubemark"],
                    "WorkingDir": "/",
                },
                "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
                "history": [{"created": EPOCH, "created_by": "kubemark image build"}],
            })
        );

        let config_desc = Descriptor::of(MEDIA_TYPE_CONFIG, &config);
        let layer = Descriptor::new(MEDIA_TYPE_LAYER_GZIP, sha256(b"gz"), 2);
        let manifest = manifest_json(&config_desc, std::slice::from_ref(&layer)).unwrap();
        let v: Value = serde_json::from_slice(&manifest).unwrap();
        assert_eq!(
            v,
            json!({
                "schemaVersion": 2,
                "mediaType": MEDIA_TYPE_MANIFEST,
                "config": {
                    "mediaType": MEDIA_TYPE_CONFIG,
                    "digest": sha256(&config).to_string(),
                    "size": config.len(),
                },
                "layers": [{
                    "mediaType": MEDIA_TYPE_LAYER_GZIP,
                    "digest": sha256(b"gz").to_string(),
                    "size": 2,
                }],
            })
        );

        let manifest_desc = Descriptor::of(MEDIA_TYPE_MANIFEST, &manifest);
        let index = index_json(&manifest_desc, &platform, "kubemark:0.1.0").unwrap();
        let v: Value = serde_json::from_slice(&index).unwrap();
        assert_eq!(
            v,
            json!({
                "schemaVersion": 2,
                "mediaType": MEDIA_TYPE_INDEX,
                "manifests": [{
                    "mediaType": MEDIA_TYPE_MANIFEST,
                    "digest": sha256(&manifest).to_string(),
                    "size": manifest.len(),
                    "platform": {"architecture": "amd64", "os": "linux"},
                    "annotations": {ANNOTATION_REF_NAME: "kubemark:0.1.0"},
                }],
            })
        );
        // Same inputs, same bytes.
        assert_eq!(config, config_json(&platform, &run, diff_id).unwrap());
        let v: Value = serde_json::from_slice(OCI_LAYOUT).unwrap();
        assert_eq!(v, json!({"imageLayoutVersion": "1.0.0"}));
    }
}
