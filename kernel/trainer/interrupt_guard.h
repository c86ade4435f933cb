// Turns SIGINT and SIGTERM into a flag the loop checks at its next safe point, so that an
// interrupted fit ends through on_exception (where a checkpoint can be saved) instead of dying
// mid-write. A second signal before that point ends the process at once (a step stuck for ever
// never reaches it). The previous handlers are restored when the guard goes.
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

 private:
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
};

}  // namespace fulgur::detail
