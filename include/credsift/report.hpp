#pragma once
// Report: findings out (JSON lines now; tickets and other formats grow here), and the summary.
// Only this stage aggregates.
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "credsift/mime.hpp"
#include "credsift/rules.hpp"
#include "credsift/source.hpp"
#include "credsift/validate.hpp"

namespace credsift {

// The headers of a message, shared by every finding and occurrence of it: a 4 MB Subject in
// a message with 300 findings is held once, not 300 (or 600) times.
using SharedEnvelope = std::shared_ptr<const Envelope>;
inline const SharedEnvelope& empty_envelope() {
  static const SharedEnvelope empty = std::make_shared<const Envelope>();
  return empty;
}

struct Finding {
  const Rule* rule = nullptr;
  std::string secret;       // the raw secret; redacted at output unless asked otherwise
  std::string fingerprint;  // "sha256:<hex>" of the secret
  std::vector<std::pair<std::string, std::string>> captures;  // other named captures (user, host)
  Validation validation;
  std::string part_path;
  uint64_t line = 0;      // 1-based line of the secret within its segment
  std::string file;       // mailbox or message file
  uint64_t offset = 0;    // byte offset of the message in that file
  uint64_t index = 0;     // message index in that file
  ItemLocation location;  // inside a container file (PST folder, node id ...); empty otherwise
  SharedEnvelope envelope = empty_envelope();  // never null
};

struct ScanSummary {
  uint64_t messages_scanned = 0, messages_skipped = 0, messages_failed = 0;
  uint64_t bytes = 0;
  double elapsed_seconds = 0;
  uint64_t findings = 0;  // reported (not rejected)
  uint64_t rejected = 0;  // hits that validation rejected, counted not reported
  uint64_t decode_problems = 0;
  uint64_t limits_hit = 0;  // messages not scanned whole: too large, or a decode limit reached
  uint64_t files_failed = 0;
  uint64_t inputs_failed = 0;  // of them, named on the command line: the scan is incomplete
  // Inputs that are not mail (a JPEG, a SQLite file ...): never counted as messages.
  uint64_t files_not_mail = 0;
  std::map<std::string, uint64_t> not_mail_by_type;  // detected type -> files
  std::map<std::string, uint64_t> items_by_type;     // container items: mail, contact, note ...
  uint64_t messages_outside_window = 0;              // Date outside --since/--until: not scanned
  uint64_t messages_undated = 0;  // no parseable Date while a window was set: scanned
  uint64_t messages_known = 0;    // already in the case store with the same rules: not rescanned
  std::map<std::string, uint64_t> rejected_by_reason;
  std::map<std::string, uint64_t> findings_by_rule;
  std::map<std::string, uint64_t> skip_reasons;
  uint64_t messages() const {
    return messages_scanned + messages_skipped + messages_failed + messages_outside_window +
           messages_known;
  }
};

std::string fingerprint(std::string_view secret);  // "sha256:" + lower-case hex
std::string redact(std::string_view secret);       // first 4 characters (UTF-8 aware) then "…"
// text with every occurrence of secret redacted (a token pasted into a Subject line).
std::string redact_within(std::string_view text, std::string_view secret);
std::string json_escape(std::string_view text);
// A header value as reports carry it: at most max_bytes (cut at a UTF-8 boundary) followed by
// "…[+N bytes]", so that a 4 MB Subject does not fill every occurrence of every ticket.
inline constexpr size_t kReportHeaderBytes = 1024;
std::string cap_header(
    std::string_view value,
    size_t max_bytes = kReportHeaderBytes);  // a JSON string body, invalid UTF-8 replaced
// cap_header of `value` with every occurrence of any of `secrets` redacted (overlapping ones
// merged into one redacted span). Only the prefix that can be shown is searched, so the cost does
// not grow with the header's size (a 4 MB Subject holding 300 findings is read 300 times 1 KB,
// not 300 times 4 MB); "…[+N bytes]" then counts the original bytes not shown. `bytes_searched`,
// when given, adds the bytes searched (the tests bound it).
std::string redact_header(std::string_view value, std::initializer_list<std::string_view> secrets,
                          size_t max_bytes = kReportHeaderBytes, size_t* bytes_searched = nullptr);
std::string redact_header(std::string_view value, const std::vector<std::string_view>& secrets,
                          size_t max_bytes = kReportHeaderBytes, size_t* bytes_searched = nullptr);

// One JSON object, no trailing newline.
std::string finding_to_json(const Finding& finding, bool show_secrets);

// A message's Date header (RFC 5322, with the obsolete forms of RFC 2822 and common mistakes)
// as seconds since the epoch, UTC; nullopt when it cannot be read.
std::optional<int64_t> parse_mail_date(std::string_view date);
// A date given on the command line: YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z|+hh:mm] or an RFC 5322
// date. A bare day means its start, or its end when end_of_day (so --until DAY includes DAY).
std::optional<int64_t> parse_date_argument(std::string_view text, bool end_of_day);
std::string format_iso8601(int64_t epoch_seconds);  // 2024-03-04T09:12:00Z

// The closing summary for humans (stderr).
void print_summary(std::ostream& out, const ScanSummary& summary);

}  // namespace credsift
