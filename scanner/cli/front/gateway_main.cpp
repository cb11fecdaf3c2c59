// credsift-gateway: the gateway commands (check, milter, serve), run by the `credsift` front
// (front_main.cpp). It maps only what a check needs (no SQLite, libcurl, libpq, hiredis,
// tcmalloc; poppler is a plugin loaded when a PDF needs it), so a check run once per message
// starts in a fraction of the full program's time. Other commands go to credsift-full.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>

#include "commands.hpp"
#include "credsift/escape.hpp"

namespace po = boost::program_options;
using namespace credsift::cli;
using credsift::escape_for_terminal;

namespace {

struct Command {
  std::string_view name;
  int (*run)(const Arguments&);
};

constexpr Command kGatewayCommands[] = {
    {"check", command_check}, {"milter", command_milter}, {"serve", command_serve}};

// credsift-full beside this binary (the build tree and an install put both in one directory).
int run_full_program(char** argv) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) {
    std::cerr << "credsift: cannot find its own binary: " << error.message() << "\n";
    return kExitError;
  }
  const std::filesystem::path full = self.parent_path() / "credsift-full";
  ::execv(full.c_str(), argv);
  std::cerr << "credsift: cannot run " << escape_for_terminal(full.string()) << ": "
            << std::strerror(errno) << "\n";
  return kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  if (argc < 2) return run_full_program(argv);  // the usage text lives there
  const std::string_view command = argv[1];
  if (command == "--version" || command == "version") {
    std::cout << "credsift " << CREDSIFT_VERSION << "\n";
    return kExitClean;
  }
  for (const Command& gateway : kGatewayCommands) {
    if (command != gateway.name) continue;
    const Arguments arguments(argv + 2, argv + argc);
    try {
      return gateway.run(arguments);
    } catch (const po::error& error) {
      std::cerr << "credsift: " << escape_for_terminal(error.what()) << "\n(see credsift "
                << command << " --help)\n";
      return kExitError;
    } catch (const std::exception& error) {
      std::cerr << "credsift: error: " << escape_for_terminal(error.what()) << "\n";
      return kExitError;
    }
  }
  return run_full_program(argv);
}
