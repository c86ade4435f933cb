#!/usr/bin/env bash
# CTest style.clang_format: every C++ file of the tree is as .clang-format lays it out. Fails on
# a file clang-format would change, naming it (run `clang-format -i FILE` to fix). Skips (77)
# where Debian 12's clang-format 14 is missing: another version lays some lines out differently.
set -euo pipefail
cd "$1"
command -v clang-format >/dev/null || { echo "clang-format is not installed: skipped"; exit 77; }
clang-format --version | grep -q "version 14\." || { echo "$(clang-format --version): not 14, skipped"; exit 77; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.h')
else
  mapfile -t files < <(find . -path ./build -prune -o \( -name '*.cpp' -o -name '*.h' \) -print)
fi
clang-format --dry-run -Werror "${files[@]}"
echo "${#files[@]} files as .clang-format lays them out"
