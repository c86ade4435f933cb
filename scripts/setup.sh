#!/usr/bin/env bash
# Installs what fulgur needs from Debian's archive, and nothing else.
# Idempotent: quiet and quick when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-pthread
  libboost-dev libspdlog-dev libfmt-dev
  libgtest-dev googletest libcli11-dev zlib1g-dev nlohmann-json3-dev libsqlite3-dev libgloo-dev libyaml-cpp-dev
  python3-torch tmux
)
# --tests: what only the tests use (scripts/test.sh): clang-format for CTest style.clang_format.
if [ "${1:-}" = "--tests" ]; then packages+=(clang-format); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "fulgur setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
