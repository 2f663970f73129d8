//! `kubemark image build` writes an image that real OCI tools accept and
//! that runs: skopeo inspects and copies it, umoci unpacks it, and the
//! unpacked root filesystem runs `kubemark --version` under chroot, which
//! proves the loader and every shared library are in it.
//!
//! Needs skopeo, umoci (Debian packages, installed by scripts/test.sh) and
//! root for chroot; fails, never skips, when they are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

const KUBEMARK: &str = env!("CARGO_BIN_EXE_kubemark");

/// A tool on PATH, or a failure that says how to install it.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed: apt-get install -y skopeo umoci \
                 (scripts/test.sh installs them)"
            )
        })
}

/// Runs a command, fails with its output unless it succeeds, returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no OCI architecture name known for {other}"),
    }
}

fn archive_ref(archive: &Path, tag: Option<&str>) -> String {
    match tag {
        Some(t) => format!("oci-archive:{}:{t}", archive.display()),
        None => format!("oci-archive:{}", archive.display()),
    }
}

#[test]
fn image_build_is_accepted_by_skopeo_and_umoci_and_runs_under_chroot() {
    let skopeo = tool("skopeo");
    let umoci = tool("umoci");
    let chroot = tool("chroot");
    let version = env!("CARGO_PKG_VERSION");
    let tag = format!("kubemark:{version}");
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("kubemark.tar");

    let report = run(Command::new(KUBEMARK)
        .args(["image", "build", "--output"])
        .arg(&archive));
    for want in [
        format!("wrote {}", archive.display()),
        "oci-archive".into(),
        "manifest sha256:".into(),
        format!(
            "skopeo copy oci-archive:{} docker-daemon:{tag}",
            archive.display()
        ),
    ] {
        assert!(report.contains(&want), "{want:?} not in {report:?}");
    }

    // The tag is the index's ref.name: skopeo finds the image by it.
    let inspect: serde_json::Value = serde_json::from_str(&run(
        Command::new(&skopeo).args(["inspect", &archive_ref(&archive, Some(&tag))])
    ))
    .expect("skopeo inspect prints JSON");
    assert_eq!(inspect["Architecture"], oci_arch(), "{inspect:#}");
    assert_eq!(inspect["Os"], "linux", "{inspect:#}");
    assert_eq!(
        inspect["Layers"].as_array().map(Vec::len),
        Some(1),
        "{inspect:#}"
    );
    assert!(
        report.contains(inspect["Digest"].as_str().expect("Digest")),
        "skopeo's manifest digest is the reported one: {inspect:#}"
    );

    let config: serde_json::Value = serde_json::from_str(&run(Command::new(&skopeo).args([
        "inspect",
        "--config",
        &archive_ref(&archive, None),
    ])))
    .expect("skopeo inspect --config prints JSON");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/usr/local/bin/kubemark"]),
        "{config:#}"
    );
    assert_eq!(config["architecture"], oci_arch(), "{config:#}");

    // skopeo copies (verifying every digest) into an OCI layout that umoci
    // unpacks into a runtime bundle.
    let layout = dir.path().join("layout");
    run(Command::new(&skopeo)
        .args(["--insecure-policy", "copy", &archive_ref(&archive, None)])
        .arg(format!("oci:{}:kubemark", layout.display())));
    let bundle = dir.path().join("bundle");
    run(Command::new(&umoci)
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:kubemark", layout.display()))
        .arg(&bundle));
    let rootfs = bundle.join("rootfs");
    for file in [
        "usr/local/bin/kubemark",
        "etc/ssl/certs/ca-certificates.crt",
        "etc/passwd",
        "etc/group",
    ] {
        assert!(rootfs.join(file).is_file(), "{file} missing from the image");
    }
    let tmp_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(rootfs.join("tmp"))
            .expect("/tmp")
            .permissions(),
    );
    assert_eq!(tmp_mode & 0o7777, 0o1777);

    // Only what the image holds: no host libraries are reachable in the chroot.
    let out = run(Command::new(&chroot)
        .arg(&rootfs)
        .args(["/usr/local/bin/kubemark", "--version"]));
    assert_eq!(out.trim(), format!("kubemark {version}"));
}
