#include "credsift/report.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <stdexcept>

#include "credsift/escape.hpp"
#include "credsift/text.hpp"

namespace credsift {

std::string fingerprint(std::string_view secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(secret.data(), secret.size(), digest, &length, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return "sha256:" + text::hex(digest, length);
}

std::string redact(std::string_view secret) {
  size_t end = 0;
  for (int characters = 0; characters < 4 && end < secret.size(); ++characters) {
    const size_t length = decode_utf8(secret, end).length;
    end += length == 0 ? 1 : length;
  }
  std::string out(secret.substr(0, end));
  if (end < secret.size() || secret.size() <= 4) out += "…";
  return out;
}

// The search goes on after each replacement: the redacted form of a short secret contains it.
std::string redact_within(std::string_view text, std::string_view secret) {
  if (secret.empty()) return std::string(text);
  std::string out;
  size_t position = 0;
  for (size_t at; (at = text.find(secret, position)) != std::string_view::npos;
       position = at + secret.size())
    out.append(text.substr(position, at - position)).append(redact(secret));
  return out.append(text.substr(position));
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const auto [code, length] = decode_utf8(text, i);
      if (length == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD: output stays valid UTF-8 whatever the input
        ++i;
      } else {
        // C1 controls and bidi overrides are valid UTF-8 but steer whoever reads the report.
        if (is_invisible_control(code)) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(code));
          out += buffer;
        } else {
          out.append(text.substr(i, length));
        }
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  return out;
}

namespace {

void add_field(std::string& out, std::string_view name, std::string_view value) {
  out += out.size() > 1 ? ",\"" : "\"";
  out += name;
  out += "\":\"";
  out += json_escape(value);
  out += '"';
}

void add_number(std::string& out, std::string_view name, uint64_t value) {
  out += out.size() > 1 ? ",\"" : "\"";
  out += name;
  out += "\":";
  out += std::to_string(value);
}

}  // namespace

std::string finding_to_json(const Finding& finding, bool show_secrets) {
  const Rule& rule = *finding.rule;
  std::string out = "{";
  add_field(out, "rule_id", rule.id);
  add_field(out, "rule_name", rule.name);
  add_field(out, "provider", rule.provider);
  add_field(out, "category", rule.category);
  add_field(out, "severity", to_string(rule.severity));
  add_field(out, "confidence", rule.confidence);
  add_field(out, "status", to_string(finding.validation.status));
  if (!finding.validation.reason.empty()) add_field(out, "reason", finding.validation.reason);
  add_field(out, "secret", show_secrets ? std::string(finding.secret) : redact(finding.secret));
  add_field(out, "fingerprint", finding.fingerprint);
  if (!finding.captures.empty()) {
    out += ",\"captures\":{";
    bool first = true;
    for (const auto& [name, value] : finding.captures) {
      if (!first) out += ',';
      first = false;
      out += '"' + json_escape(name) + "\":\"" + json_escape(value) + '"';
    }
    out += '}';
  }
  add_field(out, "file", escape_file_name(finding.file));
  add_number(out, "offset", finding.offset);
  add_number(out, "message_index", finding.index);
  add_field(out, "message_id", cap_header(finding.envelope->message_id));
  add_field(out, "date", cap_header(finding.envelope->date));
  add_field(out, "from", cap_header(finding.envelope->from));
  add_field(out, "to", cap_header(finding.envelope->to));
  add_field(out, "cc", cap_header(finding.envelope->cc));
  // A token pasted into the Subject must not come out in clear there either.
  add_field(out, "subject",
            show_secrets ? cap_header(finding.envelope->subject)
                         : redact_header(finding.envelope->subject, {finding.secret}));
  add_field(out, "part_path", finding.part_path);
  add_number(out, "line", finding.line);
  const ItemLocation& where = finding.location;
  if (!where.container.empty()) add_field(out, "container", where.container);
  if (!where.folder.empty()) add_field(out, "folder", where.folder);
  if (where.node_id) add_number(out, "node_id", *where.node_id);
  if (!where.item_id.empty()) add_field(out, "item_id", where.item_id);
  if (!where.item_type.empty()) add_field(out, "item_type", where.item_type);
  if (where.recovered) out += ",\"recovered\":true";
  out += '}';
  return out;
}

void print_summary(std::ostream& out, const ScanSummary& summary) {
  const double megabytes = static_cast<double>(summary.bytes) / 1e6;
  out << "credsift: " << summary.messages() << " messages: " << summary.messages_scanned
      << " scanned, " << summary.messages_skipped << " skipped, " << summary.messages_failed
      << " failed";
  if (summary.messages_known)
    out << ", " << summary.messages_known << " already in the case (same rules, not rescanned)";
  if (summary.messages_outside_window)
    out << ", " << summary.messages_outside_window << " outside the date window";
  if (summary.messages_undated)
    out << ", " << summary.messages_undated << " without a parseable Date (scanned)";
  out << "; " << std::fixed << std::setprecision(1) << megabytes << " MB in "
      << std::setprecision(2) << summary.elapsed_seconds << " s";
  if (summary.elapsed_seconds > 0)
    out << " (" << std::setprecision(1) << megabytes / summary.elapsed_seconds << " MB/s)";
  out << "\n";
  out << "credsift: " << summary.findings << " findings, " << summary.rejected << " rejected";
  if (!summary.rejected_by_reason.empty()) {
    out << " (";
    bool first = true;
    for (const auto& [reason, count] : summary.rejected_by_reason) {
      out << (first ? "" : ", ") << count << " " << reason;
      first = false;
    }
    out << ")";
  }
  if (summary.decode_problems) out << ", " << summary.decode_problems << " decode problems";
  if (summary.files_failed) out << ", " << summary.files_failed << " files unreadable";
  out << "\n";
  if (summary.files_not_mail) {
    out << "credsift: " << summary.files_not_mail << " files not mail (";
    bool first = true;
    for (const auto& [type, count] : summary.not_mail_by_type) {
      out << (first ? "" : ", ") << count << " " << type;
      first = false;
    }
    out << "), not counted as messages\n";
  }
  for (const auto& [reason, count] : summary.skip_reasons)
    out << "  skipped " << count << ": " << reason << "\n";
  for (const auto& [type, count] : summary.items_by_type)
    out << "  container items " << type << ": " << count << "\n";
  for (const auto& [rule, count] : summary.findings_by_rule)
    out << "  " << std::left << std::setw(40) << rule << " " << count << "\n";
}

std::string cap_header(std::string_view value, size_t max_bytes) {
  if (value.size() <= max_bytes) return std::string(value);
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return std::string(value.substr(0, cut)) + "…[+" + std::to_string(value.size() - cut) + " bytes]";
}

namespace {

struct SecretSpan {
  size_t begin, end;
};

// The occurrences of `secrets` that start before `limit`, sorted and merged where they overlap.
std::vector<SecretSpan> secret_spans(std::string_view value,
                                     const std::vector<std::string_view>& secrets, size_t longest,
                                     size_t limit, size_t* bytes_searched) {
  const std::string_view searched = value.substr(0, std::min(value.size(), limit + longest - 1));
  std::vector<SecretSpan> spans;
  for (std::string_view secret : secrets) {
    if (secret.empty()) continue;
    if (bytes_searched) *bytes_searched += searched.size();
    for (size_t at = searched.find(secret); at != std::string_view::npos && at < limit;
         at = searched.find(secret, at + 1))
      spans.push_back({at, at + secret.size()});
  }
  std::sort(spans.begin(), spans.end(),
            [](const SecretSpan& a, const SecretSpan& b) { return a.begin < b.begin; });
  std::vector<SecretSpan> merged;
  for (const SecretSpan& span : spans) {
    if (!merged.empty() && span.begin < merged.back().end)
      merged.back().end = std::max(merged.back().end, span.end);
    else
      merged.push_back(span);
  }
  return merged;
}

}  // namespace

std::string redact_header(std::string_view value, std::initializer_list<std::string_view> secrets,
                          size_t max_bytes, size_t* bytes_searched) {
  return redact_header(value, std::vector<std::string_view>(secrets), max_bytes, bytes_searched);
}

std::string redact_header(std::string_view value, const std::vector<std::string_view>& secrets,
                          size_t max_bytes, size_t* bytes_searched) {
  size_t longest = 0;
  for (std::string_view secret : secrets) longest = std::max(longest, secret.size());
  if (longest == 0) return cap_header(value, max_bytes);
  // Search a window of the header; if the output is not full by its end, double it. Each
  // redaction shortens the text by a bounded ratio, so the window stays a small multiple of
  // max_bytes whatever the header's size.
  for (size_t window = std::min(value.size(), max_bytes + longest);;
       window = std::min(value.size(), window * 2)) {
    const std::vector<SecretSpan> spans =
        secret_spans(value, secrets, longest, window, bytes_searched);
    std::string out;
    size_t position = 0;  // in value
    bool full = false;
    const auto plain_until = [&](size_t end) {
      if (out.size() + (end - position) <= max_bytes) {
        out.append(value.substr(position, end - position));
        position = end;
        return;
      }
      size_t cut = position + (max_bytes - out.size());
      while (cut > position && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
      out.append(value.substr(position, cut - position));
      position = cut;
      full = true;
    };
    for (const SecretSpan& span : spans) {
      plain_until(span.begin);
      if (full) break;
      const std::string replacement = redact(value.substr(span.begin, span.end - span.begin));
      if (out.size() + replacement.size() > max_bytes) {
        full = true;
        break;
      }
      out += replacement;
      position = span.end;
    }
    if (!full && position < window) plain_until(window);
    if (full || position >= value.size()) {
      if (position >= value.size()) return out;
      return out + "…[+" + std::to_string(value.size() - position) + " bytes]";
    }
  }
}

}  // namespace credsift
