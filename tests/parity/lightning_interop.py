"""fulgur and Lightning on the same digits data: Lightning loads fulgur's checkpoint, fulgur loads
Lightning's (the shell driver does that half), and TensorBoard's and pandas' own readers read
fulgur's logs with the columns Lightning's CSVLogger gives.

Usage (the comparison environment's python): lightning_interop.py WORK FULGUR_CKPT DATA FULGUR_LOG_DIR
"""
import glob
import os
import sys

import lightning as L
import pandas as pd
import torch
import torchmetrics
from lightning.pytorch.loggers import CSVLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.nn import functional as F

work, fulgur_ckpt, data_path, fulgur_logs = sys.argv[1:5]


class LitDigits(L.LightningModule):
    """The digits example's network in Lightning: the same layer names, the same logs."""

    def __init__(self, hidden=128, lr=3e-3):
        super().__init__()
        self.save_hyperparameters()
        self.input = torch.nn.Linear(64, hidden)
        self.output = torch.nn.Linear(hidden, 10)
        # As the digits example: accuracy and macro F1 as metric objects (not in the state_dict).
        def metrics(prefix):
            return torchmetrics.MetricCollection({
                "acc": torchmetrics.Accuracy(task="multiclass", num_classes=10),
                "f1": torchmetrics.F1Score(task="multiclass", num_classes=10, average="macro"),
            }, prefix=prefix)
        self.val_metrics = metrics("val_")
        self.test_metrics = metrics("test_")

    def forward(self, x):
        return self.output(torch.relu(self.input(x)))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.val_metrics.update(logits, y)
        self.log_dict(self.val_metrics, prog_bar=True)

    def test_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("test_loss", F.cross_entropy(logits, y))
        self.test_metrics.update(logits, y)
        self.log_dict(self.test_metrics)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


# fulgur's files open with torch.load's default weights_only=True (PyTorch >= 2.6).
data = torch.load(data_path, weights_only=True)
checkpoint = torch.load(fulgur_ckpt, weights_only=True)
assert checkpoint["hyper_parameters"] == {"hidden": 128, "lr": 0.003}, checkpoint["hyper_parameters"]

# fulgur's checkpoint in Lightning's load_from_checkpoint: hyper-parameters and weights.
loaded = LitDigits.load_from_checkpoint(fulgur_ckpt, map_location="cpu")
assert dict(loaded.hparams) == {"hidden": 128, "lr": 0.003}, dict(loaded.hparams)
print("lightning loaded fulgur: test_acc: %.4f" % accuracy(loaded, data["test_x"], data["test_y"]))

# A Lightning run on the same data, with Lightning's CSVLogger, saving its own checkpoint.
L.seed_everything(7)
loader = lambda split, shuffle: torch.utils.data.DataLoader(  # noqa: E731
    torch.utils.data.TensorDataset(data[split + "_x"], data[split + "_y"]), batch_size=32 if shuffle else 256, shuffle=shuffle)
model = LitDigits()
trainer = L.Trainer(max_epochs=3, accelerator="cpu", logger=CSVLogger(work, name="lightning_logs"),
                    enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
trainer.fit(model, loader("train", True), loader("val", False))
trainer.test(model, loader("test", False), verbose=False)
trainer.save_checkpoint(os.path.join(work, "lightning.ckpt"))
print("lightning: test_acc: %.4f" % accuracy(model, data["test_x"], data["test_y"]))

# fulgur's metrics.csv in pandas has the columns Lightning's CSVLogger writes for the same logs.
fulgur_csv = pd.read_csv(os.path.join(fulgur_logs, "metrics.csv"))
lightning_csv = pd.read_csv(glob.glob(os.path.join(work, "lightning_logs", "version_*", "metrics.csv"))[0])
assert set(fulgur_csv.columns) == set(lightning_csv.columns), (sorted(fulgur_csv.columns), sorted(lightning_csv.columns))
assert fulgur_csv["step"].dtype.kind == "i" and fulgur_csv["epoch"].dtype.kind == "i", fulgur_csv.dtypes
print("csv columns:", " ".join(sorted(fulgur_csv.columns)))

# TensorBoard's own reader: every logged scalar, with the values metrics.csv has.
events = EventAccumulator(fulgur_logs)
events.Reload()
tags = set(events.Tags()["scalars"])
assert {"train_loss", "val_loss", "val_acc", "test_acc", "test_loss"} <= tags, tags
val_acc = [e.value for e in events.Scalars("val_acc")]
csv_val_acc = fulgur_csv["val_acc"].dropna().tolist()
assert len(val_acc) == len(csv_val_acc) and all(abs(a - b) < 1e-6 for a, b in zip(val_acc, csv_val_acc)), (val_acc, csv_val_acc)
print("tensorboard scalars:", " ".join(sorted(tags)), "| val_acc points:", len(val_acc))
