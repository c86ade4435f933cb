// Finding and loading plugin libraries, and the errors a user gets when that fails.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "fulgur/error.h"
#include "fulgur/plugin_host.h"
#include "testing.h"

namespace fulgur {
namespace {

std::string error_of_loading(const PluginSpec& spec, std::vector<std::string> dirs = {}) {
  try {
    PluginHost(std::move(dirs)).load(spec);
  } catch (const PluginError& error) {
    return error.what();
  }
  return "";
}

TEST(PluginHost, LoadsTheBundledHookTraceByName) {
  PluginHost host;
  const auto path = host.find("hook_trace");
  EXPECT_EQ(std::filesystem::path(path).filename(), "hook_trace.so");
  auto plugin = host.load(PluginSpec::parse("hook_trace:path=" + testing::temp_dir("host") + "/t.txt"));
  EXPECT_EQ(plugin->name(), "hook_trace");
}

TEST(PluginHost, PluginNamedInTrainerOptionsIsAttached) {
  TrainerOptions options;
  options.plugins().push_back(PluginSpec::parse("hook_trace:path=" + testing::temp_dir("opts") + "/t.txt"));
  Trainer trainer(options);
  // Lightning's defaults follow the user's plugins, model_checkpoint last.
  EXPECT_EQ(trainer.plugin_names(),
            (std::vector<std::string>{"hook_trace", "progress_bar", "model_summary", "model_checkpoint"}));
}

TEST(PluginHost, UnknownPluginListsTheFoldersSearched) {
  const auto message = error_of_loading(PluginSpec::parse("no_such_plugin"), {"/first/folder"});
  EXPECT_NE(message.find("plugin 'no_such_plugin' not found"), std::string::npos) << message;
  EXPECT_NE(message.find("/first/folder"), std::string::npos) << message;
}

TEST(PluginHost, UnknownOptionNamesThePluginTheKeyAndTheAcceptedKeys) {
  const auto message = error_of_loading(PluginSpec::parse("hook_trace:colour=red"));
  EXPECT_NE(message.find("plugin 'hook_trace': unknown option 'colour'; accepted options: path"), std::string::npos)
      << message;
}

TEST(PluginHost, TwoPluginsWithOneNameAreRefused) {
  const auto dir = testing::temp_dir("twice");
  TrainerOptions options;
  options.plugins().push_back(PluginSpec::parse("hook_trace:path=" + dir + "/a.txt"));
  options.plugins().push_back(PluginSpec::parse("hook_trace:path=" + dir + "/b.txt"));
  try {
    Trainer trainer(options);
    FAIL() << "no error";
  } catch (const PluginError& error) {
    EXPECT_NE(std::string(error.what()).find("two plugins are named 'hook_trace'"), std::string::npos);
  }
}

TEST(PluginHost, SearchPathPutsExplicitFoldersFirst) {
  PluginHost host({"/a", "/b"});
  ASSERT_GE(host.search_path().size(), 2u);
  EXPECT_EQ(host.search_path()[0], "/a");
  EXPECT_EQ(host.search_path()[1], "/b");
}

}  // namespace
}  // namespace fulgur
