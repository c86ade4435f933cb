// A plugin that puts the run's optimizers back as configure_optimizers returned them when the
// run ends: a Module may keep its optimizer between fits, and a search must not leave it with
// the sweep's learning rate or a trial's momentum (Lightning restores them from a checkpoint).
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "fulgur/plugin.h"
#include "fulgur/trainer.h"

namespace fulgur::detail {

class OptimizerSnapshot : public Plugin {
 public:
  std::string name() const override { return "tuner_optimizer_snapshot"; }
  void attach(HookBus& bus) override {
    connect(bus.on_fit_start, [this](RunHook& hook) { save(hook.trainer); });
    connect(bus.teardown, [this](StageHook&) { restore(); });
    connect(bus.on_exception, [this](ExceptionHook&) { restore(); });
  }

 private:
  struct Saved {
    torch::optim::Optimizer* optimizer;
    std::string state;
    std::vector<double> lrs;
  };

  void save(Trainer& trainer) {
    saved_.clear();
    for (const auto& optimizer : trainer.optimizers()) {
      torch::serialize::OutputArchive archive;
      optimizer->save(archive);
      std::ostringstream bytes;
      archive.save_to(bytes);
      Saved entry{optimizer.get(), bytes.str(), {}};
      for (const auto& group : optimizer->param_groups()) entry.lrs.push_back(group.options().get_lr());
      saved_.push_back(std::move(entry));
    }
  }

  void restore() {
    for (auto& entry : saved_) {
      std::istringstream bytes(entry.state);
      torch::serialize::InputArchive archive;
      archive.load_from(bytes);
      // load() adds the saved per-parameter state; what the search created must go first.
      entry.optimizer->state().clear();
      entry.optimizer->load(archive);
      auto& groups = entry.optimizer->param_groups();
      for (std::size_t i = 0; i < groups.size() && i < entry.lrs.size(); ++i) groups[i].options().set_lr(entry.lrs[i]);
    }
    saved_.clear();
  }

  std::vector<Saved> saved_;
};

}  // namespace fulgur::detail
