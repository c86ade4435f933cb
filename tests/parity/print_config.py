"""The config file Lightning's own LightningCLI writes with --print_config, for a fit with some
Trainer options set on its command line. fulgur's side (print_config.cpp) reads its trainer
section and checks it means the same options.

Usage (the comparison environment's python): print_config.py OUT.yaml
"""
import contextlib
import io
import sys
import warnings

from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.demos.boring_classes import BoringDataModule, BoringModel

warnings.filterwarnings("ignore")
out = sys.argv[1]
arguments = [
    "fit", "--print_config",
    "--seed_everything", "3",
    "--trainer.max_epochs", "7",
    "--trainer.limit_train_batches", "0.5",
    "--trainer.limit_val_batches", "0.25",
    "--trainer.accumulate_grad_batches", "2",
    "--trainer.gradient_clip_val", "0.5",
    "--trainer.gradient_clip_algorithm", "value",
    "--trainer.precision", "bf16-mixed",
    "--trainer.check_val_every_n_epoch", "2",
    "--trainer.deterministic", "true",
    "--trainer.num_sanity_val_steps", "0",
    "--trainer.log_every_n_steps", "5",
    "--trainer.enable_progress_bar", "false",
    "--trainer.fast_dev_run", "false",
    "--trainer.default_root_dir", "runs/lightning",
]
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    try:
        LightningCLI(BoringModel, BoringDataModule, args=arguments)
    except SystemExit as done:  # --print_config prints and exits
        if done.code not in (0, None):
            raise
with open(out, "w") as file:
    file.write(printed.getvalue())
print(printed.getvalue())
