// fulgur::Strategy: how the processes of one training run talk to each other.
//
// A strategy is a plugin that is also a Strategy (the ddp plugin in strategies/ddp). The
// Trainer finds it among its plugins and uses it for what the loop itself must agree on:
// sharding the data, writing checkpoints and logs on rank 0 only, reducing metrics logged with
// sync_dist, and stopping on all ranks together. Without one the run is a single process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <boost/config.hpp>

namespace fulgur {

enum class ReduceOp { Sum, Mean, Max, Min };

/// The SIGINT or SIGTERM this process received while a fit runs (the Trainer turns them into a
/// flag), or 0: what a strategy reports to the other ranks (see Strategy::agreed_interrupt).
int interrupt_received();
/// How many SIGUSR1 this process received while a fit runs: each asks for a checkpoint
/// (preemption, SLURM's --signal=USR1@90) at the next batch boundary, training going on.
int64_t save_requests_received();

class BOOST_SYMBOL_VISIBLE Strategy {
 public:
  virtual ~Strategy() = default;

  virtual int64_t global_rank() const = 0;
  virtual int64_t local_rank() const = 0;
  virtual int64_t world_size() const = 0;

  /// Reduces `tensor` in place across all processes. Throws fulgur::Error when another process
  /// failed or the strategy's timeout passed.
  virtual void all_reduce(at::Tensor& tensor, ReduceOp op) = 0;
  /// Every process's `tensor`, in rank order. Each process passes a tensor of the same shape
  /// and dtype (the metrics library exchanges sizes first for tensors that differ).
  virtual std::vector<at::Tensor> all_gather(const at::Tensor& tensor) = 0;
  /// Copies `tensor` from process `root` to all others, in place.
  virtual void broadcast(at::Tensor& tensor, int64_t root) = 0;
  /// Waits until every process reached it; `where` names the place in errors.
  virtual void barrier(const std::string& where) = 0;

  /// Stopping on SIGINT/SIGTERM. A signal reaches one process (`kill PID` of the one a user
  /// started), but every rank must leave the loop at the same batch, or the others would wait
  /// in a collective until the timeout. The Trainer asks this at each training batch boundary;
  /// the strategy carries its process's interrupt_received() along with a collective it runs
  /// anyway and answers whether any rank had reported one by the last such exchange. Every rank
  /// gets the same answer at the same batch. One process: its own signal.
  virtual bool agreed_interrupt() { return interrupt_received() != 0; }
  /// Checkpoint requests (SIGUSR1) the ranks have agreed on so far, carried the same way: the
  /// count grows on every rank after the same batch, by one for each exchange in which some rank
  /// reported a request it had not reported before. One process: its own count.
  virtual int64_t agreed_save_requests() { return save_requests_received(); }

  /// Whether collectives may be called under c10::InferenceMode. Gloo runs them on threads of
  /// its own, where InferenceMode (thread-local) is off, and then fails to update the inference
  /// tensors it was given: the evaluation loops use NoGradGuard instead, as Lightning does.
  virtual bool collectives_allow_inference_mode() const { return true; }
};

}  // namespace fulgur
