#!/usr/bin/env python3
"""CTest docs.architecture_files_exist: every file docs/ARCHITECTURE.md's file tables name exists.

A table cell names files in backticks: a path (`kernel/trainer/trainer.cpp`), a pattern
(`kernel/serialize/zip_archive.*`, `metrics/src/`), or a bare name that lives beside the path
before it in the same cell (`log_options.h` after `kernel/logging/include/fulgur/metric_store.h`).
Placeholders in capitals (`plugins/NAME/`) stand for every folder there.
"""
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
text = open(os.path.join(root, "docs", "ARCHITECTURE.md"), encoding="utf-8").read()
section = text.split("## Files", 1)[1].split("\n## ", 1)[0]
missing, checked = [], 0
for line in section.splitlines():
    if not line.startswith("| `"):
        continue
    cell = line.split(" | ")[0].lstrip("| ")
    folder = ""
    for name in re.findall(r"`([^`]+)`", cell):
        if "/" not in name:
            if not folder:
                continue
            name = folder + name
        else:
            folder = name[: name.rfind("/") + 1]
        pattern = re.sub(r"\b[A-Z]+\b", "*", name)
        checked += 1
        if not glob.glob(os.path.join(root, pattern)):
            missing.append(name)
for name in missing:
    print(f"docs/ARCHITECTURE.md names {name}, which is not in the tree")
print(f"{checked} paths checked, {len(missing)} missing")
sys.exit(1 if missing else 0)
