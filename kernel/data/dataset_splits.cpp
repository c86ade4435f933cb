#include "fulgur/dataset_splits.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fulgur/error.h"

namespace fulgur {

// --- Subset ---------------------------------------------------------------------------------

Subset::Subset(std::shared_ptr<Dataset> dataset, std::vector<int64_t> indices)
    : dataset_(std::move(dataset)), indices_(std::move(indices)) {
  if (!dataset_) throw Error("Subset: no dataset given");
  const int64_t size = dataset_->size();
  for (std::size_t i = 0; i < indices_.size(); ++i) {
    if (indices_[i] < 0 || indices_[i] >= size) {
      throw Error(fmt::format("Subset: index {} (position {}) is out of range for a dataset of {} samples", indices_[i],
                              i, size));
    }
  }
}

Batch Subset::get(int64_t index) {
  if (index < 0 || index >= size()) {
    throw Error(fmt::format("Subset: index {} is out of range for {} samples", index, size()));
  }
  return dataset_->get(indices_[static_cast<std::size_t>(index)]);
}

// --- random_split ---------------------------------------------------------------------------

std::pair<std::shared_ptr<Subset>, std::shared_ptr<Subset>> Splits::as_pair() const {
  if (subsets.size() != 2) {
    throw Error(fmt::format("random_split: as_pair() needs a split in two, this one has {} parts", subsets.size()));
  }
  return {subsets[0], subsets[1]};
}

std::vector<int64_t> split_lengths(int64_t size, const std::vector<double>& lengths) {
  if (lengths.empty()) throw Error("random_split: give at least one length");
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    if (!std::isfinite(lengths[i]) || lengths[i] < 0) {
      throw Error(
          fmt::format("random_split: length at index {} is {}; lengths are counts or fractions >= 0", i, lengths[i]));
    }
  }
  const double total = std::accumulate(lengths.begin(), lengths.end(), 0.0);
  std::vector<int64_t> counts;
  // PyTorch's rule: lengths summing to 1 (math.isclose, and not above 1) are fractions.
  const bool fractions = std::abs(total - 1.0) <= 1e-9 * std::max(1.0, std::abs(total)) && total <= 1.0;
  if (fractions) {
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      if (lengths[i] > 1) throw Error(fmt::format("random_split: fraction at index {} is not between 0 and 1", i));
      counts.push_back(static_cast<int64_t>(std::floor(static_cast<double>(size) * lengths[i])));
    }
    const int64_t remainder = size - std::accumulate(counts.begin(), counts.end(), int64_t{0});
    for (int64_t i = 0; i < remainder; ++i) ++counts[static_cast<std::size_t>(i) % counts.size()];
    for (std::size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] == 0) spdlog::warn("random_split: length of split at index {} is 0; this split will be empty", i);
    }
  } else {
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      if (lengths[i] != std::floor(lengths[i])) {
        throw Error(
            fmt::format("random_split: lengths sum to {}, so they are counts, and the length at index {} "
                        "({}) is not a whole number; fractions must sum to 1",
                        total, i, lengths[i]));
      }
      counts.push_back(static_cast<int64_t>(lengths[i]));
    }
  }
  const int64_t sum = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  if (sum != size) {
    throw Error(
        fmt::format("random_split: the lengths sum to {}, the dataset has {} samples; counts must sum to "
                    "the dataset's size, fractions to 1",
                    sum, size));
  }
  return counts;
}

Splits random_split(const std::shared_ptr<Dataset>& dataset, const std::vector<double>& lengths,
                    std::optional<uint64_t> seed) {
  if (!dataset) throw Error("random_split: no dataset given");
  const int64_t total = dataset->size();
  const std::vector<int64_t> counts = split_lengths(total, lengths);
  // torch.randperm(n, generator=...) as PyTorch draws it: int64 on the CPU.
  c10::optional<at::Generator> generator;
  if (seed) generator = at::make_generator<at::CPUGeneratorImpl>(*seed);
  const at::Tensor permutation = at::randperm(total, generator, at::TensorOptions().dtype(at::kLong));
  const int64_t* order = permutation.data_ptr<int64_t>();
  Splits splits;
  int64_t offset = 0;
  for (const int64_t count : counts) {
    splits.subsets.push_back(
        std::make_shared<Subset>(dataset, std::vector<int64_t>(order + offset, order + offset + count)));
    offset += count;
  }
  return splits;
}

// --- ConcatDataset ---------------------------------------------------------------------------

ConcatDataset::ConcatDataset(std::vector<std::shared_ptr<Dataset>> datasets) : datasets_(std::move(datasets)) {
  if (datasets_.empty()) throw Error("ConcatDataset: datasets should not be an empty list");
  int64_t total = 0;
  for (std::size_t i = 0; i < datasets_.size(); ++i) {
    if (!datasets_[i]) throw Error(fmt::format("ConcatDataset: dataset {} is null", i));
    total += datasets_[i]->size();
    cumulative_sizes_.push_back(total);
  }
}

Batch ConcatDataset::get(int64_t index) {
  if (index < 0 || index >= size()) {
    throw Error(fmt::format("ConcatDataset: index {} is out of range for {} samples", index, size()));
  }
  // The first dataset whose running total passes the index (PyTorch's bisect_right).
  const auto found = std::upper_bound(cumulative_sizes_.begin(), cumulative_sizes_.end(), index);
  const auto which = static_cast<std::size_t>(found - cumulative_sizes_.begin());
  const int64_t start = which == 0 ? 0 : cumulative_sizes_[which - 1];
  return datasets_[which]->get(index - start);
}

}  // namespace fulgur
