// fulgur::Plugin: every feature (and every Lightning "callback") is one of these.
//
// A plugin has a name and connects slots to the hook bus in attach(). The connections it makes
// through connect() are scoped: they end when the plugin is destroyed, so a plugin loaded from a
// .so can never leave a slot behind that points into an unloaded library.
//
//   class PrintEpochs : public fulgur::Plugin {
//    public:
//     std::string name() const override { return "print_epochs"; }
//     void attach(fulgur::HookBus& bus) override {
//       connect(bus.on_train_epoch_end, [](fulgur::EpochHook& hook) { std::cout << hook.epoch; });
//     }
//   };
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/signals2/shared_connection_block.hpp>

#include "fulgur/error.h"
#include "fulgur/hook_bus.h"
#include "fulgur/plugin_spec.h"

namespace fulgur {

class Plugin {
 public:
  virtual ~Plugin() = default;
  Plugin() = default;
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  /// Unique among the plugins of one Trainer; also the key of the plugin's checkpoint state.
  virtual std::string name() const = 0;
  /// Connects the plugin's slots. Called once, when the plugin joins a Trainer.
  virtual void attach(HookBus& bus) = 0;

 protected:
  /// Connects `slot` to `hook` in `group` for as long as this plugin lives. When a SlotTimer
  /// (the profiler) listens on the bus, the slot's time is reported under this plugin's name.
  /// A slot that throws something other than a std::exception fails the run with a
  /// PluginError naming this plugin and the hook.
  template <typename HookSignal, typename Slot>
  void connect(HookSignal& hook, Slot&& slot, SlotGroup group = SlotGroup::Callback) {
    connections_.emplace_back(
        hook.connect(group, [this, bus = bus_, hook_name = bus_ ? bus_->name_of(&hook) : std::string_view(),
                             slot = std::forward<Slot>(slot)](auto& context) mutable {
          try {
            SlotTimer* timer = bus ? bus->slot_timer : nullptr;
            if (!timer) {
              slot(context);
              return;
            }
            const auto start = std::chrono::steady_clock::now();
            slot(context);
            timer->record(hook_name, name(),
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          } catch (const std::exception&) {
            throw;
          } catch (...) {
            throw PluginError("plugin '" + name() + "': its " + std::string(hook_name.empty() ? "hook" : hook_name) +
                              " slot threw something that is not a std::exception");
          }
        }));
  }

 private:
  friend class Trainer;
  HookBus* bus_ = nullptr;  // set by the Trainer before attach(): lets connect() time slots
  std::vector<boost::signals2::scoped_connection> connections_;
};

/// What a plugin library exports: builds the plugin from its text options.
using PluginFactory = std::unique_ptr<Plugin>(const PluginOptions& options);

}  // namespace fulgur
