#include "fulgur/loop_state.h"

#include "checkpoint_entries.h"

namespace fulgur {

FitPosition FitPosition::start(int64_t max_epochs, int64_t accumulate_grad_batches) {
  FitPosition position;
  position.max_epochs = max_epochs;
  position.accumulate_grad_batches = accumulate_grad_batches;
  return position;
}

StateDict FitPosition::fit_loop_entry() const {
  StateDict fit_loop = make_state_dict();
  fit_loop.insert("next_epoch", next_epoch);
  fit_loop.insert("next_batch", next_batch);
  fit_loop.insert("train_batches_seen", train_batches_seen);
  return fit_loop;
}

FitPosition FitPosition::resumed_from(const Checkpoint& checkpoint, const FitPosition& current,
                                      const std::string& path) {
  const StateDict fit_loop = detail::dict_entry(detail::dict_entry(checkpoint, "loops", path), "fit_loop", path);
  FitPosition position = current;
  position.global_step = detail::count_entry(checkpoint, "global_step", path);
  position.train_batches_seen = detail::count_entry(fit_loop, "train_batches_seen", path);
  position.current_epoch = position.next_epoch = detail::count_entry(fit_loop, "next_epoch", path);
  position.resume_batches = position.next_batch = detail::count_entry(fit_loop, "next_batch", path);
  position.resume_rng_state = detail::generator_state_entry(checkpoint, path);
  return position;
}

}  // namespace fulgur
