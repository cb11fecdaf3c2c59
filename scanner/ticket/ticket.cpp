#include "credsift/ticket.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "credsift/text.hpp"

namespace credsift {

size_t Ticket::messages() const {
  // Items of a container (PST, JSON export) share offset 0: their index tells them apart.
  std::set<std::tuple<std::string_view, std::string_view, uint64_t, uint64_t>> distinct;
  for (const Occurrence& o : occurrences)
    distinct.emplace(o.file, o.location.container, o.offset, o.message_index);
  return distinct.size();
}

std::string_view to_string(Triage triage) {
  switch (triage) {
    case Triage::Open:
      return "open";
    case Triage::Confirmed:
      return "confirmed";
    case Triage::FalsePositive:
      return "false-positive";
    case Triage::Rotated:
      return "rotated";
    case Triage::AcceptedRisk:
      return "accepted-risk";
  }
  return "open";
}

std::optional<Triage> parse_triage(std::string_view name) {
  for (Triage t : {Triage::Open, Triage::Confirmed, Triage::FalsePositive, Triage::Rotated,
                   Triage::AcceptedRisk})
    if (name == to_string(t)) return t;
  return std::nullopt;
}

std::string_view to_string(VerificationState state) {
  switch (state) {
    case VerificationState::NotChecked:
      return "not-checked";
    case VerificationState::Live:
      return "live";
    case VerificationState::Revoked:
      return "revoked";
    case VerificationState::Unknown:
      return "unknown";
  }
  return "not-checked";
}

namespace {

using text::lower;

using text::trim;

// The addr-spec of one mailbox: inside <...> when present, else the bare text.
std::optional<std::string> mailbox_address(std::string_view mailbox) {
  const size_t open = mailbox.rfind('<');
  if (open != std::string_view::npos) {
    const size_t close = mailbox.find('>', open);
    mailbox = mailbox.substr(
        open + 1, close == std::string_view::npos ? std::string_view::npos : close - open - 1);
  }
  mailbox = trim(mailbox);
  if (mailbox.starts_with("mailto:")) mailbox.remove_prefix(7);
  const size_t at = mailbox.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == mailbox.size()) return std::nullopt;
  if (mailbox.find_first_of(" \t\"") != std::string_view::npos) return std::nullopt;
  return lower(mailbox);
}

}  // namespace

