// Hard faults around a run: a plugin that fails while the run is failing, something thrown that
// is not a std::exception, a second Ctrl-C, a file-size limit, a full disk, a bad data file, a
// checkpoint with impossible loop counters, another run's files. Each ends in a clear error (or
// the documented behaviour), never a crash, a hang or lost work.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fulgur/atomic_write.h"
#include "fulgur/checkpoint.h"
#include "fulgur/csv_dataset.h"
#include "fulgur/error.h"
#include "testing.h"

extern char** environ;

namespace fulgur {
namespace {

namespace fs = std::filesystem;
using testing::error_of;

#define EXPECT_MENTIONS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

struct Failing : testing::TinyClassifier {
  torch::Tensor training_step(const Batch& batch, int64_t index) override {
    if (index == 1) throw std::runtime_error("the step failed on purpose");
    return TinyClassifier::training_step(batch, index);
  }
};

// A plugin whose on_exception slot fails (while the run is failing already).
struct ThrowsOnException : Plugin {
  std::string name() const override { return "throws_on_exception"; }
  void attach(HookBus& bus) override {
    connect(bus.on_exception, [](ExceptionHook&) { throw std::runtime_error("this plugin fails too"); });
  }
};

TEST(HardFaults, EverySlotOfOnExceptionRunsWhateverOneThrows) {
  const auto root = testing::temp_dir("on_exception_slots");
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  Failing model;
  auto options = testing::quiet_options(2);
  options.default_root_dir(root);
  Trainer trainer(options);
  trainer.add_plugin(std::make_unique<ThrowsOnException>());
  trainer.add_plugin(PluginSpec{"on_exception_checkpoint", {}});  // connected after the failing slot
  std::string message;
  try {
    trainer.fit(model, train);
  } catch (const std::exception& error) {
    message = error.what();
  }
  EXPECT_MENTIONS(message, "the step failed on purpose");  // the run's own error, not the plugin's
  EXPECT_TRUE(fs::exists(root + "/checkpoints/on_exception.ckpt"));
}

TEST(HardFaults, SomethingThatIsNotAStdExceptionEndsTheRunWithAClearError) {
  struct ThrowsAnInt : testing::TinyClassifier {
    torch::Tensor training_step(const Batch&, int64_t) override { throw 42; }
  };
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  ThrowsAnInt model;
  Trainer trainer(testing::quiet_options(1));
  auto& recorder = static_cast<testing::HookRecorder&>(trainer.add_plugin(std::make_unique<testing::HookRecorder>()));
  EXPECT_MENTIONS(error_of([&] { trainer.fit(model, train); }), "threw something that is not a std::exception");
  EXPECT_NE(std::find_if(recorder.calls.begin(), recorder.calls.end(),
                         [](const std::string& call) { return call.rfind("on_exception", 0) == 0; }),
            recorder.calls.end());

  struct SlotThrowsAnInt : Plugin {
    std::string name() const override { return "int_thrower"; }
    void attach(HookBus& bus) override {
      connect(bus.on_train_epoch_start, [](EpochHook&) { throw "a string literal"; });
    }
  };
  testing::TinyClassifier fine;
  Trainer other(testing::quiet_options(1));
  other.add_plugin(std::make_unique<SlotThrowsAnInt>());
  EXPECT_MENTIONS(error_of([&] { other.fit(fine, train); }),
                  "plugin 'int_thrower': its on_train_epoch_start slot threw something that is not a std::exception");
}

// --- signals ------------------------------------------------------------------------------------

pid_t spawn(const std::vector<std::string>& arguments) {
  std::vector<char*> argv;
  for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  return pid;
}

// The child's wait status, or -1 if it is still running after `seconds`.
int wait_for(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

TEST(HardFaults, ASecondSigtermEndsAStepThatNeverReturns) {
  // The step never reaches the safe point where the first signal's flag is read (as a step stuck
  // in OpenBLAS's endless allocation retries under an address-space limit).
  const auto ready = testing::temp_dir("stuck_step") + "/ready";
  const pid_t pid = spawn({FULGUR_STUCK_STEP, ready});
  for (int i = 0; i < 600 && !fs::exists(ready); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(ready));
  ::kill(pid, SIGTERM);
  EXPECT_EQ(wait_for(pid, 1.0), -1);  // the first signal only asks for a stop at the next safe point
  ::kill(pid, SIGTERM);
  const int status = wait_for(pid, 10.0);
  if (status == -1) ::kill(pid, SIGKILL), ::waitpid(pid, nullptr, 0);
  ASSERT_NE(status, -1) << "the second SIGTERM did not end the process";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
}

// --- files --------------------------------------------------------------------------------------

// RLIMIT_FSIZE for this process while it lives (`ulimit -f`).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &previous_);
    rlimit limit = previous_;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() { ::setrlimit(RLIMIT_FSIZE, &previous_); }

 private:
  rlimit previous_{};
};

TEST(HardFaults, AFailedAppendNamesTheReasonAndLeavesWholeRows) {
  const auto path = testing::temp_dir("append") + "/metrics.csv";
  append_to_file(path, "epoch,step\n0,1\n", "log file");
  {
    const FileSizeLimit limit(fs::file_size(path) + 5);
    EXPECT_MENTIONS(error_of([&] { append_to_file(path, "0,2\n0,3\n", "log file"); }), "File too large");
  }
  EXPECT_EQ(testing::read_lines(path), (std::vector<std::string>{"epoch,step", "0,1"}));
}

TEST(HardFaults, LoggersUnderAFileSizeLimitFailWithAReasonInsteadOfDying) {
  // SIGXFSZ killed the process without a word when a logger's write crossed `ulimit -f`.
  const auto root = testing::temp_dir("fsize_loggers");
  auto data = testing::make_blobs(64);
  auto train = testing::make_loader(data, 4);
  testing::TinyClassifier model;
  auto options = testing::quiet_options(40);
  options.default_root_dir(root);
  options.log_every_n_steps(1);
  options.plugins(
      {PluginSpec{"csv_logger", {{"flush_logs_every_n_steps", "1"}}}, PluginSpec{"tensorboard_logger", {}}});
  Trainer trainer(options);
  std::string message;
  {
    const FileSizeLimit limit(4096);
    message = error_of([&] { trainer.fit(model, train); });
  }
  EXPECT_MENTIONS(message, "File too large");
  const auto lines = testing::read_lines(root + "/lightning_logs/version_0/metrics.csv");
  ASSERT_FALSE(lines.empty());
  const auto commas = [](const std::string& line) { return std::count(line.begin(), line.end(), ','); };
  for (const auto& line : lines) EXPECT_EQ(commas(line), commas(lines.front())) << line;  // no torn row
}

TEST(HardFaults, ALoggerFolderThatCannotBeMadeNamesTheReason) {
  // Under a file, no folder can be made; the reason used to be lost ("No such file or directory").
  const auto root = testing::temp_dir("logger_folder");
  std::ofstream(root + "/file") << "not a folder";
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  testing::TinyClassifier model;
  auto options = testing::quiet_options(1);
  options.default_root_dir(root + "/file/below");
  options.plugins({PluginSpec{"csv_logger", {}}});
  Trainer trainer(options);
  const auto message = error_of([&] { trainer.fit(model, train); });
  EXPECT_MENTIONS(message, "cannot be created: Not a directory");
}

TEST(HardFaults, ANulByteInACsvNamesItsLineAndColumn) {
  const auto path = testing::temp_dir("csv_nul") + "/table.csv";
  const char text[] = "a,b,c\n1,2,3\n4,5\0,6\n7,8,9\n";
  std::ofstream(path) << std::string(text, sizeof text - 1);
  EXPECT_MENTIONS(error_of([&] { CsvDataset dataset(path); }), "table.csv: line 3, column 2: a NUL byte");
}

// --- checkpoints --------------------------------------------------------------------------------

std::string checkpoint_after_one_epoch(const std::string& root, testing::TinyClassifier& model, DataLoader& train) {
  auto options = testing::quiet_options(1);
  options.default_root_dir(root);
  Trainer trainer(options);
  trainer.fit(model, train);
  trainer.save_checkpoint(root + "/one.ckpt");
  return root + "/one.ckpt";
}

TEST(HardFaults, ImpossibleLoopCountersAreNamedOrTrainNothingWithAWarning) {
  const auto root = testing::temp_dir("loop_counters");
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  testing::TinyClassifier model;
  auto checkpoint = read_checkpoint(checkpoint_after_one_epoch(root, model, train));
  auto fit_loop = checkpoint.at("loops").toGenericDict().at("fit_loop").toGenericDict();
  fit_loop.insert_or_assign("next_batch", int64_t{1000000000});
  write_checkpoint(checkpoint, root + "/far_batch.ckpt");
  testing::TinyClassifier resumed;
  Trainer trainer(testing::quiet_options(3));
  EXPECT_MENTIONS(error_of([&] { trainer.fit(resumed, train, nullptr, root + "/far_batch.ckpt"); }),
                  "resumes epoch 1 after batch 1000000000, but an epoch here has 4 training batches");

  fit_loop.insert_or_assign("next_batch", int64_t{0});
  fit_loop.insert_or_assign("next_epoch", int64_t{1} << 62);
  write_checkpoint(checkpoint, root + "/far_epoch.ckpt");
  testing::TinyClassifier far;
  Trainer again(testing::quiet_options(3));
  again.fit(far, train, nullptr, root + "/far_epoch.ckpt");
  EXPECT_TRUE(testing::flat_parameters(far).equal(testing::flat_parameters(model)));  // nothing trained
}

TEST(HardFaults, OutOfMemoryWhileACheckpointIsBuiltIsAnErrorNotAnAbort) {
  // Under an address-space limit the archive cannot be built; LibTorch 1.13's writer used to
  // throw again from its destructor and end the process in std::terminate.
  std::string output;
  FILE* pipe =
      ::popen((std::string(FULGUR_OOM_CHECKPOINT) + " " + testing::temp_dir("oom") + "/big.ckpt 2>&1").c_str(), "r");
  char buffer[4096];
  while (pipe && std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pipe ? ::pclose(pipe) : -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_MENTIONS(output, "out of memory while building it");
}

TEST(HardFaults, AResumedRunDeletesOnlyFilesItsOwnRunWrote) {
  // Without a logger, runs share <root>/checkpoints. A checkpoint whose best_k_models names
  // another run's file there made the resumed run delete it.
  const auto root = testing::temp_dir("foreign_best_k");
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  auto options = testing::quiet_options(1);
  options.default_root_dir(root);
  options.enable_checkpointing(true);
  options.plugins({PluginSpec{"model_checkpoint", {{"save_top_k", "1"}, {"monitor", "train_loss"}}}});
  testing::TinyClassifier other_model;
  Trainer other_run(options);
  other_run.fit(other_model, train);
  const std::string foreign = root + "/checkpoints/epoch=0-step=4.ckpt";
  ASSERT_TRUE(fs::exists(foreign));
  fs::rename(foreign, root + "/checkpoints/other-run.ckpt");

  testing::TinyClassifier model;
  Trainer first(options);
  first.fit(model, train);
  const std::string own = root + "/checkpoints/epoch=0-step=4.ckpt";
  auto checkpoint = read_checkpoint(own);
  auto state = plugin_state(checkpoint, "model_checkpoint");
  StateDict listed = make_state_dict();
  listed.insert(root + "/checkpoints/other-run.ckpt", 1.0e9);  // the worst score: the first file to drop
  listed.insert(own, 1.0e8);
  state.insert_or_assign("best_k_models", listed);
  write_checkpoint(checkpoint, root + "/crafted.ckpt");

  auto more = options;
  more.max_epochs(4);
  testing::TinyClassifier resumed;
  Trainer second(more);
  second.fit(resumed, train, nullptr, root + "/crafted.ckpt");
  EXPECT_TRUE(fs::exists(root + "/checkpoints/other-run.ckpt"));
  EXPECT_FALSE(fs::exists(own));  // its own run's file is managed as before: a better one replaced it
}

}  // namespace
}  // namespace fulgur
