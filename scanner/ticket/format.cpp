// Ticket output formats: JSON lines, one JSON document, CSV, SARIF 2.1.0 and Markdown (HTML and
// the terminal view live in html_report.cpp and human.cpp).
#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <map>
#include <ostream>
#include <sstream>

#include "credsift/escape.hpp"
#include "credsift/ticket.hpp"
#include "report_parts.hpp"

namespace credsift {

using namespace report_parts;

std::optional<OutputFormat> parse_output_format(std::string_view name) {
  if (name == "jsonl" || name == "tickets") return OutputFormat::TicketsJsonl;
  if (name == "json") return OutputFormat::TicketsJson;
  if (name == "csv") return OutputFormat::Csv;
  if (name == "sarif") return OutputFormat::Sarif;
  if (name == "markdown" || name == "md") return OutputFormat::Markdown;
  if (name == "findings") return OutputFormat::Findings;
  if (name == "html") return OutputFormat::Html;
  if (name == "human") return OutputFormat::Human;
  return std::nullopt;
}

namespace {

std::string json_string(std::string_view text) { return '"' + json_escape(text) + '"'; }

// A JSON object built field by field, in order.
class Object {
 public:
  Object& field(std::string_view name, std::string_view value) {
    return raw(name, json_string(value));
  }
  Object& number(std::string_view name, uint64_t value) { return raw(name, std::to_string(value)); }
  Object& boolean(std::string_view name, bool value) { return raw(name, value ? "true" : "false"); }
  Object& raw(std::string_view name, std::string_view json) {
    text_ += text_.size() > 1 ? ",\"" : "\"";
    text_ += name;
    text_ += "\":";
    text_ += json;
    return *this;
  }
  std::string done() { return text_ + '}'; }

