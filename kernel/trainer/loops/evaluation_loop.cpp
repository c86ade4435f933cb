// The evaluation loop (Lightning's _EvaluationLoop) for validation — inside fit and in
// trainer.validate — and for trainer.test: the Module in eval mode without autograd, one epoch
// over every loader, validation_step / test_step on each batch, the epoch metrics published at
// the epoch's end and returned by validate / test.
#include <map>
#include <string>

#include "fulgur/error.h"
#include "fulgur/trainer.h"
#include "connectors/run_scope.h"
#include "loops/loader_reading.h"

namespace fulgur {

void Trainer::evaluation_loop(Stage stage, const std::vector<DataLoader*>& loaders,
                              const std::vector<int64_t>& max_batches) {
  const bool validating = stage == Stage::Validate;
  auto& on_start = validating ? bus_.on_validation_start : bus_.on_test_start;
  auto& on_end = validating ? bus_.on_validation_end : bus_.on_test_end;
  auto& on_epoch_start = validating ? bus_.on_validation_epoch_start : bus_.on_test_epoch_start;
  auto& on_epoch_end = validating ? bus_.on_validation_epoch_end : bus_.on_test_epoch_end;
  auto& on_batch_start = validating ? bus_.on_validation_batch_start : bus_.on_test_batch_start;
  auto& on_batch_end = validating ? bus_.on_validation_batch_end : bus_.on_test_batch_end;
  const char* step_name = validating ? "validation_step" : "test_step";
  const LogContext context = validating ? LogContext::Validation : LogContext::Test;

  module_->eval();
  const detail::EvaluationGradMode grad_mode(inference_mode());
  // The progress bar reads the first loader's length at the loop's start; each loader sets its own.
  progress_.num_eval_batches = loaders.empty() ? 0 : batches_to_run(*loaders[0], max_batches[0]);
  RunHook run{*this};
  on_start(run);
  EpochHook epoch_hook{*this, fit_.current_epoch};
  on_epoch_start(epoch_hook);
  metrics_.set_context(context);
  // One epoch over all the loaders, as Lightning's evaluation loop runs it.
  read_loaders(loaders, max_batches, [&](Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
    BatchStartHook start{*this, batch, batch_idx, dataloader_idx};
    on_batch_start(start);
    torch::Tensor outputs;
    try {
      outputs = validating ? module_->validation_step(batch, batch_idx, dataloader_idx)
                           : module_->test_step(batch, batch_idx, dataloader_idx);
    } catch (...) {
      rethrow_with_context(step_name, batch_idx);
    }
    BatchEndHook end{*this, outputs, batch, batch_idx, dataloader_idx};
    on_batch_end(end);
  });
  on_epoch_end(epoch_hook);  // publishes the epoch metrics (group EpochMetrics)
  on_end(run);
}

std::map<std::string, double> Trainer::run_evaluate(Module& module, StepOverrides overrides, Stage stage, RunData data,
                                                    const std::string& ckpt_path) {
  if (stage == Stage::Validate && !overrides.validation) {
    throw Error("Trainer::validate needs a Module that implements validation_step");
  }
  if (stage == Stage::Test && !overrides.test) throw Error("Trainer::test needs a Module that implements test_step");
  RunScope scope(*this, module, stage, data.datamodule);
  module_overrides_ = overrides;
  return scope.run([&] {
    prepare_data(module);
    emit_setup(stage);
    resolve_loaders(stage, data);
    for (DataLoader* loader : data.eval) shard(*loader);
    if (!ckpt_path.empty()) restore_for_evaluation(ckpt_path);
    evaluation_loop(stage, data.eval, eval_limits(stage, data.eval));
    emit_teardown(stage);

    std::map<std::string, double> results;
    for (const auto& [name, value] : metrics_.epoch_metrics()) results[name] = value.item<double>();
    return results;
  });
}

}  // namespace fulgur
