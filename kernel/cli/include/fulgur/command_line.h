// Trainer options on a command line, in kebab case: --max-epochs 3, --limit-train-batches 0.5,
// --plugin hook_trace:path=trace.txt (repeatable), --plugin-dir DIR, --seed 7, ...; and
// LightningCLI's: --config run.yaml (repeatable; fulgur/config_file.h), --trainer.max_epochs 3
// (every Trainer option, dotted), --seed_everything 7, --print_config. The command line wins over
// the files: defaults < --config files in order < kebab and dotted options.
//
//   CLI::App app{"my trainer"};
//   fulgur::TrainerOptions options;
//   fulgur::add_trainer_options(app, options);
//   app.add_option("--batch-size", batch_size);   // the program's own options
//   CLI11_PARSE(app, argc, argv);
//   fulgur::finish_trainer_options(options);      // checks and converts what was parsed
#pragma once

#include <memory>

#include "fulgur/config_file.h"
#include "fulgur/trainer_options.h"

namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace fulgur {

class CommandLineState;

/// Registers every Trainer option on `app`; parsed values land in `options`.
/// The returned object keeps the raw text of options that need converting; keep it alive
/// until finish_trainer_options.
std::shared_ptr<CommandLineState> add_trainer_options(CLI::App& app, TrainerOptions& options);

/// Applies the --config files, then converts what add_trainer_options parsed ("0.5" vs "2"
/// limits, plugin specs, dotted options) into `options` and validates them. Throws fulgur::Error
/// naming the option (and, for a file, its line) on bad input. With --print_config it prints the
/// resolved configuration as YAML and ends the program with status 0, as LightningCLI does.
/// Returns what the files say besides Trainer options (ckpt_path).
ConfigExtras finish_trainer_options(const CommandLineState& state, TrainerOptions& options);

/// A check for a program's own integer options (`->check(fulgur::integer_in_range())`): CLI11
/// turns digits past int64's range silently into INT64_MAX; this refuses them, naming the option.
/// Every integer Trainer option carries it.
CLI::Validator integer_in_range();

/// Parses argv into options in one call: for programs with no options of their own, and tests.
/// Throws fulgur::Error with CLI11's message on an unknown option or a malformed value; --help
/// prints the options and exits the program with status 0.
TrainerOptions parse_trainer_options(int argc, const char* const* argv);

}  // namespace fulgur
