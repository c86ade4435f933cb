#include "interrupt_guard.h"

#include "fulgur/strategy.h"

namespace fulgur::detail {
namespace {

volatile std::sig_atomic_t received = 0;

extern "C" void remember_signal(int signal) { received = signal; }

}  // namespace

InterruptGuard::InterruptGuard() {
  received = 0;
  struct sigaction action {};
  action.sa_handler = remember_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_int_);
  sigaction(SIGTERM, &action, &previous_term_);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &previous_int_, nullptr);
  sigaction(SIGTERM, &previous_term_, nullptr);
}

int InterruptGuard::pending() { return received; }

}  // namespace fulgur::detail

namespace fulgur {

int interrupt_received() { return detail::InterruptGuard::pending(); }

}  // namespace fulgur
