#!/usr/bin/env bash
# The CUDA checks, on a machine with a GPU and Python's torch 2.x (its LibTorch is what we
# build against) but without this project's other dependencies: those come as Debian .deb
# files in DEBS (default .gpu_debs), unpacked into a private prefix. Writes a log to OUT.
#
#   (cd .gpu_debs && apt-get download libboost1.74-dev libspdlog-dev libspdlog1.10 libfmt-dev \
#        libfmt9 libgtest-dev libcli11-dev nlohmann-json3-dev zlib1g-dev)
#   scripts/gpu_check.sh [DEBS] [OUT]
set -uo pipefail
cd "$(dirname "$0")/.."
debs=${1:-.gpu_debs}
out=${2:-${OUT:-build-gpu}}
mkdir -p "$out"
log="$out/gpu_check.txt"
exec > >(tee "$log") 2>&1

prefix=$PWD/.gpu_prefix
mkdir -p "$prefix"
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$prefix"; done
# (FULGUR_FIRST_INCLUDE_DIR: LibTorch 2.x ships its own, newer fmt headers; spdlog 1.10 needs Debian's fmt 9.)
# (Gloo: its headers come from libgloo-dev; the code is the copy inside LibTorch, so Debian's
# libgloo is not linked.)
# zlib1g-dev's libz.so points at the runtime library, which the machine has in its own place.
libdir=$prefix/usr/lib/x86_64-linux-gnu
if [ -L "$libdir/libz.so" ] && [ ! -e "$libdir/libz.so" ]; then ln -sf /lib/x86_64-linux-gnu/libz.so.1 "$libdir/libz.so"; fi
torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
nccl_include=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "include"))' 2>/dev/null || true)
echo "nccl.h in: ${nccl_include:-not found}"
python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'

echo "== configure and build against the CUDA LibTorch"
start=$(date +%s)
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$prefix/usr" -DCMAKE_INCLUDE_PATH="$prefix/usr/include" \
  -DFULGUR_FIRST_INCLUDE_DIR="$prefix/usr/include" -DCMAKE_CXX_FLAGS= -DCMAKE_DISABLE_FIND_PACKAGE_Gloo=ON \
  -DFULGUR_NCCL_INCLUDE_DIR="$nccl_include" \
  -DCMAKE_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu" >/dev/null || exit 1
cmake --build build-gpu --parallel 16 2>&1 | grep -E "error|warning: .*deprecated|FAILED" | head -40
cmake --build build-gpu --parallel 16 -- -k 0 >/dev/null 2>&1 || echo "some targets failed to build"
test -x build-gpu/amp_test || { echo "build failed"; exit 1; }
echo "built in $(( $(date +%s) - start )) s"
export FULGUR_PLUGIN_PATH=$PWD/build-gpu/plugins

echo "== amp on CUDA (fused scaler ops, 16-mixed and bf16-mixed, injected overflow)"
timeout 180 build-gpu/amp_test --gtest_brief=1 2>&1 | grep -v "^Epoch\|^  |\|^---\|^[0-9] |\|params" | tail -30

echo "== digits on CUDA, per precision"
for precision in 32-true bf16-mixed 16-mixed; do
  echo "-- $precision"
  timeout 120 build-gpu/examples/digits/digits --seed 7 --accelerator cuda --precision "$precision" \
    --gradient-clip-val 1.0 --plugin lr_scheduler:schedule=cosine,warmup=2 --plugin lr_monitor \
    --no-enable-progress-bar --no-enable-model-summary --default-root-dir "build-gpu/digits_$precision" 2>&1 |
    grep -E "test_acc|global_step|logs:|error"
done

echo "== TensorBoard's own reader on the digits event file"
python3 - <<'PY'
import glob
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
path = sorted(glob.glob("build-gpu/digits_16-mixed/lightning_logs/version_0"))[0]
acc = EventAccumulator(path); acc.Reload()
tags = acc.Tags()
print("scalar tags:", sorted(tags["scalars"]))
for tag in ("val_acc", "lr-Adam"):
    events = acc.Scalars(tag)
    print(tag, "points:", len(events), "first:", (events[0].step, round(events[0].value, 6)), "last:", (events[-1].step, round(events[-1].value, 6)))
from tensorboard.plugins.hparams import plugin_data_pb2
content = acc.PluginTagToContent("hparams")
print("hparams tags:", sorted(content))
data = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
print("hparams:", {k: (v.number_value if v.HasField("number_value") else v.string_value) for k, v in data.session_start_info.hparams.items()})
PY

echo "== step time per precision (bench/precision)"
timeout 200 build-gpu/bench/bench_precision --hidden 4096 --features 1024 --batch-size 1024 --steps 200 2>&1 | tail -6

echo "== ddp on the CUDA build: two processes on CUDA tensors (Gloo through host copies)"
(cd build-gpu && timeout 120 ./ddp_test --gtest_brief=1 2>&1 | tail -4)
timeout 120 build-gpu/examples/digits/digits --seed 7 --accelerator cuda --strategy ddp --devices 2 --no-logger \
  --no-enable-progress-bar --no-enable-model-summary --default-root-dir build-gpu/digits_ddp 2>&1 | grep -E "test_acc|error" | head -2

echo "== ddp with the NCCL backend, one process on the GPU"
timeout 120 build-gpu/examples/digits/digits --seed 7 --accelerator cuda --strategy ddp --devices 1 --no-logger \
  --plugin ddp:devices=1,backend=nccl --no-enable-progress-bar --no-enable-model-summary \
  --default-root-dir build-gpu/digits_nccl 2>&1 | grep -E "joined|test_acc|error" | head -3

echo "== cuda_graph: replayed steps against eager ones, accumulation, recapture, refusals"
(cd build-gpu && timeout 180 ./cuda_graph_test --gtest_brief=1 2>&1 | tail -12)

echo "== bench/parity on CUDA: hand LibTorch loop, fulgur, PyTorch, Lightning (fp32, bf16-mixed, 16-mixed), CUDA graphs"
FULGUR_PARITY_PYTHON=python3 timeout 500 bench/parity/run.sh --build build-gpu --accelerator cuda 2>&1 | tail -30

echo "== the whole test suite against LibTorch 2.x + CUDA"
command -v python3 > build-gpu/parity_python  # the machine's Python has torch 2.x and Lightning
(cd build-gpu && timeout 240 ctest -j12 --timeout 120 -E "progress_bar.in_a_terminal|sdk" 2>&1 | tail -12)
