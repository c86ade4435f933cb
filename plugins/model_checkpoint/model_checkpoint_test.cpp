// model_checkpoint keeps exactly the files its options ask for, on real training runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "fulgur/checkpoint.h"
#include "fulgur/error.h"
#include "fulgur/experiment_dir.h"
#include "fulgur/plugins/model_checkpoint.h"
#include "testing.h"

namespace fulgur {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Logs a scripted validation score per epoch, so the best epochs are known in advance.
struct Scripted : testing::TinyClassifier {
  std::vector<double> scores;
  torch::Tensor validation_step(const Batch&, int64_t) override {
    log("score", scores.at(static_cast<std::size_t>(trainer().current_epoch())));
    return {};
  }
};

struct RunFolder {
  testing::Blobs data = testing::make_blobs(16);
  TensorDataLoader train = testing::make_loader(data, 4);  // 4 steps per epoch
  TensorDataLoader val = testing::make_loader(data, 16);
  std::string dir;
  explicit RunFolder(const std::string& name) : dir(testing::temp_dir(name)) {}
  /// A first run of `epochs` epochs with the default checkpointing, whose files later runs meet.
  void first_run(testing::TinyClassifier& model, int64_t epochs) {
    Trainer trainer(options(epochs));
    trainer.fit(model, train);
  }
  TrainerOptions options(int64_t epochs) const {
    TrainerOptions options;
    options.max_epochs(epochs);
    options.default_root_dir(dir);
    options.num_sanity_val_steps(0);
    return options;
  }
};

plugins::ModelCheckpointInfo& info(Trainer& trainer) {
  auto* found = dynamic_cast<plugins::ModelCheckpointInfo*>(trainer.find_plugin("model_checkpoint"));
  if (!found) throw std::runtime_error("model_checkpoint is not attached or not inspectable");
  return *found;
}

TEST(ModelCheckpoint, ByDefaultKeepsTheLatestEpochInDefaultRootDir) {
  RunFolder setup("mc_default");
  testing::TinyClassifier model;
  Trainer trainer(setup.options(3));
  trainer.fit(model, setup.train);
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"), std::vector<std::string>{"epoch=2-step=12.ckpt"});
  EXPECT_EQ(info(trainer).last_model_path(), setup.dir + "/checkpoints/epoch=2-step=12.ckpt");
}

TEST(ModelCheckpoint, EnableCheckpointingFalseSavesNothing) {
  RunFolder setup("mc_off");
  testing::TinyClassifier model;
  auto options = setup.options(1);
  options.enable_checkpointing(false);
  Trainer trainer(options);
  trainer.fit(model, setup.train);
  EXPECT_TRUE(files_in(setup.dir).empty());
  EXPECT_EQ(trainer.find_plugin("model_checkpoint"), nullptr);
}

TEST(ModelCheckpoint, KeepsTheBestKByTheMonitoredMetric) {
  RunFolder setup("mc_topk");
  Scripted model;
  model.scores = {0.5, 0.3, 0.9, 0.1, 0.4};
  plugins::ModelCheckpointOptions checkpoint;
  checkpoint.dirpath(setup.dir + "/best");
  checkpoint.monitor("score");
  checkpoint.save_top_k(2);
  checkpoint.filename("{epoch}-{score:.3f}");
  auto options = setup.options(5);
  options.plugins().push_back(checkpoint.spec());
  Trainer trainer(options);
  trainer.fit(model, setup.train, setup.val);
  EXPECT_EQ(files_in(setup.dir + "/best"),
            (std::vector<std::string>{"epoch=1-score=0.300.ckpt", "epoch=3-score=0.100.ckpt"}));
  EXPECT_EQ(info(trainer).best_model_path(), setup.dir + "/best/epoch=3-score=0.100.ckpt");
  EXPECT_NEAR(info(trainer).best_model_score(), 0.1, 1e-6);
  // The best file is a checkpoint of that epoch.
  EXPECT_EQ(read_checkpoint(info(trainer).best_model_path()).at("global_step").toInt(), 16);
}

TEST(ModelCheckpoint, ModeMaxAndSaveLast) {
  RunFolder setup("mc_max");
  Scripted model;
  model.scores = {0.5, 0.3, 0.9, 0.1};
  plugins::ModelCheckpointOptions checkpoint;
  checkpoint.monitor("score");
  checkpoint.mode("max");
  checkpoint.save_last(true);
  auto options = setup.options(4);
  options.plugins().push_back(checkpoint.spec());
  Trainer trainer(options);
  trainer.fit(model, setup.train, setup.val);
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"), (std::vector<std::string>{"epoch=2-step=12.ckpt", "last.ckpt"}));
  EXPECT_EQ(read_checkpoint(setup.dir + "/checkpoints/last.ckpt").at("global_step").toInt(), 16);
}

TEST(ModelCheckpoint, EveryNTrainStepsWithSaveTopKAll) {
  RunFolder setup("mc_steps");
  testing::TinyClassifier model;
  auto options = setup.options(2);  // 8 steps
  options.plugins().push_back(PluginSpec::parse("model_checkpoint:every_n_train_steps=3,save_top_k=-1"));
  Trainer trainer(options);
  trainer.fit(model, setup.train);
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"),
            (std::vector<std::string>{"epoch=0-step=3.ckpt", "epoch=1-step=6.ckpt"}));
}

