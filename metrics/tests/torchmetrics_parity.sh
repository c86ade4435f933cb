#!/usr/bin/env bash
# Every metric against torchmetrics itself, in the comparison environment: torchmetrics_cases.py
# writes the cases with torchmetrics' results, metrics_parity computes them with fulgur.
# Usage: torchmetrics_parity.sh BUILD_DIR METRICS_PARITY
set -euo pipefail
build=$1
runner=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/parity/parity_python.sh"
work="$build/metrics/torchmetrics_parity"
mkdir -p "$work"
"$python" "$here/torchmetrics_cases.py" "$work/cases.pt"
"$runner" "$work/cases.pt"
