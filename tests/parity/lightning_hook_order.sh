#!/usr/bin/env bash
# Lightning's own hook order against fulgur's, for fit (2 training and 2 validation batches after
# the sanity check), validate, test, predict, a fit resumed mid-epoch and one resumed from an
# epoch's end: the check on the order
# tests/hook_order_test.cpp writes down by hand. Needs the comparison environment.
# Usage: lightning_hook_order.sh HOOK_SHAPES BUILD_DIR WORK_DIR
set -euo pipefail
shapes=$1
build=$2
work=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/parity_python.sh"

rm -rf "$work"
mkdir -p "$work"
traces=()
for shape in fit validate test predict resume resume_epoch; do
  "$shapes" "$shape" "$work/fulgur_$shape.txt" "$work/fulgur_$shape" > "$work/fulgur_$shape.log" 2>&1 ||
    { cat "$work/fulgur_$shape.log"; exit 1; }
  traces+=("$shape:$work/fulgur_$shape.txt")
done
"$python" "$here/lightning_hook_order.py" "$work" "${traces[@]}" 2>"$work/python.err" || { tail -20 "$work/python.err"; exit 1; }
