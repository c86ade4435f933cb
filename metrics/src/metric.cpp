#include "fulgur/metrics/metric.h"

#include <typeinfo>

#include <boost/core/demangle.hpp>
#include <torch/torch.h>

#include "fulgur/error.h"
#include "fulgur/strategy.h"
#include "state_sync.h"

namespace fulgur::metrics {

std::shared_ptr<StateSet> StateSet::fresh() const {
  auto set = std::make_shared<StateSet>();
  for (const auto& entry : entries) {
    StateSet::Entry copy;
    copy.name = entry.name;
    copy.reduce = entry.reduce;
    copy.initial = entry.initial;
    if (entry.reduce != Reduce::Cat)
      copy.value = entry.initial.to(entry.value.device(), /*non_blocking=*/false, /*copy=*/true);
    set->entries.push_back(std::move(copy));
  }
  return set;
}

std::shared_ptr<StateSet> StateSet::clone() const {
  auto set = std::make_shared<StateSet>();
  for (const auto& entry : entries) {
    StateSet::Entry copy = entry;
    if (entry.value.defined()) copy.value = entry.value.clone();
    set->entries.push_back(std::move(copy));
  }
  set->updates = updates;
  set->generation = generation;
  set->pending_checks = pending_checks;
  return set;
}

Metric::Metric(std::string name) : name_(std::move(name)), states_(std::make_shared<StateSet>()) {}

Metric::Metric(const Metric& other)
    : torch::nn::Module(),  // a module of its own: the original's buffers are its states, not the copy's
      LoggableMetric(other),
      name_(other.name_),
      states_(other.states_->clone()),
      strategy_(other.strategy_),
      batch_value_(other.batch_value_),
      computed_(other.computed_),
      computed_generation_(other.computed_generation_),
      validate_args_(other.validate_args_) {
  train(other.is_training());
  if (other.persistent_) persistent(true);
}

std::shared_ptr<Metric> Metric::copy() const { return nullptr; }  // a class without FULGUR_METRIC_COPY

std::shared_ptr<Metric> Metric::clone_metric() const {
  std::shared_ptr<Metric> copied = copy();
  // A subclass without its own FULGUR_METRIC_COPY would be copied as its base class.
  if (!copied || typeid(*copied) != typeid(*this)) {
    const std::string class_name = boost::core::demangle(typeid(*this).name());
    fail("cannot be copied: its class " + class_name + " does not declare FULGUR_METRIC_COPY(" + class_name + ")");
  }
  return copied;
}

std::shared_ptr<torch::nn::Module> Metric::clone(const torch::optional<torch::Device>& device) const {
  auto copied = clone_metric();
  if (device) copied->to(*device);
  return copied;
}

void Metric::fail(const std::string& message) const { throw Error(name_ + ": " + message); }

std::size_t Metric::add_state(std::string name, at::Tensor initial, Reduce reduce) {
  if (reduce == Reduce::Cat) return add_cat_state(std::move(name));
  StateSet::Entry entry;
  entry.name = std::move(name);
  entry.reduce = reduce;
  entry.initial = initial;
  entry.value = initial.clone();
  states_->entries.push_back(std::move(entry));
  return states_->entries.size() - 1;
}

std::size_t Metric::add_cat_state(std::string name) {
  StateSet::Entry entry;
  entry.name = std::move(name);
  entry.reduce = Reduce::Cat;
  states_->entries.push_back(std::move(entry));
  return states_->entries.size() - 1;
}

void Metric::append(std::size_t index, at::Tensor rows) { states_->entries[index].chunks.push_back(std::move(rows)); }

at::Tensor Metric::cat_state(std::size_t index, const at::Tensor& empty) const {
  const auto& chunks = states_->entries[index].chunks;
  if (chunks.empty()) return empty;
  return chunks.size() == 1 ? chunks.front() : at::cat(chunks);
}

void Metric::begin_update(const at::Device& device) {
  auto& states = *states_;
  for (auto& entry : states.entries) {
    if (entry.value.defined() && entry.value.device() != device) move_state(entry.value, device, false);
  }
  ++states.updates;
  ++states.generation;
}

void Metric::check_values(const at::Tensor& count, const std::string& message) {
  if (!validate_args_) return;
  if (count.device().is_cpu()) {
    if (count.item<int64_t>() > 0) fail(message);
    return;
  }
  states_->pending_checks.emplace_back(count, message);
}

void Metric::run_pending_checks(StateSet& states) const {
  auto pending = std::move(states.pending_checks);
  states.pending_checks.clear();
  for (const auto& [count, message] : pending) {
    if (count.item<int64_t>() > 0) fail(message + " (found in an update since the last reset)");
  }
}

void Metric::merge_custom(StateSet& /*into*/, const StateSet& /*other*/) const {
  fail("has Custom states but no merge for them");
}

void Metric::merge_states(StateSet& into, const StateSet& other) const {
  if (into.entries.size() != other.entries.size()) fail("merge_state: the other metric has different states");
  bool custom = false;
  for (std::size_t i = 0; i < into.entries.size(); ++i) {
    auto& mine = into.entries[i];
    const auto& theirs = other.entries[i];
    if (mine.name != theirs.name || mine.reduce != theirs.reduce) {
      fail("merge_state: the other metric has different states ('" + theirs.name + "' where this has '" + mine.name +
           "')");
    }
    switch (mine.reduce) {
      case Reduce::Sum:
        mine.value.add_(theirs.value.to(mine.value.device()));
        break;
      case Reduce::Max:
        mine.value.copy_(at::maximum(mine.value, theirs.value.to(mine.value.device())));
        break;
      case Reduce::Min:
        mine.value.copy_(at::minimum(mine.value, theirs.value.to(mine.value.device())));
        break;
      case Reduce::Cat:
        mine.chunks.insert(mine.chunks.end(), theirs.chunks.begin(), theirs.chunks.end());
        break;
      case Reduce::Custom:
        custom = true;
        break;
    }
  }
  if (custom) merge_custom(into, other);
  into.updates += other.updates;
  into.pending_checks.insert(into.pending_checks.end(), other.pending_checks.begin(), other.pending_checks.end());
  ++into.generation;
}

void Metric::merge_state(const Metric& other) {
  if (other.name_ != name_ || other.state_key() != state_key()) {
    fail("merge_state: cannot merge a " + other.name_ + " with different arguments into this one");
  }
  merge_states(*states_, *other.states_);
}

std::vector<std::pair<std::string, at::Tensor>> Metric::metric_state() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (std::size_t i = 0; i < states_->entries.size(); ++i) {
    const auto& entry = states_->entries[i];
    if (entry.reduce != Reduce::Cat) {
      out.emplace_back(entry.name, entry.value);
    } else {
      out.emplace_back(entry.name, entry.chunks.empty() ? at::Tensor() : cat_state(i, at::Tensor()));
    }
  }
  return out;
}

