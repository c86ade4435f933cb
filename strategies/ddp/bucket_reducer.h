// The gradient all-reduce of ddp: averaged over the ranks a bucket at a time, overlapped with
// backward as PyTorch's Reducer does it, or all at the optimizer step.
//
// Parameters are grouped into buckets of about bucket_mb in reverse order (the order backward
// reaches them). A hook after each parameter's gradient accumulation counts down its bucket; a
// bucket whose gradients are all in starts its all-reduce at once, while backward goes on, and
// buckets start strictly in order, so every rank issues the same collectives in the same order
// (Gloo matches them by order). Only the last micro-batch of an accumulation window reduces:
// the others leave the hooks idle. At the optimizer step, buckets backward did not complete (a
// parameter this rank's batch did not reach: its gradient is taken as zero) start then, every
// bucket is waited for, and its average is copied back into the gradients. The last bucket
// carries a few extra values, the rank's flags (interrupt and checkpoint request: see
// Strategy::agreed_interrupt). Made with during_backward=false, no hooks are added and every
// bucket starts at the step (manual optimization, several optimizers, overlap=false).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

namespace torch::autograd {
struct Node;
}

namespace fulgur::strategies {

class BucketReducer {
 public:
  /// The values the last bucket carries besides gradients: this rank's interrupt flag and its
  /// checkpoint-request flag (0 or 1 each); finish() returns their means over the ranks.
  static constexpr int64_t kFlagCount = 2;
  using Flags = std::array<double, kFlagCount>;
  /// Starts a sum all-reduce of `flat`; may replace it by the copy it reduces (a host copy for
  /// Gloo), which finish() then reads.
  using Launch = std::function<c10::intrusive_ptr<c10d::Work>(at::Tensor& flat)>;
  /// Waits for a started all-reduce, turning a failure into fulgur::Error.
  using Wait = std::function<void(const c10::intrusive_ptr<c10d::Work>&)>;

  BucketReducer(const std::vector<at::Tensor>& parameters, int64_t bucket_bytes, Launch launch,
                std::function<Flags()> flags, bool during_backward);
  ~BucketReducer();
  BucketReducer(const BucketReducer&) = delete;
  BucketReducer& operator=(const BucketReducer&) = delete;

  /// Before each micro-batch's backward: whether this one ends the window (and so reduces).
  void begin_micro_batch(bool reduces);
  /// At the optimizer step: starts what backward did not, waits for all, averages the gradients
  /// over `world_size` ranks. Returns the ranks' mean of each flag (a tensor where the last
  /// bucket was reduced: reading it from a GPU waits for the device).
  at::Tensor finish(int64_t world_size, const Wait& wait);

  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  /// Buckets whose all-reduce started during the last backward (the overlap achieved).
  int64_t started_in_backward() const { return started_in_backward_; }

 private:
  struct Bucket {
    std::vector<at::Tensor> parameters;
    int64_t pending = 0;
    at::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
  };
  class ReadyHook;

  void parameter_ready(std::size_t bucket);
  void start(std::size_t bucket);

  std::vector<Bucket> buckets_;
  Launch launch_;
  std::function<Flags()> flags_;
  std::vector<std::pair<std::shared_ptr<torch::autograd::Node>, uintptr_t>> hooks_;
  std::size_t next_to_start_ = 0;
  bool reducing_ = false;
  int64_t started_in_backward_ = 0;
};

}  // namespace fulgur::strategies
