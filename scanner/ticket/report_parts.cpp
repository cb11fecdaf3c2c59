// Shared by the human-facing reports: field display and the aggregates (see report_parts.hpp).
#include "report_parts.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "credsift/escape.hpp"

namespace credsift::report_parts {

std::string shown(std::string_view secret, bool show_secrets) {
  return show_secrets ? std::string(secret) : redact(secret);
}

std::string shown_header(std::string_view value, const Ticket& ticket, bool show_secrets) {
  if (show_secrets) return cap_header(value);
  std::vector<std::string_view> secrets{ticket.secret};
  for (const RelatedCapture& r : ticket.related) secrets.push_back(r.secret);
  return redact_header(value, secrets);
}

namespace {

// Key ids stay recognisable (first and last 4 characters) so the right key can be revoked.
std::string partial(std::string_view id, bool show_secrets) {
  if (show_secrets || id.size() <= 12) return show_secrets ? std::string(id) : redact(id);
  return std::string(id.substr(0, 4)) + "…" + std::string(id.substr(id.size() - 4));
}

}  // namespace

Evidence shown_identity(const Ticket& ticket, bool show_secrets) {
  Evidence identity = ticket.identity;
  for (auto& [name, value] : identity)
    if (name == "access_key_id") value = partial(value, show_secrets);
  return identity;
}

std::string identity_text(const Evidence& identity) {
  std::string out;
  for (const auto& [name, value] : identity) {
    if (!out.empty()) out += "; ";
    out += name + "=" + value;
  }
  return out;
}

std::string location_text(const Occurrence& o) {
  std::string out = escape_file_name(o.file);
  if (!o.location.container.empty()) out += "!" + o.location.container;
  out += "@" + std::to_string(o.offset);
  if (!o.location.folder.empty()) out += " folder=" + o.location.folder;
  if (o.location.node_id) out += " node=" + std::to_string(*o.location.node_id);
  if (!o.location.item_id.empty()) out += " id=" + o.location.item_id;
  if (o.location.recovered) out += " recovered";
  return out;
}

std::string join(const std::set<std::string>& values, std::string_view separator) {
  std::string out;
  for (const std::string& value : values) {
    if (!out.empty()) out += separator;
    out += value;
  }
  return out;
}

std::string day_text(int64_t epoch_seconds) { return format_iso8601(epoch_seconds).substr(0, 10); }

bool is_web_link(std::string_view url) {
  const auto starts = [&](std::string_view scheme) {
    if (url.size() <= scheme.size()) return false;
    for (size_t i = 0; i < scheme.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(url[i])) != scheme[i]) return false;
    return true;
  };
  if (!starts("https://") && !starts("http://")) return false;
  // No whitespace or controls: a link is shown as it is followed.
  return std::none_of(url.begin(), url.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; });
}

