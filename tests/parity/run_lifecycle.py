"""What a Lightning user's code sees around a run: the DataModule's calls when a fit resumes
(is its state restored before it is asked for a loader?) and the Module's properties after fit.
Writes Lightning's answers as JSON for run_lifecycle (fulgur's side) to compare.

Usage (the comparison environment's python): run_lifecycle.py OUT.json (its folder is the work folder)
"""
import json
import os
import sys
import warnings

import lightning as L
import torch
from torch.nn import functional as F

warnings.filterwarnings("ignore")
out = sys.argv[1]
work = os.path.dirname(os.path.abspath(out))
torch.manual_seed(3)
x = torch.randn(64, 4)
y = (x[:, 0] > 0).long()


class Data(L.LightningDataModule):
    """Its loaders depend on its state: the number of epochs it has served."""

    def __init__(self):
        super().__init__()
        self.served = 0
        self.calls = []

    def prepare_data(self):
        self.calls.append("prepare_data")

    def setup(self, stage):
        self.calls.append("setup:" + stage)

    def train_dataloader(self):
        self.calls.append("train_dataloader(served=%d)" % self.served)
        self.served += 1
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)

    def state_dict(self):
        return {"served": self.served}

    def load_state_dict(self, state):
        self.calls.append("load_state_dict(served=%d)" % state["served"])
        self.served = state["served"]

    def teardown(self, stage):
        self.calls.append("teardown:" + stage)


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self.linear(batch[0]), batch[1])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def trainer(epochs):
    return L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, accelerator="cpu", default_root_dir=work)


first = trainer(1)
model = Tiny()
first.fit(model, datamodule=Data())
first.save_checkpoint(work + "/lightning_one_epoch.ckpt")

data = Data()
resumed = Tiny()
second = trainer(2)
second.fit(resumed, datamodule=data, ckpt_path=work + "/lightning_one_epoch.ckpt")

json.dump({
    "resume_calls": data.calls,
    "after_fit": {"current_epoch": resumed.current_epoch, "global_step": resumed.global_step,
                  "trainer_attached": resumed.trainer is not None,
                  "datamodule_trainer_attached": data.trainer is not None},
}, open(out, "w"), indent=1)
