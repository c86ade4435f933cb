// Trainer options from YAML files, LightningCLI's way (fulgur/config_file.h): every option, both
// plugin forms, files merged in order, the command line winning, --print_config round-tripping
// through a real program, Lightning's own spellings, and bad files named with their line.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "fulgur/command_line.h"
#include "fulgur/config_file.h"
#include "fulgur/error.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

std::string write(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TrainerOptions from(const std::string& path) {
  TrainerOptions options;
  apply_config_file(path, options);
  return options;
}

// One non-default value per Trainer option. A new option fails this test until it is added here
// (and so is known to be readable from a file).
const std::map<std::string, std::pair<std::string, std::string>>& every_option() {
  // name -> (YAML value, the option's text after reading it)
  static const std::map<std::string, std::pair<std::string, std::string>> values{
      {"max_epochs", {"7", "7"}},
      {"max_steps", {"100", "100"}},
      {"min_epochs", {"2", "2"}},
      {"limit_train_batches", {"0.25", "0.25"}},
      {"limit_val_batches", {"3", "3"}},
      {"limit_test_batches", {"0.5", "0.5"}},
      {"limit_predict_batches", {"4", "4"}},
      {"num_sanity_val_steps", {"0", "0"}},
      {"fast_dev_run", {"true", "1"}},  // Lightning's bool spelling
      {"overfit_batches", {"2", "2"}},
      {"inference_mode", {"false", "false"}},
      {"benchmark", {"true", "true"}},
      {"reload_dataloaders_every_n_epochs", {"3", "3"}},
      {"val_check_interval", {"0.5", "0.5"}},
      {"check_val_every_n_epoch", {"null", "none"}},
      {"accumulate_grad_batches", {"4", "4"}},
      {"log_every_n_steps", {"10", "10"}},
      {"default_root_dir", {"runs/x", "runs/x"}},
      {"accelerator", {"cpu", "cpu"}},
      {"devices", {"2", "2"}},
      {"strategy", {"ddp", "ddp"}},
      {"num_nodes", {"2", "2"}},
      {"use_distributed_sampler", {"false", "false"}},
      {"deterministic", {"true", "true"}},
      {"seed", {"42", "42"}},
      {"detect_anomaly", {"true", "true"}},
      {"precision", {"bf16-mixed", "bf16-mixed"}},
      {"gradient_clip_val", {"0.5", "0.5"}},
      {"gradient_clip_algorithm", {"value", "value"}},
      {"max_time", {"\"00:01:00:00\"", "00:01:00:00"}},
      {"auto_requeue", {"false", "false"}},
      {"requeue_command", {"'echo {job_id}'", "echo {job_id}"}},
      {"enable_progress_bar", {"false", "false"}},
      {"enable_model_summary", {"false", "false"}},
      {"enable_checkpointing", {"false", "false"}},
      {"plugins", {"[hook_trace]", ""}},
      {"plugin_dirs", {"[a/b, c]", ""}},
  };
  return values;
}

TEST(ConfigFile, EveryTrainerOptionIsReadFromAFile) {
  const std::string dir = testing::temp_dir("config_every");
  std::string yaml = "trainer:\n";
  for (const auto& [name, value] : every_option()) yaml += "  " + name + ": " + value.first + "\n";
  const TrainerOptions options = from(write(dir, "every.yaml", yaml));
  std::set<std::string> names;
  for (const OptionField* field : options.fields()) {
    const std::string name = field->name();
    names.insert(name);
    const auto expected = every_option().find(name);
    ASSERT_NE(expected, every_option().end()) << "option '" << name << "' is not in this test's table";
    if (field->has_text() && name != "plugin_dirs") EXPECT_EQ(field->text(), expected->second.second) << name;
  }
  EXPECT_EQ(names.size(), every_option().size());
  ASSERT_EQ(options.plugins().size(), 1u);
  EXPECT_EQ(options.plugins()[0].name, "hook_trace");
  EXPECT_EQ(options.plugin_dirs(), (std::vector<std::string>{"a/b", "c"}));
}

TEST(ConfigFile, PluginsInLightningsLongFormTheShortFormAndAsSpecs) {
  const std::string dir = testing::temp_dir("config_plugins");
  const TrainerOptions options = from(write(dir, "plugins.yaml", R"(trainer:
  plugins:
    - class_path: early_stopping
      init_args:
        monitor: val_loss
        patience: 3
    - swa: {swa_lrs: [0.05, 0.01], swa_epoch_start: 2}
    - progress_bar
    - "hook_trace:path=trace.txt"
    - model_summary: null
)"));
  const auto& plugins = options.plugins();
  ASSERT_EQ(plugins.size(), 5u);
  EXPECT_EQ(plugins[0].name, "early_stopping");
  EXPECT_EQ(plugins[0].options, (PluginOptions{{"monitor", "val_loss"}, {"patience", "3"}}));
  EXPECT_EQ(plugins[1].name, "swa");
  EXPECT_EQ(plugins[1].options, (PluginOptions{{"swa_lrs", "0.05/0.01"}, {"swa_epoch_start", "2"}}));
  EXPECT_EQ(plugins[2].name, "progress_bar");
  EXPECT_EQ(plugins[3].options, (PluginOptions{{"path", "trace.txt"}}));
  EXPECT_EQ(plugins[4].name, "model_summary");
  EXPECT_TRUE(plugins[4].options.empty());
  // They load: each plugin reads its own options.
  auto trainer_options = options;
  trainer_options.plugins().erase(trainer_options.plugins().begin() + 3);  // no trace file
  Trainer trainer(trainer_options);
  EXPECT_NE(trainer.find_plugin("early_stopping"), nullptr);
  EXPECT_NE(trainer.find_plugin("swa"), nullptr);
}

TEST(ConfigFile, PrintedConfigReadsBackToTheSameOptions) {
  const std::string dir = testing::temp_dir("config_print");
  TrainerOptions options;
  options.max_epochs(12).limit_val_batches(0.5).seed(3).precision("bf16-mixed").gradient_clip_val(1.0);
  options.plugins({PluginSpec::parse("early_stopping:monitor=val_loss,patience=4"), PluginSpec::parse("progress_bar")});
  options.plugin_dirs({"my plugins/x"});
  const std::string printed = config_yaml(options, ConfigExtras{std::string("last")});
  EXPECT_NE(printed.find("seed_everything: 3"), std::string::npos) << printed;
  EXPECT_NE(printed.find("  max_epochs: 12"), std::string::npos) << printed;
  EXPECT_NE(printed.find("  benchmark: ~"), std::string::npos) << printed;  // unset: null
  EXPECT_NE(printed.find("ckpt_path: last"), std::string::npos) << printed;
  TrainerOptions read;
  const ConfigExtras extras = apply_config_file(write(dir, "printed.yaml", printed), read);
  EXPECT_EQ(config_yaml(read, extras), printed);
  EXPECT_EQ(extras.ckpt_path.value_or(""), "last");
}

// Through a real program: --print_config writes a file that --config reads to the same output,
// files apply in order, kebab and dotted options on the command line win.
TEST(ConfigFile, TheCommandLineWinsOverFilesAndPrintConfigRoundTrips) {
  const std::string dir = testing::temp_dir("config_cli");
  const std::string first =
      write(dir, "a.yaml", "trainer:\n  max_epochs: 5\n  log_every_n_steps: 7\n  min_epochs: 1\n");
  const std::string second = write(dir, "b.yaml", "trainer:\n  max_epochs: 6\n  plugins: [progress_bar]\n");
  const char* argv[] = {"prog",
                        "--config",
                        first.c_str(),
                        "--config",
                        second.c_str(),
                        "--min-epochs",
                        "3",
                        "--trainer.log_every_n_steps",
                        "9",
                        "--plugin",
                        "model_summary"};
  const TrainerOptions options = parse_trainer_options(static_cast<int>(std::size(argv)), argv);
  EXPECT_EQ(options.max_epochs(), 6);         // the later file
  EXPECT_EQ(options.min_epochs(), 3);         // the kebab option
  EXPECT_EQ(options.log_every_n_steps(), 9);  // the dotted option
  ASSERT_EQ(options.plugins().size(), 2u);    // --plugin adds to the file's list
  EXPECT_EQ(options.plugins()[1].name, "model_summary");

  const std::string worker = FULGUR_TRAIN_WORKER;
  const auto print = [&](const std::string& arguments) {
    FILE* pipe = popen((worker + " " + arguments + " 2>&1").c_str(), "r");
    std::string output;
    char buffer[4096];
    while (pipe && fgets(buffer, sizeof buffer, pipe)) output += buffer;
    if (pipe) pclose(pipe);
    return output;
  };
  const std::string printed = print("--config " + first + " --config " + second + " --min-epochs 3 --print_config");
  EXPECT_NE(printed.find("  max_epochs: 6\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("  min_epochs: 3\n"), std::string::npos) << printed;
  write(dir, "printed.yaml", printed);
  EXPECT_EQ(print("--config " + dir + "/printed.yaml --print_config"), printed);
}

TEST(ConfigFile, BadFilesAreNamedWithTheirLine) {
  const std::string dir = testing::temp_dir("config_bad");
  const auto error = [&](const std::string& name, const std::string& text) {
    return error_of([&] { from(write(dir, name, text)); });
  };
  EXPECT_NE(error("typo.yaml", "trainer:\n  max_epochs: 3\n  max_epoch: 4\n")
                .find("config '" + dir +
                      "/typo.yaml' line 3: trainer.max_epoch: unknown Trainer option; did you mean "
                      "'max_epochs'?"),
            std::string::npos);
  EXPECT_NE(error("type.yaml", "trainer:\n  max_steps: many\n")
                .find("line 2: trainer.max_steps: expected an integer, got 'many'"),
            std::string::npos);
  EXPECT_NE(error("list.yaml", "trainer:\n  max_steps: [1, 2]\n").find("expected a single value (int), got a list"),
            std::string::npos);
  EXPECT_NE(error("section.yaml", "trainr:\n  max_epochs: 3\n")
                .find("line 1: trainr: unknown section; did you mean 'trainer'?"),
            std::string::npos);
  EXPECT_EQ(error("model.yaml", "model:\n  lr: 0.1\ntrainer:\n  max_epochs: 2\n"), "");  // skipped, with a warning
  EXPECT_NE(error("yaml.yaml", "trainer: [1, 2\n").find("/yaml.yaml' line "), std::string::npos)
      << error("yaml.yaml", "trainer: [1, 2\n");
  EXPECT_NE(error("plugin.yaml", "trainer:\n  plugins:\n    - {a: 1, b: 2}\n")
                .find("line 3: trainer.plugins: each plugin is a name"),
            std::string::npos);
  EXPECT_NE(
      error("lightning.yaml", "trainer:\n  sync_batchnorm: true\n")
          .find("trainer.sync_batchnorm: Lightning's option has no counterpart in fulgur; only its default (false) "
                "is accepted, got true"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] { from(dir + "/missing.yaml"); }).find("config '" + dir + "/missing.yaml': cannot read the file"),
      std::string::npos);
}

// The trainer section as Lightning's --print_config writes it by default (Lightning 2.6's Trainer
// arguments and defaults, nulls included) reads as fulgur's defaults.
TEST(ConfigFile, LightningsDefaultTrainerSectionReadsAsTheDefaults) {
  const std::string dir = testing::temp_dir("config_lightning");
  const TrainerOptions options = from(write(dir, "lightning.yaml", R"(seed_everything: 7
trainer:
  accelerator: auto
  strategy: auto
  devices: auto
  num_nodes: 1
  precision: null
  logger: null
  callbacks: null
  fast_dev_run: false
  max_epochs: null
  min_epochs: null
  max_steps: -1
  min_steps: null
  max_time: null
  limit_train_batches: null
  limit_val_batches: null
  limit_test_batches: null
  limit_predict_batches: null
  overfit_batches: 0.0
  val_check_interval: null
  check_val_every_n_epoch: 1
  num_sanity_val_steps: null
  log_every_n_steps: null
  enable_checkpointing: null
  enable_progress_bar: null
  enable_model_summary: null
  accumulate_grad_batches: 1
  gradient_clip_val: null
  gradient_clip_algorithm: null
  deterministic: null
  benchmark: null
  inference_mode: true
  use_distributed_sampler: true
  profiler: null
  detect_anomaly: false
  barebones: false
  plugins: null
  sync_batchnorm: false
  reload_dataloaders_every_n_epochs: 0
  default_root_dir: null
  enable_autolog_hparams: true
  model_registry: null
ckpt_path: null
)"));
  TrainerOptions expected;
  expected.seed(7);
  EXPECT_EQ(config_yaml(options), config_yaml(expected));
}

}  // namespace
}  // namespace fulgur
