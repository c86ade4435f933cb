// epoch_timer: a plugin written outside fulgur, against its installed SDK. It times every
// training epoch and prints one line per epoch.
//
// Options: unit = ms (default) or s, declared once below.
#include <chrono>
#include <cstdio>

#include "fulgur/options.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace {

// One line per option: the reader, its errors and the spec come from it.
struct EpochTimerOptions : fulgur::DeclaredOptions<EpochTimerOptions> {
  FULGUR_OPTIONS_OF("epoch_timer");
  FULGUR_OPTION(std::string, unit, "ms", "ms or s.", fulgur::one_of({"ms", "s"}));
};

class EpochTimer : public fulgur::Plugin {
 public:
  explicit EpochTimer(bool seconds) : seconds_(seconds) {}

  std::string name() const override { return "epoch_timer"; }

  void attach(fulgur::HookBus& bus) override {
    connect(bus.on_train_epoch_start, [this](fulgur::EpochHook&) { start_ = Clock::now(); });
    connect(
        bus.on_train_epoch_end,
        [this](fulgur::EpochHook& hook) {
          const std::chrono::duration<double, std::milli> took = Clock::now() - start_;
          std::printf("epoch_timer: epoch %lld took %.3f %s\n", static_cast<long long>(hook.epoch),
                      seconds_ ? took.count() / 1000.0 : took.count(), seconds_ ? "s" : "ms");
        },
        fulgur::SlotGroup::Logger);
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool seconds_;
  Clock::time_point start_;
};

std::unique_ptr<fulgur::Plugin> make_epoch_timer(const fulgur::PluginOptions& options) {
  // Unknown keys, values of the wrong type and failed checks are errors naming the option.
  return std::make_unique<EpochTimer>(EpochTimerOptions::parse(options).unit() == "s");
}

}  // namespace

FULGUR_EXPORT_PLUGIN(make_epoch_timer)
