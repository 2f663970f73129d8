//! Finding the user's etcd and Kubernetes binaries and checking that
//! kubemark can drive their versions.

use super::{
    LocalError, LocalMasterSpec, ETCD, KUBE_APISERVER, KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER,
};
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The oldest Kubernetes release whose flags [`super::processes`] uses
/// (v1.24 removed the insecure ports and requires service-account issuer
/// flags).
pub const MIN_KUBE: Version = Version {
    major: 1,
    minor: 24,
};
/// The oldest etcd the supported Kubernetes releases talk to.
pub const MIN_ETCD: Version = Version { major: 3, minor: 4 };

/// `<bin> --version` must answer within this long.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// One resolved executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    pub path: PathBuf,
    /// As the binary reports it: `v1.24.10`, `3.4.23`.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    pub etcd: Binary,
    pub kube_apiserver: Binary,
    pub kube_controller_manager: Binary,
    pub kube_scheduler: Binary,
}

const KUBE_HINT: &str = "point --bin-dir at the directory holding kube-apiserver, kube-controller-manager and kube-scheduler (v1.24 or newer, e.g. the _output/bin of `make quick-release`), or put them on PATH";
const ETCD_HINT: &str =
    "install etcd (Debian: apt-get install etcd-server) or pass --etcd-bin PATH";

/// Finds and checks every binary: kube-apiserver, kube-controller-manager
/// and kube-scheduler in `spec.bin_dir`, else on PATH; etcd at
/// `spec.etcd_bin`, else on PATH. Each must be an executable file whose
/// `--version` is supported.
pub fn resolve_binaries(spec: &LocalMasterSpec) -> Result<Binaries, LocalError> {
    resolve_binaries_with_path(spec, std::env::var_os("PATH").as_deref())
}

/// [`resolve_binaries`] with an explicit PATH value (tests, or a caller
/// that sanitizes its environment).
pub fn resolve_binaries_with_path(
    spec: &LocalMasterSpec,
    path_var: Option<&OsStr>,
) -> Result<Binaries, LocalError> {
    let kube = |name: &str| -> Result<Binary, LocalError> {
        let path = match &spec.bin_dir {
            Some(dir) => in_dir(name, dir, KUBE_HINT)?,
            None => on_path(name, path_var, KUBE_HINT)?,
        };
        let output = version_output(name, &path)?;
        let (version, text) = parse_kube_version(&output).ok_or_else(|| {
            unsupported(
                name,
                &path,
                format!("unknown (its --version printed {:?})", first_line(&output)),
                format!("Kubernetes v{MIN_KUBE}"),
                KUBE_HINT,
            )
        })?;
        if version < MIN_KUBE {
            return Err(unsupported(
                name,
                &path,
                text,
                format!("Kubernetes v{MIN_KUBE}"),
                KUBE_HINT,
            ));
        }
        Ok(Binary {
            path,
            version: text,
        })
    };
    let etcd = || -> Result<Binary, LocalError> {
        let path = match &spec.etcd_bin {
            Some(file) => explicit_file(ETCD, file, "--etcd-bin", ETCD_HINT)?,
            None => on_path(ETCD, path_var, ETCD_HINT)?,
        };
        let output = version_output(ETCD, &path)?;
        let (version, text) = parse_etcd_version(&output).ok_or_else(|| {
            unsupported(
                ETCD,
                &path,
                format!("unknown (its --version printed {:?})", first_line(&output)),
                format!("etcd {MIN_ETCD}"),
                ETCD_HINT,
            )
        })?;
        if version < MIN_ETCD {
            return Err(unsupported(
                ETCD,
                &path,
                text,
                format!("etcd {MIN_ETCD}"),
                ETCD_HINT,
            ));
        }
        Ok(Binary {
            path,
            version: text,
        })
    };
    // The Kubernetes build first, then etcd (installed apart from it).
    Ok(Binaries {
        kube_apiserver: kube(KUBE_APISERVER)?,
        kube_controller_manager: kube(KUBE_CONTROLLER_MANAGER)?,
        kube_scheduler: kube(KUBE_SCHEDULER)?,
        etcd: etcd()?,
    })
}

fn unsupported(binary: &str, path: &Path, found: String, need: String, hint: &str) -> LocalError {
    LocalError::UnsupportedVersion {
        binary: binary.to_string(),
        path: path.to_path_buf(),
        found,
        need,
        hint: hint.to_string(),
    }
}

fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// `Kubernetes v1.24.10` (also `v1.31.0-alpha.1.12+abc`, `-dirty`) →
/// (1.24, "v1.24.10").
pub fn parse_kube_version(output: &str) -> Option<(Version, String)> {
    output.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("Kubernetes ")?;
        let text = rest.split_whitespace().next()?;
        let version = major_minor(text.strip_prefix('v').unwrap_or(text))?;
        Some((version, text.to_string()))
    })
}

