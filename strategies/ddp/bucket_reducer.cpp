// The bucketed gradient all-reduce (see bucket_reducer.h).
#include "bucket_reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

namespace fulgur::strategies {

// Runs after AccumulateGrad has added this micro-batch's gradient into .grad (a post hook of the
// parameter's gradient accumulator, as PyTorch's Reducer registers it).
class BucketReducer::ReadyHook : public torch::autograd::FunctionPostHook {
 public:
  ReadyHook(BucketReducer& reducer, std::size_t bucket) : reducer_(reducer), bucket_(bucket) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    reducer_.parameter_ready(bucket_);
    return outputs;
  }

 private:
  BucketReducer& reducer_;
  std::size_t bucket_;
};

BucketReducer::BucketReducer(const std::vector<at::Tensor>& parameters, int64_t bucket_bytes, Launch launch,
                             std::function<Flags()> flags, bool during_backward)
    : launch_(std::move(launch)), flags_(std::move(flags)) {
  // Reverse order: the last layers' gradients are ready first.
  int64_t bytes = 0;
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    const at::Tensor& parameter = *it;
    if (!parameter.requires_grad()) continue;
    const bool new_bucket = buckets_.empty() || bytes >= bucket_bytes ||
                            parameter.scalar_type() != buckets_.back().parameters.front().scalar_type() ||
                            parameter.device() != buckets_.back().parameters.front().device();
    if (new_bucket) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().parameters.push_back(parameter);
    bytes += parameter.numel() * static_cast<int64_t>(parameter.element_size());
  }
  if (!during_backward) return;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    for (const auto& parameter : buckets_[b].parameters) {
      auto accumulator = torch::autograd::impl::grad_accumulator(parameter);
      const uintptr_t key = accumulator->add_post_hook(std::make_unique<ReadyHook>(*this, b));
      // Holding the accumulator keeps it (and the hook) for the parameter's later backward passes.
      hooks_.emplace_back(std::move(accumulator), key);
    }
  }
}

BucketReducer::~BucketReducer() {
  // The hooks' code lives in this plugin: they leave before it can be unloaded.
  for (auto& [accumulator, key] : hooks_) accumulator->del_post_hook(key);
}

void BucketReducer::begin_micro_batch(bool reduces) {
  reducing_ = reduces;
  next_to_start_ = 0;
  started_in_backward_ = 0;
  for (auto& bucket : buckets_) {
    bucket.pending = static_cast<int64_t>(bucket.parameters.size());
    bucket.flat = at::Tensor();
    bucket.work.reset();
  }
}

void BucketReducer::parameter_ready(std::size_t bucket) {
  if (!reducing_ || bucket >= buckets_.size() || --buckets_[bucket].pending != 0) return;
  // Strictly in bucket order, so that every rank's collectives line up.
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].pending <= 0) {
    start(next_to_start_++);
    ++started_in_backward_;
  }
}

void BucketReducer::start(std::size_t index) {
  torch::NoGradGuard no_grad;
  Bucket& bucket = buckets_[index];
  std::vector<at::Tensor> flat_views;
  for (auto& parameter : bucket.parameters) {
    // A parameter this rank's batch did not reach still takes part, with a zero gradient.
    if (!parameter.grad().defined()) parameter.mutable_grad() = torch::zeros_like(parameter);
    flat_views.push_back(parameter.grad().reshape({-1}));
  }
  if (index + 1 == buckets_.size()) {
    // Filled where the gradients are: no host-to-device copy in the step.
    for (const double value : flags_()) flat_views.push_back(torch::full({1}, value, flat_views.front().options()));
  }
  bucket.flat = torch::cat(flat_views);
  bucket.work = launch_(bucket.flat);
}

at::Tensor BucketReducer::finish(int64_t world_size, const Wait& wait) {
  torch::NoGradGuard no_grad;
  while (next_to_start_ < buckets_.size()) start(next_to_start_++);
  at::Tensor flag;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    wait(bucket.work);
    bucket.flat.div_(static_cast<double>(world_size));
    int64_t offset = 0;
    for (auto& parameter : bucket.parameters) {
      at::Tensor grad = parameter.mutable_grad();
      grad.copy_(bucket.flat.narrow(0, offset, grad.numel()).view_as(grad));
      offset += grad.numel();
    }
    if (b + 1 == buckets_.size()) flag = bucket.flat.narrow(0, offset, kFlagCount);
    bucket.flat = at::Tensor();
    bucket.work.reset();
  }
  reducing_ = false;
  return flag;
}

}  // namespace fulgur::strategies
