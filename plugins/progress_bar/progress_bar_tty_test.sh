#!/usr/bin/env bash
# Runs the digits example in a real terminal (tmux) and reads the screen as a person would see
# it: one finished bar per epoch, no leftover validation line, no raw escape codes.
# Usage: progress_bar_tty_test.sh DIGITS_BINARY WORK_DIR
set -euo pipefail
digits=$1
work=$2
rm -rf "$work" && mkdir -p "$work"
session="fulgur_progress_$$"
tmux -L "$session" new-session -d -s "$session" -x 150 -y 40 \
  "$digits --max-epochs 3 --seed 7 --default-root-dir $work > /dev/tty; echo DONE; sleep 30"
trap 'tmux -L "$session" kill-server 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  screen=$(tmux -L "$session" capture-pane -p -t "$session")
  if grep -q '^DONE' <<<"$screen"; then break; fi
  sleep 0.5
done
printf '%s\n' "$screen"
grep -q '^Epoch 0: 40/40 \[' <<<"$screen"
grep -q '^Epoch 2: 40/40 \[.*100%' <<<"$screen"
grep -q 'val_acc=' <<<"$screen"
grep -q '^Testing: 2/2' <<<"$screen"
grep -q '^test_acc: ' <<<"$screen"
! grep -q '^Validation:' <<<"$screen"
! grep -q '^Sanity Checking' <<<"$screen"
! grep -q $'\x1b' <<<"$screen"
echo "progress bar on a terminal: ok"
