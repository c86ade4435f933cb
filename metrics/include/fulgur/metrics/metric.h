// fulgur::metrics::Metric: torchmetrics' Metric for LibTorch.
//
// A metric keeps state tensors (counts, sums, or every sample) on the device of its inputs,
// updates them from each batch without copying anything to the host, and computes its value
// from them on demand:
//
//   auto acc = register_module("acc", std::make_shared<metrics::Accuracy>(
//       metrics::ClassificationOptions().task("multiclass").num_classes(10)));
//   acc->update(logits, labels);        // accumulate
//   auto value = acc->compute();         // over every update since the last reset
//   acc->reset();
//   auto batch = (*acc)(logits, labels); // forward: accumulate, and return this batch's value
//   log("val_acc", acc);                 // Lightning's rules for metric objects (LoggableMetric)
//
// Under a multi-process strategy compute() first combines the states of every process (sums
// all-reduced, samples all-gathered), so the value is the one a single process would compute
// over all samples.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "fulgur/loggable_metric.h"

/// Declares a concrete metric's copy() (what clone_metric() and MetricCollection::clone use):
///   class MyMetric : public PredsTargetMetric { public: FULGUR_METRIC_COPY(MyMetric) ... };
#define FULGUR_METRIC_COPY(Class) \
  std::shared_ptr<::fulgur::metrics::Metric> copy() const override { return std::make_shared<Class>(*this); }

namespace fulgur::metrics {

/// How a state combines across batches, merged metrics and processes (torchmetrics'
/// dist_reduce_fx): element-wise sum, max or min; Cat keeps every batch's rows; Custom states are
/// combined by the metric's own merge (running means and variances).
enum class Reduce { Sum, Max, Min, Cat, Custom };

/// A metric's accumulated states. The metrics of a MetricCollection's compute group share one.
struct StateSet {
  struct Entry {
    std::string name;
    Reduce reduce = Reduce::Sum;
    at::Tensor initial;              // the value reset() restores (not for Cat)
    at::Tensor value;                // the state (not for Cat); changed in place
    std::vector<at::Tensor> chunks;  // Cat: one tensor per update, concatenated on demand
  };
  std::vector<Entry> entries;
  int64_t updates = 0;
  /// Bumped by every change, so that cached values know when they are stale.
  int64_t generation = 0;
  /// The states of every process, combined, as of `synced_generation` (see Metric::compute).
  std::shared_ptr<StateSet> synced;
  int64_t synced_generation = -1;
  /// Value checks deferred to compute(): a count of offending elements and the error to raise.
  std::vector<std::pair<at::Tensor, std::string>> pending_checks;

  /// Same layout, initial values, no updates.
  std::shared_ptr<StateSet> fresh() const;
  /// A deep copy of the states.
  std::shared_ptr<StateSet> clone() const;
};

class BOOST_SYMBOL_VISIBLE Metric : public torch::nn::Module, public LoggableMetric {
 public:
  /// The value over every update since the last reset, combined across processes when a
  /// strategy is set. Cached until the next update. An error before the first update.
  at::Tensor compute() override;
  /// Back to the initial states.
  void reset() override;
  at::Tensor batch_value() const override { return batch_value_; }
  std::string metric_name() const override { return name_; }
  void set_strategy(Strategy* strategy) override { strategy_ = strategy; }

  /// Adds `other`'s states into this metric's (torchmetrics' merge_state): both must be the
  /// same metric with the same arguments.
  void merge_state(const Metric& other);
  int64_t update_count() const { return states_->updates; }
  /// The states (Cat states concatenated), by torchmetrics' state names.
  std::vector<std::pair<std::string, at::Tensor>> metric_state() const;

  /// Keeps the states in the Module's state_dict, and so in checkpoints, under their
  /// torchmetrics names ("val_acc.tp"); off by default, as in torchmetrics. Only metrics whose
  /// states have a fixed size: one that keeps every sample (Cat) is an error.
  void persistent(bool keep = true);

  /// Metrics with the same non-empty key keep the same states and update them the same way;
  /// a MetricCollection updates such a group once per batch (torchmetrics' compute groups).
  virtual std::string state_key() const { return {}; }

  /// States move with the Module (to the device of the model); dtype changes leave them as they
  /// are, as torchmetrics' do.
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;

  /// A deep copy (torchmetrics' clone()): the same class with the same arguments and a copy of
  /// the states, so the copy goes on from where this one is without affecting it.
  std::shared_ptr<Metric> clone_metric() const;
  /// clone_metric() through LibTorch's Module interface (`metric->clone()`).
  std::shared_ptr<torch::nn::Module> clone(const torch::optional<torch::Device>& device = {}) const override;

