#!/usr/bin/env bash
# One comparison with Lightning: the comparison environment's Python runs SCRIPT, which trains
# with Lightning and writes WORK/lightning.pt; RUNNER does the same with fulgur and compares.
# Usage: compare_with_lightning.sh BUILD_DIR NAME SCRIPT.py RUNNER
#   (RUNNER is called as RUNNER WORK/lightning.pt WORK; WORK is BUILD_DIR/NAME_parity_run)
set -euo pipefail
build=$1
name=$2
script=$3
runner=$4
here=$(cd "$(dirname "$0")" && pwd)
. "$here/parity_python.sh"
work="$build/${name}_parity_run"
mkdir -p "$work"
"$python" "$script" "$work/lightning.pt"
FULGUR_PLUGIN_PATH="$build/plugins" "$runner" "$work/lightning.pt" "$work"
