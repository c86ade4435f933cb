// Trainer options from a command line, in kebab case.
#include <gtest/gtest.h>

#include "fulgur/command_line.h"
#include "fulgur/error.h"

namespace fulgur {
namespace {

TrainerOptions parse(std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  return parse_trainer_options(static_cast<int>(args.size()), args.data());
}

std::string error_for(std::vector<const char*> args) {
  try {
    parse(std::move(args));
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(CommandLine, ParsesTrainerOptionsInKebabCase) {
  const auto options = parse({"--max-epochs",
                              "3",
                              "--limit-train-batches",
                              "2",
                              "--limit-val-batches",
                              "0.5",
                              "--accumulate-grad-batches",
                              "2",
                              "--seed",
                              "7",
                              "--default-root-dir",
                              "/tmp/x",
                              "--accelerator",
                              "cpu",
                              "--val-check-interval",
                              "0.25",
                              "--num-sanity-val-steps",
                              "0",
                              "--plugin",
                              "hook_trace:path=t.txt",
                              "--plugin",
                              "other",
                              "--plugin-dir",
                              "/p",
                              "--check-val-every-n-epoch",
                              "2",
                              "--deterministic",
                              "--max-steps",
                              "100",
                              "--gradient-clip-val",
                              "0.5",
                              "--gradient-clip-algorithm",
                              "value"});
  EXPECT_EQ(options.max_epochs(), 3);
  EXPECT_TRUE(options.limit_train_batches().is_count());
  EXPECT_EQ(options.limit_train_batches().count(), 2);
  EXPECT_FALSE(options.limit_val_batches().is_count());
  EXPECT_DOUBLE_EQ(options.limit_val_batches().fraction(), 0.5);
  EXPECT_DOUBLE_EQ(options.val_check_interval().fraction(), 0.25);
  EXPECT_EQ(options.accumulate_grad_batches(), 2);
  EXPECT_EQ(options.seed(), 7u);
  EXPECT_EQ(options.default_root_dir(), "/tmp/x");
  EXPECT_EQ(options.accelerator(), "cpu");
  EXPECT_EQ(options.num_sanity_val_steps(), 0);
  EXPECT_EQ(options.check_val_every_n_epoch(), 2);
  EXPECT_TRUE(options.deterministic());
  EXPECT_EQ(options.max_steps(), 100);
  EXPECT_EQ(options.gradient_clip_val(), 0.5);
  EXPECT_EQ(options.gradient_clip_algorithm(), "value");
  ASSERT_EQ(options.plugins().size(), 2u);
  EXPECT_EQ(options.plugins()[0].name, "hook_trace");
  EXPECT_EQ(options.plugins()[0].options.at("path"), "t.txt");
  EXPECT_EQ(options.plugins()[1].name, "other");
  EXPECT_EQ(options.plugin_dirs(), std::vector<std::string>{"/p"});
}

TEST(CommandLine, OneMeansOneBatchAndOnePointZeroMeansTheWholeEpoch) {
  EXPECT_TRUE(parse({"--limit-train-batches", "1"}).limit_train_batches().is_count());
  EXPECT_FALSE(parse({"--limit-train-batches", "1.0"}).limit_train_batches().is_count());
}

TEST(CommandLine, DefaultsAreLightnings) {
  const auto options = parse({});
  EXPECT_FALSE(options.max_epochs());
  EXPECT_EQ(options.max_steps(), -1);
  EXPECT_EQ(options.num_sanity_val_steps(), 2);
  EXPECT_EQ(options.log_every_n_steps(), 50);
  EXPECT_EQ(options.accelerator(), "auto");
  EXPECT_FALSE(options.limit_train_batches().is_count());
  EXPECT_DOUBLE_EQ(options.limit_train_batches().fraction(), 1.0);
}

TEST(CommandLine, BadValuesNameTheOption) {
  EXPECT_NE(error_for({"--limit-train-batches", "lots"}).find("--limit-train-batches"), std::string::npos);
  EXPECT_NE(error_for({"--limit-val-batches", "1.5"}).find("[0.0, 1.0]"), std::string::npos);
  EXPECT_NE(error_for({"--max-epochs", "three"}).find("--max-epochs"), std::string::npos);
  EXPECT_NE(error_for({"--accelerator", "tpu"}).find("--accelerator"), std::string::npos);
  EXPECT_NE(error_for({"--no-such-option"}).find("no-such-option"), std::string::npos);
  EXPECT_NE(error_for({"--plugin", "bad name"}).find("plugin spec"), std::string::npos);
  EXPECT_NE(error_for({"--plugin", "x:novalue"}).find("key=value"), std::string::npos);
  EXPECT_NE(error_for({"--accumulate-grad-batches", "0"}).find("accumulate_grad_batches"), std::string::npos);
}

// CLI11 turns digits past int64's range into INT64_MAX without a word; fulgur refuses them.
TEST(CommandLine, IntegersOutOfRangeAreRefusedNotSaturated) {
  auto message = error_for({"--accumulate-grad-batches", "99999999999999999999"});
  EXPECT_NE(message.find("--accumulate-grad-batches: 99999999999999999999 is out of range"), std::string::npos)
      << message;
  message = error_for({"--max-epochs", "-99999999999999999999"});
  EXPECT_NE(message.find("--max-epochs: -99999999999999999999 is out of range"), std::string::npos) << message;
  message = error_for({"--seed", "18446744073709551616"});
  EXPECT_NE(message.find("--seed: 18446744073709551616 is out of range"), std::string::npos) << message;
  EXPECT_EQ(parse({"--max-steps", "9223372036854775807"}).max_steps(), INT64_MAX);  // the largest is fine
}

}  // namespace
}  // namespace fulgur
