// Test helper: writes checkpoints to argv[1] in an endless loop until it is killed. Checkpoint i
// holds a 4 MB tensor filled with i and epoch = i, so a reader can tell a torn file from a whole one.
#include <cstdio>

#include <torch/torch.h>

#include "fulgur/checkpoint.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: checkpoint_writer PATH\n");
    return 2;
  }
  for (int64_t i = 0;; ++i) {
    fulgur::Checkpoint checkpoint = fulgur::make_state_dict();
    fulgur::StateDict weights = fulgur::make_state_dict();
    weights.insert("w", torch::full({1 << 20}, static_cast<float>(i)));
    checkpoint.insert("fulgur_version", std::string("test"));
    checkpoint.insert("epoch", i);
    checkpoint.insert("global_step", i);
    checkpoint.insert("state_dict", weights);
    checkpoint.insert("loops", fulgur::make_state_dict());
    fulgur::write_checkpoint(checkpoint, argv[1]);
  }
}
