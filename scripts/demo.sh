#!/usr/bin/env bash
# The README's main job: installs what is missing, builds, and trains the digits example,
# which reports its test accuracy. Extra arguments go to the example (e.g. --max-epochs 5).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Only what the demo runs: the kernel, the plugins, digits and the `fulgur` command (the README's
# YAML quick start); scripts/test.sh builds the rest.
FULGUR_BUILD_TARGET="digits fulgur_command" scripts/build.sh
# Logs and checkpoints go to build/digits/lightning_logs/version_N unless --default-root-dir says
# otherwise; the program prints both folders.
exec build/examples/digits/digits --default-root-dir build/digits "$@"
