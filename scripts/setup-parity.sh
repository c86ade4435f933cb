#!/usr/bin/env bash
# The comparison environment: a Python virtual environment with pinned PyTorch 2.x, Lightning,
# torchmetrics, TensorBoard, safetensors, scikit-learn, pandas and jsonargparse (LightningCLI's
# config files) from PyPI, against which fulgur
# is tested (interop with real Lightning) and measured. Idempotent: quiet and instant when the
# environment with these pins exists. Prints the environment's folder on its last line.
#
#   scripts/setup-parity.sh            # creates or finds it
#   FULGUR_NO_PARITY=1 scripts/test.sh # a machine without PyPI: skip it and the tests that need it
#
# The environment lives outside the checkout ($FULGUR_PARITY_DIR, default
# ~/.cache/fulgur/parity-<hash of the pins>, or under $XDG_CACHE_HOME), so every clone shares one
# and a new pin makes a new one.
set -euo pipefail
cd "$(dirname "$0")/.."

pins=(
  torch==2.11.0
  lightning==2.6.6
  torchmetrics==1.9.0
  tensorboard==2.21.0
  safetensors==0.8.0
  scikit-learn==1.9.1
  pandas==3.1.1
  "jsonargparse[signatures]==4.53.0"
)
hash=$(printf '%s\n' "${pins[@]}" | sha256sum | cut -c1-12)
home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
dir=${FULGUR_PARITY_DIR:-${XDG_CACHE_HOME:-$home/.cache}/fulgur/parity-$hash}

if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi

# Python 3 with venv: the machine's own python3 (PATH), else Debian's (python3-venv).
python=python3
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  python=/usr/bin/python3
  if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
  fi
fi

start=$(date +%s)
echo "fulgur parity: creating $dir (PyTorch, Lightning, torchmetrics, ... from PyPI: a few GB)" >&2
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
"$python" -m venv "$dir"
for attempt in 1 2 3; do
  if "$dir/bin/python" -m pip install -q --disable-pip-version-check --no-input "${pins[@]}" >&2; then break; fi
  if [ "$attempt" = 3 ]; then echo "fulgur parity: pip install failed three times" >&2; exit 1; fi
  echo "fulgur parity: pip install failed; trying again" >&2
  sleep 5
done
"$dir/bin/python" -c 'import torch, lightning, torchmetrics, tensorboard, safetensors, sklearn, pandas, jsonargparse' >&2
touch "$dir/.complete"
echo "fulgur parity: ready in $(( $(date +%s) - start )) s, $(du -sh "$dir" | cut -f1) on disk" >&2
echo "$dir"
