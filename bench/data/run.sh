#!/usr/bin/env bash
# bench/data: loader throughput with ~200 us of CPU work per sample, batch 64, 0/1/2 workers:
# fulgur's DatasetLoader, LibTorch's loader, and PyTorch's Python DataLoader (Debian's
# python3-torch, the same work). Usage: bench/data/run.sh [build dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../../build}"
out="$("$build/bench/bench_data" "${@:2}")"
echo "$out"
size="$(echo "$out" | awk '/^size /{print $2}')"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  /usr/bin/python3 "$here/data.py" --size "$size"
else
  echo "PyTorch DataLoader: skipped (no torch for /usr/bin/python3; scripts/setup.sh installs python3-torch)"
fi