void Metric::persistent(bool keep) {
  if (keep == persistent_) return;
  if (!keep) fail("persistent(false): states already in the state_dict stay there (LibTorch cannot unregister them)");
  for (const auto& entry : states_->entries) {
    if (entry.reduce == Reduce::Cat) {
      fail("persistent(): state '" + entry.name +
           "' keeps every sample, whose count varies; only fixed-size states "
           "go into a state_dict (curve metrics keep a fixed-size state with thresholds=N)");
    }
  }
  // The buffers are the state tensors themselves: updates, resets and moves change them in place.
  for (auto& entry : states_->entries) register_buffer(entry.name, entry.value);
  persistent_ = true;
}

void Metric::move_state(at::Tensor& state, const at::Device& device, bool non_blocking) const {
  // A persistent state is also a buffer of this module: it moves in place, staying that buffer.
  if (persistent_) {
    state.set_data(state.to(device, non_blocking));
  } else {
    state = state.to(device, non_blocking);
  }
}

void Metric::to(torch::Device device, torch::Dtype /*dtype*/, bool non_blocking) { to(device, non_blocking); }
void Metric::to(torch::Dtype /*dtype*/, bool /*non_blocking*/) {}
void Metric::to(torch::Device device, bool non_blocking) {
  for (auto& entry : states_->entries) {
    if (entry.value.defined()) move_state(entry.value, device, non_blocking);
    for (auto& chunk : entry.chunks) chunk = chunk.to(device, non_blocking);
  }
  torch::nn::Module::to(device, non_blocking);
}

