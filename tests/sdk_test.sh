#!/usr/bin/env bash
# Installs the SDK from the build tree, builds examples/custom_plugin against it out of tree, and
# runs its program with its own plugin loaded from a folder and the bundled ones from the
# installed tree. Usage: sdk_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
work=$build/sdk_test
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" > "$work.install.log" 2>&1 || { cat "$work.install.log"; exit 1; }
launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
cmake -S "$source/examples/custom_plugin" -B "$work/build" "${generator[@]}" "${launcher[@]}" \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work.configure.log" 2>&1 || { cat "$work.configure.log"; exit 1; }
cmake --build "$work/build" > "$work.build.log" 2>&1 || { cat "$work.build.log"; exit 1; }
# Only the installed tree and the project's own folder provide plugins here.
unset FULGUR_PLUGIN_PATH
cd "$work"
"$work/build/train" --plugin-dir "$work/build/plugins" --plugin epoch_timer:unit=ms --max-epochs 3 \
  --default-root-dir "$work/run"
test -f "$work/run/checkpoints/epoch=2-step=12.ckpt"
for plugin in model_checkpoint progress_bar model_summary; do test -f "$work/prefix/lib/fulgur/plugins/$plugin.so"; done
test -f "$work/prefix/include/fulgur/plugins/model_checkpoint.h"
# The docs come with the SDK: the hook and plugin references, and each plugin's options.
for doc in README.md hooks.md plugins.md loggers.md metrics.md plugins/model_checkpoint.md plugins/csv_logger.md; do
  test -s "$work/prefix/share/doc/fulgur/$doc" || { echo "the SDK lacks share/doc/fulgur/$doc"; exit 1; }
done
grep -q "save_top_k" "$work/prefix/share/doc/fulgur/plugins/model_checkpoint.md"

# An installed fulgur searches its own plugin folder, never the build tree it was built in.
if "$work/build/train" --plugin no_such_plugin > "$work.missing.log" 2>&1; then
  echo "an unknown plugin was not an error"; exit 1
fi
grep -q "$work/prefix/lib/fulgur/plugins" "$work.missing.log" || { cat "$work.missing.log"; exit 1; }
if grep -q "$build/plugins" "$work.missing.log"; then
  echo "the installed library searched the build tree:"; cat "$work.missing.log"; exit 1
fi
# --help prints the options and exits 0.
"$work/build/train" --help | grep -c -- "--max-epochs" > /dev/null  # -c reads it all: -q would close the pipe early

# A custom logger, built out of tree the same way, loaded from its folder by the program above.
cmake -S "$source/examples/custom_logger" -B "$work/logger" "${generator[@]}" "${launcher[@]}" \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work.logger.configure.log" 2>&1 || { cat "$work.logger.configure.log"; exit 1; }
cmake --build "$work/logger" > "$work.logger.build.log" 2>&1 || { cat "$work.logger.build.log"; exit 1; }
"$work/build/train" --plugin-dir "$work/logger/plugins" --plugin sqlite_logger:path="$work/run.db" --max-epochs 3 \
  --log-every-n-steps 2 --no-enable-checkpointing --default-root-dir "$work/run_logger"
# 3 epochs x 4 steps, a row every 2nd step: 6 rows of train_loss and epoch.
/usr/bin/python3 - "$work/run.db" <<'PY'
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT step, value FROM metrics WHERE name = 'train_loss' ORDER BY step").fetchall()
assert [step for step, _ in rows] == [1, 3, 5, 7, 9, 11], rows
assert rows[-1][1] < rows[0][1], rows  # the loss went down
print("sqlite_logger rows:", rows)
PY


# A user's own Module and DataModule in a module library (examples/custom_module), run by the
# installed `fulgur` command: no main of their own, the optimizer named on the command line.
cmake -S "$source/examples/custom_module" -B "$work/module" "${generator[@]}" "${launcher[@]}" \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work.module.configure.log" 2>&1 || { cat "$work.module.configure.log"; exit 1; }
cmake --build "$work/module" > "$work.module.build.log" 2>&1 || { cat "$work.module.build.log"; exit 1; }
quiet=(--no-enable-progress-bar --no-enable-model-summary)
"$work/prefix/bin/fulgur" fit --plugin-dir "$work/module/plugins" --model SineNet --data SineData \
  --optimizer Adam --optimizer.lr 0.01 --trainer.max_epochs 30 --seed_everything 1 --test_after_fit \
  --trainer.default_root_dir "$work/sine" "${quiet[@]}" > "$work/sine.log" 2>&1 || { cat "$work/sine.log"; exit 1; }
loss=$(grep '^test_loss:' "$work/sine.log" | cut -d' ' -f2)
echo "installed fulgur, SineNet from the user's library: test_loss $loss"
awk -v loss="$loss" 'BEGIN { exit !(loss != "" && loss < 0.01) }' || { cat "$work/sine.log"; exit 1; }
test -s "$work/sine/lightning_logs/version_0/config.yaml"
# The digits classes come with the SDK, in its plugin folder.
"$work/prefix/bin/fulgur" fit --model DigitsNet --data DigitsDataModule --trainer.max_epochs 2 --test_after_fit \
  --data.path "$source/examples/digits/data/digits.csv.gz" --trainer.default_root_dir "$work/digits" "${quiet[@]}" \
  > "$work/digits.log" 2>&1 || { cat "$work/digits.log"; exit 1; }
grep '^test_acc:' "$work/digits.log"
"$work/prefix/bin/fulgur" --help | grep -c "sine::SineNet" > /dev/null && { echo "a library outside the plugin folders was listed"; exit 1; }
"$work/prefix/bin/fulgur" --help --plugin-dir "$work/module/plugins" | grep -c "sine::SineNet" > /dev/null
echo "fulgur command from the SDK ok"
