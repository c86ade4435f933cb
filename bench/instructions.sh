#!/usr/bin/env bash
# Instructions per training step, fulgur against the hand-written loop, counted by callgrind:
# a figure that repeats from run to run on a shared machine where times swing (bench/overhead's
# rows are times). Usage: bench/instructions.sh [build dir] [config] [model]
#   bench/instructions.sh build kernel+log small
# Each loop is counted twice (2 and 4 epochs) and the per-step figure is the difference over the
# extra steps, so that set-up costs (plugins, the warm-up) drop out. Needs valgrind
# (apt-get install valgrind); about a minute per count for the small model.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-$here/../build}" && pwd)"
config="${2:-kernel+log}"
model="${3:-small}"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 77; }
case "$model" in
  small) batches=64 ;;   # 2048 samples / batch 32 (bench/overhead.cpp)
  medium) batches=64 ;;  # 8192 samples / batch 128
  *) echo "model must be small or medium"; exit 2 ;;
esac
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
count() {  # count FUNCTION EPOCHS -> instructions inside FUNCTION
  FULGUR_PLUGIN_PATH="$build/plugins" valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
    --toggle-collect="*$1*" "$build/bench/bench_overhead" --rounds 1 --epochs "$2" --models "$model" \
    --configs "$config" >/dev/null 2>&1
  awk '/^summary:/{print $2}' "$out/cg"
}
hand2=$(count hand_loop_us_per_step 2); hand4=$(count hand_loop_us_per_step 4)
ours2=$(count fulgur_us_per_step 2); ours4=$(count fulgur_us_per_step 4)
# The hand loop's timed call runs `epochs` epochs; fulgur's warm-up fit and timed fit both do.
hand=$(( (hand4 - hand2) / (2 * batches) ))
ours=$(( (ours4 - ours2) / (4 * batches) ))
printf '%s %s: hand %d instructions/step, fulgur %d instructions/step, ratio %s\n' "$model" "$config" "$hand" "$ours" \
  "$(awk -v a="$ours" -v b="$hand" 'BEGIN{printf "%.4f", a/b}')"
