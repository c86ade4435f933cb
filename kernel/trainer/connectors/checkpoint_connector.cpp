// The Trainer's half of checkpointing: what goes into a checkpoint and how a fit resumes from
// one. (Reading and writing files is fulgur/checkpoint.h.)
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <boost/core/demangle.hpp>

#include "fulgur/checkpoint_keeper.h"
#include "fulgur/error.h"
#include "fulgur/state_dict.h"
#include "fulgur/strategy.h"
#include "fulgur/trainer.h"
#include "checkpoint_archive.h"
#include "checkpoint_entries.h"
#include "hparams_ivalue.h"

namespace fulgur {
namespace {

using detail::count_entry;
using detail::dict_entry;
using detail::list_entry;
using detail::text_entry;

constexpr const char* kVersion = "0.1.0";
constexpr const char* kLightningFormat = "2.6.6";

// LibTorch's own optimizer serialisation is exact for every optimizer type; it travels as bytes.
torch::Tensor optimizer_archive(const torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream stream;
  archive.save_to(stream);
  const std::string bytes = stream.str();
  auto tensor = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(tensor.data_ptr(), bytes.data(), bytes.size());
  return tensor;
}

// Each optimizer's learning rates (readable from Python) and LibTorch's own archive of it.
c10::impl::GenericList optimizer_states_entry(const std::vector<std::shared_ptr<torch::optim::Optimizer>>& optimizers) {
  c10::impl::GenericList states(c10::AnyType::get());
  for (const auto& optimizer : optimizers) {
    StateDict state = make_state_dict();
    c10::impl::GenericList groups(c10::AnyType::get());
    for (const auto& group : optimizer->param_groups()) {
      StateDict readable = make_state_dict();
      readable.insert("lr", group.options().get_lr());
      groups.push_back(readable);
    }
    state.insert("param_groups", groups);
    state.insert("fulgur_archive", optimizer_archive(*optimizer));
    states.push_back(state);
  }
  return states;
}

c10::impl::GenericList epoch_aggregates_entry(const std::vector<MetricStore::EpochAggregate>& aggregates) {
  c10::impl::GenericList entries(c10::AnyType::get());
  for (const auto& aggregate : aggregates) {
    StateDict entry = make_state_dict();
    entry.insert("key", aggregate.key);
    entry.insert("total", aggregate.total);
    entry.insert("weight", aggregate.weight);
    entry.insert("reduce_fx", aggregate.reduce_fx);
    entry.insert("published_name", aggregate.published_name);
    entries.push_back(entry);
  }
  return entries;
}

// The CPU generator's state, as Lightning's rng_states["torch"].
StateDict rng_states_entry() {
  StateDict rng = make_state_dict();
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  rng.insert("torch", generator.get_state());
  return rng;
}

}  // namespace

// Checkpoints older than this entry have none: their epoch values restart, as before.
void Trainer::restore_epoch_aggregates(const StateDict& fit_loop, const std::string& path) {
  if (!fit_loop.contains("epoch_aggregates")) return;
  std::vector<MetricStore::EpochAggregate> aggregates;
  for (const c10::IValue& item : list_entry(fit_loop, "epoch_aggregates", path)) {
    if (!item.isGenericDict())
      throw Error("checkpoint '" + path + "': an entry of 'epoch_aggregates' is not a dictionary");
    const StateDict entry = item.toGenericDict();
    MetricStore::EpochAggregate aggregate;
    aggregate.key = text_entry(entry, "key", path);
    aggregate.reduce_fx = text_entry(entry, "reduce_fx", path);
    aggregate.published_name = text_entry(entry, "published_name", path);
    if (!entry.contains("total") || !entry.at("total").isTensor()) {
      throw Error("checkpoint '" + path + "': the epoch aggregate of '" + aggregate.key + "' holds no tensor");
    }
    aggregate.total = entry.at("total").toTensor();
    aggregate.weight = count_entry(entry, "weight", path);
    aggregates.push_back(std::move(aggregate));
  }
  try {
    metrics_.restore_epoch_aggregates(aggregates, LogContext::Training);
  } catch (const Error& error) {
    throw Error("checkpoint '" + path + "': " + error.what());
  }
}

Checkpoint Trainer::dump_checkpoint(bool weights_only) {
  if (!module_) throw Error("save_checkpoint needs a Module: call it during or after fit");
  Checkpoint checkpoint = make_state_dict();
  checkpoint.insert("fulgur_version", std::string(kVersion));
  // The Lightning checkpoint format these keys follow: Lightning's load_from_checkpoint reads it.
  checkpoint.insert("pytorch-lightning_version", std::string(kLightningFormat));
  checkpoint.insert("epoch", fit_.current_epoch);
  checkpoint.insert("global_step", fit_.global_step);

  // Parameters and buffers under their dotted names, on the CPU, as Python's state_dict().
  checkpoint.insert("state_dict", state_dict(*module_));
  // Which class wrote it, for load_from_checkpoint's errors.
  checkpoint.insert("fulgur_module", boost::core::demangle(typeid(*module_).name()));

  checkpoint.insert("optimizer_states", optimizer_states_entry(optimizers_));

  // The lr_scheduler plugin fills this in with each scheduler's state_dict.
  checkpoint.insert("lr_schedulers", c10::impl::GenericList(c10::AnyType::get()));

  checkpoint.insert("hyper_parameters", detail::to_ivalue(module_->hparams()));

  StateDict fit_loop = fit_.fit_loop_entry();
  // The training epoch's aggregates so far: a fit resumed mid-epoch publishes the same epoch
  // values as one that was never stopped.
  fit_loop.insert("epoch_aggregates", epoch_aggregates_entry(metrics_.epoch_aggregates(LogContext::Training)));
  StateDict loops = make_state_dict();
  loops.insert("fit_loop", fit_loop);
  checkpoint.insert("loops", loops);
  checkpoint.insert("rng_states", rng_states_entry());
  checkpoint.insert("callbacks", make_state_dict());
  // Lightning keeps a DataModule's state under its class name, when it has any.
  if (datamodule_) {
    const StateDict state = datamodule_->state_dict();
    if (!state.empty()) checkpoint.insert(datamodule_->name(), state);
  }

  CheckpointHook hook{*this, checkpoint};
  bus_.on_save_checkpoint(hook);
  // After a run the Module's hooks are disconnected; its state belongs in the file all the same
  // (in the same place: after the plugins', as in Lightning).
  if (!running_) module_->on_save_checkpoint(checkpoint);
  if (weights_only) {
    // Lightning's weights-only file: the model, its hyper-parameters, the loop position and the
    // DataModule's state; no training state to resume from.
    for (const char* key : {"optimizer_states", "lr_schedulers", "callbacks"}) checkpoint.erase(key);
  }
  return checkpoint;
}

void Trainer::save_checkpoint(const std::string& path, bool weights_only) {
  Checkpoint checkpoint = dump_checkpoint(weights_only);
  // Every rank takes part (so each plugin's on_save_checkpoint ran everywhere); rank 0 writes,
  // and nobody goes on before the file is whole.
  if (strategy_) strategy_->barrier("before writing checkpoint " + path);
  if (is_global_zero()) write_checkpoint(checkpoint, path);
  if (strategy_) strategy_->barrier("after writing checkpoint " + path);
}

std::string Trainer::resolve_checkpoint_path(const std::string& ckpt_path) const {
  if (ckpt_path != "best" && ckpt_path != "last") return ckpt_path;
  for (const auto& loaded : plugins_) {
    const auto* keeper = dynamic_cast<const CheckpointKeeper*>(&loaded.plugin());
    if (!keeper) continue;
    const std::string path = ckpt_path == "best" ? keeper->best_model_path() : keeper->last_model_path();
    if (path.empty()) {
      throw Error("ckpt_path='" + ckpt_path + "': plugin '" + loaded->name() +
                  "' has saved no checkpoint yet (run fit "
                  "with it first, or give a file)");
    }
    return path;
  }
  throw Error("ckpt_path='" + ckpt_path +
              "' names a file a checkpoint plugin saved, and this Trainer has none "
              "(model_checkpoint is attached when enable_checkpointing is on); give a file instead");
}

// validate / test / predict with a ckpt_path: the weights and the Module's own state, not the
// optimizers or plugin states (Lightning restores those only for fit).
void Trainer::restore_for_evaluation(const std::string& ckpt_path) {
  const std::string path = resolve_checkpoint_path(ckpt_path);
  Checkpoint checkpoint = read_checkpoint(path);
  restore_module(checkpoint, path);
  module_->on_load_checkpoint(checkpoint);
}

void Trainer::restore_module(Checkpoint& checkpoint, const std::string& path) {
  load_state_dict(*module_, dict_entry(checkpoint, "state_dict", path), LoadOptions(), "checkpoint '" + path + "'");
}

// Before any loader is asked for, as Lightning's _restore_modules_and_callbacks: a DataModule
// whose loaders depend on its saved state (the reason to save it) builds them from that state.
void Trainer::restore_datamodule(Checkpoint& checkpoint, const std::string& path) {
  if (!datamodule_ || !checkpoint.contains(datamodule_->name())) return;
  const auto state = checkpoint.at(datamodule_->name());
  if (!state.isGenericDict()) {
    throw Error("checkpoint '" + path + "': the DataModule's state '" + datamodule_->name() + "' is not a dictionary");
  }
  try {
    datamodule_->load_state_dict(state.toGenericDict());
  } catch (const c10::Error& error) {
    throw Error("checkpoint '" + path + "': the DataModule's state '" + datamodule_->name() +
                "' has an entry of the wrong type: " + error.what_without_backtrace());
  }
}

void Trainer::restore_training_state(Checkpoint& checkpoint, const std::string& path) {
  if (!checkpoint.contains("optimizer_states")) {
    throw Error("checkpoint '" + path +
                "' holds only the model (it was saved with weights_only, e.g. model_checkpoint's "
                "save_weights_only), so a fit cannot resume from it; load it with load_from_checkpoint, or resume from "
                "a full checkpoint");
  }
  const auto optimizers = list_entry(checkpoint, "optimizer_states", path);
  if (optimizers.size() != optimizers_.size()) {
    throw Error("checkpoint '" + path + "' holds " + std::to_string(optimizers.size()) +
                " optimizer state(s) but configure_optimizers returned " + std::to_string(optimizers_.size()));
  }
  for (std::size_t i = 0; i < optimizers.size(); ++i) {
    const auto state = optimizers.get(i).toGenericDict();
    if (!state.contains("fulgur_archive") || !state.at("fulgur_archive").isTensor()) {
      throw Error("checkpoint '" + path + "': optimizer " + std::to_string(i) + " has no fulgur_archive state");
    }
    const auto tensor = state.at("fulgur_archive").toTensor();
    if (tensor.scalar_type() != torch::kChar && tensor.scalar_type() != torch::kByte) {
      throw Error("checkpoint '" + path + "': optimizer " + std::to_string(i) +
                  "'s fulgur_archive is not a byte tensor");
    }
    const auto bytes = tensor.contiguous();
    const std::vector<char> archive_bytes(static_cast<const char*>(bytes.data_ptr()),
                                          static_cast<const char*>(bytes.data_ptr()) + bytes.numel());
    // LibTorch's own archive, read by TorchScript's importer: checked as any file fulgur reads.
    detail::verify_torchscript_archive(archive_bytes, path,
                                       "the optimizer " + std::to_string(i) + " state of checkpoint");
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(archive_bytes.data(), archive_bytes.size());
      optimizers_[i]->load(archive);
    } catch (const c10::Error& error) {
      throw Error("checkpoint '" + path + "': the state of optimizer " + std::to_string(i) +
                  " does not fit the optimizer configure_optimizers returned: " + error.what_without_backtrace());
    } catch (const std::exception& error) {
      throw Error("checkpoint '" + path + "': the state of optimizer " + std::to_string(i) +
                  " cannot be read: " + error.what());
    }
  }

  fit_ = FitPosition::resumed_from(checkpoint, fit_, path);
  restore_epoch_aggregates(dict_entry(dict_entry(checkpoint, "loops", path), "fit_loop", path), path);

  // Plugins and the Module restore their state last, when the optimizers they may refer to
  // (schedulers, loss scalers) exist and hold their restored state.
  CheckpointHook hook{*this, checkpoint};
  try {
    bus_.on_load_checkpoint(hook);
  } catch (const c10::Error& error) {
    // A plugin read an entry of another type than it wrote (toInt() on a string, ...).
    throw Error("checkpoint '" + path +
                "': a plugin's or the Module's saved state has an entry of the wrong type "
                "(the file was edited, or written by another program): " +
                error.what_without_backtrace());
  }
}

}  // namespace fulgur