namespace {

using std::chrono::days;
using std::chrono::sys_days;

constexpr int64_t kDay = 86400;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Start of the period holding `epoch` (UTC).
int64_t period_start(int64_t epoch, std::string_view unit) {
  const int64_t day = floor_div(epoch, kDay);
  if (unit == "day") return day * kDay;
  if (unit == "week") {
    const int64_t weekday = ((day % 7) + 7 + 3) % 7;  // 1970-01-01 was a Thursday: Monday is 0
    return (day - weekday) * kDay;
  }
  const std::chrono::year_month_day date{sys_days{days{day}}};
  const sys_days first{date.year() / date.month() / 1};
  return static_cast<int64_t>(first.time_since_epoch().count()) * kDay;
}

int64_t next_period(int64_t start, std::string_view unit) {
  if (unit == "day") return start + kDay;
  if (unit == "week") return start + 7 * kDay;
  const std::chrono::year_month_day date{sys_days{days{start / kDay}}};
  const sys_days next{(date.year() / date.month() / 1) + std::chrono::months{1}};
  return static_cast<int64_t>(next.time_since_epoch().count()) * kDay;
}

// Identifies one message across the tickets that it carries.
std::string message_key(const Occurrence& o) {
  std::string key = o.file;
  key += '\0';
  key += o.location.container;
  key += '\0';
  key += std::to_string(o.offset) + ':' + std::to_string(o.message_index) + ':';
  key += o.location.item_id;
  if (o.location.node_id) key += ':' + std::to_string(*o.location.node_id);
  return key;
}

Timeline build_timeline(const std::vector<Ticket>& tickets) {
  std::unordered_map<std::string, std::optional<int64_t>> messages;
  for (const Ticket& t : tickets)
    for (const Occurrence& o : t.occurrences) messages.emplace(message_key(o), o.date_epoch);
  Timeline timeline;
  std::optional<int64_t> first, last;
  for (const auto& [key, date] : messages) {
    if (!date) {
      ++timeline.undated_messages;
      continue;
    }
    ++timeline.dated_messages;
    first = first ? std::min(*first, *date) : *date;
    last = last ? std::max(*last, *date) : *date;
  }
  if (!first) return timeline;
  // Up to ~120 bars: days for four months, weeks for two years, months beyond.
  const int64_t span_days = (*last - *first) / kDay;
  timeline.unit = span_days <= 120 ? "day" : span_days <= 730 ? "week" : "month";
  std::map<int64_t, uint64_t> counts;
  for (const auto& [key, date] : messages)
    if (date) ++counts[period_start(*date, timeline.unit)];
  // Bounded: a forged Date of year 9999 next to 1970 would ask for ~100k months; beyond that
  // the periods with no message are left out rather than drawn.
  const int64_t from = counts.begin()->first, to = counts.rbegin()->first;
  size_t periods = 0;
  for (int64_t p = from; p <= to && periods <= 5000; p = next_period(p, timeline.unit)) ++periods;
  if (periods > 5000) {
    timeline.buckets.assign(counts.begin(), counts.end());
    return timeline;
  }
  for (int64_t p = from; p <= to; p = next_period(p, timeline.unit)) {
    const auto it = counts.find(p);
    timeline.buckets.emplace_back(p, it == counts.end() ? 0 : it->second);
  }
  return timeline;
}

}  // namespace

ReportModel build_report_model(const std::vector<Ticket>& tickets,
                               const std::vector<std::string>& internal_domains) {
  ReportModel model;
  model.internal_domains_given = !internal_domains.empty();
  std::map<std::string, DomainExposure> domains;
  std::map<std::string, AddressExposure> addresses;
  for (const Ticket& t : tickets) {
    const Severity severity = t.rule->severity;
    ++model.by_severity[severity];
    ++model.by_status[std::string(to_string(t.validation.status))];
    ++model.by_triage[std::string(to_string(t.triage))];
    ++model.by_verification[std::string(to_string(t.verification.state))];
    if (t.verification.state == VerificationState::Live) ++model.live_tickets;
    if (t.first_seen)
      model.first_seen = std::min(model.first_seen.value_or(*t.first_seen), *t.first_seen);
    if (t.last_seen)
      model.last_seen = std::max(model.last_seen.value_or(*t.last_seen), *t.last_seen);
    std::set<std::string> ticket_domains;
    for (const std::string& address : t.addresses) {
      const std::string domain(address_domain(address));
      const bool external = model.internal_domains_given && !domain.empty() &&
                            !is_internal_domain(domain, internal_domains);
      AddressExposure& a = addresses[address];
      if (a.tickets == 0) a = {address, domain, external, 0, severity};
      ++a.tickets;
      a.worst = std::max(a.worst, severity);
      DomainExposure& d = domains[domain];
      if (d.tickets == 0 && d.addresses.empty()) {
        d.domain = domain;
        d.external = external;
        d.worst = severity;
      }
      d.addresses.insert(address);
      if (ticket_domains.insert(domain).second) {
        ++d.tickets;
        d.worst = std::max(d.worst, severity);
      }
    }
  }
  const auto notify_first = [](const auto& a, const auto& b) {
    if (a.external != b.external) return a.external;
    if (a.worst != b.worst) return a.worst > b.worst;
    return a.tickets > b.tickets;
  };
  for (auto& [name, d] : domains) model.domains.push_back(std::move(d));
  std::stable_sort(model.domains.begin(), model.domains.end(), notify_first);
  for (auto& [name, a] : addresses) model.addresses.push_back(std::move(a));
  std::stable_sort(model.addresses.begin(), model.addresses.end(), notify_first);
  model.timeline = build_timeline(tickets);
  model.messages_with_credentials = model.timeline.dated_messages + model.timeline.undated_messages;
  return model;
}

}  // namespace credsift::report_parts
