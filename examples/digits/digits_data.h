// The UCI handwritten digits (examples/digits/data): 1797 8x8 images, pixel values 0..16,
// read from the gzipped CSV and split into train / validation / test sets.
#pragma once

#include <cstdint>
#include <string>

#include <torch/types.h>

#include "fulgur/data_module.h"
#include "fulgur/hparam_spec.h"

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

/// The digits as a Lightning DataModule: the file is read and split in setup(), standardised with
/// the training set's statistics, and served as shuffled training batches and in-order
/// validation / test / predict batches.
class DigitsDataModule : public fulgur::DataModule {
 public:
  DigitsDataModule(std::string path, int64_t batch_size, uint64_t shuffle_seed)
      : path_(std::move(path)), batch_size_(batch_size), shuffle_seed_(shuffle_seed) {}
  /// Its arguments, for fulgur::cli (--data.path, --batch-size, `data: {init_args: {...}}`).
  static fulgur::HParamSpecs declare_hparams();
  /// Built from them; the training batches are shuffled from the seed seed_everything set.
  explicit DigitsDataModule(const fulgur::HParams& hparams);

  /// Checks that the file is there (a download would go here), once per machine.
  void prepare_data() override;
  void setup(fulgur::Stage stage) override;
  fulgur::DataLoaders train_dataloader() override;
  fulgur::DataLoaders val_dataloader() override;
  fulgur::DataLoaders test_dataloader() override;
  fulgur::DataLoaders predict_dataloader() override;

  /// The split, once setup has run.
  const Dataset& data() const { return data_; }

 private:
  std::string path_;
  int64_t batch_size_;
  uint64_t shuffle_seed_;
  bool loaded_ = false;
  Dataset data_;
};

}  // namespace digits
