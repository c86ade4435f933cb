// Options declared once (fulgur/options.h): LibTorch's setters and getters, the text reader with
// its errors, the checks, the printed spec and the help table, all from one line per option.
#include <gtest/gtest.h>

#include <cmath>

#include "fulgur/error.h"
#include "fulgur/log_options.h"
#include "fulgur/optimizer_config.h"
#include "fulgur/options.h"
#include "fulgur/state_dict.h"
#include "fulgur/tensor_data_loader.h"
#include "fulgur/trainer_options.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

struct WatchOptions : DeclaredOptions<WatchOptions> {
  FULGUR_OPTIONS_OF("watch");
  using Schedule = std::map<int64_t, int64_t>;

  WatchOptions() = default;
  explicit WatchOptions(std::string metric) { monitor(std::move(metric)); }

  FULGUR_OPTION(std::string, monitor, "", "The metric to watch.", required());
  FULGUR_OPTION(int64_t, patience, 3, "Checks without improvement.", at_least(0));
  FULGUR_OPTION(std::string, mode, "min", "min or max.", one_of({"min", "max"}));
  FULGUR_OPTION(double, threshold, std::nan(""), "Stop once better than this.");
  FULGUR_OPTION(bool, verbose, false, "Log every check.");
  FULGUR_OPTION(std::optional<int64_t>, every, std::nullopt, "Check every n epochs.", greater_than(0));
  FULGUR_OPTION(std::vector<double>, rates, {}, "One per group.");
  FULGUR_OPTION(Schedule, schedule, (Schedule{{0, 1}}), "epoch:factor pairs.");
  FULGUR_OPTION(std::function<void()>, callback, nullptr, "Set in code only.");
};

TEST(DeclaredOptions, SetAndReadAsLibTorchsOptions) {
  const auto options = WatchOptions("val_loss").patience(5).mode("max").every(2);
  EXPECT_EQ(options.monitor(), "val_loss");
  EXPECT_EQ(options.patience(), 5);
  EXPECT_EQ(options.mode(), "max");
  EXPECT_EQ(options.every(), 2);
  EXPECT_TRUE(std::isnan(options.threshold()));
  WatchOptions copy = options;  // a copy keeps its own values and still chains
  copy.patience() = 9;
  copy.verbose(true).rates({0.1, 0.2});
  EXPECT_EQ(copy.patience(), 9);
  EXPECT_EQ(options.patience(), 5);
  EXPECT_EQ(copy.fields().size(), 9u);
  EXPECT_EQ(copy.spec().options.at("rates"), "0.1/0.2");
  copy = options;
  EXPECT_EQ(copy.patience(), 5);
  EXPECT_FALSE(copy.verbose());
}

TEST(DeclaredOptions, OldFieldStyleStillCompiles) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  WatchOptions options;
  options.patience = 7;  // deprecated: options.patience(7)
  const int64_t read = options.patience;
#pragma GCC diagnostic pop
  EXPECT_EQ(read, 7);
  EXPECT_EQ(options.patience(), 7);
}

TEST(DeclaredOptions, TheLastReleasesSpellingsOfTheLibrarysOptionsStillCompile) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  TrainerOptions trainer;
  trainer.max_epochs = 4;  // fields
  trainer.limit_train_batches = 0.5;
  const auto log = LogOptions{}.with_prog_bar().with_on_epoch(true).with_batch_size(8);
  const auto load = LoadOptions().with_strip_prefix("model.").with_rename("a.", "b.").with_strict(false);
  const TensorDataLoaderOptions loader{32, true};
  const LRSchedulerConfig config;
#pragma GCC diagnostic pop
  EXPECT_EQ(trainer.max_epochs(), 4);
  EXPECT_EQ(trainer.limit_train_batches().fraction(), 0.5);
  EXPECT_TRUE(log.prog_bar());
  EXPECT_EQ(log.batch_size(), 8);
  EXPECT_EQ(load.strip_prefix(), "model.");
  EXPECT_EQ(load.rename().size(), 1u);
  EXPECT_FALSE(load.strict());
  EXPECT_EQ(loader.batch_size(), 32);
  EXPECT_TRUE(loader.shuffle());
  EXPECT_EQ(config.interval(), "epoch");
  // The Trainer's options read from text too, with the Trainer named in errors.
  const auto parsed =
      TrainerOptions::parse({{"max_epochs", "3"}, {"limit_val_batches", "2"}, {"precision", "bf16-mixed"}});
  EXPECT_EQ(parsed.max_epochs(), 3);
  EXPECT_TRUE(parsed.limit_val_batches().is_count());
  EXPECT_EQ(error_of([] {
              TrainerOptions::parse({{"max_epochs", "many"}});
            }),
            "Trainer: option 'max_epochs' expects an integer, got 'many'");
  EXPECT_NE(error_of([] {
              TrainerOptions::parse({{"limit_val_batches", "x"}});
            }).find("a batch count"),
            std::string::npos);
}

