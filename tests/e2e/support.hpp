#pragma once
// What the end-to-end tests share: running the built credsift binary and reading files back.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace credsift::e2e {

namespace fs = std::filesystem;

inline const fs::path kSource = CREDSIFT_SOURCE_DIR;
inline const fs::path kSamples = kSource / "corpora/samples";

inline std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A fresh directory under /tmp, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/credsift-e2e-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct ScanRun {
  int exit_code = -1;  // -1 when credsift did not exit normally (a crash)
  std::string out, err;
};

// Runs credsift through the shell so that stdin can be redirected; captures both streams.
// `arguments` is inserted as is: quote paths with single quotes.
inline ScanRun run_credsift(const std::string& arguments, const std::string& stdin_file = "") {
  TempDir temp;
  const fs::path out = temp.path() / "out", err = temp.path() / "err";
  std::string command = std::string("'") + CREDSIFT_BINARY + "' " + arguments + " >'" +
                        out.string() + "' 2>'" + err.string() + "'";
  command += stdin_file.empty() ? " </dev/null" : " <'" + stdin_file + "'";
  const int status = std::system(command.c_str());
  ScanRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = slurp(out);
  run.err = slurp(err);
  return run;
}

// One line of corpora/samples.labels.tsv: a finding the sample corpus must produce.
struct Label {
  std::string message, rule, fingerprint, part;
};

inline std::vector<Label> sample_labels() {
  std::vector<Label> labels;
  std::istringstream in(slurp(kSource / "corpora/samples.labels.tsv"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Label label;
    std::getline(fields, label.message, '\t');
    std::getline(fields, label.rule, '\t');
    std::getline(fields, label.fingerprint, '\t');
    std::getline(fields, label.part, '\t');
    labels.push_back(label);
  }
  return labels;
}

// The "# messages<TAB>N" line of the labels file: how many messages the corpus holds.
inline size_t labelled_message_count() {
  std::istringstream in(slurp(kSource / "corpora/samples.labels.tsv"));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("# messages\t", 0) == 0) return std::stoul(line.substr(11));
  return 0;
}

// A Message-ID without its angle brackets, as the labels write it.
inline std::string strip_angles(std::string_view id) {
  while (!id.empty() && (id.front() == '<' || id.front() == ' ')) id.remove_prefix(1);
  while (!id.empty() && (id.back() == '>' || id.back() == ' ')) id.remove_suffix(1);
  return std::string(id);
}

// Runs a shell command; its exit code and the peak RSS (KiB) of it and its descendants.
inline std::pair<int, long> run_measured(const std::string& command) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, usage.ru_maxrss};
}

// Base64 in 76-character lines, for attachments the tests build.
inline std::string base64(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0, line = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint8_t(in[i]) << 16 | uint8_t(in[i + 1]) << 8 | uint8_t(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
    if (++line == 19) {
      out += '\n';
      line = 0;
    }
  }
  if (i + 1 == in.size()) out += {t[uint8_t(in[i]) >> 2], t[(uint8_t(in[i]) & 3) << 4], '=', '='};
  if (i + 2 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16 | uint8_t(in[i + 1]) << 8;
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out + "\n";
}

}  // namespace credsift::e2e
