#pragma once
// Decode: one RFC 5322 message into UTF-8 text segments, each with a part path.
// Zero-copy where it can: a segment is a view into the message when the part needs no
// decoding, otherwise a view into storage owned by DecodedMessage. Decoders never match.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace credsift {

// CredentialFile: an attachment that is itself a credential (keystore, key file); its text is
// one marker line, "credsift-binary-credential: <kind> sha256=<hex of the file>", that the
// rules in patterns/files.json turn into a finding (secret "<kind> sha256=<hex>").
enum class SegmentKind { Headers, Body, AttachmentName, AttachmentContent, CredentialFile };

struct Segment {
  std::string_view text;  // UTF-8
  std::string part_path;  // "headers", "1", "2.1", "2.2:attachment=config.txt", "2:headers"
  SegmentKind kind = SegmentKind::Body;
};

// The top-level header fields that tickets and reports show, decoded (RFC 2047) to UTF-8.
struct Envelope {
  std::string message_id, date, from, to, cc, subject;
};

struct DecodeLimits {
  size_t max_depth = 64;               // nested multipart / message/rfc822 levels
  size_t max_header_bytes = 1u << 20;  // one header block
  size_t max_parts = 10000;            // parts per message (MIME parts + archive entries)
  size_t max_archive_depth = 4;        // archives (and .eml files) inside archives
  uint64_t max_decompressed_bytes = 256ull << 20;  // archive and PDF output, per message
  double max_compression_ratio = 200;  // output / input bytes of one archive (zip bombs)
  size_t max_line_bytes = 4u << 20;    // longer lines are split there for matching
};

struct DecodeProblem {
  uint64_t offset = 0;  // byte offset within the message
  std::string what;
};

struct DecodedMessage {
  Envelope envelope;
  std::vector<Segment> segments;
  std::vector<DecodeProblem> problems;  // decoded as far as possible; each one reported
  std::vector<std::unique_ptr<std::string>> storage;  // owns decoded text (stable addresses)
};

DecodedMessage decode_message(std::string_view raw, const DecodeLimits& limits = {});

// A problem saying a limit (parts, nesting depth, archive depth, decompressed bytes, ratio,
// header block) stopped decoding: content past it was not scanned.
bool is_limit_problem(const DecodeProblem& problem);

// One leaf of the MIME tree, for tests and the differential test against GMime.
struct PartLeaf {
  std::string path;          // "1", "2.1" ...
  std::string content_type;  // lower-case type/subtype
  std::string filename;      // decoded (RFC 2047 / RFC 2231), empty when none
  std::string body;          // after the transfer decoding, before charset conversion
};
std::vector<PartLeaf> part_leaves(std::string_view raw, const DecodeLimits& limits = {});

// Building blocks, exposed for unit tests and benchmarks.
// Base64: skips whitespace and invalid bytes, tolerates missing/inner padding; sets *error on
// truncated or garbled input while still returning what could be decoded.
std::string decode_base64(std::string_view in, bool* error = nullptr);
// Quoted-printable: soft line breaks joined, trailing whitespace before a line end removed,
// every hard line end kept.
std::string decode_quoted_printable(std::string_view in);
// RFC 2047 encoded words in a header value (B and Q), adjacent words joined, to UTF-8.
std::string decode_rfc2047(std::string_view header_value);
// Charset conversion to UTF-8 with iconv; undecodable bytes become U+FFFD. An unknown charset
// is treated as windows-1252 when the input is not valid UTF-8.
std::string to_utf8(std::string_view bytes, std::string_view charset,
                    bool* unknown_charset = nullptr);
bool is_valid_utf8(std::string_view bytes);
// RFC 3676 format=flowed: soft line breaks joined, space stuffing removed.
std::string join_flowed(std::string_view text, bool delsp);
// HTML to text: tags removed, entities decoded, <br> and block elements as line breaks.
std::string html_to_text(std::string_view html);

}  // namespace credsift
