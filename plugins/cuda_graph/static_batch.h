// StaticBatch: the inputs a captured CUDA graph reads. A graph replays fixed addresses, so the
// plugin owns one copy of the batch's tensors, and each later batch is copied into it — which
// needs the same structure, shapes, dtypes and devices, and the same non-tensor values (a number
// or string read by the step on the host is frozen into the graph).
#pragma once

#include <string>

#include <c10/core/DeviceType.h>

#include "fulgur/batch.h"

namespace fulgur::plugins::cuda_graph {

/// The path of the first tensor of `batch` that is not on a device of `type` ("batch[1]",
/// "batch[\"mask\"]"), and its device; empty when all are.
std::string first_tensor_off(const Batch& batch, c10::DeviceType type);

class StaticBatch {
 public:
  /// Copies every tensor of `first` into tensors of its own.
  explicit StaticBatch(const Batch& first);

  /// The batch the step runs on while it is captured.
  const Batch& inputs() const { return inputs_; }
  /// Why `batch` cannot be copied in, e.g. "batch[0] is tensor[32, 4] float, the captured one
  /// tensor[64, 4] float"; empty when it can.
  std::string mismatch(const Batch& batch) const;
  /// Copies the tensors of `batch` into the static ones (queued on the stream, no allocation);
  /// mismatch(batch) must be empty.
  void copy_from(const Batch& batch);

 private:
  Batch inputs_;
};

}  // namespace fulgur::plugins::cuda_graph
