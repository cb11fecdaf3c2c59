#pragma once
// Sources: turn input paths (mbox, Maildir, .eml, directories, gzip, stdin, Graph and Gmail JSON
// exports) into a stream of RFC 5322 messages. Sources never parse MIME.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/diagnostic.hpp"

namespace credsift {

// Where inside a container file (PST/OST, .msg, a JSON export, an archive of mailboxes) an item
// came from, so that a responder can find it again. Empty for messages of plain mail files.
struct ItemLocation {
  std::string container;  // entry path inside an archive holding the mailbox ("exports/a.pst")
  std::string folder;     // PST/OST folder path ("Top of Personal Folders/Inbox/Projects")
  std::optional<uint64_t> node_id;  // PST/OST descriptor node id of the item
  std::string item_id;              // the id the export gives the message (Graph id, Gmail id)
  std::string item_type;   // Outlook item family: mail, contact, appointment, task, note ...
  bool recovered = false;  // recovered by the PST reader from unallocated space
  bool empty() const {
    return container.empty() && folder.empty() && !node_id && item_id.empty() &&
           item_type.empty() && !recovered;
  }
};

struct Origin {
  std::shared_ptr<const std::string> file;  // shared by every message of one file
  // Byte offset of the message's first header byte in the (decompressed) file; for items of
  // containers without byte positions (PST, JSON arrays) the offset of the item's record when
  // known, else 0, with `index` and `location` telling the item apart.
  uint64_t offset = 0;
  uint64_t index = 0;  // 0-based index of the message within its file (JSON: line or array index)
  ItemLocation location;
};

struct Message {
  std::string_view bytes;                 // the message, without the mbox "From " separator line
  std::shared_ptr<const void> keepalive;  // owns the storage behind `bytes`
  Origin origin;
  uint64_t sequence = 0;    // position across all inputs, for deterministic output order
  std::string skip_reason;  // non-empty: the message was not scanned (counted as skipped)
  std::string failure;      // non-empty: the source could not make a message of it (failed)
};

enum class InputFormat { Unknown, Mbox, Eml, Maildir };

// How a shard of a planned scan (credsift plan) reads one of its files: as the whole-input walk
// saw it (found in a directory, in a Maildir), and for a big mbox only the messages whose
// separator lies in [begin, end), numbered from first_index, so that offsets and indexes equal
// those of a whole-file scan.
struct InputSlice {
  uint64_t begin = 0, end = UINT64_MAX;
  uint64_t first_index = 0;
  bool walked = false, maildir = false;
};

struct SourceOptions {
  uint64_t max_message_bytes = 256ull << 20;  // larger messages are skipped, with a reason
  // A streamed message whose header block runs past this (DecodeLimits::max_header_bytes) is
  // skipped, with a reason, instead of held to its end; 0: no bound.
  uint64_t max_header_bytes = 1u << 20;
  std::map<std::string, InputSlice> slices;  // by input path, as given to MessageSource
  // Files never read as inputs (device, inode): the case store's own database and journals.
  std::vector<std::pair<uint64_t, uint64_t>> excluded_files;
  int stdin_fd = 0;  // file descriptor read for the input "-" (tests pass a pipe); not closed
  size_t stream_chunk_bytes = 1 << 20;  // gzip/stdin are read in steps of this many bytes
  // Follow symbolic links (to files) found while walking that point out of the walked tree.
  bool follow_symlinks = false;
  // Archives as inputs (container.cpp): the bomb ratio and nesting of attached archives
  // (DecodeLimits), applied to the entries; a PST, .msg or archive inside one is copied to an
  // unlinked temporary file in $TMPDIR, so these bound that copy too.
  double max_compression_ratio = 200;
  size_t max_archive_depth = 4;
};

// A PST/OST attached to a mail (the extract stage's hook, set by the pipeline): its bytes are
// copied to an unlinked temporary file and read with the PST reader; `item` gets each item as
// RFC 5322 text with a label naming its folder and node ("Top of Personal Folders/Inbox:
// node=2097188") and returns false to stop. Unreadable items and files go to `problems`.
void read_attached_mailbox(
    std::string_view bytes, uint64_t max_item_bytes,
    const std::function<bool(const std::string& label, std::string_view rfc5322)>& item,
    std::vector<std::string>& problems);

// Decides the format of a file by its content (after gunzip), not by its name.
InputFormat sniff_format(std::string_view head);

// Splits an mbox buffer into messages. `base_offset` is added to each reported offset.
// mboxrd: a line ">From " (any number of '>') loses one '>'; such messages are copied,
// others are views into `buffer`.
struct MboxPiece {
  uint64_t offset = 0;     // of the first header byte
  std::string_view bytes;  // view into the buffer (before unescaping)
  bool needs_unescape = false;
};
std::vector<MboxPiece> split_mbox(std::string_view buffer);
std::string unescape_mboxrd(std::string_view bytes);

// A stretch of a memory-mapped mbox file that starts at a message separator (or the file's
// start) and ends at the next separator (or the file's end). The reader hands spans out unsplit
// and any worker splits them with split_span: the serial read stage then costs little more
// than the search for each span's end, so it no longer caps the speed-up from more threads.
struct MboxSpan {
  std::string_view bytes;
  std::shared_ptr<const void> keepalive;    // owns the storage behind `bytes`
  std::shared_ptr<const std::string> file;  // the same object for every span of one file
  uint64_t offset = 0;                      // of bytes[0] in the file
  uint64_t max_message_bytes = 0;
  uint64_t file_first_index = 0;  // index of the file's first message (of its slice, in a shard)
  bool mapped = false;  // bytes are a read-only file mapping (release_span may drop its pages)
};

// The messages of a span, exactly as MessageSource::next() would give them, except that
// origin.index counts from 0 within the span and sequence is left 0: whoever consumes the spans
// of a file in order numbers them (messages before + index).
std::vector<Message> split_span(const MboxSpan& span);

// Gives the span's resident pages back once its messages are scanned, so memory stays flat
// whatever the file size (a page touched again is read back from the page cache).
void release_span(const MboxSpan& span);

// Every regular file the inputs name or hold, in the order MessageSource reads them, with the
// slice flags a shard needs to read it the same way (credsift plan). Fails on "-".
struct ListedFile {
  std::string path;
  InputSlice slice;  // walked / maildir; the whole file
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool gzip = false;
  bool mbox = false;  // plain (not gzip) and sniffed as mbox: may be cut into byte ranges
};
std::vector<ListedFile> list_input_files(const std::vector<std::string>& inputs,
                                         const DiagnosticSink& diagnostics);

// A cut of an mbox file at a message separator: byte offset of the From_ line and the index
// of the message that starts there (as a whole-file scan numbers it).
struct MboxCut {
  uint64_t offset = 0, index = 0;
};
// Cuts at the first separator at or after each target offset (ascending); targets past the
// last separator give no cut. Reads the file through a mapping.
std::vector<MboxCut> cut_mbox(const std::string& path, const std::vector<uint64_t>& targets);

// How many leading bytes of message.bytes are still backed by the input file: all of them,
// unless the message is a view into a mapped file that shrank during the scan (its missing
// bytes then read as zeros, and the message must count as failed).
size_t message_bytes_intact(const Message& message);

// What MessageSource::next_batch hands out: one message, or one span of a mapped mbox.
// `complete`, when set, fills in `message` (origin and sequence already set) and is run in the
// parallel stage: a PST item is read and rendered there, not in the serial reader.
// `complete_run`, when set, stands for several messages (neither message nor span is set): run
// in the parallel stage, it appends them to its argument in order (consecutive items of a PST,
// read through one libpff handle).
struct InputBatch {
  std::optional<Message> message;
  std::optional<MboxSpan> span;
  std::function<void(Message&)> complete;
  std::function<void(std::vector<Message>&)> complete_run = {};
};

// Pulls messages from every input in order. Inputs: files, directories (walked recursively,
// Maildir recognised by cur/ and new/), "-" for stdin; gzip is recognised by its magic bytes.
// Large plain files are memory-mapped; gzip and stdin are streamed message by message.
class MessageSource {
 public:
  MessageSource(std::vector<std::string> inputs, SourceOptions options, DiagnosticSink diagnostics);
  ~MessageSource();
  MessageSource(const MessageSource&) = delete;
  MessageSource& operator=(const MessageSource&) = delete;

  std::optional<Message> next();
  // Like next(), but a mapped mbox file comes out as spans of about span_bytes (a span may hold
  // only blank lines before the first message), to be split by split_span. Don't mix next()
  // and next_batch() on one source.
  std::optional<InputBatch> next_batch(size_t span_bytes);
  uint64_t bytes_read() const;    // raw input bytes consumed so far (compressed size for gzip)
  uint64_t files_failed() const;  // inputs that could not be opened or read
  // Inputs that are not mail (a JPEG, a SQLite file ...): reported, never read as messages.
  uint64_t files_not_mail() const;
  const std::map<std::string, uint64_t>& not_mail_by_type() const;  // detected type -> files

  // Of those, the inputs named by the user (not found by walking a directory), sockets and
  // other unreadable kinds included: the scan is incomplete.
  uint64_t inputs_failed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace credsift