TEST(ModelCheckpoint, ValidationSeveralTimesPerEpochSavesAfterEachValidation) {
  RunFolder setup("mc_val");
  testing::TinyClassifier model;
  auto options = setup.options(1);
  options.val_check_interval(0.5);
  options.plugins().push_back(PluginSpec::parse("model_checkpoint:save_top_k=-1"));
  Trainer trainer(options);
  trainer.fit(model, setup.train, setup.val);
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"),
            (std::vector<std::string>{"epoch=0-step=2.ckpt", "epoch=0-step=4.ckpt"}));
}

TEST(ModelCheckpoint, BadOptionsAndMissingMetricsAreClearErrors) {
  auto error_for = [](const std::string& spec) {
    try {
      TrainerOptions options;
      options.plugins().push_back(PluginSpec::parse(spec));
      Trainer trainer(options);
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  EXPECT_NE(error_for("model_checkpoint:mode=median").find("'mode' expects min or max"), std::string::npos);
  EXPECT_NE(error_for("model_checkpoint:save_top_k=3").find("needs a monitor"), std::string::npos);
  EXPECT_NE(error_for("model_checkpoint:save_top_k=many").find("'save_top_k' expects an integer"), std::string::npos);

  RunFolder setup("mc_missing");
  testing::TinyClassifier model;
  auto options = setup.options(1);
  options.plugins().push_back(PluginSpec::parse("model_checkpoint:monitor=val_acc"));
  Trainer trainer(options);
  try {
    trainer.fit(model, setup.train, setup.val);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("metric 'val_acc' was not logged; logged metrics:"), std::string::npos)
        << error.what();
  }
}

TEST(ModelCheckpoint, BestFilesSurviveAResume) {
  RunFolder setup("mc_resume");
  Scripted model;
  model.scores = {0.5, 0.3, 0.9, 0.8};
  plugins::ModelCheckpointOptions checkpoint;
  checkpoint.monitor("score");
  checkpoint.save_top_k(1);
  checkpoint.save_last(true);
  auto options = setup.options(2);
  options.plugins().push_back(checkpoint.spec());
  {
    Trainer trainer(options);
    trainer.fit(model, setup.train, setup.val);
  }
  options.max_epochs(4);
  Trainer resumed(options);
  resumed.fit(model, setup.train, setup.val, setup.dir + "/checkpoints/last.ckpt");
  // Epochs 2 and 3 scored worse than epoch 1, which the resumed run knew about.
  EXPECT_EQ(info(resumed).best_model_path(), setup.dir + "/checkpoints/epoch=1-step=8.ckpt");
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"), (std::vector<std::string>{"epoch=1-step=8.ckpt", "last.ckpt"}));
}

// What a resumed run may delete: only files it wrote into its own folder, never the file it
// resumed from, never what a checkpoint's list names elsewhere (Lightning's rule).
TEST(ModelCheckpoint, ResumingFromAnotherRunsCheckpointLeavesItAlone) {
  RunFolder a("mc_other_a");
  RunFolder b("mc_other_b");
  testing::TinyClassifier model;
  a.first_run(model, 2);
  const std::string theirs = a.dir + "/checkpoints/epoch=1-step=8.ckpt";
  ASSERT_TRUE(fs::exists(theirs));
  Trainer resumed(b.options(4));
  resumed.fit(model, b.train, nullptr, theirs);
  EXPECT_EQ(files_in(a.dir + "/checkpoints"), std::vector<std::string>{"epoch=1-step=8.ckpt"});
  EXPECT_EQ(files_in(b.dir + "/checkpoints"), std::vector<std::string>{"epoch=3-step=16.ckpt"});
}

TEST(ModelCheckpoint, ResumingInTheSameFolderKeepsTheFileResumedFrom) {
  RunFolder setup("mc_same");
  testing::TinyClassifier model;
  setup.first_run(model, 2);
  Trainer resumed(setup.options(4));
  resumed.fit(model, setup.train, nullptr, setup.dir + "/checkpoints/epoch=1-step=8.ckpt");
  // epoch 2's file, this run's own, made way for epoch 3's; epoch 1's is the one resumed from.
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"),
            (std::vector<std::string>{"epoch=1-step=8.ckpt", "epoch=3-step=16.ckpt"}));
}

