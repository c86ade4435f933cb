#!/usr/bin/env bash
# Trains digits for a few epochs, then loads its checkpoint in a new process with
# digits_predict: the test accuracy must be the one the training process reported.
# Usage: predict_test.sh DIGITS DIGITS_PREDICT WORK_DIR
set -euo pipefail
digits=$1
predict=$2
work=$3
rm -rf "$work"
"$digits" --seed 7 --max-epochs 5 --no-logger --no-enable-progress-bar --no-enable-model-summary \
  --default-root-dir "$work" > "$work.train.log" 2>&1 || { cat "$work.train.log"; exit 1; }
trained=$(grep '^test_acc:' "$work.train.log")
"$predict" --ckpt-path "$work/checkpoints/epoch=4-step=200.ckpt" > "$work.predict.log" 2>&1 || { cat "$work.predict.log"; exit 1; }
loaded=$(grep '^test_acc:' "$work.predict.log")
cat "$work.predict.log"
echo "training process: $trained; new process: $loaded"
[ "$trained" = "$loaded" ]
