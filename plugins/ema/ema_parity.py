"""The ema plugin against Lightning's EMAWeightAveraging: the same model, data, order and
optimizer; Lightning's final weights (the average, copied in at the end of training) and the
weights its validation saw are written for ema_parity to compare.

Usage (the comparison environment's python): ema_parity.py OUT.pt
"""
import sys
import warnings

import lightning as L
import torch
from lightning.pytorch.callbacks import EMAWeightAveraging
from torch.nn import functional as F

warnings.filterwarnings("ignore")
torch.manual_seed(17)
x = torch.randn(40, 4)
y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
init = torch.nn.Linear(4, 2)


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)
        self.linear.load_state_dict(init.state_dict())
        self.validated = []

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self.linear(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        if batch_idx == 0 and not self.trainer.sanity_checking:
            self.validated.append(torch.cat([p.detach().flatten() for p in self.parameters()]).clone())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.3)


data = torch.utils.data.TensorDataset(x, y)
train = torch.utils.data.DataLoader(data, batch_size=8, shuffle=False)
val = torch.utils.data.DataLoader(data, batch_size=40, shuffle=False)
model = Tiny()
trainer = L.Trainer(max_epochs=3, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                    callbacks=[EMAWeightAveraging(decay=0.8, update_every_n_steps=2, update_starting_at_step=1)])
trainer.fit(model, train, val)
torch.save({
    "x": x, "y": y, "weight": init.weight.detach().clone(), "bias": init.bias.detach().clone(),
    "final": torch.cat([p.detach().flatten() for p in model.parameters()]),
    "validated": torch.stack(model.validated),
}, sys.argv[1])
print(f"lightning: {len(model.validated)} validations, final weights written")
