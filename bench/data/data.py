"""bench/data's Python peer: PyTorch's DataLoader doing the same work per sample as data.cpp
(sin of N values, sorted, the 64 smallest kept, single-threaded; a label), batches of 64.
Run by bench/data/run.sh with Debian's python3-torch: python3 data.py --size N."""
import argparse
import time

import torch
from torch.utils.data import DataLoader, Dataset


class Work(Dataset):
    def __init__(self, n, size):
        torch.manual_seed(0)
        self.base = torch.randn(n)
        self.size = size

    def __len__(self):
        return self.size

    def __getitem__(self, i):
        values = torch.sin(self.base * (1 + i % 7))
        features = values.sort().values[:64].clone()
        return features, torch.tensor(i % 10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    samples = args.batches * 64
    for workers in (0, 1, 2):
        loader = DataLoader(Work(args.size, samples), batch_size=64, shuffle=True, num_workers=workers,
                            persistent_workers=workers > 0)
        best = 0.0
        for _ in range(args.rounds + (1 if workers else 0)):  # the first pass starts the workers
            start = time.perf_counter()
            seen = 0
            for x, _ in loader:
                x.sum()
                seen += x.shape[0]
            assert seen == samples
            best = max(best, samples / (time.perf_counter() - start))
        print(f"PyTorch DataLoader     workers {workers}  {best:8.0f} samples/s")


if __name__ == "__main__":
    main()