 private:
  std::string text_ = "{";
};

template <typename Range, typename ToJson>
std::string array(const Range& range, ToJson to_json) {
  std::string out = "[";
  for (const auto& item : range) {
    if (out.size() > 1) out += ',';
    out += to_json(item);
  }
  return out + ']';
}

std::string strings(const std::set<std::string>& values) { return array(values, json_string); }

std::string evidence_object(const Evidence& evidence) {
  Object object;
  for (const auto& [name, value] : evidence) object.field(name, value);
  return object.done();
}

std::string occurrence_json(const Occurrence& o, const Ticket& t, bool show_secrets) {
  // Header values can hold the secret itself (a token pasted into a Subject).
  const auto mask = [&](std::string_view text) { return shown_header(text, t, show_secrets); };
  Object object;
  object.field("rule_id", o.rule_id)
      .field("file", escape_file_name(o.file))
      .number("offset", o.offset)
      .number("message_index", o.message_index)
      .field("message_id", cap_header(o.envelope->message_id))
      .field("date", cap_header(o.envelope->date));
  if (o.date_epoch)
    object.field("date_utc", format_iso8601(*o.date_epoch));
  else
    object.boolean("undated", true);
  object.field("from", mask(o.envelope->from))
      .field("to", mask(o.envelope->to))
      .field("cc", mask(o.envelope->cc))
      .field("subject", mask(o.envelope->subject))
      .field("part_path", o.part_path)
      .number("line", o.line);
  const ItemLocation& where = o.location;
  if (!where.container.empty()) object.field("container", where.container);
  if (!where.folder.empty()) object.field("folder", where.folder);
  if (where.node_id) object.number("node_id", *where.node_id);
  if (!where.item_id.empty()) object.field("item_id", where.item_id);
  if (!where.item_type.empty()) object.field("item_type", where.item_type);
  if (where.recovered) object.boolean("recovered", true);
  return object.done();
}

std::string verification_json(const Verification& v) {
  Object object;
  object.field("state", to_string(v.state));
  if (!v.reason.empty()) object.field("reason", v.reason);
  if (!v.checked_at.empty()) object.field("checked_at", v.checked_at);
  if (!v.endpoint.empty()) object.field("endpoint", v.endpoint);
  if (!v.identity.empty()) object.raw("identity", evidence_object(v.identity));
  return object.done();
}

std::string rotation_json(const Rule& rule) {
  Object object;
  object.field("steps", rule.rotation).raw("references", array(rule.references, json_string));
  return object.done();
}

}  // namespace

std::string ticket_to_json(const Ticket& ticket, bool show_secrets) {
  const Rule& rule = *ticket.rule;
  Object object;
  object.field("record", "ticket")
      .field("id", ticket.id)
      .field("title", rule.name)
      .field("type", rule.category)
      .field("provider", rule.provider)
      .field("rule_id", rule.id)
      .raw("rules", array(ticket.rules, json_string))
      .field("severity", to_string(rule.severity))
      .field("status", to_string(ticket.validation.status))
      .field("triage", to_string(ticket.triage));
  if (!ticket.triage_owner.empty()) object.field("triage_owner", ticket.triage_owner);
  if (!ticket.triage_note.empty()) object.field("triage_note", ticket.triage_note);
  if (ticket.reopened) object.boolean("reopened", true);
  object.raw("verification", verification_json(ticket.verification));
  if (!ticket.validation.reason.empty()) object.field("status_reason", ticket.validation.reason);
  if (!ticket.validation.validator.empty()) object.field("validator", ticket.validation.validator);
  object.field("confidence", ticket.validation.confidence)
      .raw("evidence", evidence_object(ticket.validation.evidence))
      .field("secret", shown(ticket.secret, show_secrets))
      .field("fingerprint", ticket.fingerprint)
      .raw("identity", evidence_object(shown_identity(ticket, show_secrets)))
      .raw("related", array(ticket.related, [&](const RelatedCapture& r) {
             return Object()
                 .field("role", r.role)
                 .field("rule_id", r.rule_id)
                 .field("secret", shown(r.secret, show_secrets))
                 .field("fingerprint", r.fingerprint)
                 .done();
           }));
  object
      .raw("first_seen",
           ticket.first_seen ? json_string(format_iso8601(*ticket.first_seen)) : "null")
      .raw("last_seen", ticket.last_seen ? json_string(format_iso8601(*ticket.last_seen)) : "null")
      .boolean("undated_occurrences", ticket.undated)
      .number("message_count", ticket.messages())
      .raw("occurrences", array(ticket.occurrences, [&](const Occurrence& o) {
             return occurrence_json(o, ticket, show_secrets);
           }));
  object.raw("exposure", Object()
                             .raw("addresses", strings(ticket.addresses))
                             .raw("domains", strings(ticket.domains))
                             .raw("external_domains", strings(ticket.external_domains))
                             .boolean("external", !ticket.external_domains.empty())
                             .done());
  object.raw("rotation", rotation_json(rule));
  return object.done();
}

namespace {

std::string rejected_json(const Finding& finding, bool show_secrets) {
  return "{\"record\":\"rejected\"," + finding_to_json(finding, show_secrets).substr(1);
}

std::string summary_json(const ReportContext& context, const std::vector<Ticket>& tickets,
                         size_t rejected) {
  Object object;
  if (const ScanSummary* s = context.summary) {
    object.number("messages_scanned", s->messages_scanned)
        .number("messages_skipped", s->messages_skipped)
        .number("messages_failed", s->messages_failed)
        .number("messages_outside_window", s->messages_outside_window)
        .number("messages_undated", s->messages_undated)
        .number("bytes", s->bytes)
        .number("findings", s->findings)
        .number("rejected", s->rejected)
        .number("files_not_mail", s->files_not_mail);
    Object by_type;
    for (const auto& [type, count] : s->not_mail_by_type) by_type.number(type, count);
    object.raw("not_mail_by_type", by_type.done());
  } else {
    object.number("rejected", rejected);
  }
  object.number("tickets", tickets.size())
      .number("suppressed_by_baseline", context.suppressed_by_baseline);
  std::map<std::string, uint64_t> by_severity, by_status, by_triage, by_verification;
  for (const Ticket& t : tickets) {
    ++by_severity[std::string(to_string(t.rule->severity))];
    ++by_status[std::string(to_string(t.validation.status))];
    ++by_triage[std::string(to_string(t.triage))];
    ++by_verification[std::string(to_string(t.verification.state))];
  }
  const auto counts = [](const std::map<std::string, uint64_t>& by) {
    Object object;
    for (const auto& [name, count] : by) object.number(name, count);
    return object.done();
  };
  object.raw("tickets_by_severity", counts(by_severity))
      .raw("tickets_by_status", counts(by_status))
      .raw("tickets_by_triage", counts(by_triage))
      .raw("tickets_by_verification", counts(by_verification));
  if (context.summary && !context.summary->items_by_type.empty())
    object.raw("items_by_type", counts(context.summary->items_by_type));
  return object.done();
}

// CSV field (RFC 4180); cells that a spreadsheet would run as a formula get a leading quote.
// Control characters and bidi overrides are shown escaped; line breaks between entries stay.
std::string csv(std::string_view text) {
  std::string value;
  for (size_t start = 0;;) {
    const size_t end = text.find('\n', start);
    value += escape_for_terminal(text.substr(start, end - start));
    if (end == std::string_view::npos) break;
    value += '\n';
    start = end + 1;
  }
  if (!value.empty() && std::string_view("=+-@\t\r").find(value.front()) != std::string_view::npos)
    value.insert(0, 1, '\'');
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

std::string format_csv(const std::vector<Ticket>& tickets, bool show_secrets) {
  std::string out =
      "id,severity,status,confidence,title,type,provider,rule_id,secret,fingerprint,identity,"
      "first_seen,last_seen,messages,occurrences,domains,external_domains,exposed_to,locations,"
      "rotation,triage,verification\r\n";
  for (const Ticket& t : tickets) {
    std::set<std::string> locations;
    for (const Occurrence& o : t.occurrences)
      locations.insert(location_text(o) + " " + cap_header(o.envelope->message_id));
    const std::string row[] = {t.id,
                               std::string(to_string(t.rule->severity)),
                               std::string(to_string(t.validation.status)),
                               t.validation.confidence,
                               t.rule->name,
                               t.rule->category,
                               t.rule->provider,
                               t.rule->id,
                               shown(t.secret, show_secrets),
                               t.fingerprint,
                               identity_text(shown_identity(t, show_secrets)),
                               t.first_seen ? format_iso8601(*t.first_seen) : "",
                               t.last_seen ? format_iso8601(*t.last_seen) : "",
                               std::to_string(t.messages()),
                               std::to_string(t.occurrences.size()),
                               join(t.domains, " "),
                               join(t.external_domains, " "),
                               join(t.addresses, " "),
                               join(locations, "\n"),
                               t.rule->rotation,
                               std::string(to_string(t.triage)),
                               std::string(to_string(t.verification.state))};
    bool first = true;
    for (const std::string& cell : row) {
      if (!first) out += ',';
      out += csv(cell);
      first = false;
    }
    out += "\r\n";
  }
  return out;
}

// A file path as a URI reference: absolute paths as file:// URIs, bytes outside the unreserved
// set (and '/') percent-encoded.
std::string path_uri(std::string_view path) {
  std::string out = path.starts_with("/") ? "file://" : "";
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out.empty() ? "stdin" : out;
}

std::string_view sarif_level(Severity severity) {
  switch (severity) {
    case Severity::Critical:
    case Severity::High:
      return "error";
    case Severity::Medium:
      return "warning";
    case Severity::Low:
      return "note";
  }
  return "warning";
}

std::string format_sarif(const std::vector<Ticket>& tickets, const ReportContext& context) {
  std::vector<const Rule*> rules;
  std::map<std::string, size_t> rule_index;
  for (const Ticket& t : tickets)
    if (rule_index.emplace(t.rule->id, rules.size()).second) rules.push_back(t.rule);
  const std::string rules_json = array(rules, [](const Rule* rule) {
    return Object()
        .field("id", rule->id)
        .field("name", rule->name)
        .raw("shortDescription", Object().field("text", rule->name).done())
        .raw("fullDescription", Object().field("text", rule->description).done())
        .raw("help", Object().field("text", "Rotation: " + rule->rotation).done())
        .raw("defaultConfiguration", Object().field("level", sarif_level(rule->severity)).done())
        .raw("properties", Object()
                               .field("provider", rule->provider)
                               .field("category", rule->category)
                               .field("severity", to_string(rule->severity))
                               .done())
        .done();
  });
  const std::string results = array(tickets, [&](const Ticket& t) {
    std::ostringstream message;
    message << t.rule->name << ": " << shown(t.secret, context.show_secrets) << " ("
            << to_string(t.validation.status) << ", confidence " << t.validation.confidence << "), "
            << t.messages() << " message(s), exposed to " << t.domains.size()
            << " domain(s). Ticket " << t.id << ".";
    const std::string locations = array(t.occurrences, [](const Occurrence& o) {
      std::ostringstream where;
      where << "message " << cap_header(o.envelope->message_id) << " ("
            << cap_header(o.envelope->date) << "), part " << o.part_path << ", line " << o.line;
      if (!o.location.empty()) where << ", " << location_text(o);
      return Object()
          .raw("physicalLocation",
               Object()
                   .raw("artifactLocation", Object().field("uri", path_uri(o.file)).done())
                   .raw("region", Object().number("byteOffset", o.offset).done())
                   .done())
          .raw("message", Object().field("text", where.str()).done())
          .done();
    });
    return Object()
        .field("ruleId", t.rule->id)
        .number("ruleIndex", rule_index.at(t.rule->id))
        .field("level", sarif_level(t.rule->severity))
        .raw("message", Object().field("text", message.str()).done())
        .raw("locations", locations)
        .raw("partialFingerprints", Object().field("credsiftFingerprint/v1", t.fingerprint).done())
        .raw("properties", ticket_to_json(t, context.show_secrets))
        .done();
  });
  return Object()
             .field("$schema", "https://json.schemastore.org/sarif-2.1.0.json")
             .field("version", "2.1.0")
             .raw("runs",
                  "[" +
                      Object()
                          .raw("tool", Object()
                                           .raw("driver", Object()
                                                              .field("name", "credsift")
                                                              .field("version", context.version)
                                                              .raw("rules", rules_json)
                                                              .done())
                                           .done())
                          .raw("results", results)
                          .done() +
                      "]")
             .done() +
         "\n";
}

// Markdown is read in terminals too (cat, less -R): control characters and escape sequences
// from mail are made visible first.
std::string md(std::string_view raw) {
  std::string flat(raw);
  std::replace(flat.begin(), flat.end(), '\n', ' ');
  std::replace(flat.begin(), flat.end(), '\r', ' ');
  const std::string text = escape_for_terminal(flat);
  std::string out;
  for (char c : text) {
    if (c == '|' || c == '\\' || c == '`' || c == '*' || c == '_' || c == '<' || c == '>' ||
        c == '[' || c == ']')
      out += '\\';
    if (c == '\n' || c == '\r') {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

// At most this many occurrences of a ticket are listed in the Markdown and HTML reports; the
// total is always shown (the JSON formats carry every one).
constexpr size_t kReportOccurrences = 20;

// A bar of up to `width` block characters for a value out of `max`.
std::string text_bar(uint64_t value, uint64_t max, size_t width) {
  if (max == 0 || value == 0) return "";
  const size_t cells = std::max<size_t>(1, static_cast<size_t>(value * width / max));
  std::string out;
  for (size_t i = 0; i < cells; ++i) out += "█";
  return out;
}

// A reference as a Markdown autolink when it is a plain web link, else as text.
std::string md_link(std::string_view url) {
  if (is_web_link(url) && url.find_first_of("<>") == std::string_view::npos)
    return "<" + std::string(url) + ">";
  return md(url);
}

std::string count_list(const std::map<std::string, uint64_t>& counts) {
  std::string out;
  for (const auto& [name, count] : counts) {
    if (!out.empty()) out += ", ";
    out += std::to_string(count) + " " + name;
  }
  return out.empty() ? "none" : out;
}

std::string format_markdown(const std::vector<Ticket>& tickets,
                            const std::vector<Finding>& rejected, const ReportContext& context) {
  const ReportModel model = build_report_model(tickets, context.internal_domains);
  const bool show = context.show_secrets;
  std::ostringstream out;
  out << "# credsift rotation report\n\n";
  if (!context.version.empty()) out << "credsift " << context.version << ". ";
  out << "Secrets are " << (show ? "shown in clear (--show-secrets)" : "redacted") << ".\n\n";

  out << "## Summary\n\n| | count |\n|---|---:|\n";
  if (const ScanSummary* s = context.summary) {
    out << "| messages scanned | " << s->messages_scanned << " |\n"
        << "| messages skipped | " << s->messages_skipped << " |\n"
        << "| messages failed | " << s->messages_failed << " |\n"
        << "| messages outside the date window | " << s->messages_outside_window << " |\n"
        << "| messages without a parseable Date | " << s->messages_undated << " |\n";
    if (s->files_not_mail) out << "| files that are not mail | " << s->files_not_mail << " |\n";
    out << "| findings | " << s->findings << " |\n"
        << "| rejected hits | " << s->rejected << " |\n";
  }
  out << "| messages carrying credentials | " << model.messages_with_credentials << " |\n"
      << "| tickets | " << tickets.size() << " |\n"
      << "| suppressed by baseline | " << context.suppressed_by_baseline << " |\n\n";
  out << "* by severity:";
  bool any = false;
  for (Severity severity : kSeverityOrder)
    if (const auto it = model.by_severity.find(severity); it != model.by_severity.end()) {
      out << (any ? ", " : " ") << it->second << " " << to_string(severity);
      any = true;
    }
  out << (any ? "\n" : " none\n");
  out << "* by validation status: " << count_list(model.by_status) << "\n";
  if (model.by_triage.size() > 1 || (model.by_triage.size() == 1 && !model.by_triage.count("open")))
    out << "* by triage: " << count_list(model.by_triage) << "\n";
  if (model.by_verification.size() > 1 ||
      (model.by_verification.size() == 1 && !model.by_verification.count("not-checked")))
    out << "* by live verification: " << count_list(model.by_verification) << "\n";
  out << "* exposure window: ";
  if (model.first_seen)
    out << format_iso8601(*model.first_seen) << " to " << format_iso8601(*model.last_seen) << " ("
        << (*model.last_seen - *model.first_seen) / 86400 + 1 << " days)\n";
  else
    out << "unknown (no dated message)\n";

  out << "\n## Exposure window\n\nMessages carrying credentials, per " << model.timeline.unit
      << " (UTC)";
  if (model.timeline.undated_messages)
    out << "; " << model.timeline.undated_messages << " without a parseable Date";
  out << ".\n\n";
  if (model.timeline.buckets.empty()) {
    out << "No dated message.\n";
  } else {
    uint64_t max = 0;
    for (const auto& [start, count] : model.timeline.buckets) max = std::max(max, count);
    out << "| " << model.timeline.unit << " | messages | |\n|---|---:|---|\n";
    // Long quiet stretches make a table no one reads: only periods with messages are listed.
    for (const auto& [start, count] : model.timeline.buckets)
      if (count)
        out << "| " << day_text(start) << " | " << count << " | " << text_bar(count, max, 30)
            << " |\n";
  }

  out << "\n## Exposure by domain\n\n";
  if (!model.internal_domains_given)
    out << "No --internal-domain was given: every domain is listed as not external.\n\n";
  out << "| domain | external | tickets | worst severity | addresses |\n"
      << "|---|---|---:|---|---|\n";
  for (const DomainExposure& d : model.domains)
    out << "| " << md(d.domain) << " | " << (d.external ? "yes" : "no") << " | " << d.tickets
        << " | " << to_string(d.worst) << " | " << md(join(d.addresses, ", ")) << " |\n";
  out << "\n## Exposure by address\n\n| address | external | tickets | worst severity |\n"
      << "|---|---|---:|---|\n";
  for (const AddressExposure& a : model.addresses)
    out << "| " << md(a.address) << " | " << (a.external ? "yes" : "no") << " | " << a.tickets
        << " | " << to_string(a.worst) << " |\n";

  out << "\n## Tickets\n";
  for (Severity severity : kSeverityOrder) {
    const auto count = model.by_severity.count(severity) ? model.by_severity.at(severity) : 0;
    if (count == 0) continue;
    out << "\n### " << to_string(severity) << " (" << count << ")\n\n"
        << "| ticket | credential | status | confidence | secret | identity | first seen | "
           "last seen | messages | domains | external | rotation |\n"
        << "|---|---|---|---|---|---|---|---|---:|---|---|---|\n";
    for (const Ticket& t : tickets) {
      if (t.rule->severity != severity) continue;
      out << "| " << t.id << " | " << md(t.rule->name) << " | " << to_string(t.validation.status)
          << " | " << t.validation.confidence << " | `" << md(shown(t.secret, show)) << "` | "
          << md(identity_text(shown_identity(t, show))) << " | "
          << (t.first_seen ? format_iso8601(*t.first_seen) : "?") << " | "
          << (t.last_seen ? format_iso8601(*t.last_seen) : "?") << " | " << t.messages() << " | "
          << md(join(t.domains, ", ")) << " | " << md(join(t.external_domains, ", ")) << " | "
          << md(t.rule->rotation) << " |\n";
    }
  }

  out << "\n## Ticket details\n";
  for (const Ticket& t : tickets) {
    out << "\n### " << t.id << ": " << md(t.rule->name) << " (" << to_string(t.rule->severity)
        << ")\n\n"
        << "* secret `" << md(shown(t.secret, show)) << "`, " << md(t.fingerprint) << "\n"
        << "* status " << to_string(t.validation.status) << ", confidence "
        << t.validation.confidence << "; triage " << to_string(t.triage) << "; verification "
        << to_string(t.verification.state) << "\n"
        << "* provider " << md(t.rule->provider) << ", category " << md(t.rule->category)
        << ", rule " << md(t.rule->id) << "\n";
    if (!t.identity.empty())
      out << "* identity: " << md(identity_text(shown_identity(t, show))) << "\n";
    out << "* seen " << (t.first_seen ? format_iso8601(*t.first_seen) : "?") << " to "
        << (t.last_seen ? format_iso8601(*t.last_seen) : "?") << " in " << t.messages()
        << " message(s)" << (t.undated ? ", some without a parseable Date" : "") << "\n";
    if (!t.addresses.empty()) out << "* exposed to: " << md(join(t.addresses, ", ")) << "\n";
    if (!t.external_domains.empty())
      out << "* external domains: " << md(join(t.external_domains, ", ")) << "\n";
    out << "* rotation: " << md(t.rule->rotation) << "\n";
    for (const std::string& reference : t.rule->references)
      out << "  * " << md_link(reference) << "\n";
    out << "\n| date | from | to | subject | part | location |\n|---|---|---|---|---|---|\n";
    for (size_t i = 0; i < t.occurrences.size() && i < kReportOccurrences; ++i) {
      const Occurrence& o = t.occurrences[i];
      out << "| " << (o.date_epoch ? format_iso8601(*o.date_epoch) : "undated") << " | "
          << md(shown_header(o.envelope->from, t, show)) << " | "
          << md(shown_header(o.envelope->to, t, show)) << " | "
          << md(shown_header(o.envelope->subject, t, show)) << " | " << md(o.part_path) << " | "
          << md(location_text(o)) << " " << md(cap_header(o.envelope->message_id)) << " |\n";
    }
    if (t.occurrences.size() > kReportOccurrences)
      out << "\n"
          << kReportOccurrences << " of " << t.occurrences.size()
          << " occurrences listed; the JSON output holds every one.\n";
  }

  if (context.include_rejected && !rejected.empty()) {
    out << "\n## Rejected hits\n\n| rule | reason | secret | message |\n|---|---|---|---|\n";
    for (const Finding& f : rejected)
      out << "| " << md(f.rule->id) << " | " << md(f.validation.reason) << " | `"
          << md(shown(f.secret, show)) << "` | " << md(cap_header(f.envelope->message_id))
          << " |\n";
  }
  return out.str();
}

}  // namespace

std::string format_tickets(OutputFormat format, const std::vector<Ticket>& tickets,
                           const std::vector<Finding>& rejected, const ReportContext& context) {
  switch (format) {
    case OutputFormat::TicketsJsonl:
    case OutputFormat::Findings: {
      std::string out;
      for (const Ticket& t : tickets) out += ticket_to_json(t, context.show_secrets) + "\n";
      if (context.include_rejected)
        for (const Finding& f : rejected) out += rejected_json(f, context.show_secrets) + "\n";
      return out;
    }
    case OutputFormat::TicketsJson: {
      Object object;
      object.field("credsift_version", context.version)
          .raw("summary", summary_json(context, tickets, rejected.size()))
          .raw("tickets", array(tickets, [&](const Ticket& t) {
                 return ticket_to_json(t, context.show_secrets);
               }));
      if (context.include_rejected)
        object.raw("rejected", array(rejected, [&](const Finding& f) {
                     return rejected_json(f, context.show_secrets);
                   }));
      return object.done() + "\n";
    }
    case OutputFormat::Csv:
      return format_csv(tickets, context.show_secrets);
    case OutputFormat::Sarif:
      return format_sarif(tickets, context);
    case OutputFormat::Markdown:
      return format_markdown(tickets, rejected, context);
    case OutputFormat::Html:
      return format_html(tickets, context);
    case OutputFormat::Human:
      return format_human(tickets, context);
  }
  return {};
}

void print_ticket_summary(std::ostream& out, const std::vector<Ticket>& tickets,
                          uint64_t suppressed_by_baseline) {
  std::map<Severity, uint64_t> by_severity;
  std::map<std::string, uint64_t> by_status;
  for (const Ticket& t : tickets) {
    ++by_severity[t.rule->severity];
    ++by_status[std::string(to_string(t.validation.status))];
  }
  out << "credsift: " << tickets.size() << " tickets";
  if (suppressed_by_baseline)
    out << " (" << suppressed_by_baseline << " findings suppressed by the baseline)";
  out << ":";
  for (auto it = by_severity.rbegin(); it != by_severity.rend(); ++it)
    out << " " << it->second << " " << to_string(it->first);
  out << ";";
  for (const auto& [status, count] : by_status) out << " " << count << " " << status;
  // Verified tickets (scan --verify): live ones first, as the tickets are sorted.
  std::map<VerificationState, uint64_t> by_verification;
  for (const Ticket& t : tickets)
    if (t.verification.state != VerificationState::NotChecked)
      ++by_verification[t.verification.state];
  if (!by_verification.empty()) {
    out << "; verified:";
    for (const auto& [state, count] : by_verification)
      out << " " << count << " " << to_string(state);
  }
  out << "\n";
}

}  // namespace credsift
