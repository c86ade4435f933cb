#!/usr/bin/env bash
# Interop with the real Lightning, in the comparison environment (scripts/setup-parity.sh):
# a fulgur checkpoint loads with Lightning's load_from_checkpoint and gives the same test
# accuracy; a Lightning checkpoint loads into fulgur's DigitsNet and gives Lightning's; fulgur's
# event files and metrics.csv read with TensorBoard's and pandas' own readers; resuming a fit from
# a Lightning checkpoint is a clear error.
# Usage: lightning_interop.sh DIGITS DIGITS_PREDICT BUILD_DIR WORK_DIR
set -euo pipefail
digits=$1
predict=$2
build=$3
work=$4
here=$(cd "$(dirname "$0")" && pwd)
. "$here/parity_python.sh"

rm -rf "$work"
mkdir -p "$work"
"$digits" --seed 7 --max-epochs 5 --no-enable-progress-bar --no-enable-model-summary \
  --default-root-dir "$work/fulgur" > "$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
ckpt="$work/fulgur/lightning_logs/version_0/checkpoints/epoch=4-step=200.ckpt"
"$predict" --ckpt-path "$ckpt" --export-data "$work/data.pt" > "$work/predict.log" 2>&1 || { cat "$work/predict.log"; exit 1; }
"$python" "$here/lightning_interop.py" "$work" "$ckpt" "$work/data.pt" "$work/fulgur/lightning_logs/version_0" \
  > "$work/python.log" 2>&1 || { cat "$work/python.log"; exit 1; }
grep -E "^(lightning|csv|tensorboard)" "$work/python.log"

fulgur_acc=$(grep '^test_acc:' "$work/predict.log" | cut -d' ' -f2)
lightning_loaded=$(grep '^lightning loaded fulgur: test_acc:' "$work/python.log" | cut -d' ' -f5)
echo "fulgur's checkpoint: $fulgur_acc in fulgur, $lightning_loaded in Lightning"
[ "$fulgur_acc" = "$lightning_loaded" ]

"$predict" --ckpt-path "$work/lightning.ckpt" > "$work/from_lightning.log" 2>&1 || { cat "$work/from_lightning.log"; exit 1; }
lightning_acc=$(grep '^lightning: test_acc:' "$work/python.log" | cut -d' ' -f3)
loaded_acc=$(grep '^test_acc:' "$work/from_lightning.log" | cut -d' ' -f2)
echo "Lightning's checkpoint: $lightning_acc in Lightning, $loaded_acc in fulgur"
[ "$lightning_acc" = "$loaded_acc" ]

if "$digits" --max-epochs 4 --no-logger --ckpt-path "$work/lightning.ckpt" --default-root-dir "$work/resume" \
  > "$work/resume.log" 2>&1; then
  echo "resuming a fit from a Lightning checkpoint did not fail"; exit 1
fi
grep "was written by Lightning" "$work/resume.log"
echo "interop ok"
