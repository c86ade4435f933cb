// fulgur::cli::run on real tensors: a Module's and a DataModule's declared arguments from flags
// and files, config.yaml in the log folder running the same run again, --print_config
// round-tripping, an optimizer and a scheduler by name equal to the hand-written ones, classes
// found by name, and bad input named with the nearest valid name.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "fulgur/cli.h"
#include "fulgur/component_registry.h"
#include "fulgur/data.h"
#include "fulgur/error.h"
#include "fulgur/hparam_spec.h"
#include "fulgur/trainer.h"
#include "testing.h"

namespace fulgur::cli_test {

// What the last fit ended on (the cli builds its Module itself).
struct LastRun {
  torch::Tensor weights;
  HParams hparams;
  int64_t global_step = -1;
  double lr = 0;
};
LastRun& last_run() {
  static LastRun run;
  return run;
}

// y = 3x - 1, learned by one linear layer; no configure_optimizers: the config brings one.
class BareLine : public Module {
 public:
  static HParamSpecs declare_hparams() {
    return {{"lr", 0.1, "SGD's learning rate"}, {"note", "none", "A string that is only recorded"}};
  }
  explicit BareLine(const HParams& hparams) : lr_(hparams.get<double>("lr")) {
    fc = register_module("fc", torch::nn::Linear(1, 1));
  }
  torch::Tensor training_step(const Batch& batch, int64_t) override {
    auto loss = torch::mse_loss(fc(batch[0]), batch[1]);
    log("train_loss", loss);
    return loss;
  }
  torch::Tensor test_step(const Batch& batch, int64_t) override {
    log("test_loss", torch::mse_loss(fc(batch[0]), batch[1]));
    return {};
  }
  void on_train_end() override {
    auto& run = last_run();
    run.weights = testing::flat_parameters(*this).clone();
    run.hparams = hparams();
    run.global_step = trainer().global_step();
    run.lr = trainer().optimizers().at(0)->param_groups().at(0).options().get_lr();
  }

  torch::nn::Linear fc{nullptr};

 protected:
  double lr_;
};

// The same with its own SGD.
class Line : public BareLine {
 public:
  using BareLine::BareLine;
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(lr_));
  }
};

// Adam written by hand, to compare with `--optimizer Adam`.
class HandAdamLine : public BareLine {
 public:
  using BareLine::BareLine;
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(),
                                                torch::optim::AdamOptions(0.05).betas(std::make_tuple(0.8, 0.99)));
  }
};

class LineData : public DataModule {
 public:
  static HParamSpecs declare_hparams() { return {{"samples", 64, "Points"}, {"batch_size", 16, "Points per batch"}}; }
  explicit LineData(const HParams& hparams)
      : samples_(hparams.get<int64_t>("samples")), batch_size_(hparams.get<int64_t>("batch_size")) {}
  void setup(Stage) override {
    x_ = torch::linspace(-1, 1, samples_).unsqueeze(1);
    y_ = 3 * x_ - 1;
  }
  DataLoaders train_dataloader() override {
    return std::make_unique<TensorDataLoader>(x_, y_, TensorDataLoaderOptions().batch_size(batch_size_));
  }
  DataLoaders test_dataloader() override { return train_dataloader(); }

 private:
  int64_t samples_, batch_size_;
  torch::Tensor x_, y_;
};

}  // namespace fulgur::cli_test

FULGUR_REGISTER_MODULE(fulgur::cli_test::Line)
FULGUR_REGISTER_MODULE(fulgur::cli_test::BareLine)
FULGUR_REGISTER_DATAMODULE(fulgur::cli_test::LineData)

