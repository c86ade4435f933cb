// The hook_trace plugin (see include/fulgur/plugins/hook_trace.h).
#include "fulgur/plugins/hook_trace.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

// The main argument of each kind of hook, as " key=value" text.
std::string arguments(const StageHook& hook) { return " stage=" + std::string(to_string(hook.stage)); }
std::string arguments(const RunHook&) { return ""; }
std::string arguments(const BatchTransferHook&) { return ""; }
std::string arguments(const EpochHook& hook) { return " epoch=" + std::to_string(hook.epoch); }
std::string arguments(const BatchStartHook& hook) {
  return " epoch=" + std::to_string(hook.trainer.current_epoch()) + " batch=" + std::to_string(hook.batch_idx);
}
std::string arguments(const BatchEndHook& hook) {
  return " epoch=" + std::to_string(hook.trainer.current_epoch()) + " batch=" + std::to_string(hook.batch_idx);
}
std::string arguments(const BeforeBackwardHook&) { return ""; }
std::string arguments(const AfterBackwardHook&) { return ""; }
std::string arguments(const OptimizerHook& hook) { return " optimizer=" + std::to_string(hook.optimizer_idx); }
std::string arguments(const CheckpointHook& hook) {
  return " epoch=" + std::to_string(hook.trainer.current_epoch()) +
         " step=" + std::to_string(hook.trainer.global_step());
}
std::string arguments(const ExceptionHook& hook) {
  std::string message = hook.error.what();
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return " error=" + message;
}

class HookTrace : public Plugin {
 public:
  explicit HookTrace(std::string path) : path_(std::move(path)) {
    if (!path_.empty()) open(path_);
  }
  ~HookTrace() override {
    if (file_) std::fclose(file_);
  }

  std::string name() const override { return "hook_trace"; }

  void attach(HookBus& bus) override {
    bus.for_each_hook([this](std::string_view hook_name, auto& hook) {
      using Context = std::remove_reference_t<decltype(hook)>;
      using Argument = std::remove_reference_t<typename Context::template arg<0>::type>;
      connect(
          hook, [this, hook_name](Argument& context) { write(hook_name, context); }, SlotGroup::Trace);
    });
  }

 private:
  template <typename Context>
  void write(std::string_view hook_name, const Context& context) {
    if (!file_) open((std::filesystem::path(context.trainer.options().default_root_dir()) / "hook_trace.txt").string());
    const std::string line = std::string(hook_name) + arguments(context) + "\n";
    std::fwrite(line.data(), 1, line.size(), file_);
    // The trace must survive a crash in the next hook: flush whenever a run ends or fails.
    if (hook_name == "teardown" || hook_name == "on_exception") std::fflush(file_);
  }

  void open(const std::string& path) {
    std::error_code ignored;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
    file_ = std::fopen(path.c_str(), "w");
    if (!file_) {
      throw PluginError("plugin 'hook_trace': cannot write '" + path + "': " + std::strerror(errno));
    }
    path_ = path;
  }

  std::string path_;
  std::FILE* file_ = nullptr;
};

std::unique_ptr<Plugin> make_hook_trace(const PluginOptions& options) {
  return std::make_unique<HookTrace>(HookTraceOptions::parse(options).path());
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_hook_trace)
