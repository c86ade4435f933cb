// What a c10d process group implementation (Gloo, NCCL) derives from — the one LibTorch 1.13 /
// 2.x difference of the distributed strategy, kept here beside it (the kernel's are fulgur/compat.h):
// LibTorch 2.x moved the collectives from ProcessGroup into Backend, which a ProcessGroup now wraps.
#pragma once

#include <torch/version.h>
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

namespace fulgur::compat {

#if TORCH_VERSION_MAJOR >= 2
using ProcessGroupBackend = c10d::Backend;
#else
using ProcessGroupBackend = c10d::ProcessGroup;
#endif

}  // namespace fulgur::compat
