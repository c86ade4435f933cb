#!/usr/bin/env bash
# bench/metrics: fulgur's metrics against torchmetrics on the same inputs, in one run: time per
# update (batch 4096, 100 classes) and per epoch compute of Accuracy, macro F1 and AUROC, and
# the ratios (torchmetrics time / fulgur time: above 1 means fulgur is faster).
# Usage: bench/metrics/run.sh [build dir] [options for both, e.g. --threads 1]
# The fair build is build-torch2: the same LibTorch 2.x as the comparison environment's torch.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../../build-torch2}"
[ -x "$build/bench/bench_metrics" ] || build="$here/../../build"
python="$(cat "$here/../../build/parity_python" 2>/dev/null || true)"
if [ -z "$python" ] || [ ! -x "$python" ]; then
  echo "the comparison environment is missing: run scripts/setup-parity.sh"; exit 1
fi
ours="$("$build/bench/bench_metrics" "${@:2}")"
theirs="$("$python" "$here/metrics.py" "${@:2}")"
echo "$ours"
echo "$theirs"
for name in accuracy f1_macro auroc; do
  a=$(echo "$ours" | awk -v n="$name" '$2 == n {print $4, $7}')
  b=$(echo "$theirs" | awk -v n="$name" '$2 == n {print $4, $7}')
  echo "$a $b" | awk -v n="$name" '{printf "ratio %-9s update %.2fx   compute %.2fx\n", n, $3 / $1, $4 / $2}'
done
