#!/usr/bin/env bash
# bench/parity: one command, one table. The same MLPs (tiny 784-128-10 at batch 64, medium
# 784-2048-2048-10 at batch 512), Adam, random batches made in memory beforehand, trained for the
# same steps by a hand-written LibTorch loop, fulgur (kernel + a log per step; with its default
# plugins, a CSV logger and early stopping), raw PyTorch and Lightning (lean; default with a
# self.log per step). Prints µs per step and ratios. Run after scripts/build.sh and
# scripts/setup-parity.sh:
#
#   bench/parity/run.sh                 # both models, LibTorch's default threads
#   bench/parity/run.sh --threads 1 --models tiny --steps 400
#   bench/parity/run.sh --build build-torch2     # fulgur on the same LibTorch 2.x as the Python side
#   bench/parity/run.sh --build build-gpu --accelerator cuda   # on a GPU: also bf16-mixed and 16-mixed rows
set -euo pipefail
cd "$(dirname "$0")/../.."
models="tiny medium"
threads=0
tiny_steps=1500
medium_steps=30
rounds=3
build=build
accelerator=cpu
while [ $# -gt 0 ]; do
  case $1 in
    --models) models=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --steps) tiny_steps=$2; medium_steps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --accelerator) accelerator=$2; shift 2 ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
python=${FULGUR_PARITY_PYTHON:-$(cat build/parity_python 2>/dev/null || true)}
python=$(command -v "$python" 2>/dev/null || true)  # a path, or a command such as python3
[ -n "$python" ] || python="$(scripts/setup-parity.sh | tail -n 1)/bin/python"
[ -x "$build/bench/bench_parity" ] || FULGUR_BUILD_TARGET=bench_parity scripts/build.sh >/dev/null
results=$(mktemp)
precisions="32-true"
[ "$accelerator" = cuda ] && precisions="32-true bf16-mixed 16-mixed"
for model in $models; do
  steps=$tiny_steps
  [ "$model" = medium ] && steps=$medium_steps
  warmup=$(( steps / 10 > 0 ? steps / 10 : 1 ))
  for precision in $precisions; do
    common=(--model "$model" --steps "$steps" --warmup "$warmup" --threads "$threads" --rounds "$rounds"
            --accelerator "$accelerator" --precision "$precision")
    # (progress bars and summaries print too: only the result lines are kept)
    "$build/bench/bench_parity" "${common[@]}" > "$results.log" 2>&1 || { cat "$results.log"; exit 1; }
    grep -E "^$model [a-z0-9_]+ [0-9.]+$" "$results.log" >> "$results"
    grep -E "^libtorch " "$results.log" | tail -n 1 > "$results.versions"
    "$python" bench/parity/parity.py "${common[@]}" > "$results.log" 2>&1 || { tail -20 "$results.log"; exit 1; }
    grep -E "^$model [a-z0-9_]+ [0-9.]+$" "$results.log" >> "$results"
    grep -E "^torch " "$results.log" | tail -n 1 >> "$results.versions"
  done
done
echo "fulgur on $(head -n 1 "$results.versions"); Python: $(tail -n 1 "$results.versions"); $accelerator; threads: $threads (0: default)"
"$python" - "$results" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
times = {(model, variant): float(us) for model, variant, us in rows}
order = ["hand_libtorch", "fulgur_kernel_log", "fulgur_default_plugins", "raw_pytorch", "lightning_lean", "lightning_default",
         "hand_graph_sgd", "fulgur_cuda_graph_sgd",
         "fulgur_default_plugins_bf16_mixed", "lightning_default_bf16_mixed",
         "fulgur_default_plugins_16_mixed", "lightning_default_16_mixed"]
print("| model | variant | us/step | vs hand LibTorch (fp32) | Lightning default (same precision) / this |")
print("| --- | --- | --- | --- | --- |")
for model in dict.fromkeys(m for m, _ in times):
    for variant in order:
        if (model, variant) not in times: continue
        us = times[(model, variant)]
        # Mixed-precision rows compare with Lightning's default Trainer at the same precision.
        suffix = variant[len("fulgur_default_plugins"):] if variant.startswith("fulgur_default_plugins") else ""
        suffix = suffix or (variant[len("lightning_default"):] if variant.startswith("lightning_default") else "")
        peer = times.get((model, "lightning_default" + suffix), float("nan"))
        print("| %s | %s | %.1f | %.2fx | %.2fx |" % (model, variant, us, us / times[(model, "hand_libtorch")], peer / us))
for model in dict.fromkeys(m for m, _ in times):
    if (model, "fulgur_cuda_graph_sgd") in times:
        print("%s: fulgur's cuda_graph plugin / a graph captured by hand (both SGD): %.2fx" % (
            model, times[(model, "fulgur_cuda_graph_sgd")] / times[(model, "hand_graph_sgd")]))
PY
rm -f "$results" "$results.log" "$results.versions"
