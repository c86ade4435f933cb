#!/usr/bin/env bash
# ema against Lightning's EMAWeightAveraging, in the comparison environment.
# Usage: ema_parity.sh BUILD_DIR EMA_PARITY
set -euo pipefail
build=$1
runner=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/parity/parity_python.sh"
work="$build/ema_parity_run"
mkdir -p "$work"
"$python" "$here/ema_parity.py" "$work/lightning.pt"
FULGUR_PLUGIN_PATH="$build/plugins" "$runner" "$work/lightning.pt"
