#include "credsift/rules.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "credsift/text.hpp"

namespace credsift {

std::string_view to_string(Severity severity) {
  switch (severity) {
    case Severity::Low:
      return "low";
    case Severity::Medium:
      return "medium";
    case Severity::High:
      return "high";
    case Severity::Critical:
      return "critical";
  }
  return "high";
}

Severity parse_severity(std::string_view text) {
  if (text == "low") return Severity::Low;
  if (text == "medium") return Severity::Medium;
  if (text == "high") return Severity::High;
  if (text == "critical") return Severity::Critical;
  throw std::invalid_argument("unknown severity '" + std::string(text) +
                              "' (expected low, medium, high or critical)");
}

namespace {

namespace fs = std::filesystem;
namespace dom = simdjson::dom;

[[noreturn]] void fail(const fs::path& file, std::string_view id, const std::string& what) {
  std::string message = file.string();
  if (!id.empty()) message += ": rule '" + std::string(id) + "'";
  throw RuleError(message + ": " + what);
}

// One read of the file's size: a character-by-character stream read was most of the time a
// start spent on ~130 rule files.
std::string read_file(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(file, "", std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  std::string bytes;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) bytes.resize(static_cast<size_t>(st.st_size));
  size_t filled = 0;
  for (;;) {
    if (filled == bytes.size()) bytes.resize(bytes.size() + 4096);  // grew since fstat
    const ssize_t got = ::read(fd, bytes.data() + filled, bytes.size() - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      fail(file, "", std::string("read error: ") + std::strerror(error));
    }
    if (got == 0) break;
    filled += static_cast<size_t>(got);
  }
  ::close(fd);
  bytes.resize(filled);
  return bytes;
}

// Collects the files to load: a file as given, a directory's *.json (not recursive) by name.
std::vector<fs::path> rule_files(const std::vector<fs::path>& paths) {
  std::vector<fs::path> files;
  for (const fs::path& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> in_dir;
      for (const auto& entry : fs::directory_iterator(path, ec))
        if (entry.is_regular_file() && entry.path().extension() == ".json")
          in_dir.push_back(entry.path());
      if (ec) fail(path, "", "cannot list directory: " + ec.message());
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(path, ec)) {
      files.push_back(path);
    } else {
      fail(path, "", "no such rule file or directory");
    }
  }
  return files;
}

// Reads one rule object; every check names the file and the rule id.
class RuleReader {
 public:
  RuleReader(const fs::path& file, dom::object object) : file_(file), object_(object) {}

  Rule read(size_t index) {
    Rule rule;
    rule.file = file_;
    // The id comes first so that every later error can name it.
    id_ = "#" + std::to_string(index);
    rule.id = string("id");
    id_ = rule.id;
    check_id(rule.id);
    check_keys();
    rule.name = string("name");
    rule.description = string("description");
    rule.provider = string("provider");
    rule.category = string("category");
    rule.pattern = string("pattern");
    rule.rotation = string("rotation");
    try {
      rule.severity = parse_severity(string("severity"));
    } catch (const std::invalid_argument& e) {
      error(e.what());
    }
    rule.confidence = string("confidence");
    if (rule.confidence != "high" && rule.confidence != "medium" && rule.confidence != "low")
      error("confidence must be high, medium or low, not '" + rule.confidence + "'");
    if (!has_secret_capture(rule.pattern)) error("pattern has no (?<secret>...) capture");
    read_flags(rule);
    read_entropy(rule);
    read_ruleset(rule);
    read_examples(rule);
    for (dom::element item : array("negative_examples")) {
      std::string_view text;
      if (item.get_string().get(text)) error("negative_examples must hold strings");
      rule.negative_examples.emplace_back(text);
    }
    if (rule.negative_examples.empty()) error("needs at least one negative example");
    for (dom::element item : array("references")) {
      std::string_view text;
      if (item.get_string().get(text)) error("references must hold strings");
      rule.references.emplace_back(text);
    }
    return rule;
  }

 private:
  [[noreturn]] void error(const std::string& what) const { fail(file_, id_, what); }

  static constexpr std::array kKeys = {
      "id",         "name",     "description", "provider",    "category", "pattern",
      "flags",      "severity", "confidence",  "min_entropy", "examples", "negative_examples",
      "references", "rotation", "ruleset"};

  // An unknown key is most often a typo ("flag", "negatives") that would silently drop data.
  void check_keys() const {
    for (auto field : object_) {
      const std::string_view key = field.key;
      if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end())
        error("unknown field '" + std::string(key) + "'");
    }
  }

