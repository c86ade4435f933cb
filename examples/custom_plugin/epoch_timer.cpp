// epoch_timer: a plugin written outside fulgur, against its installed SDK. It times every
// training epoch and prints one line per epoch.
//
// Options: unit = ms (default) or s.
#include <chrono>
#include <cstdio>

#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/plugin_options.h"
#include "fulgur/trainer.h"

namespace {

class EpochTimer : public fulgur::Plugin {
 public:
  explicit EpochTimer(bool seconds) : seconds_(seconds) {}

  std::string name() const override { return "epoch_timer"; }

  void attach(fulgur::HookBus& bus) override {
    connect(bus.on_train_epoch_start, [this](fulgur::EpochHook&) { start_ = Clock::now(); });
    connect(bus.on_train_epoch_end, [this](fulgur::EpochHook& hook) {
      const std::chrono::duration<double, std::milli> took = Clock::now() - start_;
      std::printf("epoch_timer: epoch %lld took %.3f %s\n", static_cast<long long>(hook.epoch),
                  seconds_ ? took.count() / 1000.0 : took.count(), seconds_ ? "s" : "ms");
    }, fulgur::SlotGroup::Logger);
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool seconds_;
  Clock::time_point start_;
};

std::unique_ptr<fulgur::Plugin> make_epoch_timer(const fulgur::PluginOptions& options) {
  fulgur::OptionReader reader("epoch_timer", options);
  const std::string unit = reader.get("unit", "ms");
  reader.finish();
  if (unit != "ms" && unit != "s") {
    throw fulgur::PluginError("plugin 'epoch_timer': option 'unit' expects ms or s, got '" + unit + "'");
  }
  return std::make_unique<EpochTimer>(unit == "s");
}

}  // namespace

FULGUR_EXPORT_PLUGIN(make_epoch_timer)
