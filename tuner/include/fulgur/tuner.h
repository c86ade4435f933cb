// fulgur::Tuner: Lightning's Tuner — the LR finder and the batch-size finder.
//
//   fulgur::Trainer trainer(options);
//   fulgur::Tuner tuner(trainer);
//   auto finder = tuner.lr_find(model, train_loader);   // draws lr_find.svg in the log folder, and
//                                                       // sets hparams "lr" (or "learning_rate")
//   // configure_optimizers: torch::optim::SGD(parameters(), hparams().get<double>("lr"))
//   tuner.scale_batch_size(model, datamodule, datamodule.batch_size);   // leaves the size there
//   trainer.fit(model, datamodule);
//
// Each search runs short fits on a Trainer of its own with the given Trainer's options (device,
// precision, clipping, accumulation, max_epochs), without its plugins, loggers, checkpoints or
// progress bar, as Lightning swaps its callbacks out; the Module's weights are put back
// afterwards, so the real fit starts from where it would have. One process only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "fulgur/trainer.h"
#include "fulgur/tuner/batch_size_finder.h"
#include "fulgur/tuner/lr_finder.h"

namespace fulgur {

class Tuner {
 public:
  /// Tunes for `trainer`: its options, and its log folder for the LR finder's picture.
  explicit Tuner(const Trainer& trainer);
  explicit Tuner(TrainerOptions options, std::string log_folder = "");

  // --- the LR finder -----------------------------------------------------------------------
  template <typename M>
  LRFinder lr_find(M& module, DataLoader& train_loader, LoaderRefs val_loaders = {}, LRFindOptions options = {}) {
    return run_lr_find(module, options, [&](Trainer& trainer) { trainer.fit(module, train_loader, val_loaders); });
  }
  template <typename M>
  LRFinder lr_find(M& module, DataModule& datamodule, LRFindOptions options = {}) {
    return run_lr_find(module, options, [&](Trainer& trainer) { trainer.fit(module, datamodule); });
  }
  /// With the Module's own train_dataloader().
  template <typename M>
  LRFinder lr_find(M& module, LRFindOptions options = {}) {
    return run_lr_find(module, options, [&](Trainer& trainer) { trainer.fit(module); });
  }

  // --- the batch-size finder ------------------------------------------------------------------
  // `batch_size` is the variable the data hooks read (Lightning's batch_arg_name): each trial
  // sets it and asks the hooks for new loaders; the size found is left in it.
  template <typename M>
  BatchSizeFinder scale_batch_size(M& module, DataModule& datamodule, int64_t& batch_size,
                                   BatchSizeFindOptions options = {}) {
    return run_scale_batch_size(module, batch_size, options,
                                [&](Trainer& trainer) { trainer.fit(module, datamodule); });
  }
  /// With the Module's own train_dataloader().
  template <typename M>
  BatchSizeFinder scale_batch_size(M& module, int64_t& batch_size, BatchSizeFindOptions options = {}) {
    return run_scale_batch_size(module, batch_size, options, [&](Trainer& trainer) { trainer.fit(module); });
  }

 private:
  using Fit = std::function<void(Trainer&)>;
  LRFinder run_lr_find(Module& module, const LRFindOptions& options, const Fit& fit);
  BatchSizeFinder run_scale_batch_size(Module& module, int64_t& batch_size, const BatchSizeFindOptions& options,
                                       const Fit& fit);
  /// The options of a search's own Trainer: the user's, less plugins, loggers and checkpoints.
  TrainerOptions search_options() const;

  TrainerOptions options_;
  std::string log_folder_;
};

}  // namespace fulgur