/// `etcd Version: 3.4.23` → (3.4, "3.4.23").
pub fn parse_etcd_version(output: &str) -> Option<(Version, String)> {
    output.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("etcd Version:")?;
        let text = rest.split_whitespace().next()?;
        Some((major_minor(text)?, text.to_string()))
    })
}

/// `1.24.10-rc.0` → 1.24: the leading digits of the first two fields.
fn major_minor(text: &str) -> Option<Version> {
    let mut fields = text.split('.');
    let number = |s: &str| -> Option<u32> {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let major = number(fields.next()?)?;
    let minor = number(fields.next()?)?;
    Some(Version { major, minor })
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn not_executable(binary: &str, path: PathBuf, hint: &str) -> LocalError {
    LocalError::NotExecutable {
        binary: binary.to_string(),
        path,
        hint: hint.to_string(),
    }
}

fn in_dir(name: &str, dir: &Path, hint: &str) -> Result<PathBuf, LocalError> {
    let path = dir.join(name);
    if !path.exists() {
        return Err(LocalError::BinaryNotFound {
            binary: name.to_string(),
            looked_in: format!("--bin-dir {}", dir.display()),
            hint: hint.to_string(),
        });
    }
    if !is_executable_file(&path) {
        return Err(not_executable(name, path, hint));
    }
    Ok(absolute(path))
}

fn explicit_file(name: &str, path: &Path, flag: &str, hint: &str) -> Result<PathBuf, LocalError> {
    if !path.exists() {
        return Err(LocalError::BinaryNotFound {
            binary: name.to_string(),
            looked_in: format!("{flag} {}", path.display()),
            hint: hint.to_string(),
        });
    }
    if !is_executable_file(path) {
        return Err(not_executable(name, path.to_path_buf(), hint));
    }
    Ok(absolute(path.to_path_buf()))
}

/// Like a shell: the first executable `name` in PATH's directories; a
/// non-executable match is reported only when there is no executable one.
fn on_path(name: &str, path_var: Option<&OsStr>, hint: &str) -> Result<PathBuf, LocalError> {
    let dirs: Vec<PathBuf> = path_var
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    let mut non_executable = None;
    for dir in &dirs {
        // An empty PATH entry means the current directory.
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let candidate = dir.join(name);
        if is_executable_file(&candidate) {
            return Ok(absolute(candidate));
        }
        if non_executable.is_none() && candidate.exists() {
            non_executable = Some(candidate);
        }
    }
    if let Some(path) = non_executable {
        return Err(not_executable(name, path, hint));
    }
    let looked_in = if dirs.is_empty() {
        "PATH (which is empty)".to_string()
    } else {
        format!(
            "PATH ({})",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        )
    };
    Err(LocalError::BinaryNotFound {
        binary: name.to_string(),
        looked_in,
        hint: hint.to_string(),
    })
}

/// Process specs need absolute programs (their working directory is the
/// cluster directory).
fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(&path))
        .unwrap_or(path)
}

