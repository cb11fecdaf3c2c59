// The HTML report (--format html): one self-contained page. The data goes in as JSON inside
// <script type="application/json"> elements (every '<', '>' and '&' written as \u00XX so that
// no text from mail can close the element), and the embedded script renders it with
// textContent only. A Content-Security-Policy allows nothing but the page's own style and
// script (by hash): no request can leave the page.
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "credsift/escape.hpp"
#include "html_assets.hpp"
#include "report_parts.hpp"

namespace credsift::report_parts {

namespace {

constexpr size_t kHtmlOccurrences = 20;     // per ticket embedded; the total is shown
constexpr size_t kHtmlAddresses = 50;       // per ticket embedded; the total is shown
constexpr size_t kHtmlExposureRows = 1000;  // domains and addresses embedded; the totals are shown

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A JSON string safe inside a <script> element: json_escape, and the characters HTML would
// read ('<' of "</script>" or "<!--", '>' and '&') as \u escapes.
std::string js(std::string_view text) {
  const std::string escaped = json_escape(text);
  std::string out = "\"";
  out.reserve(escaped.size() + 2);
  for (char c : escaped) {
    if (c == '<')
      out += "\\u003c";
    else if (c == '>')
      out += "\\u003e";
    else if (c == '&')
      out += "\\u0026";
    else
      out += c;
  }
  return out + '"';
}

std::string js_epoch(const std::optional<int64_t>& epoch) {
  return epoch ? std::to_string(*epoch) : "null";
}

template <typename Range, typename ToJson>
std::string js_array(const Range& range, ToJson to_json, size_t cap = SIZE_MAX) {
  std::string out = "[";
  size_t n = 0;
  for (const auto& item : range) {
    if (n++ == cap) break;
    if (out.size() > 1) out += ',';
    out += to_json(item);
  }
  return out + ']';
}

std::string js_strings(const std::set<std::string>& values, size_t cap = SIZE_MAX) {
  return js_array(
      values, [](const std::string& v) { return js(v); }, cap);
}

std::string js_counts(const std::map<std::string, uint64_t>& counts) {
  std::string out = "{";
  for (const auto& [name, count] : counts) {
    if (out.size() > 1) out += ',';
    out += js(name) + ":" + std::to_string(count);
  }
  return out + '}';
}

// Distinct strings numbered in first-seen order: tickets carry numbers, the page one copy of
// each name (rules, statuses, domains repeat across 100,000 tickets).
class StringTable {
 public:
  size_t operator()(const std::string& value) {
    const auto [it, added] = numbers_.emplace(value, names_.size());
    if (added) names_.push_back(value);
    return it->second;
  }
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::unordered_map<std::string, size_t> numbers_;
  std::vector<std::string> names_;
};

std::string js_names(const std::vector<std::string>& names) {
  return js_array(names, [](const std::string& v) { return js(v); });
}

// Where the message is: [file and container (by number), offset, the rest (folder, node ...)];
// location_text cut in three so that the file name is written once.
std::string location_json(const Occurrence& o, StringTable& files) {
  std::string file = escape_file_name(o.file);
  if (!o.location.container.empty()) file += "!" + o.location.container;
  const std::string offset = std::to_string(o.offset);
  const std::string whole = location_text(o);
  const size_t rest = file.size() + 1 + offset.size();
  return std::to_string(files(file)) + "," + offset + "," +
         js(rest <= whole.size() ? whole.substr(rest) : std::string());
}

// What a ticket shows when opened, parsed only then: [addresses (capped), their number,
// occurrences (capped)], each occurrence [date epoch, or the Date header when it did not parse;
// from, to, cc, subject, part path, file (by number), offset, the rest of the location (a
// container's entry, folder, node), message id, rule id ("" when the ticket's), line]. The
// fingerprint is left out (a quarter of the bytes at 100,000 tickets): the ticket id is its
// first 16 hex digits and the JSON output carries it whole.
std::string details_json(const Ticket& t, bool show_secrets, StringTable& files) {
  return "[" + js_strings(t.addresses, kHtmlAddresses) + "," + std::to_string(t.addresses.size()) +
         "," +
         js_array(
             t.occurrences,
             [&](const Occurrence& o) {
               return "[" +
                      (o.date_epoch ? std::to_string(*o.date_epoch)
                                    : js(cap_header(o.envelope->date))) +
                      "," + js(shown_header(o.envelope->from, t, show_secrets)) + "," +
                      js(shown_header(o.envelope->to, t, show_secrets)) + "," +
                      js(shown_header(o.envelope->cc, t, show_secrets)) + "," +
                      js(shown_header(o.envelope->subject, t, show_secrets)) + "," +
                      js(o.part_path) + "," + location_json(o, files) + "," +
                      js(cap_header(o.envelope->message_id)) + "," +
                      js(o.rule_id == t.rule->id ? std::string() : o.rule_id) + "," +
                      std::to_string(o.line) + "]";
             },
             kHtmlOccurrences) +
         "]";
}

// The tickets as columns (one array per field, names by number): 100,000 tickets parse in a
// fraction of the time an object per ticket takes, and the page filters over typed arrays.
// Rare fields (identity, related captures, reasons, other rules) go in "more" by ticket number.
std::string tickets_json(const std::vector<Ticket>& tickets, bool show_secrets,
                         StringTable& rule_ids, StringTable& domains) {
  StringTable statuses, confidences, triages, verifications;
  std::string rule, status, confidence, triage, verification, ids, secrets, first, last, messages,
      occurrences, domain_lists, domain_counts, more;
  const auto add = [](std::string& column, const std::string& value) {
    if (!column.empty()) column += ',';
    column += value;
  };
  // First seen as seconds after the earliest: fewer digits.
  int64_t base = 0;
  for (const Ticket& t : tickets)
    if (t.first_seen && (base == 0 || *t.first_seen < base)) base = *t.first_seen;
  // Ids and secrets as one string split at '\n' by the page (when none holds one): one string
  // to parse instead of 100,000.
  bool joinable = true;
  std::vector<std::string> shown_secrets;
  shown_secrets.reserve(tickets.size());
  for (const Ticket& t : tickets) {
    shown_secrets.push_back(shown(t.secret, show_secrets));
    joinable = joinable && shown_secrets.back().find('\n') == std::string::npos &&
               t.id.find('\n') == std::string::npos;
  }
  std::string joined_ids, joined_secrets;
  for (size_t n = 0; n < tickets.size(); ++n) {
    const Ticket& t = tickets[n];
    add(rule, std::to_string(rule_ids(t.rule->id)));
    add(status, std::to_string(statuses(std::string(to_string(t.validation.status)))));
    add(confidence, std::to_string(confidences(t.validation.confidence)));
    add(triage, std::to_string(triages(std::string(to_string(t.triage)))));
    add(verification, std::to_string(verifications(std::string(to_string(t.verification.state)))));
    if (joinable) {
      joined_ids += (n ? "\n" : "") + t.id;
      joined_secrets += (n ? "\n" : "") + shown_secrets[n];
    } else {
      add(ids, js(t.id));
      add(secrets, js(shown_secrets[n]));
    }
    add(first, t.first_seen ? std::to_string(*t.first_seen - base) : "null");
    // Last seen as seconds after first seen: 0 for most tickets (one message), fewer bytes.
    add(last, t.first_seen && t.last_seen ? std::to_string(*t.last_seen - *t.first_seen)
                                          : js_epoch(t.last_seen));
    add(messages, std::to_string(t.messages()));
    add(occurrences, std::to_string(t.occurrences.size()));
    // Domains flat, with their number per ticket: no array per ticket to parse.
    for (const std::string& d : t.domains) add(domain_lists, std::to_string(domains(d)));
    add(domain_counts, std::to_string(t.domains.size()));
    std::string extra;
    const auto field = [&](std::string_view key, const std::string& value) {
      extra += (extra.empty() ? "\"" : ",\"") + std::string(key) + "\":" + value;
    };
    if (!t.identity.empty()) field("idn", js(identity_text(shown_identity(t, show_secrets))));
    std::string related;
    for (const RelatedCapture& r : t.related)
      related += (related.empty() ? "" : "; ") + r.role + "=" + shown(r.secret, show_secrets);
    if (!related.empty()) field("rel", js(related));
    if (!t.validation.reason.empty()) field("why", js(t.validation.reason));
    if (!t.verification.reason.empty()) field("vr", js(t.verification.reason));
    if (t.rules.size() > 1)
      field("rs", js_array(t.rules, [](const std::string& r) { return js(r); }));
    if (t.undated) field("und", "1");
    if (!extra.empty()) add(more, "\"" + std::to_string(n) + "\":{" + extra + "}");
  }
  return "{\"count\":" + std::to_string(tickets.size()) + ",\"rule\":[" + rule + "],\"st\":[" +
         status + "],\"cf\":[" + confidence + "],\"tr\":[" + triage + "],\"vs\":[" + verification +
         "],\"id\":" + (joinable ? js(joined_ids) : "[" + ids + "]") +
         ",\"sec\":" + (joinable ? js(joined_secrets) : "[" + secrets + "]") +
         ",\"fs0\":" + std::to_string(base) + ",\"fs\":[" + first + "],\"ls\":[" + last +
         "],\"mc\":[" + messages + "],\"oc\":[" + occurrences + "],\"d\":[" + domain_lists +
         "],\"dn\":[" + domain_counts + "],\"more\":{" + more +
         "},\"names\":{\"st\":" + js_names(statuses.names()) +
         ",\"cf\":" + js_names(confidences.names()) + ",\"tr\":" + js_names(triages.names()) +
         ",\"vs\":" + js_names(verifications.names()) + "}}";
}

std::string data_json(const std::vector<Ticket>& tickets, const ReportContext& context,
                      const ReportModel& model) {
  std::string out = "{\"version\":" + js(context.version) + ",\"generated\":" +
                    js(format_iso8601(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count())) +
                    ",\"show_secrets\":" + (context.show_secrets ? "true" : "false") +
                    ",\"occurrence_cap\":" + std::to_string(kHtmlOccurrences) +
                    ",\"internal_domains\":" +
                    js_array(context.internal_domains, [](const std::string& d) { return js(d); });
  // Summary: the scan's counts, and the tickets' as the JSON format gives them.
  out += ",\"summary\":{";
  if (const ScanSummary* s = context.summary)
    out += "\"messages_scanned\":" + std::to_string(s->messages_scanned) +
           ",\"messages_skipped\":" + std::to_string(s->messages_skipped) +
           ",\"messages_failed\":" + std::to_string(s->messages_failed) +
           ",\"messages_outside_window\":" + std::to_string(s->messages_outside_window) +
           ",\"messages_undated\":" + std::to_string(s->messages_undated) +
           ",\"files_not_mail\":" + std::to_string(s->files_not_mail) +
           ",\"bytes\":" + std::to_string(s->bytes) +
           ",\"findings\":" + std::to_string(s->findings) +
           ",\"rejected\":" + std::to_string(s->rejected) + ",";
  std::map<std::string, uint64_t> by_severity;
  for (const auto& [severity, count] : model.by_severity)
    by_severity[std::string(to_string(severity))] = count;
  out += "\"tickets\":" + std::to_string(tickets.size()) +
         ",\"suppressed_by_baseline\":" + std::to_string(context.suppressed_by_baseline) +
         ",\"messages_with_credentials\":" + std::to_string(model.messages_with_credentials) +
         ",\"first_seen\":" + js_epoch(model.first_seen) +
         ",\"last_seen\":" + js_epoch(model.last_seen) +
         ",\"tickets_by_severity\":" + js_counts(by_severity) +
         ",\"tickets_by_status\":" + js_counts(model.by_status) +
         ",\"tickets_by_triage\":" + js_counts(model.by_triage) +
         ",\"tickets_by_verification\":" + js_counts(model.by_verification) + "}";
  out += ",\"timeline\":{\"unit\":" + js(model.timeline.unit) +
         ",\"undated\":" + std::to_string(model.timeline.undated_messages) + ",\"buckets\":" +
         js_array(model.timeline.buckets,
                  [](const std::pair<int64_t, uint64_t>& b) {
                    return "[" + std::to_string(b.first) + "," + std::to_string(b.second) + "]";
                  }) +
         "}";
  // Exposure, computed here and only drawn by the page, the first kHtmlExposureRows of each
  // list (the Markdown report has them all): [domain, external, credentials, worst severity,
  // addresses (capped), addresses] and [address, domain, external, credentials, worst].
  out += ",\"internal_given\":" + std::string(model.internal_domains_given ? "true" : "false") +
         ",\"external_domains\":" +
         std::to_string(std::count_if(model.domains.begin(), model.domains.end(),
                                      [](const DomainExposure& d) { return d.external; })) +
         ",\"domains_total\":" + std::to_string(model.domains.size()) +
         ",\"addresses_total\":" + std::to_string(model.addresses.size()) + ",\"domains\":" +
         js_array(
             model.domains,
             [](const DomainExposure& d) {
               return "[" + js(d.domain) + "," + (d.external ? "1" : "0") + "," +
                      std::to_string(d.tickets) + "," + js(to_string(d.worst)) + "," +
                      js_strings(d.addresses, 4) + "," + std::to_string(d.addresses.size()) + "]";
             },
             kHtmlExposureRows);
  out += ",\"addresses\":" +
         js_array(
             model.addresses,
             [](const AddressExposure& a) {
               return "[" + js(a.address) + "," + js(a.domain) + "," + (a.external ? "1" : "0") +
                      "," + std::to_string(a.tickets) + "," + js(to_string(a.worst)) + "]";
             },
             kHtmlExposureRows);
  return out + "}";
}

// The tickets, with the rules and domains they refer to by number.
std::string tickets_blob(const std::vector<Ticket>& tickets, const ReportContext& context) {
  StringTable rule_ids, domains;
  std::string out = tickets_json(tickets, context.show_secrets, rule_ids, domains);
  out.pop_back();  // the closing brace: the tables follow
  // Rules by number: id, name, provider, category, severity, rotation guidance, references.
  std::map<std::string, const Rule*> rules;
  for (const Ticket& t : tickets) rules.emplace(t.rule->id, t.rule);
  out += ",\"rules\":" + js_array(rule_ids.names(), [&](const std::string& id) {
           const Rule* rule = rules.at(id);
           return "[" + js(id) + "," + js(rule->name) + "," + js(rule->provider) + "," +
                  js(rule->category) + "," + js(to_string(rule->severity)) + "," +
                  js(rule->rotation) + "," +
                  js_array(rule->references, [](const std::string& r) { return js(r); }) + "]";
         });
  // Domains by number, and whether each is outside --internal-domain.
  std::set<std::string> external;
  for (const Ticket& t : tickets)
    external.insert(t.external_domains.begin(), t.external_domains.end());
  out += ",\"domain_names\":" + js_names(domains.names()) +
         ",\"domain_external\":" + js_array(domains.names(), [&](const std::string& d) {
           return std::string(external.count(d) ? "1" : "0");
         });
  return out + "}";
}

// 'sha256-<base64>' of a script or style element's text, for the Content-Security-Policy.
std::string csp_hash(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  unsigned char base64[64];
  const int length = EVP_EncodeBlock(base64, digest, SHA256_DIGEST_LENGTH);
  return "'sha256-" + std::string(reinterpret_cast<char*>(base64), length) + "'";
}

// Blobs larger than this go in gzip-compressed and base64-encoded (the page inflates them with
// the browser's DecompressionStream): a browser parses a 100 MB page for tens of seconds before
// any script runs, and a 15 MB one far sooner. CREDSIFT_HTML_COMPRESS_BYTES overrides it (tests).
size_t compress_threshold() {
  if (const char* value = std::getenv("CREDSIFT_HTML_COMPRESS_BYTES"))
    return std::strtoull(value, nullptr, 10);
  return size_t{1} << 20;
}

std::string gzip_base64(std::string_view text) {
  z_stream stream{};
  if (deflateInit2(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("html report: deflateInit2 failed");
  std::string packed(deflateBound(&stream, text.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(packed.data());
  stream.avail_out = static_cast<uInt>(packed.size());
  const int result = deflate(&stream, Z_FINISH);
  packed.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) throw std::runtime_error("html report: deflate failed");
  std::string out(4 * ((packed.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(packed.data()),
                                     static_cast<int>(packed.size()));
  out.resize(static_cast<size_t>(length));
  return out;
}

// A data element: JSON as is (every '<' already \u003c), or gzip+base64 when large.
std::string data_element(std::string_view id, const std::string& json) {
  const bool pack = json.size() > compress_threshold() && json.size() < (size_t{1} << 31);
  std::string out = "<script type=\"application/" + std::string(pack ? "octet-stream" : "json") +
                    "\" id=\"" + std::string(id) + "\"" +
                    (pack ? " data-encoding=\"gzip-base64\">" : ">");
  out += pack ? gzip_base64(json) : json;
  return out + "</script>\n";
}

}  // namespace

std::string format_html(const std::vector<Ticket>& tickets, const ReportContext& context) {
  const ReportModel model = build_report_model(tickets, context.internal_domains);
  const std::string_view style = html_assets::kStyle, script = html_assets::kScript;
  std::string out;
  out.reserve(4096 + tickets.size() * 600);
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // default-src 'none' blocks every fetch (images, fonts, XHR, frames ...); the page's own style
  // and script are allowed by hash, nothing else runs.
  out += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src " +
         csp_hash(style) + "; script-src " + csp_hash(script) +
         "; base-uri 'none'; form-action 'none'\">\n";
  out += "<meta name=\"referrer\" content=\"no-referrer\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>credsift report";
  if (!context.version.empty()) out += " (credsift " + html_escape(context.version) + ")";
  out += "</title>\n<style>";
  out += style;
  out += "</style>\n</head>\n<body>\n";
  out += html_assets::kBody;
  // The script comes before the occurrences, which are most of the bytes and only read when a
  // ticket is opened: the page draws while the browser is still parsing them.
  out += data_element("credsift-data", data_json(tickets, context, model));
  out += data_element("credsift-tickets", tickets_blob(tickets, context));
  out += "<script>";
  out += script;
  out += "</script>\n";
  StringTable files;
  const std::string details = js_array(
      tickets, [&](const Ticket& t) { return details_json(t, context.show_secrets, files); });
  out += data_element("credsift-occurrences",
                      "{\"files\":" + js_names(files.names()) + ",\"tickets\":" + details + "}");
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace credsift::report_parts
