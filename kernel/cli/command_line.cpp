#include "fulgur/command_line.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "command_line_state.h"
#include "fulgur/error.h"

namespace fulgur {

CLI::Validator integer_in_range() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const char* start = text.c_str();
        char* end = nullptr;
        errno = 0;
        (void)std::strtoll(start, &end, 0);
        if (end == start) return "";  // not a number at all: CLI11's own conversion names it
        if (errno == ERANGE) {
          return text + " is out of range: an integer option takes -9223372036854775808 to 9223372036854775807";
        }
        return "";
      },
      "", "INTEGER");
}

namespace {

std::string kebab(std::string name) {
  std::replace(name.begin(), name.end(), '_', '-');
  return "--" + name;
}

// LightningCLI's spellings: --config FILE (repeatable), --print_config, and every Trainer option
// as --trainer.NAME, read as the option's text.
void add_lightning_cli_options(CLI::App& app, CommandLineState& state) {
  app.add_option("--config", state.config_files,
                 "A YAML config file (LightningCLI's): trainer options, seed_everything, ckpt_path; repeatable, "
                 "later files win, the command line wins over files")
      ->allow_extra_args(false);
  app.add_flag("--print_config,--print-config", state.print_config,
               "Print the resolved configuration as YAML (a valid --config file) and exit");
  app.add_option("--seed_everything", state.seed_everything, "Seed every random generator: a number, or true (random)");
  const TrainerOptions defaults;
  for (const OptionField* field : defaults.fields()) {
    if (!field->has_text() || std::string(field->name()) == "plugin_dirs") continue;
    const std::string name = field->name();
    app.add_option("--trainer." + name, state.dotted[name],
                   std::string(field->help()) + " (" + field->type_name() + ")")
        ->group("Trainer options, LightningCLI's way");
  }
}

}  // namespace

