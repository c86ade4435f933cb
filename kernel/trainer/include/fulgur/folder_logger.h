// fulgur::FolderLoggerPlugin: a logger that writes into Lightning's versioned folder,
// <save_dir>/<name>/version_<N>. It picks the version when a run starts (loggers started together
// share it), keeps it in checkpoints so a resumed run writes on in the same folder, and creates
// the folder at the first write (folder()).
#pragma once

#include <optional>
#include <string>

#include "fulgur/checkpoint.h"
#include "fulgur/experiment_dir.h"
#include "fulgur/hook_contexts.h"
#include "fulgur/logger.h"
#include "fulgur/strategy.h"
#include "fulgur/trainer.h"

namespace fulgur {

class FolderLoggerPlugin : public LoggerPlugin {
 public:
  /// An empty `save_dir` means the Trainer's default_root_dir.
  FolderLoggerPlugin(std::string save_dir, std::string name) : save_dir_(std::move(save_dir)), name_(std::move(name)) {
    if (name_.empty()) throw PluginError("a logger's folder name must not be empty");
  }

  std::string experiment_name() const override { return name_; }
  std::string version() const override {
    return dir_ && dir_->chosen() ? "version_" + std::to_string(dir_->version()) : "";
  }
  std::string log_dir() const override { return dir_ ? dir_->path() : ""; }

  /// Derived loggers that connect hooks of their own call this first.
  void attach(HookBus& bus) override {
    connect(
        bus.setup,
        [this](StageHook& hook) {
          if (!dir_) dir_.emplace(save_dir_.empty() ? hook.trainer.options().default_root_dir() : save_dir_, name_);
          if (!dir_->chosen()) choose_folder(hook.trainer);
        },
        SlotGroup::Trace);
    connect(bus.on_save_checkpoint, [this](CheckpointHook& hook) {
      if (dir_) plugin_state(hook.checkpoint, name()).insert_or_assign("version", dir_->version());
    });
    connect(bus.on_load_checkpoint, [this](CheckpointHook& hook) {
      if (!dir_ || !has_plugin_state(hook.checkpoint, name())) return;
      const auto state = plugin_state(hook.checkpoint, name());
      if (state.contains("version") && state.at("version").isInt()) dir_->use_version(state.at("version").toInt());
    });
  }

 protected:
  /// The version folder, created if needed; throws fulgur::Error before any run has started.
  std::string folder() {
    if (!dir_) throw Error("logger '" + name() + "': nothing to write into before a run has started");
    return dir_->create();
  }
  /// True once folder() created the folder in this process.
  bool folder_created() const { return dir_ && dir_->created(); }
  bool started() const { return dir_.has_value(); }

 private:
  // Loggers of one run share one version folder; rank 0 claims it (creating it, so that no other
  // run can take the same number) and every rank takes rank 0's number.
  void choose_folder(Trainer& trainer) {
    for (const Logger* other : trainer.loggers()) {
      if (other != this && dir_->share(other->log_dir())) return;
    }
    if (trainer.is_global_zero()) {
      dir_->claim();
    } else {
      dir_->choose_version();
    }
    if (trainer.world_size() > 1 && trainer.strategy()) {
      auto version = torch::tensor({dir_->version()}, torch::kLong);
      trainer.strategy()->broadcast(version, 0);
      dir_->use_version(version.item<int64_t>());
    }
  }

  std::string save_dir_;
  std::string name_;
  std::optional<ExperimentDir> dir_;
};

}  // namespace fulgur