namespace fulgur::cli_test {
namespace {

std::vector<std::string> quiet(const std::string& dir) {
  return {"--no-enable-progress-bar", "--no-enable-model-summary", "--default-root-dir", dir};
}

template <typename M, typename D>
int run_cli(std::vector<std::string> args, const std::vector<std::string>& more = {},
            const cli::Settings& settings = {}) {
  args.insert(args.end(), more.begin(), more.end());
  args.insert(args.begin(), "prog");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return cli::run<M, D>(static_cast<int>(argv.size()), argv.data(), settings);
}

int run_by_name(std::vector<std::string> args, const std::vector<std::string>& more = {}) {
  args.insert(args.end(), more.begin(), more.end());
  args.insert(args.begin(), "fulgur");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return cli::run(static_cast<int>(argv.size()), argv.data());
}

std::string write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The error a failing run printed.
template <typename Run>
std::string error_of_run(Run&& run) {
  ::testing::internal::CaptureStderr();
  const int status = run();
  const std::string printed = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 1) << printed;
  return printed;
}

TEST(HParamSpec, ReadsEachTypeAndNamesWhatItExpected) {
  EXPECT_EQ(HParamSpec("n", 3, "").parse("5").as<int64_t>(), 5);
  EXPECT_EQ(HParamSpec("lr", 0.1, "").parse("1").kind(), HParamValue::Kind::Double);  // an int widens
  EXPECT_EQ(HParamSpec("lr", 0.1, "").parse("1e-3").as<double>(), 1e-3);
  EXPECT_EQ(HParamSpec("s", "a", "").parse("007").as<std::string>(), "007");  // any scalar is text
  EXPECT_EQ(HParamSpec("l", {1, 2}, "").parse("[64, 32]").as<std::vector<int64_t>>(), (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(HParamSpec("b", false, "").parse("true").as<bool>(), true);
  EXPECT_EQ(HParamSpec("n", 3, "").parse("null").as<int64_t>(), 3);  // null: the default
  try {
    HParamSpec("n", 3, "").parse("many");
    FAIL() << "no error";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "a int, got 'many' (a string)");
  }
  EXPECT_THROW(HParamSpec("n", 3, "").parse("0.5"), std::invalid_argument);
  EXPECT_THROW(HParamSpec::required("p", HParamValue::Kind::String, "").parse("null"), std::invalid_argument);
}

TEST(CliRun, ArgumentsComeFromDefaultsThenFilesThenFlags) {
  const std::string dir = testing::temp_dir("cli_arguments");
  const std::string config = write(dir + "/run.yaml",
                                   "model:\n  init_args:\n    lr: 0.05\n    note: from the file\n"
                                   "data:\n  batch_size: 8\n"
                                   "trainer:\n  max_epochs: 3\n");
  ASSERT_EQ((run_cli<Line, LineData>({"fit", "--config", config, "--data.samples", "32", "--model.note", "flag"},
                                     quiet(dir))),
            0);
  EXPECT_EQ(last_run().hparams.get<double>("lr"), 0.05);           // the file's
  EXPECT_EQ(last_run().hparams.get<std::string>("note"), "flag");  // the flag wins over the file
  EXPECT_EQ(last_run().global_step, 3 * 32 / 8);                   // samples from the flag, batch size from the file
}

TEST(CliRun, ConfigYamlInTheLogFolderRunsTheSameRunAgain) {
  const std::string dir = testing::temp_dir("cli_rerun");
  ASSERT_EQ((run_cli<Line, LineData>(
                {"fit", "--seed_everything", "5", "--model.lr", "0.2", "--max-epochs", "2", "--plugin", "csv_logger"},
                quiet(dir + "/first"))),
            0);
  const torch::Tensor first = last_run().weights;
  const std::string saved = dir + "/first/lightning_logs/version_0/config.yaml";
  ASSERT_TRUE(std::filesystem::exists(saved));
  EXPECT_NE(read(saved).find("lr: 0.2"), std::string::npos) << read(saved);
  last_run() = {};
  ASSERT_EQ((run_cli<Line, LineData>({"fit", "--config", saved, "--trainer.default_root_dir", dir + "/again"})), 0);
  EXPECT_TRUE(torch::equal(last_run().weights, first));
  EXPECT_EQ(last_run().hparams.get<double>("lr"), 0.2);
  // And from the `fulgur` command's side, with the classes named in that file.
  last_run() = {};
  ASSERT_EQ(run_by_name({"fit", "--config", saved, "--trainer.default_root_dir", dir + "/by_name"}), 0);
  EXPECT_TRUE(torch::equal(last_run().weights, first));
}

TEST(CliRun, PrintConfigIsAValidConfigThatPrintsTheSame) {
  const std::string dir = testing::temp_dir("cli_print");
  ::testing::internal::CaptureStdout();
  ASSERT_EQ((run_cli<Line, LineData>(
                {"fit", "--model.lr", "0.25", "--batch-size", "4", "--optimizer", "adamw", "--print_config"}, {},
                [] {
                  cli::Settings settings;
                  settings.kebab_aliases = true;
                  return settings;
                }())),
            0);
  const std::string printed = ::testing::internal::GetCapturedStdout();
  for (const char* expected : {"class_path: fulgur::cli_test::Line", "lr: 0.25", "batch_size: 4", "samples: 64",
                               "class_path: AdamW", "weight_decay: 0.01", "max_epochs:", "ckpt_path: ~"}) {
    EXPECT_NE(printed.find(expected), std::string::npos) << expected << " not in\n" << printed;
  }
  const std::string file = write(dir + "/printed.yaml", printed);
  ::testing::internal::CaptureStdout();
  ASSERT_EQ((run_cli<Line, LineData>({"fit", "--config", file, "--print_config"})), 0);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), printed);
}

