#!/usr/bin/env bash
# The second build: the same sources against the comparison environment's LibTorch 2.x (PyPI's
# torch wheel, CUDA-enabled: it configures here because the CUDA toolkit is installed, and the
# CUDA code paths — amp's fused kernels, NCCL — compile). Into build-torch2/. Differences between
# LibTorch 1.13 and 2.x stay in kernel/core/include/fulgur/compat.h (and strategies/ddp/process_group_backend.h).
#
#   scripts/build-torch2.sh          # scripts/test.sh runs it and the whole suite on it
set -euo pipefail
cd "$(dirname "$0")/.."
python=${FULGUR_PARITY_PYTHON:-$(cat build/parity_python 2>/dev/null || true)}
[ -x "$python" ] || python="$(scripts/setup-parity.sh | tail -n 1)/bin/python"
torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
torch_lib=$("$python" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
nccl_include=$("$python" -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "include"))' 2>/dev/null || true)

# LibTorch's CMake files find their libraries by name: its own folder is searched before the
# system's, where Debian's LibTorch 1.13 lives (CMAKE_LIBRARY_PATH). The configure step checks it.
# LibTorch 2.x carries a newer fmt than Debian's spdlog 1.10 is built with; Debian's fmt and
# spdlog headers are searched first, and nothing else of /usr/include (which also holds Debian's
# LibTorch 1.13 headers) is put ahead of LibTorch 2.x's.
first=build-torch2/first_include
mkdir -p "$first"
for dir in fmt spdlog; do ln -sfn "/usr/include/$dir" "$first/$dir"; done

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
if [ ! -f build-torch2/CMakeCache.txt ]; then
  cmake -S . -B build-torch2 "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$torch_prefix" -DCMAKE_LIBRARY_PATH="$torch_lib" -DFULGUR_FIRST_INCLUDE_DIR="$PWD/$first" \
    -DCMAKE_DISABLE_FIND_PACKAGE_Gloo=ON -DFULGUR_NCCL_INCLUDE_DIR="$nccl_include" \
    -DTORCH_CUDA_ARCH_LIST=9.0 > build-torch2/configure.log 2>&1 ||
    { cat build-torch2/configure.log; exit 1; }
  if ! grep -q "Found Torch: $torch_lib" build-torch2/configure.log; then
    grep "Found Torch" build-torch2/configure.log; echo "the LibTorch 2.x build found another LibTorch"; rm -rf build-torch2; exit 1
  fi
fi
cmake --build build-torch2 --parallel "${FULGUR_BUILD_JOBS:-$(nproc)}"
