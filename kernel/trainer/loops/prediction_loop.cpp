// The prediction loop (Lightning's _PredictionLoop) for trainer.predict: the Module in eval
// mode without autograd, predict_step on every batch of every loader — or, for a Module without
// one, its forward(x) on the batch's inputs (Lightning's default predict_step) — with log()
// forbidden; the predictions come back per loader.
#include <vector>

#include "fulgur/error.h"
#include "fulgur/trainer.h"
#include "connectors/log_forbidden.h"
#include "connectors/run_scope.h"
#include "loops/loader_reading.h"

namespace fulgur {

std::vector<std::vector<torch::Tensor>> Trainer::run_predict(Module& module, StepOverrides overrides, RunData data,
                                                             const std::string& ckpt_path) {
  if (!overrides.predict && !overrides.forward) {
    throw Error(
        "Trainer::predict needs a Module that implements predict_step, or forward(x) (the default predict_step "
        "calls it on the batch)");
  }
  RunScope scope(*this, module, Stage::Predict, data.datamodule);
  module_overrides_ = overrides;
  return scope.run([&] {
    prepare_data(module);
    emit_setup(Stage::Predict);
    resolve_loaders(Stage::Predict, data);
    if (!ckpt_path.empty()) restore_for_evaluation(ckpt_path);
    const std::vector<int64_t> limits = eval_limits(Stage::Predict, data.eval);
    module.eval();
    const detail::EvaluationGradMode grad_mode(inference_mode());
    metrics_.set_context(LogContext::Predict);
    if (!data.eval.empty()) progress_.num_eval_batches = batches_to_run(*data.eval[0], limits[0]);
    RunHook run{*this};
    bus_.on_predict_start(run);
    EpochHook epoch_hook{*this, 0};
    bus_.on_predict_epoch_start(epoch_hook);
    std::vector<std::vector<torch::Tensor>> predictions(data.eval.size());
    read_loaders(data.eval, limits, [&](Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
      BatchStartHook start{*this, batch, batch_idx, dataloader_idx};
      bus_.on_predict_batch_start(start);
      torch::Tensor prediction = predict_batch(module, overrides, batch, batch_idx, dataloader_idx);
      BatchEndHook end{*this, prediction, batch, batch_idx, dataloader_idx};
      bus_.on_predict_batch_end(end);
      predictions[static_cast<std::size_t>(dataloader_idx)].push_back(prediction);
    });
    bus_.on_predict_epoch_end(epoch_hook);
    bus_.on_predict_end(run);
    emit_teardown(Stage::Predict);
    return predictions;
  });
}

torch::Tensor Trainer::predict_batch(Module& module, const StepOverrides& overrides, const Batch& batch,
                                     int64_t batch_idx, int64_t dataloader_idx) {
  try {
    const detail::LogForbidden scope(metrics_, "predict_step");
    if (overrides.predict) return module.predict_step(batch, batch_idx, dataloader_idx);
    // Lightning's default predict_step: forward on the batch (its inputs, when it is a list).
    return overrides.forward(module, batch.is_tensor() ? batch.tensor() : batch[0]);
  } catch (...) {
    rethrow_with_context("predict_step", batch_idx);
  }
}

}  // namespace fulgur
