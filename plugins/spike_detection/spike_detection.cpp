// The spike_detection plugin (see include/fulgur/plugins/spike_detection.h).
#include "fulgur/plugins/spike_detection.h"

#include <cmath>
#include <deque>
#include <filesystem>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "fulgur/atomic_write.h"
#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/strategy.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

class SpikeDetection : public Plugin {
 public:
  explicit SpikeDetection(SpikeDetectionOptions options) : options_(std::move(options)) {}

  std::string name() const override { return "spike_detection"; }

  void attach(HookBus& bus) override {
    connect(bus.on_train_batch_end, [this](BatchEndHook& hook) { watch(hook); });
    connect(bus.on_save_checkpoint, [this](CheckpointHook& hook) {
      auto state = plugin_state(hook.checkpoint, name());
      state.insert_or_assign("last_val", last_);
      state.insert_or_assign("window_values",
                             torch::tensor(std::vector<double>(recent_.begin(), recent_.end()), torch::kDouble));
      state.insert_or_assign("bad_batches", torch::tensor(bad_batches_, torch::kLong));
    });
    connect(bus.on_load_checkpoint, [this](CheckpointHook& hook) {
      if (!has_plugin_state(hook.checkpoint, name())) return;
      const auto state = plugin_state(hook.checkpoint, name());
      last_ = state.at("last_val").toDouble();
      const auto values = state.at("window_values").toTensor().to(torch::kDouble).contiguous();
      recent_.assign(values.data_ptr<double>(), values.data_ptr<double>() + values.numel());
      while (static_cast<int64_t>(recent_.size()) > options_.window()) recent_.pop_front();
      const auto bad = state.at("bad_batches").toTensor().to(torch::kLong).contiguous();
      bad_batches_.assign(bad.data_ptr<int64_t>(), bad.data_ptr<int64_t>() + bad.numel());
    });
  }

 private:
  void watch(BatchEndHook& hook) {
    if (!hook.outputs.defined() || hook.outputs.numel() == 0) return;  // a step that returned no loss
    const double loss = hook.outputs.detach().to(torch::kDouble).mean().item<double>();
    bool spike = hook.batch_idx >= options_.warmup() && is_spike(loss);
    Trainer& trainer = hook.trainer;
    // Each rank judges its own loss; every rank stops if one saw a spike (Lightning's any-rank rule).
    if (Strategy* strategy = trainer.strategy()) {
      auto flag = torch::tensor(spike ? 1.0 : 0.0, torch::kDouble).to(trainer.device());
      strategy->all_reduce(flag, ReduceOp::Max);
      spike = flag.item<double>() > 0;
    }
    if (spike) handle_spike(trainer, hook.batch_idx, loss);
    bool finite_everywhere = options_.finite_only() || std::isfinite(loss);
    if (!options_.finite_only() && trainer.strategy()) {
      auto flag = torch::tensor(std::isfinite(loss) ? 1.0 : 0.0, torch::kDouble).to(trainer.device());
      trainer.strategy()->all_reduce(flag, ReduceOp::Min);
      finite_everywhere = flag.item<double>() > 0;
    }
    if (finite_everywhere) {
      recent_.push_back(loss);
      while (static_cast<int64_t>(recent_.size()) > options_.window()) recent_.pop_front();
      last_ = loss;
    }
  }

  double running_mean() const {
    if (recent_.empty()) return std::numeric_limits<double>::quiet_NaN();  // no reference yet: nothing is far from it
    return std::accumulate(recent_.begin(), recent_.end(), 0.0) / static_cast<double>(recent_.size());
  }

  bool is_spike(double loss) const {
    if (options_.finite_only() && !std::isfinite(loss)) return true;
    const double change = loss - last_;
    const bool better = options_.mode() == "min" ? change <= 0 : change >= 0;
    if (better) return false;
    const double mean = running_mean();
    const double off = std::abs(loss - mean);
    const bool past_atol = !options_.atol() || off >= std::abs(*options_.atol());
    const bool past_rtol = !options_.rtol() || off >= std::abs(*options_.rtol() * mean);
    return past_atol && past_rtol;
  }

  std::string skip_file() const {
    std::string path = options_.exclude_batches_path();
    if (path.empty()) path = std::filesystem::current_path().string();
    const std::string suffix = ".json";
    if (path.size() < suffix.size() || path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) {
      path = (std::filesystem::path(path) / "skip_batches.json").string();
    }
    return path;
  }

  // The batch before is skipped too: it may have moved the weights to where this batch spikes.
  [[noreturn]] void handle_spike(Trainer& trainer, int64_t batch_idx, double loss) {
    bad_batches_.push_back(batch_idx - 1);
    bad_batches_.push_back(batch_idx);
    const std::string path = skip_file();
    if (trainer.is_global_zero()) {
      std::string json = "[";
      for (std::size_t i = 0; i < bad_batches_.size(); ++i) {
        json += (i ? ",\n    " : "\n    ") + std::to_string(bad_batches_[i]);
      }
      json += bad_batches_.empty() ? "]" : "\n]";
      write_file_atomically(path, json, "spike_detection's list of batches to skip");
    }
    throw Error(
        fmt::format("Training spike detected in batch {} (loss {:g}, the running mean of the last {} losses "
                    "{:g}); batches to skip when resuming: {}",
                    batch_idx, loss, recent_.size(), running_mean(), path));
  }

  SpikeDetectionOptions options_;
  std::deque<double> recent_;
  double last_ = 0.0;  // Lightning's last_val starts at 0
  std::vector<int64_t> bad_batches_;
};

std::unique_ptr<Plugin> make_spike_detection(const PluginOptions& options) {
  return std::make_unique<SpikeDetection>(SpikeDetectionOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_spike_detection)
