// The throughput_monitor plugin (see include/fulgur/plugins/throughput_monitor.h).
#include "fulgur/plugins/throughput_monitor.h"

#include <chrono>
#include <deque>
#include <map>

#include <torch/cuda.h>
#include <torch/torch.h>

#include "fulgur/error.h"
#include "fulgur/logger.h"
#include "fulgur/plugin.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

using Clock = std::chrono::steady_clock;

// Lightning's fabric Throughput: totals per update, rates over the last window_size of them.
class Window {
 public:
  explicit Window(std::size_t size) : size_(size) {}
  void clear() { points_.clear(); }
  void add(double seconds, int64_t batches, int64_t samples, double flops) {
    points_.push_back({seconds, batches, samples, flops});
    if (points_.size() > size_) points_.pop_front();
  }
  bool empty() const { return points_.empty(); }

  Logger::Metrics compute(const std::string& stage, const std::string& sep, int64_t world_size, bool has_flops) const {
    Logger::Metrics row;
    const auto& last = points_.back();
    row[stage + sep + "time"] = last.seconds;
    row[stage + sep + "batches"] = static_cast<double>(last.batches);
    row[stage + sep + "samples"] = static_cast<double>(last.samples);
    if (points_.size() < size_) return row;
    const auto& first = points_.front();
    const double elapsed = last.seconds - first.seconds;
    if (elapsed <= 0) return row;
    const double batches = static_cast<double>(last.batches - first.batches) / elapsed;
    const double samples = static_cast<double>(last.samples - first.samples) / elapsed;
    const std::string device = stage + sep + "device" + sep;
    row[device + "batches_per_sec"] = batches;
    row[device + "samples_per_sec"] = samples;
    if (world_size > 1) {
      row[stage + sep + "batches_per_sec"] = batches * static_cast<double>(world_size);
      row[stage + sep + "samples_per_sec"] = samples * static_cast<double>(world_size);
    }
    if (has_flops) {
      // Lightning sums the window's FLOPs but the first's: the work done in the elapsed time.
      double flops = 0;
      for (std::size_t i = 1; i < points_.size(); ++i) flops += points_[i].flops;
      row[device + "flops_per_sec"] = flops / elapsed;
      if (world_size > 1) row[stage + sep + "flops_per_sec"] = flops * static_cast<double>(world_size) / elapsed;
    }
    return row;
  }

 private:
  struct Point {
    double seconds;
    int64_t batches, samples;
    double flops;
  };
  std::size_t size_;
  std::deque<Point> points_;
};

class ThroughputMonitor : public Plugin {
 public:
  explicit ThroughputMonitor(ThroughputMonitorOptions options) : options_(std::move(options)) {
    if (options_.window_size() < 2) {
      throw PluginError("plugin 'throughput_monitor': option 'window_size' must be at least 2, got " +
                        std::to_string(options_.window_size()));
    }
  }

  std::string name() const override { return "throughput_monitor"; }

  void attach(HookBus& bus) override {
    connect(bus.on_train_start, [this](RunHook& hook) { start("train", hook.trainer); });
    connect(bus.on_train_batch_end, [this](BatchEndHook& hook) {
      Trainer& trainer = hook.trainer;
      update("train", trainer, hook.batch);
      // Logged with the Trainer's step rows, after the optimizer step of the window that ends here.
      const int64_t step = trainer.global_step();
      if (step > last_logged_step_ && step % trainer.options().log_every_n_steps() == 0) {
        last_logged_step_ = step;
        log("train", trainer, step);
      }
    });
    for (auto [start_hook, batch_hook, end_hook, stage] :
         {std::tuple{&bus.on_validation_start, &bus.on_validation_batch_end, &bus.on_validation_end, "validate"},
          std::tuple{&bus.on_test_start, &bus.on_test_batch_end, &bus.on_test_end, "test"}}) {
      const std::string name(stage);
      connect(*start_hook, [this, name](RunHook& hook) {
        if (hook.trainer.sanity_checking()) return;
        paused_at_ = Clock::now();
        start(name, hook.trainer);
      });
      connect(*batch_hook, [this, name](BatchEndHook& hook) {
        if (!hook.trainer.sanity_checking()) update(name, hook.trainer, hook.batch);
      });
      connect(*end_hook, [this, name](RunHook& hook) {
        if (hook.trainer.sanity_checking()) return;
        if (!windows_.at(name).empty()) log(name, hook.trainer, hook.trainer.global_step());
        // Training throughput does not count the time spent validating.
        if (starts_.count("train")) starts_["train"] += Clock::now() - paused_at_;
      });
    }
  }

 private:
  void start(const std::string& stage, Trainer& trainer) {
    sync(trainer);
    starts_[stage] = Clock::now();
    batches_[stage] = 0;
    samples_[stage] = 0;
    windows_.insert_or_assign(stage, Window(static_cast<std::size_t>(options_.window_size())));
    if (stage == "train") last_logged_step_ = trainer.global_step();
  }

  void update(const std::string& stage, Trainer& trainer, const Batch& batch) {
    // Timing a GPU needs its queue drained first (as Lightning does).
    sync(trainer);
    const double seconds = std::chrono::duration<double>(Clock::now() - starts_.at(stage)).count();
    std::string problem;
    const auto size = batch.batch_size(&problem);
    if (!size) throw Error("plugin 'throughput_monitor' counts samples by the batch's first dimension, but " + problem);
    const auto* flops = dynamic_cast<const FlopsPerBatch*>(trainer.module());
    batches_[stage] += 1;
    samples_[stage] += *size;
    windows_.at(stage).add(seconds, batches_[stage], samples_[stage], flops ? flops->flops_per_batch() : 0.0);
  }

  void log(const std::string& stage, Trainer& trainer, int64_t step) {
    const bool has_flops = dynamic_cast<const FlopsPerBatch*>(trainer.module()) != nullptr;
    trainer.log_to_loggers(windows_.at(stage).compute(stage, options_.separator(), trainer.world_size(), has_flops),
                           step);
  }

  static void sync(Trainer& trainer) {
    if (trainer.module() && trainer.module()->device().is_cuda()) torch::cuda::synchronize();
  }

  ThroughputMonitorOptions options_;
  std::map<std::string, Clock::time_point> starts_;
  std::map<std::string, int64_t> batches_, samples_;
  std::map<std::string, Window> windows_;
  Clock::time_point paused_at_;
  int64_t last_logged_step_ = 0;
};

std::unique_ptr<Plugin> make_throughput_monitor(const PluginOptions& options) {
  return std::make_unique<ThroughputMonitor>(ThroughputMonitorOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_throughput_monitor)
