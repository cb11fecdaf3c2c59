#pragma once
// Cloud JSON exports: Microsoft Graph message resources and Gmail API messages, as JSON lines
// (streamed, one record a line) or as one JSON document (an array, or a Graph page
// {"value":[...]}, read whole within a size limit). Each message is rendered to RFC 5322 bytes
// owned by the Message, and the MIME decoder does the rest, as for any other source.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "credsift/source.hpp"

namespace credsift::source_detail {

// Does `head` (the first bytes of a file) look like a Graph or Gmail message export? JSON that
// starts with '[' or '{' and whose keys include a message key only Graph or Gmail use
// (internetMessageId, toRecipients, threadId, labelIds ...) or two of the generic ones (raw,
// payload, body, subject, @odata.*).
bool looks_like_json_export(std::string_view head);

// What the reader tells its owner besides messages.
struct JsonExportEvents {
  std::function<void(uint64_t offset, std::string message)> warn;
  // The file could not be read to its end (invalid or too large document): counted as failed.
  std::function<void(uint64_t offset, std::string message)> fail_file;
};

// Fills dst with up to n bytes of the file (after any decompression); 0 at the end of the data,
// or after a read error that the puller has reported itself.
using PullBytes = std::function<size_t(char* dst, size_t n)>;

struct JsonExportLimits {
  // A JSON line longer than this is skipped (counted as a skipped message, with its offset);
  // a rendered message larger than this is skipped too.
  uint64_t max_message_bytes = 256ull << 20;
  // A whole-file JSON document larger than this is reported and not read at all.
  uint64_t max_document_bytes = 256ull << 20;
  size_t read_chunk_bytes = 1 << 20;
};

class JsonExportReader {
 public:
  // size_hint: the file's size when known (0 otherwise), so that a document is read into one
  // allocation instead of a growing one.
  JsonExportReader(std::shared_ptr<const std::string> file, JsonExportLimits limits,
                   JsonExportEvents events, PullBytes pull, uint64_t size_hint = 0);
  ~JsonExportReader();
  JsonExportReader(const JsonExportReader&) = delete;
  JsonExportReader& operator=(const JsonExportReader&) = delete;

  // The next message (scanned, or carrying a skip or failure reason); nullopt at the end.
  std::optional<Message> next();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Base64 helpers shared by the renderer (exposed for tests). Both alphabets are accepted
// (standard and URL-safe), whitespace is ignored, '=' padding is optional but only at the end.
// They return false on any other byte or on an impossible length, leaving `out` unspecified.
bool decode_base64_strict(std::string_view in, std::string& out);
// Appends `in` (base64 of either alphabet) as standard base64 in 76-column lines.
bool rewrap_base64(std::string_view in, std::string& out);
// Appends the standard base64 of `bytes` in 76-column lines.
void encode_base64_lines(std::string_view bytes, std::string& out);

// "2024-03-04T09:12:00Z" (fractions and +hh:mm offsets allowed) -> RFC 5322 date, or "" when it
// cannot be read.
std::string iso8601_to_rfc5322(std::string_view iso);

}  // namespace credsift::source_detail
