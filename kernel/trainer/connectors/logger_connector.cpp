// The Trainer's half of logging: when the logged metrics reach the loggers (Lightning's
// logger connector). Values stay on the device until a logger is due; then every metric of
// the row is copied to the host in one transfer.
#include <torch/torch.h>

#include "fulgur/error.h"
#include "fulgur/logger.h"
#include "fulgur/trainer.h"

namespace fulgur {
namespace {

Logger::Metrics to_host(const MetricStore::Metrics& metrics) {
  Logger::Metrics row;
  if (metrics.empty()) return row;
  // Stacked where they live, then copied once: one sync for the whole row.
  const auto device = metrics.begin()->second.device();
  std::vector<torch::Tensor> values;
  values.reserve(metrics.size());
  for (const auto& [name, value] : metrics) values.push_back(value.to(device, torch::kDouble).reshape({}));
  const auto host = torch::stack(values).to(torch::kCPU);
  const double* data = host.data_ptr<double>();
  std::size_t i = 0;
  for (const auto& [name, value] : metrics) row[name] = data[i++];
  return row;
}

}  // namespace

void Trainer::connect_loggers() {
  auto keep = [this](auto connection) { logger_connections_.emplace_back(std::move(connection)); };
  keep(bus_.setup.connect(SlotGroup::Logger, [this](StageHook&) {
    if (loggers_.empty() || !module_ || !is_global_zero()) return;
    for (Logger* logger : loggers_) logger->log_hyperparams(module_->hparams());
  }));
  // A step's and an epoch's rows reach the loggers before the monitors act (LoggerRows), so that
  // a checkpoint a monitor saves in this hook comes after them: a fit resumed from it repeats
  // none of them and misses none (csv_logger keeps the rows a checkpoint had seen).
  keep(bus_.on_train_batch_end.connect(SlotGroup::LoggerRows, [this](BatchEndHook&) {
    // A step's values are for this step only, logged or not (as in Lightning).
    const bool stepped = fit_.global_step != progress_.last_logged_step;
    if (!loggers_.empty() && stepped && (fit_.global_step % options_.log_every_n_steps() == 0 || should_stop)) {
      send_to_loggers(metrics_.step_metrics(), fit_.global_step - 1);
    }
    progress_.last_logged_step = fit_.global_step;
  }));
  keep(bus_.on_train_batch_end.connect(SlotGroup::Logger, [this](BatchEndHook&) { metrics_.clear_step_metrics(); }));
  // Values a validation or test step logged with on_step reach the loggers at that batch (the
  // rows Lightning writes as "val_acc_step"), numbered by the loop's own batch count over the run,
  // without an epoch; the sanity check's are dropped.
  auto log_eval_step = [this](BatchEndHook&) {
    const bool validating = stage_ == Stage::Fit || stage_ == Stage::Validate;
    int64_t& logged = validating ? progress_.validation_steps_logged : progress_.test_steps_logged;
    if (!progress_.sanity_checking) {
      if (!loggers_.empty() && !metrics_.step_metrics().empty()) {
        send_to_loggers(metrics_.step_metrics(), logged, /*with_epoch=*/false);
      }
      ++logged;
    }
    metrics_.clear_step_metrics();
  };
  keep(bus_.on_validation_batch_end.connect(SlotGroup::Logger, log_eval_step));
  keep(bus_.on_test_batch_end.connect(SlotGroup::Logger, log_eval_step));
  auto log_epoch = [this](EpochHook&) {
    if (loggers_.empty() || progress_.sanity_checking) return;
    send_to_loggers(metrics_.epoch_metrics(), std::max<int64_t>(fit_.global_step - 1, 0));
    if (!is_global_zero()) return;
    for (Logger* logger : loggers_) logger->save();
  };
  keep(bus_.on_train_epoch_end.connect(SlotGroup::LoggerRows, log_epoch));
  keep(bus_.on_validation_epoch_end.connect(SlotGroup::LoggerRows, log_epoch));
  keep(bus_.on_test_epoch_end.connect(SlotGroup::LoggerRows, log_epoch));
  keep(bus_.teardown.connect(SlotGroup::Logger, [this](StageHook&) {
    if (!is_global_zero()) return;
    for (Logger* logger : loggers_) {
      logger->save();
      logger->finalize("success");
    }
  }));
  keep(bus_.on_exception.connect(SlotGroup::Logger, [this](ExceptionHook&) {
    for (Logger* logger : loggers_) logger->finalize("failed");
  }));
}

void Trainer::send_to_loggers(const MetricStore::Metrics& metrics, int64_t step, bool with_epoch) {
  if (metrics.empty() || !is_global_zero()) return;
  Logger::Metrics row = to_host(metrics);
  if (with_epoch) row["epoch"] = static_cast<double>(fit_.current_epoch);
  log_to_loggers(row, step);
}

void Trainer::log_to_loggers(const std::map<std::string, double>& row, int64_t step) {
  if (!is_global_zero()) return;  // rank 0 alone writes logs
  for (Logger* logger : loggers_) logger->log_metrics(row, step);
}

}  // namespace fulgur
