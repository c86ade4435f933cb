// Turns SIGINT and SIGTERM into a flag the loop checks at its next safe point, so that an
// interrupted fit ends through on_exception (where a checkpoint can be saved) instead of dying
// mid-write. A second signal before that point ends the process at once (a step stuck for ever
// never reaches it). SIGUSR1 (a scheduler's warning before preemption) is counted: each asks for
// a checkpoint at the next safe point, training going on. The previous handlers are restored
// when the guard goes.
#pragma once

#include <csignal>

namespace fulgur::detail {

class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  /// The signal received since the guard was made, or 0.
  static int pending();
  /// SIGUSR1 received since the guard was made.
  static int64_t save_requests();

 private:
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
  struct sigaction previous_usr1_ {};
};

}  // namespace fulgur::detail
