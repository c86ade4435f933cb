// The single_device strategy plugin (see include/fulgur/strategies/single_device.h).
#include "fulgur/strategies/single_device.h"

#include "fulgur/plugin.h"
#include "fulgur/plugin_export.h"
#include "fulgur/plugin_options.h"
#include "fulgur/strategy.h"

namespace fulgur::strategies {
namespace {

class SingleDevice : public Plugin, public Strategy {
 public:
  std::string name() const override { return "single_device"; }
  void attach(HookBus& /*bus*/) override {}

  int64_t global_rank() const override { return 0; }
  int64_t local_rank() const override { return 0; }
  int64_t world_size() const override { return 1; }
  // Alone, every reduction is the value itself and there is nobody to wait for.
  void all_reduce(at::Tensor& /*tensor*/, ReduceOp /*op*/) override {}
  std::vector<at::Tensor> all_gather(const at::Tensor& tensor) override { return {tensor}; }
  void broadcast(at::Tensor& /*tensor*/, int64_t /*root*/) override {}
  void barrier(const std::string& /*where*/) override {}
};

std::unique_ptr<Plugin> make_single_device(const PluginOptions& options) {
  SingleDeviceOptions::parse(options);
  return std::make_unique<SingleDevice>();
}

}  // namespace
}  // namespace fulgur::strategies

FULGUR_EXPORT_PLUGIN(fulgur::strategies::make_single_device)