TEST(CliRun, OptimizerByNameEqualsTheHandWrittenOne) {
  const std::string dir = testing::temp_dir("cli_adam");
  ASSERT_EQ(
      (run_cli<BareLine, LineData>({"fit", "--seed_everything", "1", "--max-epochs", "3", "--optimizer",
                                    "torch.optim.Adam", "--optimizer.lr", "0.05", "--optimizer.betas", "[0.8, 0.99]"},
                                   quiet(dir + "/cli"))),
      0);
  const torch::Tensor configured = last_run().weights;
  // By hand: the same seed before the same construction order (data, then model).
  seed_everything(1);
  LineData data({{"samples", 64}, {"batch_size", 16}});
  HandAdamLine model({{"lr", 0.1}, {"note", "none"}});
  Trainer trainer(
      TrainerOptions().max_epochs(3).seed(1).enable_progress_bar(false).enable_model_summary(false).default_root_dir(
          dir + "/hand"));
  trainer.fit(model, data);
  EXPECT_TRUE(torch::equal(configured, last_run().weights)) << configured << last_run().weights;
}

TEST(CliRun, SchedulerByNameStepsOncePerEpoch) {
  const std::string dir = testing::temp_dir("cli_steplr");
  ASSERT_EQ((run_cli<BareLine, LineData>(
                {"fit", "--max-epochs", "3", "--optimizer", "SGD", "--optimizer.lr", "0.1", "--lr_scheduler", "StepLR",
                 "--lr_scheduler.step_size", "1", "--lr_scheduler.gamma", "0.5"},
                quiet(dir))),
            0);
  EXPECT_NEAR(last_run().lr, 0.1 * 0.5 * 0.5 * 0.5, 1e-12);
}

TEST(CliRun, TestAfterFitRunsTheTestLoopOnTheWeightsFitEndedOn) {
  const std::string dir = testing::temp_dir("cli_test_after_fit");
  ::testing::internal::CaptureStdout();
  ASSERT_EQ((run_cli<Line, LineData>({"fit", "--max-epochs", "40", "--test_after_fit"}, quiet(dir))), 0);
  const std::string printed = ::testing::internal::GetCapturedStdout();
  const auto at = printed.find("test_loss: ");
  ASSERT_NE(at, std::string::npos) << printed;
  EXPECT_LT(std::stod(printed.substr(at + 11)), 0.01) << printed;  // y = 3x - 1 learned
  EXPECT_NE(printed.find("global_step: 160"), std::string::npos) << printed;
}