  void check_id(const std::string& id) const {
    const bool charset_ok = !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    });
    if (!charset_ok || id.find('.') == std::string::npos || id.front() == '.' || id.back() == '.')
      error("id must be namespaced lowercase like 'github.pat.classic'");
  }

  static bool has_secret_capture(std::string_view pattern) {
    return pattern.find("(?<secret>") != std::string_view::npos ||
           pattern.find("(?P<secret>") != std::string_view::npos ||
           pattern.find("(?'secret'") != std::string_view::npos;
  }

  dom::element field(const char* key) const {
    dom::element value;
    if (object_.at_key(key).get(value)) error("missing field '" + std::string(key) + "'");
    return value;
  }

  std::string string(const char* key) const {
    std::string_view text;
    if (field(key).get_string().get(text))
      error("field '" + std::string(key) + "' must be a string");
    if (text.empty()) error("field '" + std::string(key) + "' is empty");
    return std::string(text);
  }

  dom::array array(const char* key) const {
    dom::array items;
    if (field(key).get_array().get(items))
      error("field '" + std::string(key) + "' must be an array");
    return items;
  }

  void read_flags(Rule& rule) const {
    dom::element value;
    if (object_.at_key("flags").get(value)) return;  // optional
    dom::array flags;
    if (value.get_array().get(flags)) error("field 'flags' must be an array");
    for (dom::element item : flags) {
      std::string_view flag;
      if (item.get_string().get(flag)) error("flags must be strings");
      if (flag == "caseless")
        rule.caseless = true;
      else if (flag == "dotall")
        rule.dotall = true;
      else
        error("unknown flag '" + std::string(flag) + "' (expected caseless or dotall)");
    }
  }

  void read_ruleset(Rule& rule) const {
    dom::element value;
    if (object_.at_key("ruleset").get(value)) return;  // optional: "default"
    std::string_view ruleset;
    if (value.get_string().get(ruleset) || (ruleset != "default" && ruleset != "all"))
      error("ruleset must be \"default\" or \"all\"");
    rule.ruleset = std::string(ruleset);
  }

  void read_entropy(Rule& rule) const {
    dom::element value;
    if (object_.at_key("min_entropy").get(value)) return;  // optional
    double entropy = 0;
    if (value.get_double().get(entropy)) {
      int64_t whole = 0;
      if (value.get_int64().get(whole)) error("field 'min_entropy' must be a number");
      entropy = static_cast<double>(whole);
    }
    if (entropy < 0 || entropy > 8) error("min_entropy must be between 0 and 8 bits per byte");
    rule.min_entropy = entropy;
  }

  void read_examples(Rule& rule) const {
    for (dom::element item : array("examples")) {
      dom::object example;
      if (item.get_object().get(example)) error("examples must be objects {text, secret}");
      std::string_view text, secret;
      if (example.at_key("text").get_string().get(text) ||
          example.at_key("secret").get_string().get(secret))
        error("each example needs string fields 'text' and 'secret'");
      // Catches a copy-paste slip at load time rather than as a confusing test failure.
      if (secret.empty() || text.find(secret) == std::string_view::npos)
        error("example secret '" + std::string(secret) + "' does not occur in its text");
      rule.examples.push_back({std::string(text), std::string(secret)});
    }
    if (rule.examples.empty()) error("needs at least one example");
  }

  const fs::path& file_;
  dom::object object_;
  std::string id_;
};

struct DigestDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

}  // namespace

std::vector<RuleFile> read_rule_files(const std::vector<std::filesystem::path>& paths) {
  std::vector<RuleFile> files;
  for (fs::path& file : rule_files(paths)) {
    std::string bytes = read_file(file);
    files.push_back({std::move(file), std::move(bytes)});
  }
  return files;
}

RuleSet load_rules(const std::vector<std::filesystem::path>& paths) {
  return load_rules(read_rule_files(paths));
}

RuleSet load_rules(const std::vector<RuleFile>& files) {
  RuleSet set;
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> sha(EVP_MD_CTX_new());
  if (!sha || EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr) != 1)
    throw RuleError("cannot initialise SHA-256");

  std::map<std::string, fs::path> seen;  // id -> file, to name both sides of a duplicate
  dom::parser parser;
  for (const auto& [file, bytes] : files) {
    EVP_DigestUpdate(sha.get(), bytes.data(), bytes.size());

    dom::element root;
    if (auto error = parser.parse(bytes).get(root))
      fail(file, "", std::string("invalid JSON: ") + simdjson::error_message(error));
    dom::object top;
    if (root.get_object().get(top))
      fail(file, "", "top level must be an object {\"rules\": [...]}");
    for (auto field : top)
      if (field.key != "rules")
        fail(file, "", "unknown top-level field '" + std::string(field.key) + "'");
    dom::array rules;
    if (top.at_key("rules").get_array().get(rules)) fail(file, "", "missing array 'rules'");

    size_t index = 0;
    for (dom::element item : rules) {
      dom::object object;
      if (item.get_object().get(object))
        fail(file, "#" + std::to_string(index), "a rule must be an object");
      Rule rule = RuleReader(file, object).read(index++);
      auto [it, inserted] = seen.emplace(rule.id, file);
      if (!inserted)
        fail(file, rule.id, "duplicate id (first defined in " + it->second.string() + ")");
      set.rules.push_back(std::move(rule));
    }
  }

  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(sha.get(), digest.data(), &length) != 1)
    throw RuleError("cannot finish SHA-256");
  set.digest = text::hex(digest.data(), length);
  return set;
}

}  // namespace credsift
