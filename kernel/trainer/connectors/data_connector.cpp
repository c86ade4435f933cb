// Where a run's batches come from and how they reach the Module: loaders given, from the
// DataModule or from the Module's *_dataloader() hooks (Lightning's order), sharded under a
// distributed strategy, limited by limit_*_batches and overfit_batches, reloaded every n epochs;
// each batch moved to the device through the Module's and the plugins' transfer hooks.
#include <algorithm>

#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include "fulgur/error.h"
#include "fulgur/trainer.h"

namespace fulgur {

void Trainer::resolve_loaders(Stage stage, RunData& data) {
  // Given loaders win; else the DataModule's hooks; else the Module's own (Lightning's order).
  DataHooks& source = data.datamodule ? static_cast<DataHooks&>(*data.datamodule) : static_cast<DataHooks&>(*module_);
  const std::string from = data.datamodule ? "the DataModule's " : "the Module's ";
  if (stage == Stage::Fit) {
    train_from_hooks_ = !data.train;
    val_from_hooks_ = data.eval.empty();
  }
  if (stage == Stage::Fit && !data.train) {
    owned_train_loader_ = source.train_dataloader();
    if (owned_train_loader_.empty()) {
      throw Error(data.datamodule ? "fit: the DataModule's train_dataloader() returned no loader"
                                  : "fit needs training data: pass a loader (trainer.fit(model, train_loader)), a "
                                    "DataModule (trainer.fit(model, datamodule)), or override the Module's "
                                    "train_dataloader()");
    }
    if (owned_train_loader_.size() > 1) {
      throw Error("fit: " + from + "train_dataloader() returned " + std::to_string(owned_train_loader_.size()) +
                  " loaders; training reads one (combine the datasets into one loader)");
    }
    data.train = &owned_train_loader_[0];
  }
  if (data.eval.empty()) {
    const char* hook = stage == Stage::Test      ? "test_dataloader()"
                       : stage == Stage::Predict ? "predict_dataloader()"
                                                 : "val_dataloader()";
    owned_loaders_ = stage == Stage::Test      ? source.test_dataloader()
                     : stage == Stage::Predict ? source.predict_dataloader()
                                               : source.val_dataloader();
    data.eval = owned_loaders_.pointers();
    if (data.eval.empty() && stage != Stage::Fit) {
      const char* run = stage == Stage::Test ? "test" : stage == Stage::Predict ? "predict" : "validate";
      throw Error(std::string(run) + " needs data: pass a loader, a DataModule whose " + hook +
                  " returns one, or override the Module's " + hook +
                  (data.datamodule ? " (the DataModule's returned none)" : ""));
    }
  }
  for (std::size_t i = 0; i < data.eval.size(); ++i) {
    if (!data.eval[i]) throw Error("loader " + std::to_string(i) + " of the run is a null pointer");
  }
}

void Trainer::shard(DataLoader& loader) {
  if (world_size() > 1 && options_.use_distributed_sampler()) loader.shard(global_rank(), world_size());
}

void Trainer::prepare_fit_loaders(RunData& data) {
  train_loader_ = data.train;
  shard(*data.train);
  for (DataLoader* loader : data.eval) shard(*loader);
  if (!options_.overfitting()) return;
  // Lightning: the same first batches every epoch, so shuffling is turned off (with a warning).
  const auto check = [this](DataLoader& loader, const std::string& which) {
    if (loader.shuffles()) {
      spdlog::warn(
          "overfit_batches: the {} loader shuffles; shuffling is turned off so every epoch sees the same "
          "batches",
          which);
      loader.disable_shuffle();
    }
    const auto available = loader.size();
    if (!available) return;
    const int64_t selected = options_.overfit_batches().resolve(available, "overfit_batches");
    if (options_.overfit_batches().is_count() && options_.overfit_batches().count() > *available) {
      throw Error("Trainer option overfit_batches=" + options_.overfit_batches().to_string() + " exceeds the " +
                  std::to_string(*available) + " batches of the " + which + " loader");
    }
    if (selected == 0 && *available > 0) {
      throw Error("Trainer option overfit_batches=" + options_.overfit_batches().to_string() +
                  " selects no batch of the " + std::to_string(*available) + " batches of the " + which +
                  " loader; give a larger fraction or a count");
    }
  };
  check(*data.train, "training");
  for (DataLoader* loader : data.eval) check(*loader, "validation");
}

void Trainer::reload_loaders_if_due(RunData& data) {
  const int64_t every = options_.reload_dataloaders_every_n_epochs();
  if (every <= 0 || fit_.current_epoch - fit_.last_reload_epoch < every) return;
  fit_.last_reload_epoch = fit_.current_epoch;
  if (!train_from_hooks_ && !val_from_hooks_) return;  // given loaders are the user's to keep
  RunData fresh{train_from_hooks_ ? nullptr : data.train, val_from_hooks_ ? std::vector<DataLoader*>{} : data.eval,
                data.datamodule};
  resolve_loaders(Stage::Fit, fresh);
  data = fresh;
  prepare_fit_loaders(data);
}

int64_t Trainer::batches_to_run(const DataLoader& loader, int64_t limit) {
  const auto known = loader.size();
  return limit < 0 ? known.value_or(-1) : known ? std::min(*known, limit) : limit;
}

std::vector<int64_t> Trainer::eval_limits(Stage stage, const std::vector<DataLoader*>& loaders) const {
  const auto& limit = stage == Stage::Validate ? options_.limit_val_batches()
                      : stage == Stage::Test   ? options_.limit_test_batches()
                                               : options_.limit_predict_batches();
  const char* name = stage == Stage::Validate ? "limit_val_batches"
                     : stage == Stage::Test   ? "limit_test_batches"
                                              : "limit_predict_batches";
  std::vector<int64_t> limits;
  for (DataLoader* loader : loaders) limits.push_back(limit.resolve(loader->size(), name));
  return limits;
}

Batch Trainer::transfer(Batch batch, int64_t dataloader_idx) {
  // Lightning's order: on_before_batch_transfer, transfer_batch_to_device, on_after_batch_transfer
  // (the Module's), then the plugins' (a precision plugin converts the batch last).
  Batch moved =
      module_->transfer_batch_to_device(module_->on_before_batch_transfer(std::move(batch), dataloader_idx), device_);
  // Every tensor must be on the module's device, except that an override of
  // transfer_batch_to_device may keep some on the CPU on purpose (e.g. sequence lengths) as long
  // as it moved the rest.
  bool any_tensor = false, any_here = false;
  std::string stray;
  moved.for_each_tensor([&](const torch::Tensor& tensor) {
    any_tensor = true;
    if (tensor.device() == device_) {
      any_here = true;
    } else if (!tensor.device().is_cpu() && stray.empty()) {
      stray = tensor.device().str();
    }
  });
  if (!stray.empty() || (any_tensor && !any_here)) {
    throw Error("the batch holds a tensor on " + (stray.empty() ? std::string("cpu") : stray) +
                " but the module is on " + device_.str() +
                " (transfer_batch_to_device must move the batch's tensors to the module's device)");
  }
  moved = module_->on_after_batch_transfer(std::move(moved), dataloader_idx);
  BatchTransferHook hook{*this, moved};
  bus_.on_after_batch_transfer(hook);
  return moved;
}

void Trainer::set_current_batch(const Batch& batch) {
  current_batch_ = &batch;
  current_batch_size_.reset();
}

int64_t Trainer::batch_size_for_log(std::string& problem) {
  if (!current_batch_) return 1;  // logged outside a batch (an epoch hook): weight 1
  if (!current_batch_size_) {
    current_batch_size_ = current_batch_->batch_size(&batch_size_problem_).value_or(-1);
  }
  if (*current_batch_size_ < 0) problem = batch_size_problem_;
  return *current_batch_size_;
}

}  // namespace fulgur
