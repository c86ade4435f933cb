#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every test with CTest.
# The tests that compare with the real Lightning use the comparison environment
# (scripts/setup-parity.sh, PyPI); FULGUR_NO_PARITY=1 turns it and them off.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
if [ "${FULGUR_NO_PARITY:-0}" != 1 ]; then
  parity=$(scripts/setup-parity.sh | tail -n 1)
  echo "$parity/bin/python" > build/parity_python
fi
cd build
ctest --output-on-failure --timeout 600 -j "${FULGUR_TEST_JOBS:-$(nproc)}"
