#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every test with CTest —
# on Debian's LibTorch 1.13 (build/), then, with the comparison environment (scripts/setup-parity.sh,
# PyPI), the whole suite again on its LibTorch 2.x (build-torch2/) and the comparisons with the
# real Lightning. FULGUR_NO_PARITY=1 turns the environment, the second build and those tests off.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
scripts/build.sh
jobs=${FULGUR_TEST_JOBS:-$(nproc)}
if [ "${FULGUR_NO_PARITY:-0}" = 1 ]; then
  (cd build && ctest --output-on-failure --timeout 600 -j "$jobs")
  exit 0
fi
parity=$(scripts/setup-parity.sh | tail -n 1)
echo "$parity/bin/python" > build/parity_python
(cd build && ctest --output-on-failure --timeout 600 -j "$jobs")
echo "== the same suite on LibTorch 2.x (build-torch2/)"
scripts/build-torch2.sh
echo "$parity/bin/python" > build-torch2/parity_python
# The SDK test installs and builds out of tree against Debian's LibTorch; the 1.13 run covers it,
# as it covers the checks of the tree itself (layout, headers alone, the architecture's files).
(cd build-torch2 && ctest --output-on-failure --timeout 600 -j "$jobs" -E "^(sdk|style|headers|docs)\\.")
