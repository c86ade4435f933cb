// Every kind of broken plugin file gets a clear error and leaves the process running.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fulgur/error.h"
#include "fulgur/plugin_host.h"
#include "testing.h"

namespace fulgur {
namespace {

std::string load_error(const std::string& name, const std::string& dir = FULGUR_BROKEN_PLUGIN_DIR) {
  try {
    PluginHost({dir}).load(PluginSpec::parse(name));
  } catch (const PluginError& error) {
    return error.what();
  }
  return "";
}

#define EXPECT_MENTIONS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(BrokenPlugin, WithoutFactory) {
  EXPECT_MENTIONS(load_error("no_factory"), "exports no factory (fulgur_create_plugin)");
}

TEST(BrokenPlugin, BuiltForAnotherAbiIsRefusedBeforeAnyOfItsCodeRuns) {
  // The plugin's static initialiser aborts: reaching the assertion proves it never ran.
  const auto message = load_error("other_abi");
  EXPECT_MENTIONS(message, "was built for ABI 'fulgur-plugin-0;torch-0.4;cxx11abi-0'");
  EXPECT_MENTIONS(message, "rebuild the plugin");
}

TEST(BrokenPlugin, FactoryThatThrows) {
  EXPECT_MENTIONS(load_error("throwing_factory"), "plugin 'throwing_factory': cannot start: the weather is bad");
}

TEST(BrokenPlugin, FactoryThatThrowsSomethingThatIsNotAStdException) {
  EXPECT_MENTIONS(load_error("throwing_int_factory"),
                  "plugin 'throwing_int_factory': its factory threw something that is not a std::exception");
}

TEST(BrokenPlugin, FactoryThatReturnsNothing) {
  EXPECT_MENTIONS(load_error("null_factory"), "its factory returned no plugin");
}

TEST(BrokenPlugin, UnresolvedSymbolFailsAtLoadNamingTheSymbol) {
  EXPECT_MENTIONS(load_error("unresolved_symbol"), "fulgur_test_function_nobody_defines");
}

TEST(BrokenPlugin, EmptyTextAndTruncatedFiles) {
  const auto dir = testing::temp_dir("broken_files");
  { std::ofstream(dir + "/empty.so"); }
  { std::ofstream(dir + "/text.so") << "this is not a shared library at all"; }
  // The first half of a real plugin: its section table is cut off.
  const auto real = PluginHost().find("hook_trace");
  std::vector<char> bytes(std::filesystem::file_size(real) / 2);
  std::ifstream(real, std::ios::binary).read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::ofstream(dir + "/truncated.so", std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

  EXPECT_MENTIONS(load_error("empty", dir), "the file is empty or truncated (0 bytes)");
  EXPECT_MENTIONS(load_error("text", dir), "not an ELF shared library");
  EXPECT_MENTIONS(load_error("truncated", dir), "the file is truncated");
}

TEST(BrokenPlugin, BuiltForAnotherCpuIsNamedNotAMissingFile) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "the patched header names aarch64, which must differ from this CPU";
#endif
  // A real plugin whose ELF header says aarch64 (e_machine 183 at byte 18), as a copy from an
  // Arm machine would: dlopen calls that "No such file or directory".
  const auto dir = testing::temp_dir("other_cpu");
  std::filesystem::copy_file(PluginHost().find("hook_trace"), dir + "/arm_plugin.so");
  {
    std::fstream file(dir + "/arm_plugin.so", std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(18);
    const char aarch64[2] = {static_cast<char>(183), 0};
    file.write(aarch64, 2);
  }
  const auto message = load_error("arm_plugin", dir);
  EXPECT_MENTIONS(message, "it was built for aarch64 (64-bit Arm), but this process runs on x86-64");
  EXPECT_MENTIONS(message, "rebuild the plugin for this machine");
}

TEST(BrokenPlugin, ASharedLibraryThatIsNoPlugin) {
  const auto dir = testing::temp_dir("not_a_plugin");
  std::filesystem::copy_file(
      std::filesystem::path(FULGUR_BROKEN_PLUGIN_DIR).parent_path().parent_path() / "libfulgur.so", dir + "/kernel.so");
  EXPECT_MENTIONS(load_error("kernel", dir), "is not a fulgur plugin");
}

TEST(BrokenPlugin, NamedInTrainerOptionsItIsAnErrorNotACrash) {
  TrainerOptions options;
  options.plugin_dirs({FULGUR_BROKEN_PLUGIN_DIR});
  options.plugins().push_back(PluginSpec::parse("throwing_factory"));
  EXPECT_THROW(Trainer trainer(options), PluginError);
}

}  // namespace
}  // namespace fulgur
