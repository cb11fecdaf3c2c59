#pragma once
// Internal building blocks of the mbox splitter, shared by split_mbox (whole buffer), the
// memory-mapped reader (lazy, one message per call) and the streaming reader (gzip/stdin, where
// the buffer is a sliding window and a decision may need more bytes).
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "credsift/source.hpp"

namespace credsift::source_detail {

enum class Decision { Yes, No, NeedMore };

// Lookahead caps: a decision never needs more than about kMaxFromLine + kMaxFieldName bytes
// past a candidate, which bounds what the streaming reader must keep while skipping.
inline constexpr size_t kMaxFromLine = 1024;
inline constexpr size_t kMaxFieldName = 256;

// Length of a UTF-8 byte order mark at the start of `buf` (0 or 3).
size_t bom_length(std::string_view buf);

// Does a header field line ("Name:" or obsolete "Name :") start at `p`?
Decision header_line_at(std::string_view buf, size_t p, bool eof);

// Does an mbox From_ line start at `p`, followed by a header line? On Yes, *header_start is the
// index of the first header byte.
Decision from_line_at(std::string_view buf, size_t p, bool eof, size_t* header_start);

// Is the line before `p` blank (LF or CRLF), or is `p` the start of the data? `data_start` says
// whether buf[0] is the first byte of the data (not of a window into it).
bool after_blank_line(std::string_view buf, size_t p, bool data_start);

struct SepScan {
  Decision kind = Decision::No;  // Yes: found; No: none (only when eof); NeedMore: read more
  size_t from_line = 0;          // Yes: index of the From_ line
  size_t header_start = 0;       // Yes: index of the first header byte after it
  size_t resume = 0;             // NeedMore: call again with lo = resume after reading more
};
// Finds the next message separator whose From_ line starts at an index >= max(lo, 1).
SepScan find_separator(std::string_view buf, size_t lo, bool data_start, bool eof);

// Length (1 or 2) of the blank line that precedes the separator at `from_line`.
size_t separator_blank_length(std::string_view buf, size_t from_line);

// End of [begin, end) without the blank line mbox writers append after the last message.
size_t trim_final_blank(std::string_view buf, size_t begin, size_t end);

bool is_blank(std::string_view s);
bool has_escaped_from(std::string_view s);

// Lazy splitting of a complete buffer: one piece per call, nothing precomputed.
struct MboxCursor {
  bool started = false;
  bool done = false;
  size_t next_header = 0;  // header start of the next message (after the first)
  size_t consumed = 0;     // bytes of the buffer accounted for so far
};
std::optional<MboxPiece> next_mbox_piece(std::string_view buf, MboxCursor& cursor);

// Maps the pages of a mapped span in one call before it is split: one page fault per 64 KiB
// (fault-around) cost about an eighth of a thread's time on small real mail, most of it in the
// splitter, the first reader of each page. Best effort: older kernels lack MADV_POPULATE_READ,
// and a file that shrank leaves its tail to the SIGBUS guard as before.
void prefault(std::string_view mapped);

// A span of a mapped file read (pread) into a reused buffer instead of through the mapping.
// Here a user-space read of a newly mapped file page costs far more than the kernel's copy of
// it (on this VM: 240 MB split in 0.17 s CPU through the mapping, populated or not, against
// 0.045 s read into a reused huge-page buffer), and the buffer's pages stay mapped from span to
// span. Empty when the span is larger than a buffer, not in a guarded mapping, or not read
// whole (the file shrank: the mapped path and its guard handle that).
struct SpanCopy {
  std::shared_ptr<const void> keepalive;  // returns the buffer to the pool when the last
                                          // message of the span is gone
  std::string_view bytes;
};
std::optional<SpanCopy> read_span_copy(std::string_view mapped);

}  // namespace credsift::source_detail