TEST(ModelCheckpoint, ACheckpointNamingOtherFilesDeletesNothing) {
  RunFolder setup("mc_forged");
  testing::TinyClassifier model;
  setup.first_run(model, 1);
  const std::string notes = setup.dir + "/notes.txt";
  const std::string elsewhere = setup.dir + "/elsewhere/precious.ckpt";
  fs::create_directories(setup.dir + "/elsewhere");
  std::ofstream(notes) << "my notes";
  std::ofstream(elsewhere) << "not this run's";
  // The list claims both files, and says it was written by a run of this very folder.
  auto checkpoint = read_checkpoint(setup.dir + "/checkpoints/epoch=0-step=4.ckpt");
  auto state = plugin_state(checkpoint, "model_checkpoint");
  StateDict forged = make_state_dict();
  forged.insert(notes, std::numeric_limits<double>::quiet_NaN());
  forged.insert(elsewhere, std::numeric_limits<double>::quiet_NaN());
  state.insert_or_assign("best_k_models", forged);
  state.insert_or_assign("dirpath", fs::absolute(setup.dir + "/checkpoints").string());
  write_checkpoint(checkpoint, setup.dir + "/forged.ckpt");

  Trainer resumed(setup.options(3));
  resumed.fit(model, setup.train, nullptr, setup.dir + "/forged.ckpt");
  EXPECT_TRUE(fs::exists(notes));
  EXPECT_TRUE(fs::exists(elsewhere));
  EXPECT_EQ(info(resumed).best_k_models().size(), 1u);
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"),
            (std::vector<std::string>{"epoch=0-step=4.ckpt", "epoch=2-step=12.ckpt"}));
}

TEST(ModelCheckpoint, AMalformedSavedStateIsNamed) {
  RunFolder setup("mc_malformed");
  testing::TinyClassifier model;
  setup.first_run(model, 1);
  auto checkpoint = read_checkpoint(setup.dir + "/checkpoints/epoch=0-step=4.ckpt");
  plugin_state(checkpoint, "model_checkpoint").insert_or_assign("best_k_models", int64_t{3});
  write_checkpoint(checkpoint, setup.dir + "/malformed.ckpt");
  Trainer resumed(setup.options(2));
  const auto message =
      testing::error_of([&] { resumed.fit(model, setup.train, nullptr, setup.dir + "/malformed.ckpt"); });
  EXPECT_NE(message.find("model_checkpoint's saved 'best_k_models' should map paths to scores but is a Int"),
            std::string::npos)
      << message;
}

