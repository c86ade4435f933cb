// The device_stats_monitor plugin (see include/fulgur/plugins/device_stats_monitor.h).
#include "fulgur/plugins/device_stats_monitor.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <torch/torch.h>

#include "fulgur/error.h"
#include "fulgur/logger.h"
#include "fulgur/plugin.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

// A CUDA LibTorch carries the caching allocator's headers (Debian's CPU build has some, not all);
// the GPU statistics come from it.
#if __has_include(<c10/cuda/CUDACachingAllocator.h>) && __has_include(<c10/cuda/impl/cuda_cmake_macros.h>) && \
    __has_include(<cuda_runtime_api.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define FULGUR_CUDA_MEMORY_STATS 1
#endif

namespace fulgur::plugins {
namespace {

// /proc/meminfo's fields, in kB.
std::map<std::string, double> meminfo() {
  std::map<std::string, double> fields;
  std::ifstream file("/proc/meminfo");
  std::string key;
  double value = 0;
  std::string unit;
  while (file >> key >> value) {
    std::getline(file, unit);
    if (!key.empty() && key.back() == ':') key.pop_back();
    fields[key] = value;
  }
  return fields;
}

// psutil's virtual_memory().percent and swap_memory().percent.
void memory_stats(Logger::Metrics& row) {
  const auto fields = meminfo();
  auto field = [&](const char* name) { return fields.count(name) ? fields.at(name) : 0.0; };
  const double total = field("MemTotal");
  if (total > 0) row["cpu_vm_percent"] = 100.0 * (total - field("MemAvailable")) / total;
  const double swap = field("SwapTotal");
  row["cpu_swap_percent"] = swap > 0 ? 100.0 * (swap - field("SwapFree")) / swap : 0.0;
  // This process's resident memory.
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  if (statm >> pages >> resident) {
    row["process_rss_mb"] =
        static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
  }
}

class DeviceStatsMonitor : public Plugin {
 public:
  explicit DeviceStatsMonitor(DeviceStatsMonitorOptions options) : options_(std::move(options)) {}

  std::string name() const override { return "device_stats_monitor"; }

  void attach(HookBus& bus) override {
    connect(bus.on_train_start, [](RunHook& hook) {
      if (hook.trainer.loggers().empty()) {
        throw Error(
            "device_stats_monitor hands its statistics to the loggers, but the Trainer has none; add a "
            "logger plugin (e.g. --plugin csv_logger)");
      }
    });
    // Training batches the Trainer logs: the step about to be taken (start) or just taken (end).
    connect(bus.on_train_batch_start, [this](BatchStartHook& hook) {
      const int64_t next = hook.trainer.global_step() + 1;
      if (next % hook.trainer.options().log_every_n_steps() == 0) log(hook.trainer, "on_train_batch_start");
    });
    connect(bus.on_train_batch_end, [this](BatchEndHook& hook) {
      const int64_t step = hook.trainer.global_step();
      if (step > last_end_step_ && step % hook.trainer.options().log_every_n_steps() == 0) {
        last_end_step_ = step;
        log(hook.trainer, "on_train_batch_end");
      }
    });
    // Evaluation batches: every log_every_n_steps-th of each loop.
    for (auto [start_hook, end_hook, stage] :
         {std::tuple{&bus.on_validation_batch_start, &bus.on_validation_batch_end, "validation"},
          std::tuple{&bus.on_test_batch_start, &bus.on_test_batch_end, "test"}}) {
      const std::string prefix = std::string("on_") + stage;
      connect(*start_hook, [this, prefix](BatchStartHook& hook) {
        if (hook.batch_idx % hook.trainer.options().log_every_n_steps() == 0)
          log(hook.trainer, prefix + "_batch_start");
      });
      connect(*end_hook, [this, prefix](BatchEndHook& hook) {
        if (hook.batch_idx % hook.trainer.options().log_every_n_steps() == 0) log(hook.trainer, prefix + "_batch_end");
      });
    }
  }

 private:
  void log(Trainer& trainer, const std::string& hook) {
    if (trainer.sanity_checking() || trainer.loggers().empty()) return;
    const torch::Device device = trainer.module()->device();
    Logger::Metrics stats;
    const bool cpu = device.is_cpu() ? options_.cpu_stats() != "false" : options_.cpu_stats() == "true";
    if (cpu) {
      memory_stats(stats);
      stats["cpu_percent"] = cpu_percent();
    }
    if (device.is_cuda()) cuda_stats(device, stats);
    if (stats.empty()) return;
    Logger::Metrics row;
    for (const auto& [key, value] : stats) row["DeviceStatsMonitor." + hook + "/" + key] = value;
    trainer.log_to_loggers(row, trainer.global_step());
  }

  // psutil.cpu_percent(): the machine's CPU use since the previous call (since boot the first time).
  double cpu_percent() {
    std::ifstream file("/proc/stat");
    std::string cpu;
    double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    if (!(file >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal)) return 0.0;
    const double total = user + nice + system + idle + iowait + irq + softirq + steal;
    const double waiting = idle + iowait;
    const double busy_share = total > last_total_ ? 1.0 - (waiting - last_idle_) / (total - last_total_) : 0.0;
    last_total_ = total;
    last_idle_ = waiting;
    return 100.0 * busy_share;
  }

  static void cuda_stats(const torch::Device& device, Logger::Metrics& stats) {
#ifdef FULGUR_CUDA_MEMORY_STATS
    // torch.cuda.memory_stats()'s names for the allocator's counters.
    const auto all = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    const auto aggregate = static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    stats["allocated_bytes.all.current"] = static_cast<double>(all.allocated_bytes[aggregate].current);
    stats["allocated_bytes.all.peak"] = static_cast<double>(all.allocated_bytes[aggregate].peak);
    stats["reserved_bytes.all.current"] = static_cast<double>(all.reserved_bytes[aggregate].current);
    stats["reserved_bytes.all.peak"] = static_cast<double>(all.reserved_bytes[aggregate].peak);
#else
    (void)device;
    (void)stats;
#endif
  }

  DeviceStatsMonitorOptions options_;
  int64_t last_end_step_ = 0;
  double last_total_ = 0, last_idle_ = 0;
};

std::unique_ptr<Plugin> make_device_stats_monitor(const PluginOptions& options) {
  return std::make_unique<DeviceStatsMonitor>(DeviceStatsMonitorOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_device_stats_monitor)
