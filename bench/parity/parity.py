"""bench/parity, the Python half: the same MLPs, batches and Adam as parity.cpp, trained by a
raw PyTorch loop, by a lean Lightning Trainer (no logger, bar, summary or checkpoint) and by
Lightning's default Trainer with a self.log per step. Prints "<model> <variant> <us per step>".

Usage (the comparison environment's python): parity.py --model tiny --steps 400 --warmup 20
"""
import argparse
import tempfile
import time
import warnings

import lightning as L
import torch
from torch.nn import functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="tiny")
parser.add_argument("--steps", type=int, default=400)
parser.add_argument("--warmup", type=int, default=20)
parser.add_argument("--threads", type=int, default=0)
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--accelerator", default="cpu", choices=["cpu", "cuda"])
parser.add_argument("--precision", default="32-true", help="other than 32-true only Lightning's default Trainer runs")
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)
warnings.filterwarnings("ignore")

widths, batch_size = {"tiny": ([784, 128, 10], 64), "medium": ([784, 2048, 2048, 10], 512)}[args.model]


def mlp():
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


device = torch.device(args.accelerator)


def wait():
    """Timing a GPU means waiting for its queue, at the start and the end of the window only."""
    if device.type == "cuda":
        torch.cuda.synchronize()


torch.manual_seed(0)
x = torch.randn(args.steps * batch_size, widths[0]).to(device)
y = torch.randint(0, widths[-1], (args.steps * batch_size,)).to(device)
batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]


def raw_pytorch():
    torch.manual_seed(1)
    net = mlp().to(device)
    adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    for step, (bx, by) in enumerate(batches):
        if step == args.warmup:
            wait()
            start = time.perf_counter()
        adam.zero_grad()
        F.cross_entropy(net(bx), by).backward()
        adam.step()
    wait()
    return (time.perf_counter() - start) * 1e6 / (len(batches) - args.warmup)


class Net(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = mlp()

    def training_step(self, batch, batch_idx):
        loss = F.cross_entropy(self.net(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class StepClock(L.Callback):
    """The same window as fulgur's: from batch `warmup`'s start to the last batch's end."""

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx == args.warmup:
            wait()
            self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        wait()
        self.end = time.perf_counter()


def lightning(lean):
    torch.manual_seed(1)
    clock = StepClock()
    with tempfile.TemporaryDirectory() as root:
        options = dict(max_epochs=1, accelerator=args.accelerator, devices=1, precision=args.precision,
                       num_sanity_val_steps=0, default_root_dir=root, callbacks=[clock])
        if lean:
            options.update(logger=False, enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
        trainer = L.Trainer(**options)
        trainer.fit(Net(), torch.utils.data.DataLoader(batches, batch_size=None))
    return (clock.end - clock.start) * 1e6 / (len(batches) - args.warmup)


# Rounds alternate the variants; the median is printed.
if args.precision == "32-true":
    results = {"raw_pytorch": [], "lightning_lean": [], "lightning_default": []}
    for _ in range(args.rounds):
        results["raw_pytorch"].append(raw_pytorch())
        results["lightning_lean"].append(lightning(True))
        results["lightning_default"].append(lightning(False))
else:
    results = {"lightning_default_" + args.precision.replace("-", "_"): [lightning(False) for _ in range(args.rounds)]}
for variant, values in results.items():
    print("%s %s %.1f" % (args.model, variant, sorted(values)[len(values) // 2]), flush=True)
print("torch %s lightning %s" % (torch.__version__, L.__version__))
