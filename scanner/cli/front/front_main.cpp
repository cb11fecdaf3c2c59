// `credsift`, the front users run. It links nothing but the C and C++ runtimes, so that it
// starts about as fast as `cat`:
//   * `credsift --version`, and `credsift check --daemon SOCKET` (the client of credsift serve,
//     daemon_client.cpp), run here;
//   * check, milter and serve otherwise exec credsift-gateway (gateway_main.cpp: the scanner's
//     gateway libraries), every other command execs credsift-full (main.cpp: all of them), with
//     the same arguments. Both live beside this binary.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon_client.hpp"

namespace {

constexpr int kExitError = 2;

int exec_beside(const char* name, char** argv) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) {
    std::cerr << "credsift: cannot find its own binary: " << error.message() << "\n";
    return kExitError;
  }
  const std::filesystem::path program = self.parent_path() / name;
  ::execv(program.c_str(), argv);
  std::cerr << "credsift: cannot run " << program.string() << ": " << std::strerror(errno) << "\n";
  return kExitError;
}

// `check` arguments when they ask for a daemon check in a form this parser knows (the others,
// --help and mistakes included, go to credsift-gateway, whose option parser answers them).
struct DaemonCheck {
  std::string socket, input = "-";
  std::optional<std::string> sender;
  std::vector<std::string> recipients;
  uint64_t max_message_mb = 64;
};

std::optional<DaemonCheck> daemon_check(int argc, char** argv) {
  DaemonCheck check;
  bool have_input = false;
  for (int i = 2; i < argc; ++i) {
    std::string_view option = argv[i];
    std::optional<std::string> inline_value;
    if (option.starts_with("--") && option.find('=') != std::string_view::npos) {
      inline_value = std::string(option.substr(option.find('=') + 1));
      option = option.substr(0, option.find('='));
    }
    const auto value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (option == "--daemon") {
      auto v = value();
      if (!v || v->empty()) return std::nullopt;
      check.socket = *v;
    } else if (option == "-f" || option == "--sender") {
      if (!(check.sender = value())) return std::nullopt;
    } else if (option == "-r" || option == "--recipient") {
      auto v = value();
      if (!v) return std::nullopt;
      check.recipients.push_back(*v);
    } else if (option == "--max-message-size") {
      auto v = value();
      if (!v || v->empty() || v->find_first_not_of("0123456789") != std::string::npos ||
          v->size() > 9)
        return std::nullopt;
      check.max_message_mb = std::stoull(*v);
    } else if (option == "-p" || option == "--policy" || option == "--rules") {
      if (!value()) return std::nullopt;  // the server's policy and rules apply
    } else if (option == "--no-default-rules" || option == "--no-rule-cache") {
      if (inline_value) return std::nullopt;
    } else if ((option == "-" || !option.starts_with("-")) && !have_input && !inline_value) {
      check.input = std::string(option);
      have_input = true;
    } else {
      return std::nullopt;
    }
  }
  if (check.socket.empty()) return std::nullopt;
  return check;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  if (argc < 2) return exec_beside("credsift-full", argv);  // the usage text lives there
  const std::string_view command = argv[1];
  if (command == "--version" || command == "version") {
    std::cout << "credsift " << CREDSIFT_VERSION << "\n";
    return 0;
  }
  if (command == "check") {
    if (const std::optional<DaemonCheck> check = daemon_check(argc, argv)) {
      try {
        const std::optional<std::string> message =
            credsift::cli::read_message(check->input, check->max_message_mb << 20);
        if (!message) {
          std::cerr << "credsift check: message larger than --max-message-size ("
                    << check->max_message_mb << " MB)\n";
          return kExitError;
        }
        return credsift::cli::check_through_daemon(check->socket, *message, check->sender,
                                                   check->recipients);
      } catch (const std::exception& error) {
        std::cerr << "credsift check: " << error.what() << "\n";
        return kExitError;
      }
    }
  }
  if (command == "check" || command == "milter" || command == "serve")
    return exec_beside("credsift-gateway", argv);
  return exec_beside("credsift-full", argv);
}