void Metric::reset() {
  auto& states = *states_;
  for (auto& entry : states.entries) {
    if (entry.reduce == Reduce::Cat) {
      entry.chunks.clear();
    } else {
      entry.value.copy_(entry.initial);
    }
  }
  states.updates = 0;
  ++states.generation;
  states.synced.reset();
  states.pending_checks.clear();
  batch_value_ = at::Tensor();
  computed_ = at::Tensor();
}

at::Device Metric::device_of_states() const {
  for (const auto& entry : states_->entries) {
    if (entry.value.defined()) return entry.value.device();
    if (!entry.chunks.empty()) return entry.chunks.front().device();
  }
  return at::kCPU;
}

std::shared_ptr<StateSet> Metric::synced_states() {
  const bool distributed = strategy_ && strategy_->world_size() > 1;
  if (!distributed) return states_;
  auto& states = *states_;
  if (!states.synced || states.synced_generation != states.generation) {
    states.synced = detail::sync_states(states, *strategy_, device_of_states(),
                                        [this](StateSet& into, const StateSet& other) { merge_custom(into, other); });
    states.synced_generation = states.generation;
  }
  return states.synced;
}

void Metric::with_states(const std::shared_ptr<StateSet>& states, const std::function<void()>& body) {
  std::shared_ptr<StateSet> local = states_;
  states_ = states;
  try {
    body();
  } catch (...) {
    states_ = std::move(local);
    throw;
  }
  states_ = std::move(local);
}

std::shared_ptr<StateSet> Metric::states_for_compute() {
  const bool distributed = strategy_ && strategy_->world_size() > 1;
  if (!distributed) {
    run_pending_checks(*states_);
  } else {
    // Every process takes part in the sync, even one that saw no batch; a process whose inputs
    // failed a check must not leave the others waiting in it, so all agree on failing first.
    std::string problem;
    try {
      run_pending_checks(*states_);
    } catch (const Error& error) {
      problem = error.what();
    }
    at::Tensor failed =
        at::full({1}, problem.empty() ? 0 : 1, at::TensorOptions().dtype(at::kLong).device(device_of_states()));
    strategy_->all_reduce(failed, ReduceOp::Max);
    if (failed.item<int64_t>() > 0) {
      throw Error(problem.empty() ? name_ + ": another process's inputs failed a check (its error names it)" : problem);
    }
  }
  std::shared_ptr<StateSet> states = synced_states();
  if (states->updates == 0) {
    fail("compute() before any update(): the metric has seen no data since it was created or reset");
  }
  return states;
}

at::Tensor Metric::compute() {
  if (computed_.defined() && computed_generation_ == states_->generation) return computed_;
  const std::shared_ptr<StateSet> states = states_for_compute();
  torch::NoGradGuard no_grad;
  at::Tensor value;
  with_states(states, [&] { value = compute_value(); });
  computed_ = value;
  computed_generation_ = states_->generation;
  return computed_;
}

at::Tensor Metric::forward_with(const std::function<void()>& update) {
  forward_group({this}, update);
  return batch_value_;
}

void Metric::forward_group(const std::vector<Metric*>& group, const std::function<void()>& update) {
  torch::NoGradGuard no_grad;
  Metric& leader = *group.front();
  if (leader.full_state_update()) update();
  const std::shared_ptr<StateSet> accumulated = leader.states_;
  const std::shared_ptr<StateSet> batch = accumulated->fresh();
  auto point_at = [&group](const std::shared_ptr<StateSet>& states) {
    for (Metric* metric : group) metric->states_ = states;
  };
  point_at(batch);
  try {
    update();
    // A value check of the batch stays pending (merged below): forward does not wait for it either.
    for (Metric* metric : group) metric->batch_value_ = metric->compute_value();
  } catch (...) {
    point_at(accumulated);
    throw;
  }
  point_at(accumulated);
  if (!leader.full_state_update()) leader.merge_states(*accumulated, *batch);
}

}  // namespace fulgur::metrics
