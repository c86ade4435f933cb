// PyTorch's dataset composition: Subset, random_split and ConcatDataset.
//
//   auto full = std::make_shared<fulgur::CsvDataset>("digits.csv", csv_options);
//   auto [train, val] = fulgur::random_split(full, {0.8, 0.2}, /*seed=*/42).as_pair();
//   auto both = std::make_shared<fulgur::ConcatDataset>(std::vector<std::shared_ptr<fulgur::Dataset>>{a, b});
//
// random_split follows torch.utils.data.random_split: `lengths` are counts summing to the
// dataset's size, or fractions summing to 1 (each floor(size * f), the remainder given one by one
// to the first splits); the indices are torch.randperm(size) from a generator seeded with `seed`,
// so a seed gives the same splits as PyTorch's `generator=torch.Generator().manual_seed(seed)` on
// the same LibTorch version. Without a seed, LibTorch's default generator draws them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "fulgur/dataset.h"

namespace fulgur {

/// The samples of `dataset` at `indices`, in that order (PyTorch's Subset).
class Subset : public Dataset {
 public:
  /// Every index must be in [0, dataset->size()); an error names the first that is not.
  Subset(std::shared_ptr<Dataset> dataset, std::vector<int64_t> indices);

  Batch get(int64_t index) override;
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  const std::vector<int64_t>& indices() const { return indices_; }
  const std::shared_ptr<Dataset>& dataset() const { return dataset_; }

 private:
  std::shared_ptr<Dataset> dataset_;
  std::vector<int64_t> indices_;
};

/// random_split's result: one Subset per length, in order.
struct Splits {
  std::vector<std::shared_ptr<Subset>> subsets;

  std::size_t size() const { return subsets.size(); }
  const std::shared_ptr<Subset>& operator[](std::size_t i) const { return subsets.at(i); }
  /// The two subsets of a split in two: `auto [train, val] = random_split(d, {0.9, 0.1}).as_pair();`
  std::pair<std::shared_ptr<Subset>, std::shared_ptr<Subset>> as_pair() const;
};

/// The dataset in non-overlapping random subsets of the given lengths (counts or fractions).
Splits random_split(const std::shared_ptr<Dataset>& dataset, const std::vector<double>& lengths,
                    std::optional<uint64_t> seed = std::nullopt);

/// The counts random_split uses for `lengths` over `size` samples (PyTorch's rounding of fractions).
std::vector<int64_t> split_lengths(int64_t size, const std::vector<double>& lengths);

/// Datasets one after another (PyTorch's ConcatDataset): index i reads the dataset it falls in.
class ConcatDataset : public Dataset {
 public:
  /// At least one dataset; none may be null.
  explicit ConcatDataset(std::vector<std::shared_ptr<Dataset>> datasets);

  Batch get(int64_t index) override;
  int64_t size() const override { return cumulative_sizes_.empty() ? 0 : cumulative_sizes_.back(); }
  /// The running totals of the datasets' sizes (PyTorch's cumulative_sizes).
  const std::vector<int64_t>& cumulative_sizes() const { return cumulative_sizes_; }

 private:
  std::vector<std::shared_ptr<Dataset>> datasets_;
  std::vector<int64_t> cumulative_sizes_;
};

}  // namespace fulgur
