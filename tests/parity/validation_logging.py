"""Logging as a Lightning user writes it, and what reaches the loggers: training values on step
and epoch, validation values logged with on_step=True (Lightning writes a `val_acc_step` row per
validation batch), an epoch scheduler watched by LearningRateMonitor with its default interval.
Lightning's CSVLogger file and callback_metrics' keys go to validation_logging (fulgur's side).

Usage (the comparison environment's python): validation_logging.py OUT.pt
  OUT.pt: the data and initial weights; OUT.pt.json: Lightning's metrics.csv and callback_metrics.
"""
import json
import os
import sys
import warnings

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger
from torch.nn import functional as F

warnings.filterwarnings("ignore")
out = sys.argv[1]
torch.manual_seed(0)
x = torch.randn(32, 4)
y = (x[:, 0] > 0).long()
init = torch.nn.Linear(4, 2)


class Logged(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)
        self.linear.load_state_dict(init.state_dict())

    def training_step(self, batch, batch_idx):
        loss = F.cross_entropy(self.linear(batch[0]), batch[1])
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        self.log("zeta", 1.0)
        self.log("alpha", 2.0)
        return loss

    def validation_step(self, batch, batch_idx):
        logits = self.linear(batch[0])
        self.log("val_acc", (logits.argmax(1) == batch[1]).float().mean(), on_step=True, on_epoch=True)
        self.log("val_loss", F.cross_entropy(logits, batch[1]))

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.1)}


def loader(batch_size):
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size)


work = os.path.dirname(os.path.abspath(out))
trainer = L.Trainer(max_epochs=2, logger=CSVLogger(work, name="lightning_logs"), enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1,
                    num_sanity_val_steps=0, accelerator="cpu", callbacks=[LearningRateMonitor()])
trainer.fit(Logged(), loader(8), loader(16))
torch.save({"x": x, "y": y, "weight": init.weight.detach().clone(), "bias": init.bias.detach().clone()}, out)
json.dump({"metrics_csv": open(os.path.join(trainer.logger.log_dir, "metrics.csv")).read(),
           "callback_metrics": sorted(trainer.callback_metrics.keys())}, open(out + ".json", "w"), indent=1)
