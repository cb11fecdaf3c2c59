#pragma once
// Plugins: shared libraries built beside the binaries (libcredsift_poppler.so,
// libcredsift_verify.so) and opened with dlopen on first use, so that their libraries (poppler,
// libcurl, libpq ...) are mapped only by the runs that need them, never at every start.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace credsift {

// Where a plugin may be: $CREDSIFT_PLUGIN_DIR alone when set (tests, relocated installs); else
// beside the running binary (the build tree), its ../lib/credsift (an install), and the build
// tree this helper was compiled in (unit tests run from elsewhere).
std::vector<std::filesystem::path> plugin_dirs();

struct PluginLibrary {
  void* handle = nullptr;  // from dlopen, never closed; null when the plugin is unusable
  std::string path;        // the file found
  std::string error;       // why handle is null; names every directory looked in
};

// Opens the first `file_name` of plugin_dirs() (RTLD_NOW | RTLD_LOCAL: its libraries' symbols
// stay out of the global namespace) and checks that its `abi_symbol`, an `int (void)`, returns
// `abi`: a plugin of another build is refused, not called.
PluginLibrary open_plugin(std::string_view file_name, const char* abi_symbol, int abi);

// dlsym in an opened plugin; null when missing.
void* plugin_symbol(const PluginLibrary& plugin, const char* name);

// open_plugin, then its entry point `entry`: null, with `error` saying why, when either fails.
void* open_plugin_entry(std::string_view file_name, const char* abi_symbol, int abi,
                        const char* entry, std::string& error);

}  // namespace credsift