// Two runs in one default_root_dir: with a logger each writes under its own version folder;
// without one they share <root>/checkpoints, and neither overwrites nor deletes the other's file.
TEST(ModelCheckpoint, TwoRunsInOneRootKeepTheirFilesApart) {
  RunFolder setup("mc_two_runs");
  for (int run = 0; run < 2; ++run) {
    testing::TinyClassifier model;
    auto options = setup.options(2);
    options.plugins().push_back(PluginSpec{"csv_logger", {}});
    Trainer trainer(options);
    trainer.fit(model, setup.train);
    EXPECT_EQ(info(trainer).last_model_path(),
              setup.dir + "/lightning_logs/version_" + std::to_string(run) + "/checkpoints/epoch=1-step=8.ckpt");
  }
  for (const char* version : {"version_0", "version_1"}) {
    EXPECT_EQ(files_in(setup.dir + "/lightning_logs/" + version + "/checkpoints"),
              std::vector<std::string>{"epoch=1-step=8.ckpt"});
  }

  RunFolder bare("mc_two_runs_no_logger");
  std::vector<torch::Tensor> weights;
  for (int run = 0; run < 2; ++run) {
    testing::TinyClassifier model;
    Trainer trainer(bare.options(2));
    trainer.fit(model, bare.train);
    weights.push_back(model.linear->weight.detach().clone());
  }
  EXPECT_EQ(files_in(bare.dir + "/checkpoints"),
            (std::vector<std::string>{"epoch=1-step=8-v1.ckpt", "epoch=1-step=8.ckpt"}));
  // Each file holds its own run's weights.
  const auto first = read_checkpoint(bare.dir + "/checkpoints/epoch=1-step=8.ckpt");
  EXPECT_TRUE(torch::equal(first.at("state_dict").toGenericDict().at("linear.weight").toTensor(), weights[0]));
}

// Runs started at the same instant in one root each claim their own version folder.
TEST(ModelCheckpoint, ConcurrentRunsNeverShareAVersionFolder) {
  const auto root = testing::temp_dir("mc_concurrent_versions");
  std::vector<int64_t> versions(8, -1);
  std::vector<std::thread> starts;
  for (std::size_t i = 0; i < versions.size(); ++i) {
    starts.emplace_back([&, i] {
      ExperimentDir dir(root, "lightning_logs");
      dir.claim();
      versions[i] = dir.version();
    });
  }
  for (auto& start : starts) start.join();
  std::sort(versions.begin(), versions.end());
  for (std::size_t i = 0; i < versions.size(); ++i) EXPECT_EQ(versions[i], static_cast<int64_t>(i));
}

// --- options for long jobs ----------------------------------------------------------------------

TrainerOptions with_checkpoint(const RunFolder& setup, int64_t epochs, const std::string& spec) {
  auto options = setup.options(epochs);
  options.plugins({PluginSpec::parse(spec)});
  return options;
}

TEST(ModelCheckpoint, SaveLastLinkPointsAtTheFileJustSaved) {
  RunFolder setup("mc_link");
  testing::TinyClassifier model;
  Trainer trainer(with_checkpoint(setup, 2, "model_checkpoint:save_last=link"));
  trainer.fit(model, setup.train);
  const std::string folder = setup.dir + "/checkpoints";
  EXPECT_EQ(files_in(folder), (std::vector<std::string>{"epoch=1-step=8.ckpt", "last.ckpt"}));
  ASSERT_TRUE(fs::is_symlink(folder + "/last.ckpt"));
  EXPECT_EQ(fs::read_symlink(folder + "/last.ckpt"), fs::path("epoch=1-step=8.ckpt"));
  EXPECT_EQ(read_checkpoint(folder + "/last.ckpt").at("global_step").toInt(), 8);
  EXPECT_EQ(info(trainer).last_model_path(), folder + "/last.ckpt");
  // true writes a file of its own; a bad value is named.
  RunFolder copy("mc_last_file");
  Trainer second(with_checkpoint(copy, 1, "model_checkpoint:save_last=true"));
  second.fit(model, copy.train);
  EXPECT_FALSE(fs::is_symlink(copy.dir + "/checkpoints/last.ckpt"));
  EXPECT_EQ(read_checkpoint(copy.dir + "/checkpoints/last.ckpt").at("global_step").toInt(), 4);
  const std::string error =
      testing::error_of([&] { Trainer bad(with_checkpoint(copy, 1, "model_checkpoint:save_last=symlink")); });
  EXPECT_NE(error.find("save_last"), std::string::npos) << error;
  EXPECT_NE(error.find("true, false or link, got 'symlink'"), std::string::npos) << error;
}

