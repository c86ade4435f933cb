// Test helper: a fit whose first training step never returns (as a step stuck in a library that
// retries for ever). It writes argv[1] when the step has started; hard_faults_test then signals it.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "testing.h"

namespace {

struct Stuck : fulgur::testing::TinyClassifier {
  std::string ready;
  torch::Tensor training_step(const fulgur::Batch&, int64_t) override {
    std::ofstream(ready) << "stuck\n";
    for (;;) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: stuck_step READY_FILE\n");
    return 2;
  }
  auto data = fulgur::testing::make_blobs(8);
  auto train = fulgur::testing::make_loader(data, 4);
  Stuck model;
  model.ready = argv[1];
  fulgur::Trainer trainer(fulgur::testing::quiet_options(1));
  trainer.fit(model, train);
  return 0;
}
