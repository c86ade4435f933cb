// DataLoaders: what a *_dataloader() hook returns (one loader or several, owned), and the
// hooks themselves, shared by DataModule and Module as Lightning's DataHooks are.
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "fulgur/data_loader.h"

namespace fulgur {

/// One loader or several: `return std::make_unique<fulgur::DatasetLoader>(...);` or
/// `return fulgur::DataLoaders::of(std::move(a), std::move(b));`.
class DataLoaders {
 public:
  DataLoaders() = default;
  template <typename L, typename = std::enable_if_t<std::is_base_of_v<DataLoader, L>>>
  DataLoaders(std::unique_ptr<L> loader) {  // NOLINT: a loader is a list of one
    if (loader) loaders_.push_back(std::move(loader));
  }
  DataLoaders(std::vector<std::unique_ptr<DataLoader>> loaders) : loaders_(std::move(loaders)) {}  // NOLINT

  template <typename... L>
  static DataLoaders of(std::unique_ptr<L>... loaders) {
    std::vector<std::unique_ptr<DataLoader>> all;
    (all.push_back(std::move(loaders)), ...);
    return DataLoaders(std::move(all));
  }

  bool empty() const { return loaders_.empty(); }
  std::size_t size() const { return loaders_.size(); }
  DataLoader& operator[](std::size_t index) const { return *loaders_.at(index); }
  std::vector<DataLoader*> pointers() const {
    std::vector<DataLoader*> all;
    for (const auto& loader : loaders_) all.push_back(loader.get());
    return all;
  }

 private:
  std::vector<std::unique_ptr<DataLoader>> loaders_;
};

/// Loaders passed to a run, borrowed: `trainer.fit(model, train, val)`,
/// `trainer.validate(model, {val_a, val_b})`, or none (`nullptr`).
class LoaderRefs {
 public:
  LoaderRefs() = default;
  LoaderRefs(std::nullptr_t) {}                          // NOLINT
  LoaderRefs(DataLoader& loader) : loaders_{&loader} {}  // NOLINT
  LoaderRefs(DataLoader* loader) {                       // NOLINT
    if (loader) loaders_.push_back(loader);
  }
  LoaderRefs(std::initializer_list<std::reference_wrapper<DataLoader>> loaders) {  // NOLINT
    for (DataLoader& loader : loaders) loaders_.push_back(&loader);
  }
  LoaderRefs(std::vector<DataLoader*> loaders) : loaders_(std::move(loaders)) {}  // NOLINT
  LoaderRefs(const DataLoaders& owned) : loaders_(owned.pointers()) {}            // NOLINT

  bool empty() const { return loaders_.empty(); }
  const std::vector<DataLoader*>& pointers() const { return loaders_; }

 private:
  std::vector<DataLoader*> loaders_;
};

/// Lightning's DataHooks: where the Trainer asks for data when none is passed to it. Each is
/// called once per run, after setup(stage); the Trainer owns what it returns for that run.
class DataHooks {
 public:
  virtual ~DataHooks() = default;
  /// Downloads, unpacks, writes caches: once per machine (local rank 0; the other processes wait).
  /// Do not set state here; setup(stage) runs in every process.
  virtual void prepare_data() {}
  /// Lightning's prepare_data_per_node: true runs prepare_data on local rank 0 of every machine,
  /// false on global rank 0 only (a file system all machines share).
  bool prepare_data_per_node = true;
  virtual DataLoaders train_dataloader() { return {}; }
  virtual DataLoaders val_dataloader() { return {}; }
  virtual DataLoaders test_dataloader() { return {}; }
  virtual DataLoaders predict_dataloader() { return {}; }
};

}  // namespace fulgur