TEST(ModelCheckpoint, SaveWeightsOnlyWritesTheModelWithoutTrainingState) {
  RunFolder setup("mc_weights");
  testing::TinyClassifier model;
  Trainer trainer(with_checkpoint(setup, 1, "model_checkpoint:save_weights_only=true"));
  trainer.fit(model, setup.train);
  const Checkpoint saved = read_model_checkpoint(setup.dir + "/checkpoints/epoch=0-step=4.ckpt");
  EXPECT_TRUE(saved.contains("state_dict"));
  EXPECT_TRUE(saved.contains("hyper_parameters"));
  EXPECT_FALSE(saved.contains("optimizer_states"));
  EXPECT_FALSE(saved.contains("callbacks"));
}

TEST(ModelCheckpoint, FileNamesWithoutMetricNamesAndWithoutVersionCounter) {
  RunFolder setup("mc_names");
  testing::TinyClassifier model;
  Trainer trainer(with_checkpoint(setup, 2, "model_checkpoint:auto_insert_metric_name=false"));
  trainer.fit(model, setup.train);
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"), std::vector<std::string>{"1-8.ckpt"});

  // Another run's file of the same name: kept with -v1 by default, overwritten without the counter.
  RunFolder shared("mc_counter");
  fs::create_directories(shared.dir + "/checkpoints");
  std::ofstream(shared.dir + "/checkpoints/epoch=0-step=4.ckpt") << "another run's file";
  Trainer counted(with_checkpoint(shared, 1, "model_checkpoint"));
  counted.fit(model, shared.train);
  EXPECT_EQ(files_in(shared.dir + "/checkpoints"),
            (std::vector<std::string>{"epoch=0-step=4-v1.ckpt", "epoch=0-step=4.ckpt"}));
  Trainer overwriting(with_checkpoint(shared, 1, "model_checkpoint:enable_version_counter=false"));
  overwriting.fit(model, shared.train);
  EXPECT_EQ(read_checkpoint(shared.dir + "/checkpoints/epoch=0-step=4.ckpt").at("global_step").toInt(), 4);
}

TEST(ModelCheckpoint, TrainTimeIntervalSavesByTrainingTime) {
  RunFolder setup("mc_time");
  testing::TinyClassifier model;
  // A microsecond: every batch is due; epoch saves are off.
  Trainer often(with_checkpoint(setup, 2, "model_checkpoint:train_time_interval=0.000001,save_top_k=-1"));
  often.fit(model, setup.train);
  EXPECT_EQ(files_in(setup.dir + "/checkpoints").size(), 8u);
  EXPECT_TRUE(fs::exists(setup.dir + "/checkpoints/epoch=0-step=1.ckpt"));
  // An hour: nothing in a short run.
  RunFolder hour("mc_hour");
  Trainer rarely(with_checkpoint(hour, 2, "model_checkpoint:train_time_interval=00:01:00:00"));
  rarely.fit(model, hour.train);
  EXPECT_TRUE(files_in(hour.dir + "/checkpoints").empty());
  auto error =
      testing::error_of([&] { Trainer bad(with_checkpoint(hour, 1, "model_checkpoint:train_time_interval=soon")); });
  EXPECT_NE(error.find("train_time_interval 'soon' is not DD:HH:MM:SS"), std::string::npos) << error;
  error = testing::error_of(
      [&] { Trainer bad(with_checkpoint(hour, 1, "model_checkpoint:train_time_interval=10,every_n_train_steps=2")); });
  EXPECT_NE(error.find("should be mutually exclusive"), std::string::npos) << error;
}

TEST(ModelCheckpoint, VerboseSaysWhatItSaves) {
  RunFolder setup("mc_verbose");
  Scripted model;
  model.scores = {0.5, 0.7, 0.2};
  std::ostringstream said;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(said)));
  {
    Trainer trainer(with_checkpoint(setup, 3, "model_checkpoint:monitor=score,verbose=true"));
    trainer.fit(model, setup.train, setup.val);
  }
  spdlog::set_default_logger(previous);
  const std::string text = said.str();
  EXPECT_NE(text.find("Epoch 0, global step 4: 'score' reached 0.50000 (best 0.50000), saving model to '" + setup.dir +
                      "/checkpoints/epoch=0-step=4.ckpt' as top 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Epoch 1, global step 8: 'score' was not in top 1"), std::string::npos) << text;
  EXPECT_NE(text.find("Epoch 2, global step 12: 'score' reached 0.20000 (best 0.20000)"), std::string::npos) << text;
}

}  // namespace
}  // namespace fulgur
