// The terminal view (--format human, and what --format auto picks on a terminal): a summary,
// then one compact block per ticket in priority order. Every text that comes from mail or from
// rule files goes through escape_for_terminal before it is written; lines are cut to the width.
#include <algorithm>
#include <sstream>

#include "credsift/escape.hpp"
#include "report_parts.hpp"

namespace credsift::report_parts {

namespace {

constexpr size_t kDefaultWidth = 100;
constexpr size_t kMinWidth = 40;

// Columns a code point takes on a terminal: 2 for East Asian wide and emoji, 0 for combining
// marks and zero-width characters, else 1 (the text holds no control characters by now).
size_t code_point_width(uint32_t cp) {
  if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
      (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
      (cp >= 0xFE20 && cp <= 0xFE2F) || cp == 0x200B || cp == 0x200C || cp == 0x200D)
    return 0;
  if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
      (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
      (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
      (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
      (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
      (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD))
    return 2;
  return 1;
}

// Decodes the code point at text[i] (the text is valid UTF-8 after escaping); returns its length.
size_t next_code_point(std::string_view text, size_t i, uint32_t& cp) {
  const auto lead = static_cast<unsigned char>(text[i]);
  size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  length = std::min(length, text.size() - i);
  cp = length == 1 ? lead : lead & (0xFF >> (length + 1));
  for (size_t k = 1; k < length; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
  return length;
}

size_t display_width(std::string_view text) {
  size_t width = 0;
  uint32_t cp = 0;
  for (size_t i = 0; i < text.size(); i += next_code_point(text, i, cp)) {
    next_code_point(text, i, cp);
    width += code_point_width(cp);
  }
  return width;
}

// The longest prefix of `text` that fits in `columns`; its width goes to `used`.
size_t fitting_prefix(std::string_view text, size_t columns, size_t& used) {
  used = 0;
  size_t i = 0;
  uint32_t cp = 0;
  while (i < text.size()) {
    const size_t length = next_code_point(text, i, cp);
    const size_t w = code_point_width(cp);
    if (used + w > columns) break;
    used += w;
    i += length;
  }
  return i;
}

// Cut to `columns`, ending with "…" when something was cut.
std::string fit(std::string_view text, size_t columns) {
  if (display_width(text) <= columns) return std::string(text);
  if (columns == 0) return "";
  size_t used = 0;
  return std::string(text.substr(0, fitting_prefix(text, columns - 1, used))) + "…";
}

// Word-wrapped into lines of `columns`, at most `max_lines` (the last one cut with "…").
std::vector<std::string> wrap(std::string_view text, size_t columns, size_t max_lines) {
  std::vector<std::string> lines;
  while (!text.empty() && lines.size() < max_lines) {
    if (lines.size() + 1 == max_lines || display_width(text) <= columns) {
      lines.push_back(fit(text, columns));
      break;
    }
    size_t used = 0;
    size_t cut = fitting_prefix(text, columns, used);
    const size_t space = text.substr(0, cut + 1).rfind(' ');
    if (space != std::string_view::npos && space > 0) cut = space;
    lines.emplace_back(text.substr(0, cut));
    text.remove_prefix(cut);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  }
  return lines;
}

// Text from mail or rule files, on one line: line breaks become spaces, then everything a
// terminal would interpret is made visible.
std::string safe(std::string_view text) {
  std::string flat(text);
  for (char& c : flat)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return escape_for_terminal(flat);
}

// The first step of the rotation guidance: its first sentence.
std::string_view first_step(std::string_view rotation) {
  for (size_t at = rotation.find(". "); at != std::string_view::npos;
       at = rotation.find(". ", at + 2)) {
    // "e.g. the" or "> Settings. then" are not sentence ends; a capital letter after is.
    if (at + 2 < rotation.size() && std::isupper(static_cast<unsigned char>(rotation[at + 2])))
      return rotation.substr(0, at + 1);
  }
  return rotation;
}

class Style {
 public:
  explicit Style(bool color) : color_(color) {}
  std::string operator()(std::string_view codes, std::string_view text) const {
    if (!color_ || text.empty()) return std::string(text);
    return "\x1b[" + std::string(codes) + "m" + std::string(text) + "\x1b[0m";
  }
  std::string severity(Severity severity, std::string_view text) const {
    switch (severity) {
      case Severity::Critical:
        return (*this)("1;97;41", text);  // bold white on red
      case Severity::High:
        return (*this)("1;31", text);
      case Severity::Medium:
        return (*this)("1;33", text);
      case Severity::Low:
        return (*this)("1;36", text);
    }
    return std::string(text);
  }
  std::string dim(std::string_view text) const { return (*this)("2", text); }
  std::string bold(std::string_view text) const { return (*this)("1", text); }

 private:
  bool color_;
};

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string seen_text(const std::optional<int64_t>& first, const std::optional<int64_t>& last) {
  if (!first) return "no dated message";
  std::string out = day_text(*first);
  if (day_text(*last) != out) out += " → " + day_text(*last);
  return out;
}

// "a.test, b.test (external), …" from the ticket's domains, external ones first.
std::string domains_text(const Ticket& t) {
  std::string out;
  for (const std::string& d : t.external_domains)
    out += (out.empty() ? "" : ", ") + d + " (external)";
  for (const std::string& d : t.domains)
    if (!t.external_domains.count(d)) out += (out.empty() ? "" : ", ") + d;
  return out.empty() ? "none" : out;
}

}  // namespace

std::string format_human(const std::vector<Ticket>& tickets, const ReportContext& context) {
  const size_t width = std::max(context.width ? context.width : kDefaultWidth, kMinWidth);
  const Style style(context.color);
  const ReportModel model = build_report_model(tickets, context.internal_domains);
  std::ostringstream out;
  // A label column, then the value cut to what remains of the line.
  constexpr size_t kLabel = 10;
  const auto row = [&](std::string_view label, std::string_view value, size_t indent) {
    std::string padded(label);
    padded.resize(kLabel, ' ');
    out << std::string(indent, ' ') << style.dim(padded)
        << fit(value, width - std::min(width, indent + kLabel)) << "\n";
  };

  std::string headline = " ";
  if (const ScanSummary* s = context.summary)
    headline += std::to_string(s->messages()) +
                " messages: " + std::to_string(s->messages_scanned) + " scanned, " +
                std::to_string(s->messages_skipped) + " skipped, " +
                std::to_string(s->messages_failed) + " failed";
  out << style.bold("credsift") << fit(headline, width - 8) << "\n";
  {
    // Counted in plain columns (colour codes take none); a severity that does not fit is left
    // out rather than cut.
    std::string line = "tickets   " + std::to_string(tickets.size());
    size_t columns = line.size();
    for (Severity severity : kSeverityOrder) {
      const auto it = model.by_severity.find(severity);
      if (it == model.by_severity.end()) continue;
      const std::string item = std::to_string(it->second) + " " + std::string(to_string(severity));
      const std::string separator = columns == line.size() ? ": " : "  ";
      if (columns + separator.size() + item.size() > width) break;
      columns += separator.size() + item.size();
      line += separator + style.severity(severity, item);
    }
    out << style.dim(line.substr(0, 10)) << line.substr(10) << "\n";
  }
  std::string statuses;
  for (const auto& [status, count] : model.by_status)
    statuses += (statuses.empty() ? "" : ", ") + std::to_string(count) + " " + status;
  if (!statuses.empty()) row("status", statuses, 0);
  if (model.live_tickets || model.by_verification.size() > 1) {
    std::string states;
    for (const auto& [state, count] : model.by_verification)
      states += (states.empty() ? "" : ", ") + std::to_string(count) + " " + state;
    row("verified", states, 0);
  }
  if (model.first_seen) {
    row("window",
        seen_text(model.first_seen, model.last_seen) + " (" +
            std::to_string((*model.last_seen - *model.first_seen) / 86400 + 1) + " days), " +
            std::to_string(model.messages_with_credentials) + " messages carry credentials",
        0);
  }
  std::string exposed;
  size_t listed = 0;
  for (const DomainExposure& d : model.domains) {
    if (model.internal_domains_given && !d.external) continue;
    if (listed++ == 8) {
      exposed += ", …";
      break;
    }
    exposed +=
        (exposed.empty() ? "" : ", ") + safe(d.domain) + " (" + std::to_string(d.tickets) + ")";
  }
  if (!exposed.empty()) row(model.internal_domains_given ? "external" : "domains", exposed, 0);

  for (const Ticket& t : tickets) {
    out << "\n";
    // A coloured badge on a terminal; brackets where there is no colour.
    const std::string severity = context.color ? " " + upper(to_string(t.rule->severity)) + " "
                                               : "[" + upper(to_string(t.rule->severity)) + "]";
    const std::string id = t.id;
    const size_t title_room = width - std::min(width, severity.size() + 2 + id.size() + 1);
    std::string title = fit(safe(t.rule->name), title_room);
    const size_t gap =
        width - std::min(width, severity.size() + 1 + display_width(title) + id.size());
    out << style.severity(t.rule->severity, severity) << " " << style.bold(title)
        << std::string(std::max<size_t>(gap, 1), ' ') << style.dim(id) << "\n";
    std::string secret_line =
        shown(t.secret, context.show_secrets) + "  " + std::string(to_string(t.validation.status)) +
        ", " + t.validation.confidence + " confidence, " + std::string(to_string(t.triage));
    if (t.verification.state != VerificationState::NotChecked)
      secret_line += ", " + std::string(to_string(t.verification.state));
    row("secret", safe(secret_line), 2);
    if (!t.identity.empty())
      row("identity", safe(identity_text(shown_identity(t, context.show_secrets))), 2);
    row("seen",
        seen_text(t.first_seen, t.last_seen) + ", " + std::to_string(t.messages()) +
            (t.messages() == 1 ? " message" : " messages") + (t.undated ? " (some undated)" : ""),
        2);
    row("exposed", safe(domains_text(t)), 2);
    const std::vector<std::string> steps =
        wrap(safe(first_step(t.rule->rotation)), width - std::min(width, 2 + kLabel), 2);
    for (size_t i = 0; i < steps.size(); ++i) row(i == 0 ? "rotate" : "", steps[i], 2);
  }
  if (tickets.empty()) out << "\nNo credentials found.\n";
  return out.str();
}

}  // namespace credsift::report_parts
