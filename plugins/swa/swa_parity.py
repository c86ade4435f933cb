"""The swa plugin against Lightning's StochasticWeightAveraging: the same models, data, order,
optimizer and scheduler. For each case Lightning's final weights (parameters and BatchNorm
statistics) and final learning rate are written for swa_parity to compare.

Usage (the comparison environment's python): swa_parity.py OUT.pt
"""
import sys
import warnings

import lightning as L
import torch
from lightning.pytorch.callbacks import StochasticWeightAveraging
from torch.nn import functional as F

warnings.filterwarnings("ignore")
torch.manual_seed(23)
x = torch.randn(48, 4)
y = (x[:, 0] - 0.7 * x[:, 2] > 0).long()

# name, batch norm, max_epochs, swa_epoch_start, annealing_epochs, strategy, swa_lrs, StepLR
CASES = [
    ("batchnorm_cos_int_start", True, 6, 3, 2, "cos", 0.05, True),
    ("plain_linear_fraction_start", False, 5, 0.4, 6, "linear", 0.02, False),
    ("batchnorm_no_annealing", True, 4, 2, 0, "cos", 0.01, True),
]


def make_net(batch_norm):
    layers = [torch.nn.Linear(4, 8)]
    if batch_norm:
        layers.append(torch.nn.BatchNorm1d(8))
    layers += [torch.nn.ReLU(), torch.nn.Linear(8, 2)]
    return torch.nn.Sequential(*layers)


class Net(L.LightningModule):
    def __init__(self, batch_norm, scheduler):
        super().__init__()
        self.net = make_net(batch_norm)
        self.scheduler = scheduler

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self.net(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        return F.cross_entropy(self.net(batch[0]), batch[1])

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.2, momentum=0.9)
        if not self.scheduler:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.8)}


data = torch.utils.data.TensorDataset(x, y)
out = {"x": x, "y": y}
for name, batch_norm, epochs, start, annealing, strategy, swa_lr, scheduler in CASES:
    model = Net(batch_norm, scheduler)
    out[name + "/init"] = {k: v.detach().clone() for k, v in model.net.state_dict().items()}
    train = torch.utils.data.DataLoader(data, batch_size=8, shuffle=False)
    val = torch.utils.data.DataLoader(data, batch_size=48, shuffle=False)
    swa = StochasticWeightAveraging(swa_lrs=swa_lr, swa_epoch_start=start, annealing_epochs=annealing,
                                    annealing_strategy=strategy, device=None)
    trainer = L.Trainer(max_epochs=epochs, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", callbacks=[swa])
    trainer.fit(model, train, val)
    out[name + "/final"] = {k: v.detach().clone() for k, v in model.net.state_dict().items()}
    out[name + "/lr"] = torch.tensor(trainer.optimizers[0].param_groups[0]["lr"], dtype=torch.float64)
    out[name + "/global_step"] = torch.tensor(trainer.global_step)
    print(f"lightning {name}: lr {out[name + '/lr'].item():.6g}, global_step {trainer.global_step}")
torch.save(out, sys.argv[1])
