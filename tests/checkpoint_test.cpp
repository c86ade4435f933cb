// Checkpoints: Lightning's keys, exact resume, plugin state, Python interop and safe writes.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "fulgur/checkpoint.h"
#include "fulgur/error.h"
#include "fulgur/lr_schedulers.h"
#include "testing.h"

extern char** environ;

namespace fulgur {
namespace {

using testing::error_of;

// Adam, dropout and a scheduler: everything exact resume has to carry over.
class ResumableNet : public Module {
 public:
  explicit ResumableNet(int64_t hidden = 16) {
    hidden_layer = register_module("hidden", torch::nn::Linear(4, hidden));
    dropout = register_module("dropout", torch::nn::Dropout(0.3));
    output = register_module("output", torch::nn::Linear(hidden, 2));
    save_hyperparameters({{"hidden", hidden}});
  }
  torch::Tensor training_step(const Batch& batch, int64_t) override {
    auto logits = output(dropout(torch::relu(hidden_layer(batch[0]))));
    auto loss = torch::nn::functional::cross_entropy(logits, batch[1]);
    log("train_loss", loss);
    return loss;
  }
  OptimizerConfig configure_optimizers() override {
    auto adam = std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(0.01));
    OptimizerConfig config(adam);
    config.lr_schedulers.push_back({std::make_shared<StepLR>(*adam, 1, 0.7)});
    return config;
  }
  torch::nn::Linear hidden_layer{nullptr}, output{nullptr};
  torch::nn::Dropout dropout{nullptr};
};

TrainerOptions quiet(int64_t max_epochs, int64_t max_steps = -1) {
  TrainerOptions options;
  options.max_epochs(max_epochs);
  options.max_steps(max_steps);
  options.accelerator("cpu");  // bit-identical resume is a CPU promise (CUDA kernels may differ)
  return options;
}

struct RunData {
  testing::Blobs data = testing::make_blobs(64);
  TensorDataLoader loader = testing::make_loader(data, 16, /*shuffle=*/true, 3);  // 4 batches per epoch
};

torch::Tensor uninterrupted(int64_t epochs) {
  RunData run;
  torch::manual_seed(1);
  ResumableNet model;
  Trainer(quiet(epochs)).fit(model, run.loader);
  return testing::flat_parameters(model);
}

// Trains until `stop_options` stop it, saves, and resumes in a new Trainer with a new model.
torch::Tensor interrupted(const TrainerOptions& stop_options, int64_t epochs, const std::string& name) {
  const auto path = testing::temp_dir(name) + "/resume.ckpt";
  {
    RunData run;
    torch::manual_seed(1);
    ResumableNet model;
    Trainer trainer(stop_options);
    trainer.fit(model, run.loader);
    trainer.save_checkpoint(path);
  }
  RunData run;
  torch::manual_seed(99);  // a different start, and a different global generator state
  ResumableNet model;
  Trainer trainer(quiet(epochs));
  trainer.fit(model, run.loader, nullptr, path);
  EXPECT_EQ(trainer.global_step(), epochs * 4);
  return testing::flat_parameters(model);
}

TEST(Checkpoint, HoldsLightningsTopLevelKeys) {
  const auto path = testing::temp_dir("keys") + "/model.ckpt";
  RunData run;
  ResumableNet model;
  Trainer trainer(quiet(2));
  trainer.fit(model, run.loader);
  trainer.save_checkpoint(path);
  const auto checkpoint = read_checkpoint(path);
  for (const char* key : {"epoch", "global_step", "state_dict", "optimizer_states", "lr_schedulers", "callbacks",
                          "hyper_parameters", "loops", "fulgur_version"}) {
    EXPECT_TRUE(checkpoint.contains(key)) << key;
  }
  EXPECT_EQ(checkpoint.at("global_step").toInt(), 8);
  EXPECT_EQ(checkpoint.at("epoch").toInt(), 2);
  const auto weights = checkpoint.at("state_dict").toGenericDict();
  EXPECT_TRUE(torch::equal(weights.at("output.bias").toTensor(), model.output->bias.detach()));
  EXPECT_EQ(checkpoint.at("hyper_parameters").toGenericDict().at("hidden").toInt(), 16);
}

TEST(Checkpoint, ResumeAtAnEpochBoundaryIsBitIdentical) {
  EXPECT_TRUE(torch::equal(interrupted(quiet(2), 4, "resume_epoch"), uninterrupted(4)));
}

TEST(Checkpoint, ResumeMidEpochIsBitIdentical) {
  // Stops after step 6: epoch 1, batch 1. The resumed fit starts with epoch 1's batch 2.
  EXPECT_TRUE(torch::equal(interrupted(quiet(4, 6), 4, "resume_mid"), uninterrupted(4)));
}

TEST(Checkpoint, ResumeRestoresTheSchedulersAndTheLearningRate) {
  const auto path = testing::temp_dir("sched") + "/s.ckpt";
  RunData run;
  ResumableNet first;
  Trainer trainer(quiet(3));
  trainer.fit(first, run.loader);
  trainer.save_checkpoint(path);
  ResumableNet second;
  Trainer resumed(quiet(3));  // nothing left to train: only the restore runs
  resumed.fit(second, run.loader, nullptr, path);
  const double lr = resumed.optimizers()[0]->param_groups()[0].options().get_lr();
  EXPECT_DOUBLE_EQ(lr, trainer.optimizers()[0]->param_groups()[0].options().get_lr());
  EXPECT_EQ(resumed.global_step(), 12);
}

class CountingPlugin : public Plugin {
 public:
  std::string name() const override { return "counting"; }
  void attach(HookBus& bus) override {
    connect(bus.on_train_batch_end, [this](BatchEndHook&) { ++batches; });
    connect(bus.on_save_checkpoint,
            [this](CheckpointHook& hook) { plugin_state(hook.checkpoint, name()).insert("batches", batches); });
    connect(bus.on_load_checkpoint, [this](CheckpointHook& hook) {
      if (has_plugin_state(hook.checkpoint, name()))
        batches = plugin_state(hook.checkpoint, name()).at("batches").toInt();
    });
  }
  int64_t batches = 0;
};

TEST(Checkpoint, PluginStateTravelsUnderThePluginsName) {
  const auto path = testing::temp_dir("plugin_state") + "/p.ckpt";
  RunData run;
  ResumableNet model;
  Trainer first(quiet(1));
  first.add_plugin(std::make_unique<CountingPlugin>());
  first.fit(model, run.loader);
  first.save_checkpoint(path);
  EXPECT_EQ(read_checkpoint(path).at("callbacks").toGenericDict().at("counting").toGenericDict().at("batches").toInt(),
            4);

  Trainer second(quiet(2));
  auto& counter = static_cast<CountingPlugin&>(second.add_plugin(std::make_unique<CountingPlugin>()));
  second.fit(model, run.loader, nullptr, path);
  EXPECT_EQ(counter.batches, 8);  // 4 restored + 4 trained
}

TEST(Checkpoint, CorruptTruncatedMissingAndMismatchedAreClearErrors) {
  const auto dir = testing::temp_dir("bad_ckpt");
  RunData run;
  ResumableNet model;
  Trainer trainer(quiet(1));
  trainer.fit(model, run.loader);
  trainer.save_checkpoint(dir + "/good.ckpt");
  {
    std::ofstream(dir + "/garbage.ckpt") << "definitely not a checkpoint";
    const auto size = std::filesystem::file_size(dir + "/good.ckpt");
    std::vector<char> bytes(size / 2);
    std::ifstream(dir + "/good.ckpt", std::ios::binary).read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::ofstream(dir + "/half.ckpt", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto resume_error = [&](Module& other, const std::string& file) {
    Trainer resumed(quiet(2));
    return error_of([&] { resumed.fit(static_cast<ResumableNet&>(other), run.loader, nullptr, dir + "/" + file); });
  };
  ResumableNet same;
  EXPECT_NE(resume_error(same, "garbage.ckpt").find("is truncated or damaged"), std::string::npos);
  EXPECT_NE(resume_error(same, "half.ckpt").find("is truncated or damaged"), std::string::npos);
  EXPECT_NE(resume_error(same, "missing.ckpt").find("cannot read checkpoint"), std::string::npos);
  ResumableNet wider(32);
  const auto shape = resume_error(wider, "good.ckpt");
  EXPECT_NE(shape.find("'hidden.weight' has shape [16, 4] in the file but [32, 4] in the model"), std::string::npos)
      << shape;
}

// The file of a 2-epoch run and a way to change one entry of it and write it back.
struct SavedRun {
  std::string dir;
  std::string path;
  RunData run;
  explicit SavedRun(const std::string& name) : dir(testing::temp_dir(name)), path(dir + "/good.ckpt") {
    ResumableNet model;
    Trainer trainer(quiet(2));
    trainer.fit(model, run.loader);
    trainer.save_checkpoint(path);
  }
  template <typename Edit>
  std::string edited(const std::string& file, Edit&& edit) {
    auto checkpoint = read_checkpoint(path);
    edit(checkpoint);
    write_checkpoint(checkpoint, dir + "/" + file);
    return dir + "/" + file;
  }
  std::string resume_error(const std::string& ckpt) {
    ResumableNet model;
    Trainer trainer(quiet(4));
    return error_of([&] { trainer.fit(model, run.loader, nullptr, ckpt); });
  }
};

TEST(Checkpoint, AByteChangedInsideATensorIsDetected) {
  const auto dir = testing::temp_dir("crc");
  Checkpoint checkpoint = make_state_dict();
  for (const char* key : {"epoch", "global_step"}) checkpoint.insert(key, int64_t{1});
  checkpoint.insert("fulgur_version", std::string("test"));
  checkpoint.insert("loops", make_state_dict());
  StateDict weights = make_state_dict();
  weights.insert("w", torch::full({64}, 1234.5f));
  checkpoint.insert("state_dict", weights);
  write_checkpoint(checkpoint, dir + "/w.ckpt");

  std::vector<char> bytes(std::filesystem::file_size(dir + "/w.ckpt"));
  std::ifstream(dir + "/w.ckpt", std::ios::binary).read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  const float value = 1234.5f;
  const char* pattern = reinterpret_cast<const char*>(&value);
  const auto found = std::search(bytes.begin(), bytes.end(), pattern, pattern + sizeof value);
  ASSERT_NE(found, bytes.end());
  found[1] = static_cast<char>(found[1] ^ 0x01);  // a weight of 1234.5 becomes another number
  std::ofstream(dir + "/flipped.ckpt", std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

  const auto message = error_of([&] { read_checkpoint(dir + "/flipped.ckpt"); });
  EXPECT_NE(message.find("is damaged: record '"), std::string::npos) << message;
  EXPECT_NE(message.find("fails its CRC-32 check"), std::string::npos) << message;
  EXPECT_NO_THROW(read_checkpoint(dir + "/w.ckpt"));
}

TEST(Checkpoint, NegativeLoopCountersAreRefused) {
  SavedRun saved("negative_loop");
  const auto path = saved.edited("negative.ckpt", [](Checkpoint& checkpoint) {
    checkpoint.at("loops").toGenericDict().at("fit_loop").toGenericDict().insert_or_assign("next_epoch", int64_t{-3});
  });
  const auto message = saved.resume_error(path);
  EXPECT_NE(message.find("entry 'next_epoch' is -3, but a count of epochs, batches or steps cannot be negative"),
            std::string::npos)
      << message;
  const auto steps = saved.edited(
      "steps.ckpt", [](Checkpoint& checkpoint) { checkpoint.insert_or_assign("global_step", int64_t{-1}); });
  EXPECT_NE(saved.resume_error(steps).find("entry 'global_step' is -1"), std::string::npos);
}

TEST(Checkpoint, AWrongRngStateIsNamed) {
  SavedRun saved("bad_rng");
  const auto number = saved.edited("int.ckpt", [](Checkpoint& checkpoint) {
    checkpoint.at("rng_states").toGenericDict().insert_or_assign("torch", int64_t{5});
  });
  auto message = saved.resume_error(number);
  EXPECT_NE(message.find("entry 'rng_states.torch' should be the CPU generator's state (a uint8 tensor) but is a Int"),
            std::string::npos)
      << message;
  const auto short_state = saved.edited("short.ckpt", [](Checkpoint& checkpoint) {
    checkpoint.at("rng_states").toGenericDict().insert_or_assign("torch", torch::zeros({7}, torch::kByte));
  });
  message = saved.resume_error(short_state);
  EXPECT_NE(message.find("entry 'rng_states.torch' is not a CPU generator state (uint8, 7 elements)"),
            std::string::npos)
      << message;
}

TEST(Checkpoint, APluginStateOfTheWrongTypeIsNamed) {
  SavedRun saved("bad_plugin_state");
  const auto path = saved.edited("typed.ckpt", [](Checkpoint& checkpoint) {
    plugin_state(checkpoint, "counting").insert_or_assign("batches", std::string("many"));
  });
  ResumableNet model;
  Trainer trainer(quiet(4));
  trainer.add_plugin(std::make_unique<CountingPlugin>());
  const auto message = error_of([&] { trainer.fit(model, saved.run.loader, nullptr, path); });
  EXPECT_NE(message.find("a plugin's or the Module's saved state has an entry of the wrong type"), std::string::npos)
      << message;
}

TEST(Checkpoint, AFolderGivenAsTheCheckpointIsNamed) {
  SavedRun saved("folder_ckpt");
  const auto message = saved.resume_error(saved.dir);
  EXPECT_NE(message.find("checkpoint path '" + saved.dir + "' is a folder, not a checkpoint file"), std::string::npos)
      << message;
}

// torch.save(torch.load(p), q) writes one-item dicts and lists with opcodes LibTorch 1.13's
// reader lacks; such a file is intact and resumes like the original.
TEST(Checkpoint, ACheckpointResavedByPythonResumes) {
  SavedRun saved("python_resave");
  const std::string resaved = saved.dir + "/resaved.ckpt";
  const std::string command =
      "/usr/bin/python3 -c \"import sys, torch; torch.save(torch.load(sys.argv[1]), sys.argv[2])\" " + saved.path +
      " " + resaved + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  const auto original = read_checkpoint(saved.path);
  const auto loaded = read_checkpoint(resaved);
  EXPECT_EQ(loaded.at("global_step").toInt(), original.at("global_step").toInt());
  const auto a = original.at("state_dict").toGenericDict();
  const auto b = loaded.at("state_dict").toGenericDict();
  for (const auto& entry : a) EXPECT_TRUE(torch::equal(entry.value().toTensor(), b.at(entry.key()).toTensor()));

  torch::Tensor from_original, from_resaved;
  for (const auto& [file, out] :
       {std::pair<std::string, torch::Tensor*>{saved.path, &from_original}, {resaved, &from_resaved}}) {
    ResumableNet model;
    Trainer trainer(quiet(3));
    trainer.fit(model, saved.run.loader, nullptr, file);
    *out = testing::flat_parameters(model);
  }
  EXPECT_TRUE(torch::equal(from_original, from_resaved));
}

TEST(Checkpoint, MissingAndUnexpectedWeightsAreNamed) {
  struct Extra : ResumableNet {
    Extra() { extra = register_module("extra", torch::nn::Linear(2, 2)); }
    torch::nn::Linear extra{nullptr};
  };
  const auto path = testing::temp_dir("keys_mismatch") + "/k.ckpt";
  RunData run;
  ResumableNet plain;
  Trainer trainer(quiet(1));
  trainer.fit(plain, run.loader);
  trainer.save_checkpoint(path);
  Extra extra;
  Trainer resumed(quiet(2));
  EXPECT_NE(error_of([&] {
              resumed.fit(extra, run.loader, nullptr, path);
            }).find("missing (in the model, not in the file): 'extra.weight', 'extra.bias'"),
            std::string::npos);
}

TEST(Checkpoint, WeightsLoadIntoPythonTorch) {
  const auto dir = testing::temp_dir("python");
  const auto path = dir + "/linear.ckpt";
  testing::TinyClassifier model;
  auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 8);
  Trainer trainer(quiet(1));
  trainer.fit(model, loader);
  trainer.save_checkpoint(path);
  const auto expected = model.forward(torch::ones({1, 4})).detach();

  const std::string script = dir + "/load.py";
  std::ofstream(script) << "import sys, torch\n"
                           "ckpt = torch.load(sys.argv[1])\n"
                           "assert ckpt['global_step'] == 2, ckpt['global_step']\n"
                           "linear = torch.nn.Linear(4, 2)\n"
                           "linear.load_state_dict({k.split('.', 1)[1]: v for k, v in ckpt['state_dict'].items()})\n"
                           "out = linear(torch.ones(1, 4))[0]\n"
                           "print('%.6f %.6f' % (out[0].item(), out[1].item()))\n";
  const std::string output_file = dir + "/out.txt";
  const int status = std::system(("/usr/bin/python3 " + script + " " + path + " > " + output_file + " 2>&1").c_str());
  std::ifstream output(output_file);
  std::string text((std::istreambuf_iterator<char>(output)), std::istreambuf_iterator<char>());
  ASSERT_EQ(status, 0) << text;
  double first = 0, second = 0;
  ASSERT_EQ(std::sscanf(text.c_str(), "%lf %lf", &first, &second), 2) << text;
  EXPECT_NEAR(first, expected[0][0].item<double>(), 1e-5);
  EXPECT_NEAR(second, expected[0][1].item<double>(), 1e-5);
}

TEST(Checkpoint, AFailedWriteKeepsThePreviousCheckpoint) {
  const auto path = testing::temp_dir("full_disk") + "/last.ckpt";
  Checkpoint small = make_state_dict();
  for (const char* key : {"epoch", "global_step"}) small.insert(key, int64_t{1});
  small.insert("fulgur_version", std::string("test"));
  small.insert("loops", make_state_dict());
  StateDict weights = make_state_dict();
  weights.insert("w", torch::ones({4}));
  small.insert("state_dict", weights);
  write_checkpoint(small, path);

  Checkpoint big = small.copy();
  StateDict big_weights = make_state_dict();
  big_weights.insert("w", torch::zeros({1 << 20}));
  big.insert_or_assign("state_dict", big_weights);
  // A file-size limit makes the write fail as a full disk would.
  struct rlimit previous {};
  getrlimit(RLIMIT_FSIZE, &previous);
  struct rlimit limited = previous;
  limited.rlim_cur = 64 * 1024;
  auto* old_handler = signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &limited);
  const auto message = error_of([&] { write_checkpoint(big, path); });
  setrlimit(RLIMIT_FSIZE, &previous);
  signal(SIGXFSZ, old_handler);

  EXPECT_NE(message.find("cannot write checkpoint '" + path + "'"), std::string::npos) << message;
  EXPECT_NE(message.find("the previous checkpoint there is kept"), std::string::npos) << message;
  const auto kept = read_checkpoint(path);
  EXPECT_TRUE(torch::equal(kept.at("state_dict").toGenericDict().at("w").toTensor(), torch::ones({4})));
  // No temporary file is left behind.
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
    EXPECT_EQ(entry.path().filename(), "last.ckpt");
  }
}

// `ulimit -f` makes the kernel send SIGXFSZ, whose default action kills silently; the writer
// ignores it for the write, so the limit is the usual clear error and no temporary file stays.
TEST(Checkpoint, AFileSizeLimitIsAClearErrorNotASilentDeath) {
  const auto dir = testing::temp_dir("ulimit");
  Checkpoint big = make_state_dict();
  big.insert("w", torch::zeros({1 << 20}));
  struct rlimit previous {};
  getrlimit(RLIMIT_FSIZE, &previous);
  struct rlimit limited = previous;
  limited.rlim_cur = 64 * 1024;
  ASSERT_EQ(signal(SIGXFSZ, SIG_DFL), SIG_DFL);
  setrlimit(RLIMIT_FSIZE, &limited);
  const auto message = error_of([&] { write_checkpoint(big, dir + "/big.ckpt"); });
  setrlimit(RLIMIT_FSIZE, &previous);
  EXPECT_NE(message.find("cannot write checkpoint '" + dir + "/big.ckpt'"), std::string::npos) << message;
  EXPECT_EQ(signal(SIGXFSZ, SIG_DFL), SIG_DFL);  // the default is back
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

// A writer killed mid-write leaves "<file>.fulgur-tmp-<host>-<pid>"; the next write into that
// folder removes it once that process is gone, and touches nothing else.
TEST(Checkpoint, TemporaryFilesOfKilledWritersAreRemovedAndNothingElse) {
  const auto dir = testing::temp_dir("stale_tmp");
  pid_t gone = 0;
  const char* argv[] = {"/bin/true", nullptr};
  ASSERT_EQ(posix_spawn(&gone, argv[0], nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  int status = 0;
  waitpid(gone, &status, 0);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string host_name(host);
  for (auto& c : host_name) {
    if (c == '/' || c == '-') c = '_';
  }
  const std::string stale = dir + "/epoch=3-step=40.ckpt.fulgur-tmp-" + host_name + "-" + std::to_string(gone);
  const std::string live = dir + "/other.ckpt.fulgur-tmp-" + host_name + "-" + std::to_string(getppid());
  const std::string elsewhere = dir + "/x.ckpt.fulgur-tmp-anotherhost-" + std::to_string(gone);
  const std::string users = dir + "/notes.tmp-" + std::to_string(gone);
  for (const auto& file : {stale, live, elsewhere, users}) std::ofstream(file) << "partial";

  Checkpoint small = make_state_dict();
  small.insert("w", torch::ones({2}));
  write_checkpoint(small, dir + "/new.ckpt");
  EXPECT_FALSE(std::filesystem::exists(stale));
  for (const auto& kept : {live, elsewhere, users, dir + "/new.ckpt"})
    EXPECT_TRUE(std::filesystem::exists(kept)) << kept;
}

TEST(Checkpoint, UnwritableFolderIsAClearError) {
  Checkpoint checkpoint = make_state_dict();
  EXPECT_NE(error_of([&] { write_checkpoint(checkpoint, "/dev/null/sub/x.ckpt"); }).find("cannot create folder"),
            std::string::npos);
}

// A writer killed with SIGKILL at any moment leaves either the previous checkpoint or the new
// one, whole: never a torn file.
TEST(Checkpoint, KillNineDuringWritesNeverLeavesATornFile) {
  const auto dir = testing::temp_dir("kill9");
  const auto path = dir + "/live.ckpt";
  std::mt19937 random(42);
  int64_t last_epoch = -1;
  for (int attempt = 0; attempt < 8; ++attempt) {
    pid_t child = 0;
    const char* argv[] = {FULGUR_CHECKPOINT_WRITER, path.c_str(), nullptr};
    ASSERT_EQ(posix_spawn(&child, argv[0], nullptr, nullptr, const_cast<char**>(argv), environ), 0);
    // Let it start and write at least once more, then kill it at a random moment.
    const auto first_write =
        std::filesystem::exists(path) ? std::filesystem::last_write_time(path) : std::filesystem::file_time_type::min();
    for (int wait = 0;
         wait < 600 && (!std::filesystem::exists(path) || std::filesystem::last_write_time(path) == first_write);
         ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 60)(random)));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));

    const auto checkpoint = read_checkpoint(path);
    const int64_t epoch = checkpoint.at("epoch").toInt();
    const auto w = checkpoint.at("state_dict").toGenericDict().at("w").toTensor();
    EXPECT_TRUE(torch::all(w == static_cast<float>(epoch)).item<bool>()) << "torn checkpoint at attempt " << attempt;
    last_epoch = epoch;
  }
  EXPECT_GE(last_epoch, 0);
}

}  // namespace
}  // namespace fulgur
