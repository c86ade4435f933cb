// cuda_graph: runs each training step as one replayed CUDA graph. After a few eager warm-up
// steps it captures the whole automatic step — training_step's forward and loss, backward, the
// gradient clipping and optimizer step, with the device work of every hook inside it — over
// static copies of the batch, then replays the capture for each batch, copying the batch in.
// Each step then costs one graph launch on the host instead of hundreds of kernel launches.
//
//   --plugin cuda_graph:warmup_steps=3,last_batch=eager
//   trainer.add_plugin(fulgur::plugins::CudaGraphOptions());
//
// What a replay cannot do is refused with the reason at the start of the fit or at capture: a
// run off the GPU, manual optimization, several optimizers, an optimizer whose update reads
// host-side state (Adam's step count), the 16-mixed scaler's skip decision, detect_anomaly,
// several processes, a step that waits for the GPU (.item(), a branch on a tensor's value),
// a metric object logged in training_step, and a batch whose shapes change before the epoch's
// last. Values logged in training_step are logged again after each replay; hooks inside the
// step run on the host only while it is captured. A change of learning rate (a scheduler) or
// of the optimizer's tensors (a checkpoint loaded) is seen before the next replay and the step
// is captured again.
#pragma once

#include <cstdint>
#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct CudaGraphOptions : DeclaredOptions<CudaGraphOptions> {
  FULGUR_OPTIONS_OF("cuda_graph");
  FULGUR_OPTION(int64_t, warmup_steps, 3,
                "Eager steps before the first capture, on the capture's stream, so that libraries set up their "
                "workspaces outside it (at least 1: an optimizer's state must exist before it is captured).");
  FULGUR_OPTION(std::string, last_batch, "eager",
                "A batch whose shapes differ from the captured ones at an epoch's end: eager runs it without the "
                "graph, drop skips it (with accumulate_grad_batches=1).");
};

}  // namespace fulgur::plugins
