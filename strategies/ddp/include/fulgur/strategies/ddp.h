// ddp: PyTorch's DistributedDataParallel recipe on c10d — one process per device, gradients
// averaged by all-reduce over a c10d process group: Gloo (TCP; CUDA tensors go through host
// copies) or, in CUDA builds compiled with NCCL, NCCL on the GPUs; rendezvous through c10d's
// TCPStore.
//
//   digits --strategy ddp --devices 2           # starts rank 1 itself (re-runs the program)
//   torchrun-style: MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, NODE_RANK set by a
//   launcher (or SLURM's SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID / SLURM_NODEID)
//
// Each process gets its share of the data (the Trainer shards the loaders), starts from rank 0's
// weights, and all-reduces the gradients in buckets of `bucket_mb` (flattened, one collective per
// bucket, averaged) — each bucket as soon as backward has produced all its gradients, while
// backward goes on (overlap), on the last micro-batch of an accumulation window only; the step
// waits for them before loss-scale unscaling and clipping (slot group Strategy).
// A rank that dies or throws makes the others fail with a clear error within `timeout` seconds.
#pragma once

#include <cstdint>
#include <string>

#include "fulgur/options.h"

namespace fulgur::strategies {

struct DDPOptions : DeclaredOptions<DDPOptions> {
  FULGUR_OPTIONS_OF("ddp");
  FULGUR_OPTION(int64_t, devices, 2, "Processes per machine; the world size is devices x num_nodes.", at_least(1));
  FULGUR_OPTION(int64_t, num_nodes, 1, "Machines taking part.", at_least(1));
  FULGUR_OPTION(double, timeout, 60.0, "Seconds a collective (or the rendezvous) may wait for the other ranks.");
  FULGUR_OPTION(std::string, backend, "auto",
                "gloo, nccl (CUDA builds compiled with NCCL), or auto: nccl when the run is on CUDA and this build "
                "has it, else gloo.");
  FULGUR_OPTION(std::string, accelerator, "auto", "The Trainer's accelerator, which auto follows.");
  FULGUR_OPTION(double, bucket_mb, 25.0,
                "Gradient bucket size in MB (PyTorch DDP's default: fewer, larger collectives are cheaper).");
  FULGUR_OPTION(bool, overlap, true,
                "Start each bucket's all-reduce during backward (PyTorch's Reducer); false reduces all buckets at "
                "the optimizer step. Manual optimization always reduces at the step.");
};

}  // namespace fulgur::strategies
