#!/usr/bin/env bash
# The `fulgur` command on the digits classes from their module library (digits_modules.so in the
# build tree's plugin folder), against the digits program itself:
# - `fulgur fit --config examples/digits/config.yaml` reports the test accuracy of scripts/demo.sh's run;
# - the config.yaml a run leaves in its log folder runs the same run again (same accuracy);
# - --model/--data by name with dotted arguments, and a mistyped class or argument named.
# Usage: fulgur_command_test.sh FULGUR DIGITS SOURCE_DIR WORK_DIR
set -euo pipefail
fulgur=$1
digits=$2
source=$3
work=$4
rm -rf "$work"
mkdir -p "$work"
quiet=(--no-enable-progress-bar --no-enable-model-summary)
acc() { grep '^test_acc:' "$1" | cut -d' ' -f2; }

# The demo's run (scripts/demo.sh: digits with its defaults) and the YAML-driven one.
"$digits" "${quiet[@]}" --default-root-dir "$work/demo" > "$work/demo.log" 2>&1 || { cat "$work/demo.log"; exit 1; }
"$fulgur" fit --config "$source/examples/digits/config.yaml" --trainer.default_root_dir "$work/yaml" "${quiet[@]}" \
  > "$work/yaml.log" 2>&1 || { cat "$work/yaml.log"; exit 1; }
echo "demo: test_acc $(acc "$work/demo.log"); fulgur fit --config examples/digits/config.yaml: test_acc $(acc "$work/yaml.log")"
[ -n "$(acc "$work/demo.log")" ] && [ "$(acc "$work/demo.log")" = "$(acc "$work/yaml.log")" ]

# The saved config runs the same run again, somewhere else.
saved=$(grep '^logs:' "$work/yaml.log" | head -1 | cut -d' ' -f2)/config.yaml
test -s "$saved" || { echo "no config.yaml in the run's log folder"; exit 1; }
grep -q "class_path: digits::DigitsNet" "$saved"
"$fulgur" fit --config "$saved" --trainer.default_root_dir "$work/again" \
  > "$work/again.log" 2>&1 || { cat "$work/again.log"; exit 1; }
echo "again from $saved: test_acc $(acc "$work/again.log")"
[ "$(acc "$work/again.log")" = "$(acc "$work/yaml.log")" ]

# Classes by name, with their arguments on the command line.
"$fulgur" fit --model DigitsNet --data DigitsDataModule --trainer.max_epochs 3 --model.hidden 64 \
  --data.batch_size 64 --test_after_fit --trainer.default_root_dir "$work/by_name" "${quiet[@]}" \
  > "$work/by_name.log" 2>&1 || { cat "$work/by_name.log"; exit 1; }
grep -q '^global_step: 60$' "$work/by_name.log" || { cat "$work/by_name.log"; exit 1; }  # 3 epochs of 20 batches of 64 (1259 images)
grep -q "hidden: 64" "$work/by_name/lightning_logs/version_0/hparams.yaml"
echo "by name: $(grep '^test_acc:' "$work/by_name.log")"

# Mistakes are named.
if "$fulgur" fit --model DigitNet > "$work/typo.log" 2>&1; then echo "a mistyped class ran"; exit 1; fi
grep -q "no Module named 'DigitNet'; did you mean 'DigitsNet'?" "$work/typo.log" || { cat "$work/typo.log"; exit 1; }
if "$fulgur" fit --model DigitsNet --model.hiden 3 > "$work/arg.log" 2>&1; then echo "a mistyped argument ran"; exit 1; fi
grep -q "model.hiden" "$work/arg.log" || { cat "$work/arg.log"; exit 1; }
"$fulgur" --help | grep -c "digits::DigitsNet" > /dev/null
echo "fulgur command ok"
