// Jobs that are stopped and started again with the same command: ckpt_path "last" finds the
// newest checkpoint of the experiment, "hpc" the newest preemption checkpoint; SIGUSR1 saves one
// and requeues the job under SLURM; a run killed with SIGKILL five times ends on the weights and
// the log rows of an uninterrupted run.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "fulgur/checkpoint.h"
#include "fulgur/checkpoint_search.h"
#include "fulgur/error.h"
#include "testing.h"

extern char** environ;

namespace fulgur {
namespace {

namespace fs = std::filesystem;
using testing::error_of;

struct Folder {
  testing::Blobs data = testing::make_blobs(16);
  TensorDataLoader train = testing::make_loader(data, 4);  // 4 steps per epoch
  std::string dir;
  explicit Folder(const std::string& name) : dir(testing::temp_dir(name)) {}
  TrainerOptions options(int64_t epochs, bool logger = true) const {
    TrainerOptions options = testing::quiet_options(epochs);
    options.default_root_dir(dir);
    options.enable_checkpointing(true);
    if (logger) options.plugins({PluginSpec::parse("csv_logger")});
    return options;
  }
};

torch::Tensor trained(Folder& folder, int64_t epochs, const std::string& ckpt_path = "") {
  torch::manual_seed(7);  // the same initial weights in every run
  testing::TinyClassifier model;
  Trainer trainer(folder.options(epochs));
  trainer.fit(model, folder.train, {}, ckpt_path);
  return testing::flat_parameters(model);
}

std::vector<std::string> versions(const std::string& experiment) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(experiment)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(AutoResume, LastResumesTheNewestCheckpointAndWritesOnInItsVersion) {
  Folder straight("resume_straight");
  const torch::Tensor expected = trained(straight, 4);

  Folder folder("resume_last");
  trained(folder, 2);  // version_0, its checkpoint at step 8
  testing::TinyClassifier model;
  Trainer trainer(folder.options(4));
  trainer.fit(model, folder.train, {}, "last");
  EXPECT_EQ(trainer.ckpt_path(), folder.dir + "/lightning_logs/version_0/checkpoints/epoch=1-step=8.ckpt");
  EXPECT_TRUE(torch::equal(testing::flat_parameters(model), expected));
  // The version the resumed run claimed at setup is given back: it wrote on in version_0.
  EXPECT_EQ(versions(folder.dir + "/lightning_logs"), std::vector<std::string>{"version_0"});
  EXPECT_TRUE(fs::exists(folder.dir + "/lightning_logs/version_0/checkpoints/epoch=3-step=16.ckpt"));

  // Started again once finished: it resumes the end and trains nothing more.
  testing::TinyClassifier again;
  Trainer third(folder.options(4));
  third.fit(again, folder.train, {}, "last");
  EXPECT_EQ(third.global_step(), 16);
  EXPECT_TRUE(torch::equal(testing::flat_parameters(again), expected));
}

TEST(AutoResume, LastWithNothingToResumeStartsFreshAndHpcWithNothingIsNamed) {
  Folder folder("resume_none");
  Folder straight("resume_none_straight");
  EXPECT_TRUE(torch::equal(trained(folder, 2, "last"), trained(straight, 2)));
  Folder empty("resume_no_hpc");
  const std::string error = error_of([&] { trained(empty, 1, "hpc"); });
  EXPECT_NE(error.find("ckpt_path=\"hpc\": no preemption checkpoint (hpc_ckpt_<N>.ckpt) in '" + empty.dir + "'"),
            std::string::npos)
      << error;
}

// Of the files, the newest full checkpoint: a damaged file and a weights-only one with higher
// steps are passed over (the damaged one named in a warning), and a weights-only file cannot
// resume a fit when given by name.
TEST(AutoResume, LastPassesOverDamagedAndWeightsOnlyFiles) {
  Folder folder("resume_skip");
  testing::TinyClassifier model;
  Trainer trainer(folder.options(2, /*logger=*/false));
  trainer.fit(model, folder.train);
  const std::string good = folder.dir + "/checkpoints/epoch=1-step=8.ckpt";
  ASSERT_TRUE(fs::exists(good));
  trainer.save_checkpoint(folder.dir + "/checkpoints/weights.ckpt", /*weights_only=*/true);
  {
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(folder.dir + "/checkpoints/zz-damaged.ckpt", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  const Checkpoint weights = read_model_checkpoint(folder.dir + "/checkpoints/weights.ckpt");
  EXPECT_FALSE(weights.contains("optimizer_states"));
  EXPECT_TRUE(weights.contains("state_dict"));

  const auto found = newest_resumable_checkpoint(checkpoint_files(folder.dir + "/checkpoints"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->path, good);
  EXPECT_EQ(found->global_step, 8);

  testing::TinyClassifier resumed;
  Trainer again(folder.options(3, false));
  const std::string error =
      error_of([&] { again.fit(resumed, folder.train, {}, folder.dir + "/checkpoints/weights.ckpt"); });
  EXPECT_NE(error.find("holds only the model (it was saved with weights_only"), std::string::npos) << error;
}

TEST(AutoResume, HpcCheckpointsAreNumberedAsLightningNamesThem) {
  const std::string dir = testing::temp_dir("hpc_names");
  EXPECT_EQ(newest_hpc_checkpoint(dir), "");
  EXPECT_EQ(next_hpc_checkpoint(dir), dir + "/hpc_ckpt_1.ckpt");
  for (const char* name : {"hpc_ckpt_1.ckpt", "hpc_ckpt_12.ckpt", "hpc_ckpt_3.ckpt", "hpc_ckpt_x.ckpt"}) {
    std::ofstream(dir + "/" + name) << "x";
  }
  EXPECT_EQ(newest_hpc_checkpoint(dir), dir + "/hpc_ckpt_12.ckpt");
  EXPECT_EQ(next_hpc_checkpoint(dir), dir + "/hpc_ckpt_13.ckpt");
}

// SIGUSR1 once, at a given step, from inside the run (as a scheduler's warning arrives).
struct UsrSignalAt : Plugin {
  int64_t step = -1;
  int times = 1;
  std::string name() const override { return "usr_signal_at"; }
  void attach(HookBus& bus) override {
    connect(bus.on_train_batch_start, [this](BatchStartHook& hook) {
      if (hook.trainer.global_step() == step) {
        for (int i = 0; i < times; ++i) ::raise(SIGUSR1);
      }
    });
  }
};

TEST(Preemption, SigusrSavesAnHpcCheckpointRequeuesUnderSlurmAndTrainingGoesOn) {
  Folder straight("usr1_straight");
  const torch::Tensor expected = trained(straight, 3, "");

  Folder folder("usr1");
  const std::string requeued = folder.dir + "/requeued.txt";
  ::setenv("SLURM_JOB_ID", "777", 1);
  {
    torch::manual_seed(7);
    testing::TinyClassifier model;
    auto options = folder.options(3);
    options.requeue_command("echo requeue {job_id} >> '" + requeued + "'");
    Trainer trainer(options);
    auto signal = std::make_unique<UsrSignalAt>();
    signal->step = 5;
    signal->times = 2;  // two warnings before one boundary: one checkpoint
    trainer.add_plugin(std::move(signal));
    trainer.fit(model, folder.train);
    EXPECT_EQ(trainer.global_step(), 12);  // the warning does not stop training
    EXPECT_TRUE(torch::equal(testing::flat_parameters(model), expected));
  }
  ::unsetenv("SLURM_JOB_ID");
  EXPECT_EQ(testing::read_lines(requeued), std::vector<std::string>{"requeue 777"});
  ASSERT_TRUE(fs::exists(folder.dir + "/hpc_ckpt_1.ckpt"));
  EXPECT_FALSE(fs::exists(folder.dir + "/hpc_ckpt_2.ckpt"));
  EXPECT_EQ(read_checkpoint(folder.dir + "/hpc_ckpt_1.ckpt").at("global_step").toInt(), 6);

  // The requeued job: "hpc" resumes from the warning's checkpoint to the same weights.
  testing::TinyClassifier model;
  Trainer trainer(folder.options(3));
  trainer.fit(model, folder.train, {}, "hpc");
  EXPECT_EQ(trainer.ckpt_path(), folder.dir + "/hpc_ckpt_1.ckpt");
  EXPECT_TRUE(torch::equal(testing::flat_parameters(model), expected));
}

// --- SIGKILL at random moments ------------------------------------------------------------------

// A worker started in the background, killed with SIGKILL when the test says.
class Process {
 public:
  explicit Process(const std::string& command) {
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    if (posix_spawn(&pid_, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ) != 0) pid_ = -1;
  }
  ~Process() { kill(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  bool started() const { return pid_ > 0; }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

bool any_checkpoint(const std::string& dir) {
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(dir, error); !error && it != fs::recursive_directory_iterator();
       it.increment(error)) {
    if (it->path().extension() == ".ckpt") return true;
  }
  return false;
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(AutoResume, KilledFiveTimesAndStartedAgainEndsOnTheUninterruptedRun) {
  const std::string args =
      " --max-epochs 100 --batch-size 4 --log-every-n-steps 1 --plugin csv_logger"
      " --plugin model_checkpoint:every_n_train_steps=1,save_last=link --ckpt-path last";
  const std::string whole_dir = testing::temp_dir("killed_whole");
  const std::string dir = testing::temp_dir("killed");
  const std::string worker = FULGUR_TRAIN_WORKER;
  ASSERT_EQ(std::system((worker + args + " --default-root-dir " + whole_dir + " --out " + whole_dir + "/weights.pt > " +
                         whole_dir + "/log.txt 2>&1")
                            .c_str()),
            0)
      << file_text(whole_dir + "/log.txt");

  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(0, 1500);
  std::string story;
  for (int kill = 0; kill < 5; ++kill) {
    const std::string log = dir + "/run" + std::to_string(kill) + ".txt";
    Process run("exec " + worker + args + " --default-root-dir " + dir + " > " + log + " 2>&1");
    ASSERT_TRUE(run.started());
    // The first kill comes once there is something to resume; the later ones at any moment,
    // start-up and resuming included.
    for (int wait = 0; kill == 0 && wait < 600 && !any_checkpoint(dir); ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const int ms = delay_ms(random);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    run.kill();
    story += "killed run " + std::to_string(kill) + " after " + std::to_string(ms) + " ms; ";
  }
  const std::string final_log = dir + "/final.txt";
  ASSERT_EQ(std::system((worker + args + " --default-root-dir " + dir + " --out " + dir + "/weights.pt > " + final_log +
                         " 2>&1")
                            .c_str()),
            0)
      << story << file_text(final_log);

  torch::Tensor whole, resumed;
  torch::load(whole, whole_dir + "/weights.pt");
  torch::load(resumed, dir + "/weights.pt");
  EXPECT_TRUE(torch::equal(whole, resumed)) << story;
  // The log rows of every step, once each, as the uninterrupted run wrote them.
  const auto rows = testing::read_lines(dir + "/lightning_logs/version_0/metrics.csv");
  const auto expected_rows = testing::read_lines(whole_dir + "/lightning_logs/version_0/metrics.csv");
  std::size_t same = 0;
  while (same < rows.size() && same < expected_rows.size() && rows[same] == expected_rows[same]) ++same;
  std::string where;
  for (std::size_t i = same; i < same + 3; ++i) {
    where += "\n  line " + std::to_string(i) + ": " + (i < rows.size() ? rows[i] : "(none)") + "  expected " +
             (i < expected_rows.size() ? expected_rows[i] : "(none)");
  }
  std::string resumes;
  for (int run = 0; run < 5; ++run) {
    for (const auto& line : testing::read_lines(dir + "/run" + std::to_string(run) + ".txt")) {
      if (line.find("ckpt_path=") != std::string::npos || line.find("error") != std::string::npos) {
        resumes += "\n  run " + std::to_string(run) + ": " + line;
      }
    }
  }
  EXPECT_EQ(rows.size(), expected_rows.size()) << story << where << resumes;
  EXPECT_TRUE(rows == expected_rows) << story << where << resumes;
}

}  // namespace
}  // namespace fulgur