std::vector<std::string> parse_address_list(std::string_view header) {
  // Split on commas and group delimiters outside quoted strings, comments and <...>.
  std::vector<std::string> out;
  std::string current;
  bool quoted = false, angle = false;
  int comment = 0;
  const auto flush = [&] {
    if (auto address = mailbox_address(current)) out.push_back(*address);
    current.clear();
  };
  for (size_t i = 0; i < header.size(); ++i) {
    const char c = header[i];
    if (quoted) {
      if (c == '\\' && i + 1 < header.size()) {
        ++i;
        continue;
      }
      if (c == '"') quoted = false;
      continue;  // display names never hold the address
    }
    if (comment) {
      if (c == '(') ++comment;
      if (c == ')') --comment;
      continue;
    }
    if (c == '"')
      quoted = true;
    else if (c == '(')
      comment = 1;
    else if (c == '<')
      angle = true, current.push_back(c);
    else if (c == '>')
      angle = false, current.push_back(c);
    else if (!angle && (c == ',' || c == ';'))
      flush();
    else if (!angle && c == ':')
      current.clear();  // "Group name:" starts a group
    else
      current.push_back(c);
  }
  flush();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string_view address_domain(std::string_view address) {
  const size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

bool is_internal_domain(std::string_view domain, const std::vector<std::string>& internal) {
  for (const std::string& candidate : internal) {
    const std::string base = lower(candidate);
    if (domain == base) return true;
    if (domain.size() > base.size() && domain.ends_with(base) &&
        domain[domain.size() - base.size() - 1] == '.')
      return true;
  }
  return false;
}

int rule_specificity(const Rule& rule) {
  if (rule.id.starts_with("password.") || rule.category == "password") return 0;
  if (rule.id.starts_with("connstr.") || rule.category == "connection-string") return 1;
  return 2;
}

TicketBuilder::TicketBuilder(TicketOptions options) : options_(std::move(options)) {}

void TicketBuilder::add(const Finding& finding) {
  if (finding.validation.status == ValidationStatus::Rejected) {
    rejected_.push_back(finding);
    return;
  }
  if (options_.baseline.count(finding.fingerprint)) {
    ++suppressed_;
    suppressed_fingerprints_.insert(finding.fingerprint);
    return;
  }
  findings_.push_back(finding);
}

namespace {

using MessageKey = std::pair<std::string, uint64_t>;  // file, offset

MessageKey message_of(const Finding& finding) { return {finding.file, finding.offset}; }

bool is_aws_key_id(const Rule& rule) { return rule.id == "aws.access_key_id"; }

void add_identity(Evidence& identity, std::string name, std::string_view value) {
  if (value.empty()) return;
  for (const auto& [key, existing] : identity)
    if (key == name) return;
  identity.emplace_back(std::move(name), std::string(value));
}

void identity_from(const Finding& finding, Evidence& identity) {
  const Validation& v = finding.validation;
  add_identity(identity, "username", v.evidence_of("user"));
  add_identity(identity, "host", v.evidence_of("host"));
  add_identity(identity, "database", v.evidence_of("database"));
  add_identity(identity, "account_id", v.evidence_of("account_id"));
  add_identity(identity, "jwt_subject", v.evidence_of("sub"));
  add_identity(identity, "jwt_issuer", v.evidence_of("iss"));
  add_identity(identity, "key_type", v.evidence_of("key_type"));
  add_identity(identity, "location", v.evidence_of("location"));
  for (const auto& [name, value] : finding.captures) {
    if (name == "user") add_identity(identity, "username", value);
    if (name == "host") add_identity(identity, "host", lower(value));
    if (name == "key_id") {
      add_identity(identity, "access_key_id", value);
      if (auto account = aws_account_id(value)) add_identity(identity, "account_id", *account);
    }
  }
}

Occurrence occurrence_of(const Finding& finding) {
  Occurrence o;
  o.rule_id = finding.rule->id;
  o.file = finding.file;
  o.offset = finding.offset;
  o.message_index = finding.index;
  o.envelope = finding.envelope ? finding.envelope : empty_envelope();
  o.date_epoch = parse_mail_date(o.envelope->date);
  o.part_path = finding.part_path;
  o.line = finding.line;
  o.location = finding.location;
  return o;
}

}  // namespace

std::vector<Ticket> TicketBuilder::build() const {
  // AWS key ids ride on the secret key found in the same message: one credential, one ticket.
  std::map<MessageKey, std::vector<const Finding*>> aws_secrets_by_message;
  for (const Finding& finding : findings_)
    if (finding.rule->provider == "aws" && !is_aws_key_id(*finding.rule))
      aws_secrets_by_message[message_of(finding)].push_back(&finding);

  std::map<std::string, size_t> index_by_fingerprint;
  std::vector<Ticket> tickets;
  std::vector<std::vector<const Finding*>> members;
  // Key ids by message, so that each ticket looks only at its own messages: one key pair
  // repeated in every message made a scan over all key ids per ticket quadratic.
  std::map<MessageKey, std::vector<const Finding*>> key_ids_by_message;
  for (const Finding& finding : findings_) {
    if (is_aws_key_id(*finding.rule) && aws_secrets_by_message.count(message_of(finding))) {
      key_ids_by_message[message_of(finding)].push_back(&finding);
      continue;
    }
    auto [it, inserted] = index_by_fingerprint.emplace(finding.fingerprint, tickets.size());
    if (inserted) {
      tickets.emplace_back();
      members.emplace_back();
    }
    members[it->second].push_back(&finding);
  }

  for (size_t i = 0; i < tickets.size(); ++i) {
    Ticket& ticket = tickets[i];
    const std::vector<const Finding*>& group = members[i];
    // The naming finding: most specific rule, then best evidence, then first seen.
    const Finding* naming = group.front();
    for (const Finding* f : group) {
      const auto rank = [](const Finding* x) {
        return std::make_pair(rule_specificity(*x->rule), evidence_rank(x->validation.status));
      };
      if (rank(f) > rank(naming)) naming = f;
    }
    ticket.fingerprint = naming->fingerprint;
    ticket.id = "cs-" + ticket.fingerprint.substr(7, 16);
    ticket.secret = naming->secret;
    ticket.rule = naming->rule;
    ticket.validation = naming->validation;
    identity_from(*naming, ticket.identity);
    for (const Finding* f : group) {
      if (std::find(ticket.rules.begin(), ticket.rules.end(), f->rule->id) == ticket.rules.end())
        ticket.rules.push_back(f->rule->id);
      identity_from(*f, ticket.identity);
      ticket.occurrences.push_back(occurrence_of(*f));
    }
    std::set<MessageKey> aws_messages;
    std::set<std::string> related_fingerprints;
    for (const Finding* f : group) {
      if (f->rule->provider != "aws" || !aws_messages.insert(message_of(*f)).second) continue;
      const auto key_ids = key_ids_by_message.find(message_of(*f));
      if (key_ids == key_ids_by_message.end()) continue;
      for (const Finding* key_id : key_ids->second) {
        if (related_fingerprints.insert(key_id->fingerprint).second)
          ticket.related.push_back(
              {"access_key_id", key_id->rule->id, key_id->fingerprint, key_id->secret});
        add_identity(ticket.identity, "access_key_id", key_id->secret);
        add_identity(ticket.identity, "account_id", key_id->validation.evidence_of("account_id"));
        ticket.occurrences.push_back(occurrence_of(*key_id));
        if (std::find(ticket.rules.begin(), ticket.rules.end(), key_id->rule->id) ==
            ticket.rules.end())
          ticket.rules.push_back(key_id->rule->id);
      }
    }
    std::set<MessageKey> seen_messages;
    for (const Occurrence& o : ticket.occurrences) {
      if (o.date_epoch) {
        if (!ticket.first_seen || *o.date_epoch < *ticket.first_seen)
          ticket.first_seen = o.date_epoch;
        if (!ticket.last_seen || *o.date_epoch > *ticket.last_seen) ticket.last_seen = o.date_epoch;
      } else {
        ticket.undated = true;
      }
      if (!seen_messages.emplace(o.file, o.offset).second) continue;
      for (const std::string* header : {&o.envelope->from, &o.envelope->to, &o.envelope->cc})
        for (const std::string& address : parse_address_list(*header)) {
          ticket.addresses.insert(address);
          const std::string domain(address_domain(address));
          ticket.domains.insert(domain);
          if (!options_.internal_domains.empty() &&
              !is_internal_domain(domain, options_.internal_domains))
            ticket.external_domains.insert(domain);
        }
    }
  }

  std::stable_sort(tickets.begin(), tickets.end(), [](const Ticket& a, const Ticket& b) {
    const auto key = [](const Ticket& t) {
      return std::make_tuple(static_cast<int>(t.rule->severity), evidence_rank(t.validation.status),
                             t.external_domains.size(), t.domains.size(), t.addresses.size());
    };
    if (key(a) != key(b)) return key(a) > key(b);
    if (a.first_seen != b.first_seen) return a.first_seen < b.first_seen;
    return a.id < b.id;
  });
  return tickets;
}

std::set<std::string> load_baseline(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read baseline " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::set<std::string> fingerprints;
  simdjson::dom::parser parser;
  // A ticket's own fingerprint and those of its related captures (an AWS key id).
  const auto take = [&](simdjson::dom::element element) {
    std::string_view fp;
    if (!element.is_object()) return;
    if (element["fingerprint"].get(fp) == simdjson::SUCCESS) fingerprints.emplace(fp);
    simdjson::dom::array related;
    if (element["related"].get(related) != simdjson::SUCCESS) return;
    for (simdjson::dom::element r : related)
      if (r.is_object() && r["fingerprint"].get(fp) == simdjson::SUCCESS) fingerprints.emplace(fp);
  };
  simdjson::dom::element document;
  if (parser.parse(text).get(document) == simdjson::SUCCESS) {
    simdjson::dom::array array;
    if (document.is_object() && document["fingerprints"].get(array) == simdjson::SUCCESS) {
      for (simdjson::dom::element e : array) {
        std::string_view fp;
        if (e.get(fp) == simdjson::SUCCESS) fingerprints.emplace(fp);
      }
    } else if (document.is_object() && document["tickets"].get(array) == simdjson::SUCCESS) {
      for (simdjson::dom::element e : array) take(e);
    } else if (document.get(array) == simdjson::SUCCESS) {
      for (simdjson::dom::element e : array) take(e);
    } else {
      take(document);  // a tickets file with a single line
    }
    return fingerprints;
  }
  // JSON lines: every line is one ticket (or a rejected hit, which carries no ticket).
  std::istringstream lines(text);
  std::string line;
  uint64_t number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (trim(line).empty()) continue;
    simdjson::dom::element element;
    if (parser.parse(line).get(element) != simdjson::SUCCESS)
      throw std::runtime_error("baseline " + path + " line " + std::to_string(number) +
                               ": not JSON");
    std::string_view record;
    if (element.is_object() && element["record"].get(record) == simdjson::SUCCESS &&
        record != "ticket")
      continue;
    take(element);
  }
  return fingerprints;
}

std::string baseline_json(const std::set<std::string>& fingerprints) {
  std::string out = "{\"credsift_baseline\":1,\"fingerprints\":[";
  bool first = true;
  for (const std::string& fp : fingerprints) {
    out += first ? "\n  \"" : ",\n  \"";
    out += json_escape(fp);
    out += '"';
    first = false;
  }
  out += first ? "]}\n" : "\n]}\n";
  return out;
}

}  // namespace credsift
