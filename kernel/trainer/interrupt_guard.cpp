#include "interrupt_guard.h"

#include <unistd.h>

#include <cstddef>

#include "fulgur/strategy.h"

namespace fulgur::detail {
namespace {

volatile std::sig_atomic_t received = 0;
volatile std::sig_atomic_t save_request_count = 0;

void say(const char* text, std::size_t length) {
  const ssize_t ignored = ::write(STDERR_FILENO, text, length);
  (void)ignored;
}

// Only async-signal-safe calls here: write, sigaction, raise.
extern "C" void remember_signal(int signal) {
  if (received != 0) {
    // The second signal: the run did not reach a safe point since the first (a step stuck in a
    // library that retries for ever, a hung collective). As a second Ctrl-C in Lightning, the
    // process ends now, of this signal (exit status 128 + its number).
    static const char text[] = "\nfulgur: second interrupt: stopping now, without saving\n";
    say(text, sizeof text - 1);
    struct sigaction fallback {};
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    ::sigaction(signal, &fallback, nullptr);
    ::raise(signal);  // delivered when this handler returns
    return;
  }
  received = signal;
  static const char text[] =
      "\nfulgur: interrupt received: stopping after the current step (send it again to stop at once)\n";
  say(text, sizeof text - 1);
}

extern "C" void count_save_request(int) {
  save_request_count = save_request_count + 1;
  static const char text[] = "\nfulgur: SIGUSR1 received: saving a checkpoint after the current step\n";
  say(text, sizeof text - 1);
}

}  // namespace

InterruptGuard::InterruptGuard() {
  received = 0;
  save_request_count = 0;
  struct sigaction request {};
  request.sa_handler = count_save_request;
  sigemptyset(&request.sa_mask);
  sigaction(SIGUSR1, &request, &previous_usr1_);
  struct sigaction action {};
  action.sa_handler = remember_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_int_);
  sigaction(SIGTERM, &action, &previous_term_);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &previous_int_, nullptr);
  sigaction(SIGTERM, &previous_term_, nullptr);
  sigaction(SIGUSR1, &previous_usr1_, nullptr);
}

int InterruptGuard::pending() { return received; }

int64_t InterruptGuard::save_requests() { return save_request_count; }

}  // namespace fulgur::detail

namespace fulgur {

int interrupt_received() { return detail::InterruptGuard::pending(); }

int64_t save_requests_received() { return detail::InterruptGuard::save_requests(); }

}  // namespace fulgur
