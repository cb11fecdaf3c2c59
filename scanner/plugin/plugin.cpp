// Finding and opening plugins (include/credsift/plugin.hpp): one search for every plugin.
#include "credsift/plugin.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <system_error>

namespace credsift {

std::vector<std::filesystem::path> plugin_dirs() {
  if (const char* dir = std::getenv("CREDSIFT_PLUGIN_DIR"); dir && *dir) return {dir};
  std::vector<std::filesystem::path> dirs;
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    dirs.push_back(exe.parent_path());
    dirs.push_back(exe.parent_path().parent_path() / "lib/credsift");
  }
#ifdef CREDSIFT_PLUGIN_BUILD_DIR
  dirs.emplace_back(CREDSIFT_PLUGIN_BUILD_DIR);
#endif
  return dirs;
}

PluginLibrary open_plugin(std::string_view file_name, const char* abi_symbol, int abi) {
  PluginLibrary plugin;
  std::string tried;
  for (const std::filesystem::path& dir : plugin_dirs()) {
    const std::filesystem::path file = dir / file_name;
    std::error_code error;
    if (!std::filesystem::is_regular_file(file, error)) {
      tried += (tried.empty() ? "" : ", ") + dir.string();
      continue;
    }
    plugin.path = file.string();
    // Never unloaded: what it returned (text, strings) may outlive any one call.
    void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = ::dlerror();
      plugin.error = plugin.path + " cannot be loaded: " + (why ? why : "unknown error");
      return plugin;
    }
    using AbiFn = int (*)();
    const auto abi_of = reinterpret_cast<AbiFn>(::dlsym(handle, abi_symbol));
    if (!abi_of || abi_of() != abi) {
      // Refused before anything of it was used, so it can go (and its libraries with it).
      ::dlclose(handle);
      plugin.error = plugin.path + " is not the plugin of this credsift build";
      return plugin;
    }
    plugin.handle = handle;
    return plugin;
  }
  plugin.error = std::string(file_name) + " not found (looked in " + tried + ")";
  return plugin;
}

void* plugin_symbol(const PluginLibrary& plugin, const char* name) {
  return plugin.handle ? ::dlsym(plugin.handle, name) : nullptr;
}

void* open_plugin_entry(std::string_view file_name, const char* abi_symbol, int abi,
                        const char* entry, std::string& error) {
  const PluginLibrary library = open_plugin(file_name, abi_symbol, abi);
  void* function = plugin_symbol(library, entry);
  if (!function) error = library.handle ? library.path + " has no " + entry : library.error;
  return function;
}

}  // namespace credsift
