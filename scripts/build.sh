#!/usr/bin/env bash
# Configures and builds fulgur (Release) into build/. Extra arguments go to CMake's configure.
# FULGUR_BUILD_TARGET names the targets to build (with what they need) instead of everything:
# the demo builds only `digits` and the `fulgur` command (the kernel, the plugins, the example and
# its module library), not the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
# The precompiled header and ccache agree only when ccache ignores its timestamps and defines.
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
# Paths relative to the checkout, so a second clone (CI's) hits the cache the first one filled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"

if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@"
elif [ $# -gt 0 ]; then
  cmake -S . -B build "$@"
fi
target=()
# shellcheck disable=SC2206  # several targets, space-separated: "digits fulgur_command"
if [ -n "${FULGUR_BUILD_TARGET:-}" ]; then target=(--target $FULGUR_BUILD_TARGET); fi
cmake --build build --parallel "${FULGUR_BUILD_JOBS:-$(nproc)}" "${target[@]}"