  /// Whether update() checks values (labels in range, no NaN) as well as shapes; torchmetrics'
  /// validate_args. On the CPU a bad value is an error at once; on an accelerator the check
  /// stays on the device and its error comes with compute(), so that update never waits.
  bool validate_args() const { return validate_args_; }
  void set_validate_args(bool validate) { validate_args_ = validate; }

 protected:
  explicit Metric(std::string name);
  /// Copies the arguments and a deep copy of the states; a persistent metric's copy registers its
  /// own states as its buffers. Concrete metrics copy through FULGUR_METRIC_COPY.
  Metric(const Metric& other);
  Metric& operator=(const Metric&) = delete;
  /// A new object of the concrete class, copy-constructed from this one: each concrete metric
  /// declares it with FULGUR_METRIC_COPY(ClassName) (the base's returns nullptr, which clone_metric
  /// turns into an error naming the class).
  virtual std::shared_ptr<Metric> copy() const;

  /// Registers a state; returns its index for state().
  std::size_t add_state(std::string name, at::Tensor initial, Reduce reduce);
  std::size_t add_cat_state(std::string name);

  at::Tensor& state(std::size_t index) { return states_->entries[index].value; }
  const at::Tensor& state(std::size_t index) const { return states_->entries[index].value; }
  /// Appends a batch's rows to a Cat state.
  void append(std::size_t index, at::Tensor rows);
  /// A Cat state's rows, concatenated; `empty` (the right trailing shape) when there are none.
  at::Tensor cat_state(std::size_t index, const at::Tensor& empty) const;

  /// Starts an update: counts it and moves the states to `device` if they are elsewhere.
  void begin_update(const at::Device& device);
  /// Raises `message` (prefixed with the metric's name) when `count` > 0: at once for CPU
  /// tensors, at compute() for others. Does nothing when validate_args is off (callers skip
  /// computing the count then).
  void check_values(const at::Tensor& count, const std::string& message);
  /// An error prefixed with the metric's name.
  [[noreturn]] void fail(const std::string& message) const;

  /// The value from the current states (already combined across processes).
  virtual at::Tensor compute_value() = 0;
  /// Combines `other`'s Custom states into `into` (both with this metric's layout).
  virtual void merge_custom(StateSet& into, const StateSet& other) const;

  /// What compute() computes from: runs the deferred value checks, then combines the states of
  /// every process (a collective: every process calls it). An error when nothing was updated.
  std::shared_ptr<StateSet> states_for_compute();
  /// Runs `body` with the state accessors reading `states`.
  void with_states(const std::shared_ptr<StateSet>& states, const std::function<void()>& body);

  /// Whether forward must update the accumulated states directly rather than merge the batch's
  /// into them (torchmetrics' full_state_update): for states whose merge only approximates a
  /// sequential update (PearsonCorrCoef's largest deviations).
  virtual bool full_state_update() const { return false; }

  /// forward(): runs `update` on fresh states, computes this batch's value from them alone,
  /// adds them to the accumulated states and returns the value.
  at::Tensor forward_with(const std::function<void()>& update);
  /// The same for metrics that share their states (a MetricCollection's compute group): `update`
  /// fills the fresh states once, and every metric of `group` (the first leads) gets its batch value.
  static void forward_group(const std::vector<Metric*>& group, const std::function<void()>& update);

 private:
  friend class MetricCollection;

  void merge_states(StateSet& into, const StateSet& other) const;
  std::shared_ptr<StateSet> synced_states();
  void move_state(at::Tensor& state, const at::Device& device, bool non_blocking) const;
  at::Device device_of_states() const;
  void run_pending_checks(StateSet& states) const;

  std::string name_;
  std::shared_ptr<StateSet> states_;
  Strategy* strategy_ = nullptr;
  at::Tensor batch_value_;
  at::Tensor computed_;
  int64_t computed_generation_ = -1;
  bool validate_args_ = true;
  bool persistent_ = false;
};

/// A metric of predictions and targets (every classification and regression metric).
class BOOST_SYMBOL_VISIBLE PredsTargetMetric : public Metric {
 public:
  virtual void update(const at::Tensor& preds, const at::Tensor& target) = 0;
  /// Updates with this batch and returns its value alone (the metric's forward).
  at::Tensor forward(const at::Tensor& preds, const at::Tensor& target) {
    return forward_with([&] { update(preds, target); });
  }
  at::Tensor operator()(const at::Tensor& preds, const at::Tensor& target) { return forward(preds, target); }

 protected:
  using Metric::Metric;
};

}  // namespace fulgur::metrics
