// The plugin search (credsift/plugin.hpp) and the verify plugin behind it: found in the build
// tree, refused with a message that names where it looked, and its libraries (libcurl ...)
// mapped only once it is opened; the binary's `scan --verify` fails cleanly without it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "credsift/plugin.hpp"
#include "verify_loader.hpp"
#include "verify_plugin.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "credsift-plugin-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

// Sets $CREDSIFT_PLUGIN_DIR for one scope.
struct PluginDirOverride {
  explicit PluginDirOverride(const fs::path& dir) {
    ::setenv("CREDSIFT_PLUGIN_DIR", dir.c_str(), 1);
  }
  ~PluginDirOverride() { ::unsetenv("CREDSIFT_PLUGIN_DIR"); }
};

bool mapped(std::string_view library) {
  std::ifstream maps("/proc/self/maps");
  std::stringstream text;
  text << maps.rdbuf();
  return text.str().find(library) != std::string::npos;
}

TEST(PluginSearch, NamesEveryDirectoryLookedIn) {
  TempDir empty;
  PluginDirOverride override_dir(empty.path);
  const PluginLibrary plugin =
      open_plugin("libcredsift_verify.so", "credsift_verify_abi", CREDSIFT_VERIFY_ABI);
  EXPECT_EQ(plugin.handle, nullptr);
  EXPECT_EQ(plugin.error,
            "libcredsift_verify.so not found (looked in " + empty.path.string() + ")");
  EXPECT_EQ(plugin_dirs(), std::vector<fs::path>{empty.path});
}

TEST(PluginSearch, RefusesAFileThatIsNoLibrary) {
  TempDir dir;
  std::ofstream(dir.path / "libcredsift_verify.so") << "not an ELF file\n";
  PluginDirOverride override_dir(dir.path);
  const PluginLibrary plugin =
      open_plugin("libcredsift_verify.so", "credsift_verify_abi", CREDSIFT_VERIFY_ABI);
  EXPECT_EQ(plugin.handle, nullptr);
  EXPECT_NE(plugin.error.find("cannot be loaded"), std::string::npos) << plugin.error;
}

TEST(PluginSearch, RefusesAnotherAbi) {
  // poppler's plugin: opening the verify plugin here would map libcurl before the test below.
  const PluginLibrary plugin = open_plugin("libcredsift_poppler.so", "credsift_poppler_abi", 999);
  EXPECT_EQ(plugin.handle, nullptr);
  EXPECT_NE(plugin.error.find("is not the plugin of this credsift build"), std::string::npos)
      << plugin.error;
#if defined(NDEBUG)
  // Optimised builds only: in a debug build libpoppler binds to a symbol the plugin exports
  // (std::to_chars's digit table), and that binding keeps the plugin loaded after dlclose.
  EXPECT_FALSE(mapped("libcredsift_poppler.so")) << "a refused plugin stays unloaded";
#endif
}

TEST(PluginSearch, FindsThePopplerPluginInTheBuildTree) {
  const PluginLibrary plugin = open_plugin("libcredsift_poppler.so", "credsift_poppler_abi", 1);
  ASSERT_NE(plugin.handle, nullptr) << plugin.error;
  EXPECT_NE(plugin_symbol(plugin, "credsift_poppler_pdf_text"), nullptr);
  EXPECT_EQ(plugin_symbol(plugin, "no_such_symbol"), nullptr);
}

// Run last in this process (gtest keeps file order): it maps the plugin for good.
TEST(VerifyPlugin, LibcurlIsMappedOnlyOnceThePluginIsOpened) {
  EXPECT_FALSE(mapped("libcurl"));
  EXPECT_FALSE(mapped("libcredsift_verify.so"));
  std::vector<Ticket> tickets;
  VerifyOptions options;
  options.dry_run = true;
  std::ostringstream plan;
  const VerifyCounts counts = verify_tickets_in_plugin(tickets, options, plan);
  EXPECT_EQ(counts.contacted + counts.live + counts.revoked + counts.unknown, 0u);
  EXPECT_TRUE(mapped("libcredsift_verify.so"));
  EXPECT_TRUE(mapped("libcurl"));
  load_verify_plugin();  // opened once; a second call returns at once
}

// The binary: without the plugin, `scan --verify` stops with exit 2 and says where it looked;
// a scan without --verify does not need it.
int run(const std::string& command, std::string& output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buffer[4096];
  size_t size;
  while ((size = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, size);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(VerifyPlugin, ScanVerifyWithoutThePluginFailsCleanly) {
  TempDir dir;
  const fs::path message = dir.path / "message.eml";
  std::ofstream(message) << "From: a@example.com\nTo: b@example.com\nSubject: hello\n\nhello\n";
  const std::string prefix = "CREDSIFT_PLUGIN_DIR='" + dir.path.string() + "' '" + CREDSIFT_BINARY +
                             "' scan -j1 -o '" + (dir.path / "out.jsonl").string() + "' '" +
                             message.string() + "'";
  std::string output;
  EXPECT_EQ(run(prefix + " --verify", output), 2) << output;
  EXPECT_NE(output.find("live verification is unavailable: its plugin libcredsift_verify.so "
                        "not found (looked in " +
                        dir.path.string() + ")"),
            std::string::npos)
      << output;
  output.clear();
  EXPECT_EQ(run(prefix, output), 0) << output;
}

}  // namespace
}  // namespace credsift
