"""bench/metrics, torchmetrics' side: the same metrics, inputs and timing as metrics.cpp.

Usage: python metrics.py [--batch 4096] [--classes 100] [--updates 50] [--epochs 5] [--threads N]
"""
import argparse
import time

import torch
import torchmetrics

parser = argparse.ArgumentParser()
parser.add_argument("--batch", type=int, default=4096)
parser.add_argument("--classes", type=int, default=100)
parser.add_argument("--updates", type=int, default=50)
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--threads", type=int, default=0)
args = parser.parse_args()
if args.threads > 0:
    torch.set_num_threads(args.threads)
torch.manual_seed(0)
logits, labels = [], []
for _ in range(8):  # drawn in metrics.cpp's order: the same inputs, so the same values
    logits.append(torch.randn(args.batch, args.classes))
    labels.append(torch.randint(0, args.classes, (args.batch,)))
cases = [
    ("accuracy", torchmetrics.Accuracy(task="multiclass", num_classes=args.classes)),
    ("f1_macro", torchmetrics.F1Score(task="multiclass", num_classes=args.classes, average="macro")),
    ("auroc", torchmetrics.AUROC(task="multiclass", num_classes=args.classes)),
]
print(f"torchmetrics {torchmetrics.__version__}: torch {torch.__version__}, {torch.get_num_threads()} threads, "
      f"batch {args.batch}, {args.classes} classes, {args.updates} updates per epoch")
with torch.no_grad():
    for name, metric in cases:
        update_us, compute_ms, checksum = [], [], 0.0
        for epoch in range(args.epochs):
            for i in range(args.updates):
                start = time.perf_counter()
                metric.update(logits[i % 8], labels[i % 8])
                if epoch > 0:
                    update_us.append((time.perf_counter() - start) * 1e6)
            start = time.perf_counter()
            checksum += metric.compute().item()
            metric.reset()
            if epoch > 0:
                compute_ms.append((time.perf_counter() - start) * 1e3)
        update_us.sort()
        compute_ms.sort()
        print(f"torchmetrics {name:<9} update {update_us[len(update_us) // 2]:9.1f} us   "
              f"compute {compute_ms[len(compute_ms) // 2]:9.2f} ms   (value {checksum / args.epochs:.6f})")
