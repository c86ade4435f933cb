"""fulgur's LR finder against Lightning's Tuner.lr_find: the same model, initial weights, data,
order and optimizer. Lightning's tried rates, smoothed losses and suggestion are written for
lr_find_parity to compare.

Usage (the comparison environment's python): lr_find_parity.py OUT.pt
"""
import sys
import warnings

import lightning as L
import torch
from lightning.pytorch.tuner import Tuner
from torch.nn import functional as F

warnings.filterwarnings("ignore")
torch.manual_seed(5)
x = torch.randn(200, 4)
y = (x[:, 0] * x[:, 1] + 0.3 * x[:, 2] > 0).long()

# name, mode, min_lr, max_lr, num_training
CASES = [("exponential", "exponential", 1e-5, 10.0, 60), ("linear", "linear", 1e-3, 2.0, 40)]


class Net(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self.net(batch[0]), batch[1])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


out = {"x": x, "y": y}
for name, mode, min_lr, max_lr, num_training in CASES:
    model = Net()
    out[name + "/init"] = {k: v.detach().clone() for k, v in model.net.state_dict().items()}
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8, shuffle=False)
    trainer = L.Trainer(max_epochs=5, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    finder = Tuner(trainer).lr_find(model, train_dataloaders=train, min_lr=min_lr, max_lr=max_lr,
                                    num_training=num_training, mode=mode, update_attr=False)
    out[name + "/lrs"] = torch.tensor(finder.results["lr"], dtype=torch.float64)
    out[name + "/losses"] = torch.tensor(finder.results["loss"], dtype=torch.float64)
    suggestion = finder.suggestion()
    out[name + "/suggestion"] = torch.tensor(-1.0 if suggestion is None else suggestion, dtype=torch.float64)
    print(f"lightning {name}: {len(finder.results['lr'])} points, suggestion {suggestion}")
torch.save(out, sys.argv[1])
