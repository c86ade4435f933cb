// The fulgur half of the hook-order comparison with Lightning: runs one loop shape of a small
// classifier with hook_trace writing every hook to a file. lightning_hook_order.py runs the same
// shapes under Lightning's Trainer with a callback that records its hooks, and compares.
//
//   parity_hook_shapes SHAPE TRACE_FILE WORK_DIR
//   SHAPE: fit, validate, test, predict, resume (mid-epoch), resume_epoch (from an epoch's end)
#include <cstdio>
#include <string>

#include "fulgur/plugins/hook_trace.h"
#include "testing.h"

namespace {

fulgur::TrainerOptions shape_options(const std::string& root) {
  fulgur::TrainerOptions options;
  options.max_epochs(1);
  options.limit_train_batches(2);
  options.limit_val_batches(2);  // and the default sanity check of 2 batches
  options.limit_test_batches(2);
  options.limit_predict_batches(2);
  options.accelerator("cpu");
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  options.default_root_dir(root);
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s fit|validate|test|predict|resume TRACE_FILE WORK_DIR\n", argv[0]);
    return 2;
  }
  const std::string shape = argv[1], trace = argv[2], root = argv[3];
  try {
    auto data = fulgur::testing::make_blobs(32);
    auto train = fulgur::testing::make_loader(data, 4);
    auto val = fulgur::testing::make_loader(data, 4);
    fulgur::testing::TinyClassifier model;
    std::string ckpt;
    if (shape == "resume") {
      // A checkpoint written after the first training batch, mid-epoch, by model_checkpoint.
      auto options = shape_options(root + "/first");
      options.plugins().push_back(
          fulgur::PluginSpec::parse("model_checkpoint:every_n_train_steps=1,save_top_k=-1,dirpath=" + root + "/first"));
      fulgur::Trainer first(options);
      first.fit(model, train, val);
      ckpt = root + "/first/epoch=0-step=1.ckpt";
    }
    if (shape == "resume_epoch") {
      // The end-of-epoch checkpoint of a whole first epoch; the traced run trains the second.
      auto options = shape_options(root + "/first");
      fulgur::Trainer first(options);
      first.fit(model, train, val);
      ckpt = root + "/first/checkpoints/epoch=0-step=2.ckpt";
    }
    auto options = shape_options(root + "/traced");
    if (shape == "resume_epoch") options.max_epochs() = 2;
    options.plugins().push_back(fulgur::plugins::HookTraceOptions{trace}.spec());
    fulgur::Trainer trainer(options);
    if (shape == "fit" || shape == "resume" || shape == "resume_epoch") {
      trainer.fit(model, train, val, ckpt);
    } else if (shape == "validate") {
      trainer.validate(model, val);
    } else if (shape == "test") {
      trainer.test(model, val);
    } else if (shape == "predict") {
      trainer.predict(model, val);
    } else {
      std::fprintf(stderr, "unknown shape '%s'\n", shape.c_str());
      return 2;
    }
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