namespace {

// The loops' options: epochs, steps, batch limits, validation cadence, accumulation, logging.
void add_loop_options(CLI::App* group, TrainerOptions& options, CommandLineState& state) {
  auto add_limit = [&](const char* flag, std::string& target, const char* what) {
    group->add_option(flag, target, std::string(what) + ": a batch count (2) or a fraction of the epoch (0.5)");
  };
  group
      ->add_option_function<int64_t>(
          "--max-epochs", [&options](const int64_t& value) { options.max_epochs() = value; },
          "Stop after this many epochs (default 1000 unless --max-steps is given)")
      ->check(integer_in_range());
  group->add_option("--max-steps", options.max_steps(), "Stop after this many optimizer steps (-1: no limit)")
      ->check(integer_in_range());
  group->add_option("--min-epochs", options.min_epochs(), "Run at least this many epochs")->check(integer_in_range());
  add_limit("--limit-train-batches", state.limit_train_batches, "Training batches per epoch");
  add_limit("--limit-val-batches", state.limit_val_batches, "Validation batches per run");
  add_limit("--limit-test-batches", state.limit_test_batches, "Test batches");
  add_limit("--limit-predict-batches", state.limit_predict_batches, "Predict batches");
  group
      ->add_option("--num-sanity-val-steps", options.num_sanity_val_steps(),
                   "Validation batches run before training (-1: all)")
      ->check(integer_in_range());
  add_limit("--val-check-interval", state.val_check_interval, "Validate every");
  group
      ->add_option("--fast-dev-run", options.fast_dev_run(),
                   "Run this many batches of every loop, without checkpoints or logs (1: Lightning's True)")
      ->check(integer_in_range());
  add_limit("--overfit-batches", state.overfit_batches, "Train and validate on the same first batches every epoch");
  group->add_flag("--inference-mode,!--no-inference-mode", options.inference_mode(),
                  "Evaluation loops under InferenceMode (on by default; off: NoGradGuard)");
  group->add_flag_function(
      "--benchmark,!--no-benchmark", [&options](int64_t count) { options.benchmark() = count > 0; },
      "cuDNN's autotuner on (or off); unset leaves LibTorch's setting");
  group
      ->add_option("--reload-dataloaders-every-n-epochs", options.reload_dataloaders_every_n_epochs(),
                   "Ask the *_dataloader() hooks for new loaders every n epochs (0: never)")
      ->check(integer_in_range());
  group->add_option("--check-val-every-n-epoch", state.check_val_every_n_epoch,
                    "Validate every n epochs ('none': only by --val-check-interval)");
  group
      ->add_option("--accumulate-grad-batches", options.accumulate_grad_batches(),
                   "Batches whose gradients are summed before each optimizer step")
      ->check(integer_in_range());
  group->add_option("--log-every-n-steps", options.log_every_n_steps(), "How often loggers receive step metrics")
      ->check(integer_in_range());
}

// Where a run writes, what it runs on, and how processes share it.
void add_hardware_options(CLI::App* group, TrainerOptions& options) {
  group->add_option("--default-root-dir", options.default_root_dir(), "Where logs and checkpoints go");
  group->add_option("--accelerator", options.accelerator(), "cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "gpu", "auto"}));
  group
      ->add_option("--devices", options.devices(),
                   "Processes (devices) per machine; more than one needs --strategy ddp")
      ->check(integer_in_range());
  group->add_option("--strategy", options.strategy(), "auto, single_device or ddp")
      ->check(CLI::IsMember({"auto", "single_device", "ddp"}));
  group->add_option("--num-nodes", options.num_nodes(), "Machines taking part under ddp")->check(integer_in_range());
  group->add_flag("--use-distributed-sampler,!--no-use-distributed-sampler", options.use_distributed_sampler(),
                  "Under ddp, give each process its share of the data (on by default)");
}

// Determinism, seeds, the default plugins, precision, clipping, time, requeueing, plugins.
void add_run_options(CLI::App* group, TrainerOptions& options, CommandLineState& state) {
  group->add_flag("--deterministic", options.deterministic(), "Use deterministic algorithms only");
  group->add_option("--seed", state.seed, "Seed every random generator (Lightning's seed_everything)")
      ->check(integer_in_range())
      ->check(CLI::NonNegativeNumber);
  group->add_flag("--enable-checkpointing,!--no-enable-checkpointing", options.enable_checkpointing(),
                  "Attach model_checkpoint with its defaults (on by default)");
  group->add_flag("--enable-progress-bar,!--no-enable-progress-bar", options.enable_progress_bar(),
                  "Attach progress_bar with its defaults (on by default)");
  group->add_flag("--enable-model-summary,!--no-enable-model-summary", options.enable_model_summary(),
                  "Attach model_summary with its defaults (on by default)");
  group->add_option("--precision", options.precision(), "32-true, 64-true, bf16-mixed, 16-mixed, bf16-true or 16-true");
  group->add_option_function<double>(
      "--gradient-clip-val", [&options](const double& value) { options.gradient_clip_val() = value; },
      "Clip gradients to this norm (or value) before each step");
  group->add_option("--gradient-clip-algorithm", options.gradient_clip_algorithm(), "norm or value");
  group->add_option("--max-time", options.max_time(), "Stop training after this long: DD:HH:MM:SS or seconds");
  group->add_flag("--detect-anomaly", options.detect_anomaly(), "Stop on a NaN/inf training loss, naming the batch");
  group->add_flag("--auto-requeue,!--no-auto-requeue", options.auto_requeue(),
                  "After a SIGUSR1 checkpoint under SLURM, requeue the job (on by default)");
  group->add_option("--requeue-command", options.requeue_command(),
                    "The command that requeues the job; {job_id} becomes SLURM's job id");
  group->add_option("--plugin", state.plugins, "A plugin to load: NAME or NAME:key=value,... (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  group->add_option("--plugin-dir", options.plugin_dirs(), "A folder searched for plugin .so files (repeatable)")
      ->allow_extra_args(false);
}

// The options given as text for types CLI11 does not read (batch limits, "none", seeds).
void apply_option_texts(const CommandLineState& state, TrainerOptions& options) {
  auto limit = [](const std::string& text, BatchLimit& target, const char* option) {
    if (!text.empty()) target = BatchLimit::parse(text, option);
  };
  limit(state.limit_train_batches, options.limit_train_batches(), "--limit-train-batches");
  limit(state.limit_val_batches, options.limit_val_batches(), "--limit-val-batches");
  limit(state.limit_test_batches, options.limit_test_batches(), "--limit-test-batches");
  limit(state.limit_predict_batches, options.limit_predict_batches(), "--limit-predict-batches");
  limit(state.val_check_interval, options.val_check_interval(), "--val-check-interval");
  limit(state.overfit_batches, options.overfit_batches(), "--overfit-batches");
  if (!state.check_val_every_n_epoch.empty()) {
    if (state.check_val_every_n_epoch == "none") {
      options.check_val_every_n_epoch().reset();
    } else {
      try {
        std::size_t used = 0;
        const auto value = std::stoll(state.check_val_every_n_epoch, &used);
        if (used != state.check_val_every_n_epoch.size()) throw std::invalid_argument("trailing text");
        options.check_val_every_n_epoch(value);
      } catch (const std::exception&) {
        throw Error("--check-val-every-n-epoch: expected a number or 'none', got '" + state.check_val_every_n_epoch +
                    "'");
      }
    }
  }
  if (state.seed >= 0) options.seed() = static_cast<uint64_t>(state.seed);
  if (!state.seed_everything.empty()) {
    try {
      options.seed(seed_everything_value(state.seed_everything));
    } catch (const std::invalid_argument& error) {
      throw Error(std::string("--seed_everything: expected ") + error.what());
    }
  }
}

// --plugin adds to the plugins the files name; --trainer.NAME sets any declared option.
void apply_dotted_options(const CommandLineState& state, TrainerOptions& options) {
  for (const auto& text : state.plugins) options.plugins().push_back(PluginSpec::parse(text));
  for (OptionField* field : options.fields()) {
    const auto found = state.dotted.find(field->name());
    if (found == state.dotted.end() || found->second.empty()) continue;
    try {
      field->set_text(found->second);
    } catch (const std::invalid_argument& error) {
      throw Error("--trainer." + found->first + ": expected " + error.what());
    }
  }
}

}  // namespace

std::shared_ptr<CommandLineState> add_trainer_options(CLI::App& app, TrainerOptions& options) {
  auto state = std::make_shared<CommandLineState>();
  state->app = &app;
  add_lightning_cli_options(app, *state);
  add_loop_options(&app, options, *state);
  add_hardware_options(&app, options);
  add_run_options(&app, options, *state);
  return state;
}

ConfigExtras finish_trainer_options(const CommandLineState& state, TrainerOptions& options) {
  // The files first, leaving what the command line gave (written into `options` already).
  std::set<std::string> given;
  for (const OptionField* field : options.fields()) {
    const std::string name = field->name();
    if (state.app && state.app->get_option_no_throw(kebab(name)) && state.app->count(kebab(name)) > 0)
      given.insert(name);
    if (state.dotted.count(name) && !state.dotted.at(name).empty()) given.insert(name);
  }
  if (state.seed >= 0 || !state.seed_everything.empty()) given.insert("seed");
  ConfigExtras extras;
  for (const auto& file : state.config_files) extras.merge(apply_config_file(file, options, given));
  if (!state.program_reads_components) {
    for (const auto& [section, component] : extras.components) {
      const auto found = component.origins.find("class_path");
      const auto origin = found != component.origins.end() ? found->second
                          : component.origins.empty()      ? std::string("config")
                                                           : component.origins.begin()->second;
      spdlog::warn(
          "{}: section '{}' is skipped: this program takes its model's, data's and optimizer's arguments on "
          "its own command line (fulgur::cli::run reads them)",
          origin, section);
    }
  }
  apply_option_texts(state, options);
  apply_dotted_options(state, options);
  options.validate();
  if (state.print_config && !state.program_prints_config) {
    std::fputs(config_yaml(options, extras).c_str(), stdout);
    std::exit(0);
  }
  return extras;
}

TrainerOptions parse_trainer_options(int argc, const char* const* argv) {
  CLI::App app{"fulgur trainer"};
  TrainerOptions options;
  auto state = add_trainer_options(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& help) {
    // --help: print the options and end the program as successful, as any command-line tool does.
    std::exit(app.exit(help));
  } catch (const CLI::ParseError& error) {
    throw Error(std::string("command line: ") + error.what());
  }
  finish_trainer_options(*state, options);
  return options;
}

}  // namespace fulgur
