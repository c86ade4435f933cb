// The on_exception_checkpoint plugin (see include/fulgur/plugins/on_exception_checkpoint.h).
#include "fulgur/plugins/on_exception_checkpoint.h"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "fulgur/checkpoint_folder.h"
#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

class OnExceptionCheckpoint : public Plugin, public CheckpointFolder {
 public:
  explicit OnExceptionCheckpoint(OnExceptionCheckpointOptions options) : options_(std::move(options)) {}

  std::string name() const override { return "on_exception_checkpoint"; }
  std::string given_checkpoint_dir() const override { return options_.dirpath(); }

  void attach(HookBus& bus) override {
    connect(bus.on_train_start, [this](RunHook&) { training_ = true; });
    connect(bus.on_fit_end, [this](RunHook&) { training_ = false; });
    connect(
        bus.on_exception,
        [this](ExceptionHook& hook) {
          // Only a fit that got as far as training has anything worth resuming.
          if (!training_ || hook.trainer.stage() != Stage::Fit) return;
          training_ = false;
          const auto folder = std::filesystem::path(options_.dirpath().empty() ? hook.trainer.default_checkpoint_dir()
                                                                               : options_.dirpath());
          const std::string path = (folder / (options_.filename() + ".ckpt")).string();
          try {
            hook.trainer.save_checkpoint(path);
          } catch (const std::exception& error) {
            spdlog::error("on_exception_checkpoint: could not save '{}': {}", path, error.what());
            return;
          }
          spdlog::warn(
              "fit stopped ({}); saved {} at epoch {}, step {}. Resume with --ckpt-path {} "
              "(trainer.fit(model, train, val, \"{}\")), or \"last\" to find it",
              hook.error.what(), path, hook.trainer.current_epoch(), hook.trainer.global_step(), path, path);
        },
        SlotGroup::Monitor);
  }

 private:
  OnExceptionCheckpointOptions options_;
  bool training_ = false;
};

std::unique_ptr<Plugin> make_on_exception_checkpoint(const PluginOptions& options) {
  return std::make_unique<OnExceptionCheckpoint>(OnExceptionCheckpointOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_on_exception_checkpoint)