/// Runs `<path> --version` and returns stdout and stderr together.
fn version_output(name: &str, path: &Path) -> Result<String, LocalError> {
    let failed = |reason: String| LocalError::VersionFailed {
        binary: name.to_string(),
        path: path.to_path_buf(),
        reason,
    };
    let mut attempt = 0;
    let mut child = loop {
        let spawned = Command::new(path)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            Ok(child) => break child,
            // ETXTBSY: the file was just written and another thread's fork
            // briefly holds it open; it clears within milliseconds.
            Err(e) if e.raw_os_error() == Some(26) && attempt < 20 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(failed(format!("could not run: {e}"))),
        }
    };
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < VERSION_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!(
                    "did not finish within {}s",
                    VERSION_TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(failed(format!("could not be waited for: {e}"))),
        }
    };
    // The output is a line or two: it fits the pipe buffers, so reading
    // after the exit cannot deadlock.
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        out.push_str(&String::from_utf8_lossy(&buf));
    }
    if let Some(mut s) = child.stderr.take() {
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        out.push_str(&String::from_utf8_lossy(&buf));
    }
    if !status.success() {
        return Err(failed(format!("failed ({status}): {}", first_line(&out))));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    /// Output of `--version` and the (major, minor, text) parsed from it.
    type VersionCase = (&'static str, Option<(u32, u32, &'static str)>);

    #[test]
    fn kube_versions() {
        let cases: &[VersionCase] = &[
            ("Kubernetes v1.24.10\n", Some((1, 24, "v1.24.10"))),
            ("Kubernetes v1.23.0", Some((1, 23, "v1.23.0"))),
            (
                "Kubernetes v1.31.0-alpha.1.12+0123abcd\n",
                Some((1, 31, "v1.31.0-alpha.1.12+0123abcd")),
            ),
            ("Kubernetes v1.24.10-dirty", Some((1, 24, "v1.24.10-dirty"))),
            (
                "W0101 warning\nKubernetes v1.30.2\n",
                Some((1, 30, "v1.30.2")),
            ),
            ("Kubernetes v1", None),
            ("kube-apiserver version 1.24", None),
            ("", None),
        ];
        for (out, want) in cases {
            let got = parse_kube_version(out).map(|(v, t)| (v.major, v.minor, t));
            let want = want.map(|(a, b, t)| (a, b, t.to_string()));
            assert_eq!(got, want, "{out:?}");
        }
    }

    #[test]
    fn etcd_versions() {
        let cases: &[VersionCase] = &[
            (
                "etcd Version: 3.4.23\nGit SHA: Not provided\nGo Version: go1.19.8\n",
                Some((3, 4, "3.4.23")),
            ),
            ("etcd Version: 3.5.9\n", Some((3, 5, "3.5.9"))),
            ("etcd Version: 3.3.25", Some((3, 3, "3.3.25"))),
            ("etcd 3.4.23", None),
        ];
        for (out, want) in cases {
            let got = parse_etcd_version(out).map(|(v, t)| (v.major, v.minor, t));
            let want = want.map(|(a, b, t)| (a, b, t.to_string()));
            assert_eq!(got, want, "{out:?}");
        }
        assert!(
            Version {
                major: 1,
                minor: 24
            } > Version { major: 1, minor: 9 }
        );
        assert!(Version { major: 2, minor: 0 } > MIN_KUBE);
    }

    fn script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    /// A bin dir with all three kube binaries at `kube` and an etcd at
    /// `etcd` (shell scripts printing those versions).
    fn fake_bins(kube: &str, etcd: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in [KUBE_APISERVER, KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER] {
            script(
                dir.path(),
                name,
                &format!("echo 'Kubernetes {kube}'"),
                0o755,
            );
        }
        script(
            dir.path(),
            ETCD,
            &format!("echo 'etcd Version: {etcd}'; echo 'Git SHA: x'"),
            0o755,
        );
        dir
    }

    fn spec_with(bin_dir: &Path) -> LocalMasterSpec {
        LocalMasterSpec {
            bin_dir: Some(bin_dir.to_path_buf()),
            ..LocalMasterSpec::default()
        }
    }

    #[test]
    fn resolves_from_bin_dir_and_path() {
        let bins = fake_bins("v1.24.10", "3.4.23");
        let spec = spec_with(bins.path());
        let got = resolve_binaries_with_path(&spec, Some(bins.path().as_os_str())).unwrap();
        assert_eq!(got.kube_apiserver.path, bins.path().join(KUBE_APISERVER));
        assert_eq!(got.kube_apiserver.version, "v1.24.10");
        assert_eq!(got.kube_controller_manager.version, "v1.24.10");
        assert_eq!(got.kube_scheduler.path, bins.path().join(KUBE_SCHEDULER));
        assert_eq!(got.etcd.path, bins.path().join(ETCD));
        assert_eq!(got.etcd.version, "3.4.23");

        // Without --bin-dir: PATH, first executable match wins.
        let empty = tempfile::tempdir().unwrap();
        let newer = fake_bins("v1.30.1", "3.5.9");
        let path = std::env::join_paths([empty.path(), newer.path(), bins.path()]).unwrap();
        let got = resolve_binaries_with_path(&LocalMasterSpec::default(), Some(&path)).unwrap();
        assert_eq!(got.kube_apiserver.version, "v1.30.1");
        assert_eq!(got.kube_apiserver.path, newer.path().join(KUBE_APISERVER));
        assert_eq!(got.etcd.version, "3.5.9");

        // --etcd-bin wins over PATH.
        let spec = LocalMasterSpec {
            etcd_bin: Some(bins.path().join(ETCD)),
            ..LocalMasterSpec::default()
        };
        let got = resolve_binaries_with_path(&spec, Some(&path)).unwrap();
        assert_eq!(got.etcd.version, "3.4.23");
    }

    #[test]
    fn missing_binary() {
        let bins = fake_bins("v1.24.10", "3.4.23");
        fs::remove_file(bins.path().join(KUBE_CONTROLLER_MANAGER)).unwrap();
        let spec = spec_with(bins.path());
        let err = resolve_binaries_with_path(&spec, Some(bins.path().as_os_str())).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "kube-controller-manager not found in --bin-dir {}; {KUBE_HINT}",
                bins.path().display()
            )
        );

        // Not on PATH either: the message lists where it looked.
        let empty = tempfile::tempdir().unwrap();
        let err =
            resolve_binaries_with_path(&LocalMasterSpec::default(), Some(empty.path().as_os_str()))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "kube-apiserver not found in PATH ({}); {KUBE_HINT}",
                empty.path().display()
            )
        );
        let err = resolve_binaries_with_path(&LocalMasterSpec::default(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("kube-apiserver not found in PATH (which is empty); {KUBE_HINT}")
        );

        // etcd: --etcd-bin pointing nowhere, and no etcd on PATH.
        let bins = fake_bins("v1.24.10", "3.4.23");
        fs::remove_file(bins.path().join(ETCD)).unwrap();
        let spec = spec_with(bins.path());
        let err = resolve_binaries_with_path(&spec, Some(empty.path().as_os_str())).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "etcd not found in PATH ({}); {ETCD_HINT}",
                empty.path().display()
            )
        );
        let spec = LocalMasterSpec {
            etcd_bin: Some(empty.path().join("etcd")),
            ..spec_with(bins.path())
        };
        let err = resolve_binaries_with_path(&spec, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "etcd not found in --etcd-bin {}; {ETCD_HINT}",
                empty.path().join("etcd").display()
            )
        );
    }

    #[test]
    fn non_executable_binary() {
        let bins = fake_bins("v1.24.10", "3.4.23");
        let sched = bins.path().join(KUBE_SCHEDULER);
        fs::set_permissions(&sched, fs::Permissions::from_mode(0o644)).unwrap();
        let spec = spec_with(bins.path());
        let err = resolve_binaries_with_path(&spec, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "kube-scheduler at {} is not an executable file; make it executable (chmod +x) or {KUBE_HINT}",
                sched.display()
            )
        );
        // On PATH, a non-executable file is skipped for a later executable one
        // and reported only when nothing executable exists.
        let good = fake_bins("v1.25.0", "3.4.23");
        let path = std::env::join_paths([bins.path(), good.path()]).unwrap();
        let got = resolve_binaries_with_path(&LocalMasterSpec::default(), Some(&path)).unwrap();
        assert_eq!(got.kube_scheduler.path, good.path().join(KUBE_SCHEDULER));
        assert_eq!(got.kube_apiserver.path, bins.path().join(KUBE_APISERVER));
        let err =
            resolve_binaries_with_path(&LocalMasterSpec::default(), Some(bins.path().as_os_str()))
                .unwrap_err();
        assert!(
            matches!(err, LocalError::NotExecutable { ref path, .. } if *path == sched),
            "{err}"
        );
        // A directory is not an executable file.
        let spec = LocalMasterSpec {
            etcd_bin: Some(bins.path().to_path_buf()),
            ..spec_with(good.path())
        };
        let err = resolve_binaries_with_path(&spec, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "etcd at {} is not an executable file; make it executable (chmod +x) or {ETCD_HINT}",
                bins.path().display()
            )
        );
    }

    #[test]
    fn old_or_unknown_versions() {
        let bins = fake_bins("v1.23.0", "3.4.23");
        let spec = spec_with(bins.path());
        let err = resolve_binaries_with_path(&spec, Some(bins.path().as_os_str())).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "kube-apiserver at {} is version v1.23.0; kubemark drives Kubernetes v1.24 or newer: {KUBE_HINT}",
                bins.path().join(KUBE_APISERVER).display()
            )
        );

        let bins = fake_bins("v1.24.0", "3.3.25");
        let spec = spec_with(bins.path());
        let err = resolve_binaries_with_path(&spec, Some(bins.path().as_os_str())).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "etcd at {} is version 3.3.25; kubemark drives etcd 3.4 or newer: {ETCD_HINT}",
                bins.path().join(ETCD).display()
            )
        );

        let bins = fake_bins("v1.24.0", "3.4.23");
        script(
            bins.path(),
            KUBE_SCHEDULER,
            "echo 'scheduler, some build'",
            0o755,
        );
        let spec = spec_with(bins.path());
        let err = resolve_binaries_with_path(&spec, Some(bins.path().as_os_str())).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "kube-scheduler at {} is version unknown (its --version printed \"scheduler, some build\"); kubemark drives Kubernetes v1.24 or newer: {KUBE_HINT}",
                bins.path().join(KUBE_SCHEDULER).display()
            )
        );

        // A --version that fails.
        script(
            bins.path(),
            KUBE_SCHEDULER,
            "echo 'unknown flag: --version' >&2; exit 3",
            0o755,
        );
        let err = resolve_binaries_with_path(&spec, Some(bins.path().as_os_str())).unwrap_err();
        let path = bins.path().join(KUBE_SCHEDULER);
        assert_eq!(
            err.to_string(),
            format!(
                "cannot tell the version of kube-scheduler at {p}: `{p} --version` failed (exit status: 3): unknown flag: --version",
                p = path.display()
            )
        );
    }
}
