// The UCI handwritten digits (examples/digits/data): 1797 8x8 images, pixel values 0..16,
// read from the gzipped CSV and split into train / validation / test sets.
#pragma once

#include <cstdint>
#include <string>

#include <torch/types.h>

namespace digits {

struct Split {
  torch::Tensor x;  // [n, 64] float, scaled to 0..1
  torch::Tensor y;  // [n] long, 0..9
};

struct Dataset {
  Split train, val, test;
};

/// Reads `path` (64 pixel columns then the label per line) and splits it with a permutation
/// drawn from `split_seed`: 10 % validation, 20 % test, the rest training.
Dataset load(const std::string& path, uint64_t split_seed = 42);

/// Scales every pixel column to zero mean and unit variance using the training set's statistics
/// (constant columns stay at zero): an MLP learns faster and generalises better on such inputs.
void standardize(Dataset& data);

}  // namespace digits