TEST(CliRun, BadInputIsNamedWithTheNearestValidName) {
  const std::string dir = testing::temp_dir("cli_errors");
  const std::string typo = write(dir + "/typo.yaml", "model:\n  init_args:\n    lrr: 0.1\n");
  EXPECT_NE(error_of_run([&] {
              return run_cli<Line, LineData>({"fit", "--config", typo});
            })
                .find("config '" + typo +
                      "' line 3: model.lrr: fulgur::cli_test::Line has no argument 'lrr'; did you "
                      "mean 'lr'?"),
            std::string::npos);
  EXPECT_NE(error_of_run([&] {
              return run_cli<Line, LineData>({"fit", "--model.lr", "fast"});
            }).find("--model.lr: model.lr: expected a double, got 'fast' (a string)"),
            std::string::npos);
  EXPECT_NE(error_of_run([&] {
              return run_cli<Line, LineData>({"--max-epochs", "1"});
            }).find("expected a subcommand first: fit, validate, test or predict (got '--max-epochs')"),
            std::string::npos);
  EXPECT_NE(error_of_run([&] {
              return run_cli<BareLine, LineData>({"fit", "--optimizer", "Adamm"});
            }).find("unknown optimizer 'Adamm'; did you mean 'Adam'?"),
            std::string::npos);
  EXPECT_NE(error_of_run([&] {
              return run_cli<BareLine, LineData>({"fit"});
            }).find("fulgur::cli_test::BareLine writes no configure_optimizers: give it an optimizer"),
            std::string::npos);
  EXPECT_NE(error_of_run([&] {
              return run_cli<Line, LineData>({"fit", "--lr_scheduler", "StepLR"});
            }).find("lr_scheduler: a scheduler needs an optimizer"),
            std::string::npos);
  EXPECT_NE(error_of_run([&] {
              return run_cli<BareLine, LineData>({"fit", "--optimizer", "SGD", "--lr_scheduler", "StepLR"});
            }).find("lr_scheduler.step_size: StepLR needs it"),
            std::string::npos);
  const std::string other = write(dir + "/other.yaml", "model:\n  class_path: fulgur::cli_test::BareLine\n");
  EXPECT_NE(error_of_run([&] {
              return run_cli<Line, LineData>({"fit", "--config", other});
            }).find("line 2: model: this program runs fulgur::cli_test::Line, not fulgur::cli_test::BareLine"),
            std::string::npos);
  EXPECT_NE(error_of_run([&] {
              return run_by_name({"fit", "--model", "Lin"});
            }).find("no Module named 'Lin'; did you mean 'Line'?"),
            std::string::npos);
  EXPECT_NE(error_of_run([&] { return run_by_name({"fit"}); }).find("no Module chosen: give --model NAME"),
            std::string::npos);
}

TEST(ComponentRegistry, FindsAClassByItsFullDottedOrShortName) {
  auto& registry = cli::ComponentRegistry::instance();
  const auto* full = &registry.module("fulgur::cli_test::Line", {});
  EXPECT_EQ(&registry.module("fulgur.cli_test.Line", {}), full);
  EXPECT_EQ(&registry.module("Line", {}), full);
  EXPECT_EQ(registry.data_module("LineData", {}).hparams.size(), 2u);
  EXPECT_FALSE(registry.module("BareLine", {}).writes_configure_optimizers);
  EXPECT_TRUE(full->writes_configure_optimizers);
}

TEST(ComponentRegistry, AModuleLibraryBuiltForAnotherAbiIsSkippedBeforeAnyOfItsCodeRuns) {
  // other_abi_modules.so aborts in its static initialiser: reaching the assertions proves it never
  // ran. The plugins beside it are no module libraries and are left alone.
  try {
    cli::ComponentRegistry::instance().module("NoSuchNet", {FULGUR_BROKEN_PLUGIN_DIR});
    FAIL() << "no error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("no Module named 'NoSuchNet'"), std::string::npos) << message;
    EXPECT_NE(message.find("other_abi_modules.so: built for ABI 'fulgur-plugin-0;torch-0.4;cxx11abi-0'"),
              std::string::npos)
        << message;
  }
}

TEST(CliRun, TheFulgurCommandBuildsNamedClassesWithTheirArguments) {
  const std::string dir = testing::temp_dir("cli_by_name");
  ASSERT_EQ(run_by_name({"fit", "--model", "BareLine", "--data", "LineData", "--model.lr", "0.3", "--data.batch_size",
                         "32", "--optimizer", "SGD", "--max-epochs", "2"},
                        quiet(dir)),
            0);
  EXPECT_EQ(last_run().hparams.get<double>("lr"), 0.3);
  EXPECT_EQ(last_run().global_step, 2 * 64 / 32);
}

}  // namespace
}  // namespace fulgur::cli_test
