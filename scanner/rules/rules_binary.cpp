// The binary form of a rule set that the compiled-rules cache carries (see rules.hpp): a warm
// start of `check` reads it instead of parsing ~1,000 rules of JSON (a third of its time).
// Layout, native byte order (the cache key names the CPU): "credsift-rules 1\n", the digest, the
// rule count, then per rule its strings (u32 length + bytes), flags, severity and entropy.
#include <cstring>
#include <string_view>

#include "credsift/rules.hpp"

namespace credsift {

namespace {

constexpr std::string_view kMagic = "credsift-rules 1\n";
constexpr uint32_t kMaxCount = 1u << 20;  // rules, references of a rule

class Writer {
 public:
  void raw(const void* data, size_t size) { out.append(static_cast<const char*>(data), size); }
  void u32(uint32_t value) { raw(&value, sizeof value); }
  void text(std::string_view value) {
    u32(static_cast<uint32_t>(value.size()));
    raw(value.data(), value.size());
  }
  std::string out;
};

// Every read is bounds-checked: a failed one sets `ok` and yields empty values.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  bool raw(void* data, size_t size) {
    if (!ok || rest_.size() < size) return ok = false;
    std::memcpy(data, rest_.data(), size);
    rest_.remove_prefix(size);
    return true;
  }
  uint32_t u32() {
    uint32_t value = 0;
    raw(&value, sizeof value);
    return value;
  }
  std::string text() {
    const uint32_t size = u32();
    if (!ok || rest_.size() < size) {
      ok = false;
      return {};
    }
    std::string value(rest_.substr(0, size));
    rest_.remove_prefix(size);
    return value;
  }
  bool done() const { return ok && rest_.empty(); }
  bool ok = true;

 private:
  std::string_view rest_;
};

constexpr uint8_t kCaseless = 1, kDotall = 2;

}  // namespace

std::string encode_rules(const RuleSet& rules) {
  Writer w;
  w.raw(kMagic.data(), kMagic.size());
  w.text(rules.digest);
  w.u32(static_cast<uint32_t>(rules.rules.size()));
  for (const Rule& rule : rules.rules) {
    for (const std::string* field :
         {&rule.id, &rule.name, &rule.description, &rule.provider, &rule.category, &rule.pattern,
          &rule.confidence, &rule.rotation, &rule.ruleset})
      w.text(*field);
    w.text(rule.file.string());
    const uint8_t flags = (rule.caseless ? kCaseless : 0) | (rule.dotall ? kDotall : 0);
    const auto severity = static_cast<uint8_t>(rule.severity);
    w.raw(&flags, 1);
    w.raw(&severity, 1);
    w.raw(&rule.min_entropy, sizeof rule.min_entropy);
    w.u32(static_cast<uint32_t>(rule.references.size()));
    for (const std::string& reference : rule.references) w.text(reference);
  }
  return std::move(w.out);
}

std::optional<RuleSet> decode_rules(std::string_view bytes) {
  if (!bytes.starts_with(kMagic)) return std::nullopt;
  Reader r(bytes.substr(kMagic.size()));
  RuleSet set;
  set.digest = r.text();
  const uint32_t count = r.u32();
  // A rule takes at least 46 bytes (ten lengths, flags, severity, entropy, references).
  if (!r.ok || count > kMaxCount || count > bytes.size() / 46) return std::nullopt;
  set.rules.resize(count);
  for (Rule& rule : set.rules) {
    for (std::string* field :
         {&rule.id, &rule.name, &rule.description, &rule.provider, &rule.category, &rule.pattern,
          &rule.confidence, &rule.rotation, &rule.ruleset})
      *field = r.text();
    rule.file = r.text();
    uint8_t flags = 0, severity = 0;
    r.raw(&flags, 1);
    r.raw(&severity, 1);
    r.raw(&rule.min_entropy, sizeof rule.min_entropy);
    if (flags & ~(kCaseless | kDotall) || severity > static_cast<uint8_t>(Severity::Critical))
      return std::nullopt;
    rule.caseless = flags & kCaseless;
    rule.dotall = flags & kDotall;
    rule.severity = static_cast<Severity>(severity);
    const uint32_t references = r.u32();
    if (!r.ok || references > kMaxCount) return std::nullopt;
    rule.references.reserve(references);
    for (uint32_t i = 0; i < references && r.ok; ++i) rule.references.push_back(r.text());
    if (!r.ok) return std::nullopt;
  }
  if (!r.done()) return std::nullopt;
  return set;
}

}  // namespace credsift