TEST(DeclaredOptions, TextReadsEveryTypeAndPrintsBackTheSame) {
  const auto options = WatchOptions::parse({{"monitor", "acc"},
                                            {"patience", "0"},
                                            {"threshold", "0.1"},
                                            {"verbose", "yes"},
                                            {"every", "none"},
                                            {"rates", "0.05/1e-3"},
                                            {"schedule", "0:1/4:2"}});
  EXPECT_EQ(options.patience(), 0);
  EXPECT_EQ(options.threshold(), 0.1);
  EXPECT_TRUE(options.verbose());
  EXPECT_FALSE(options.every().has_value());
  EXPECT_EQ(options.rates(), (std::vector<double>{0.05, 1e-3}));
  EXPECT_EQ(options.schedule(), (WatchOptions::Schedule{{0, 1}, {4, 2}}));
  const PluginSpec spec = options.spec();
  EXPECT_EQ(spec.name, "watch");
  EXPECT_EQ(spec.options.count("callback"), 0u);  // no text form, not printed
  const auto again = WatchOptions::parse(spec.options);
  EXPECT_EQ(again.spec().options, spec.options);
  EXPECT_EQ(spec.options.at("threshold"), "0.1");
  EXPECT_EQ(spec.options.at("schedule"), "0:1/4:2");
}

TEST(DeclaredOptions, BadTextAndFailedChecksNameThePluginAndOption) {
  EXPECT_EQ(error_of([] {
              WatchOptions::parse({{"monitor", "a"}, {"patience", "x"}});
            }),
            "plugin 'watch': option 'patience' expects an integer, got 'x'");
  EXPECT_EQ(error_of([] {
              WatchOptions::parse({{"monitor", "a"}, {"patience", "-1"}});
            }),
            "plugin 'watch': option 'patience' must be >= 0, got -1");
  EXPECT_EQ(error_of([] {
              WatchOptions::parse({{"monitor", "a"}, {"mode", "mid"}});
            }),
            "plugin 'watch': option 'mode' expects min or max, got 'mid'");
  EXPECT_EQ(error_of([] { WatchOptions::parse({}); }), "plugin 'watch': option 'monitor' is required");
  EXPECT_EQ(error_of([] {
              WatchOptions::parse({{"monitor", "a"}, {"every", "0"}});
            }),
            "plugin 'watch': option 'every' must be > 0, got 0");
  EXPECT_EQ(error_of([] {
              WatchOptions::parse({{"monitor", "a"}, {"verbose", "maybe"}});
            }),
            "plugin 'watch': option 'verbose' expects true or false, got 'maybe'");
  EXPECT_EQ(error_of([] {
              WatchOptions::parse({{"monitor", "a"}, {"schedule", "4"}});
            }),
            "plugin 'watch': option 'schedule' expects key:value pairs separated by '/', got '4'");
  EXPECT_EQ(error_of([] {
              WatchOptions::parse({{"monitor", "a"}, {"paitence", "3"}});
            }),
            "plugin 'watch': unknown option 'paitence'; accepted options: every, mode, monitor, patience, rates, "
            "schedule, threshold, verbose");
  EXPECT_NE(error_of([] {
              WatchOptions::parse({{"callback", "x"}});
            }).find("unknown option 'callback'"),
            std::string::npos);
}

TEST(DeclaredOptions, TheHelpTableListsEveryOptionWithItsDefault) {
  const std::string table = WatchOptions::help_table();
  EXPECT_NE(table.find("| `patience` | int | `3` | Checks without improvement. |"), std::string::npos) << table;
  EXPECT_NE(table.find("| `monitor` | string | \"\" | The metric to watch. |"), std::string::npos) << table;
  EXPECT_EQ(table.find("callback"), std::string::npos);
}

}  // namespace
}  // namespace fulgur
