// Archives (libarchive): zip, tar, 7z and single compressed files (gzip, bzip2, xz), entries
// decoded as attachments within the message's part and decompression budgets; OOXML documents
// are zips whose XML parts become text.
#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "extract_internal.hpp"

namespace credsift::mime_detail {

namespace {

constexpr size_t npos = std::string_view::npos;

struct ArchiveCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveCloser>;

ArchivePtr open_archive(std::string_view b, bool raw) {
  ArchivePtr a(archive_read_new());
  if (!a) return nullptr;
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_lzma(a.get());
  if (raw) {
    archive_read_support_format_raw(a.get());
  } else {
    archive_read_support_format_zip(a.get());
    archive_read_support_format_tar(a.get());
    archive_read_support_format_7zip(a.get());
  }
  if (archive_read_open_memory(a.get(), b.data(), b.size()) != ARCHIVE_OK) return nullptr;
  return a;
}

std::string strip_compression_suffix(std::string_view name) {
  for (std::string_view ext : {".gz", ".bz2", ".xz", ".lzma", ".tgz", ".tbz2", ".txz", ".z"})
    if (iends_with(name, ext)) {
      std::string base(name.substr(0, name.size() - ext.size()));
      if (ext.size() == 4 && ext[1] == 't') base += ".tar";
      return base.empty() ? "data" : base;
    }
  return name.empty() ? "data" : std::string(name);
}

struct Entry {
  std::string name;
  std::string* data;  // owned by dm.storage
};

void decode_entry(const Entry& e, const std::string& path, uint64_t offset, size_t depth,
                  DecodeContext& ctx, DecodedMessage& dm);

// Reads every regular entry; false when the bytes are no archive of this kind.
bool extract_archive(std::string_view bytes, std::string_view name, const std::string& path,
                     uint64_t offset, size_t depth, bool raw, DecodeContext& ctx,
                     DecodedMessage& dm, std::vector<Entry>& entries) {
  ArchivePtr a = open_archive(bytes, raw);
  if (!a) return false;
  const DecodeLimits& limits = ctx.limits;
  const double ratio_cap = limits.max_compression_ratio * double(bytes.size());
  uint64_t produced = 0;
  archive_entry* entry = nullptr;
  bool any = false;
  while (true) {
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      if (!any && entries.empty()) return false;
      add_problem(
          dm.problems, offset,
          path + ": archive damaged after " + std::to_string(entries.size()) + " entries: " +
              (archive_error_string(a.get()) ? archive_error_string(a.get()) : "unreadable"));
      break;
    }
    any = true;
    if (archive_entry_filetype(entry) != AE_IFREG && !raw) continue;
    const char* pathname = archive_entry_pathname(entry);
    std::string entry_name = raw ? strip_compression_suffix(name) : (pathname ? pathname : "?");
    if (entry_name.size() > 1024) entry_name.resize(1024);
    if (archive_entry_is_encrypted(entry)) {
      add_problem(dm.problems, offset,
                  path + "!" + entry_name + ": encrypted archive entry, not decoded");
      continue;
    }
    if (ctx.parts >= limits.max_parts) {
      if (!ctx.parts_reported)
        add_problem(dm.problems, offset,
                    path + ": part limit " + std::to_string(limits.max_parts) +
                        " reached; remaining archive entries skipped");
      ctx.parts_reported = true;
      break;
    }
    ++ctx.parts;
    auto data = std::make_unique<std::string>();
    // The entry's buffer never grows past what the budgets still allow: doubling a string of
    // 128 MB to append the last chunk would hold 384 MB for a 256 MB budget.
    const uint64_t room =
        std::min<uint64_t>(
            limits.max_decompressed_bytes -
                std::min(ctx.decompressed, limits.max_decompressed_bytes),
            ratio_cap > double(produced) ? uint64_t(ratio_cap - double(produced)) : 0) +
        65536;
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0)
      data->reserve(size_t(std::min<uint64_t>(uint64_t(archive_entry_size(entry)), room)));
    char buffer[65536];
    bool stop = false;
    while (true) {
      la_ssize_t got = archive_read_data(a.get(), buffer, sizeof buffer);
      if (got < 0) {
        add_problem(dm.problems, offset,
                    path + "!" + entry_name + ": " +
                        (archive_error_string(a.get()) ? archive_error_string(a.get())
                                                       : "unreadable entry") +
                        (archive_entry_is_encrypted(entry) ? " (encrypted)" : ""));
        break;
      }
      if (got == 0) break;
      produced += uint64_t(got);
      if (double(produced) > ratio_cap && produced > (1u << 20)) {
        add_problem(dm.problems, offset,
                    path + ": decompression ratio above " +
                        std::to_string(int64_t(limits.max_compression_ratio)) +
                        " (archive bomb?); the rest is not decoded");
        stop = true;
        break;
      }
      if (!charge(ctx, uint64_t(got), path, offset, dm)) {
        stop = true;
        break;
      }
      if (data->size() + size_t(got) > data->capacity())
        data->reserve(size_t(std::min<uint64_t>(
            std::max<uint64_t>(2 * uint64_t(data->capacity()), data->size() + size_t(got)),
            std::max<uint64_t>(room, data->size() + size_t(got)))));
      data->append(buffer, size_t(got));
    }
    if (!data->empty() || !stop) {
      dm.storage.push_back(std::move(data));
      entries.push_back({std::move(entry_name), dm.storage.back().get()});
    }
    if (stop) break;
  }
  if (!any) return false;
  (void)depth;
  return true;
}
}  // namespace

Container container_of(std::string_view b) {
  if (starts_with_bytes(b, "PK\x03\x04") || starts_with_bytes(b, "PK\x05\x06"))
    return Container::Zip;
  if (starts_with_bytes(b, std::string_view("\x37\x7A\xBC\xAF\x27\x1C", 6)))
    return Container::SevenZip;
  if (b.size() >= 262 && b.substr(257, 5) == "ustar") return Container::Tar;
  if (starts_with_bytes(b, "\x1F\x8B") || starts_with_bytes(b, "BZh") ||
      starts_with_bytes(b, std::string_view("\xFD"
                                            "7zXZ\0",
                                            6)))
    return Container::Compressed;
  return Container::None;
}

void decode_archive(std::string_view bytes, std::string_view name, const std::string& path,
                    uint64_t offset, size_t depth, Container kind, DecodeContext& ctx,
                    DecodedMessage& dm) {
  std::vector<Entry> entries;
  bool ok = extract_archive(bytes, name, path, offset, depth, false, ctx, dm, entries);
  if (!ok && kind == Container::Compressed) {
    entries.clear();
    ok = extract_archive(bytes, name, path, offset, depth, true, ctx, dm, entries);
  }
  if (!ok) {
    add_problem(dm.problems, offset, path + ": not a readable archive");
    return;
  }
  // OOXML: a zip whose parts are XML that a user reads as a document.
  bool ooxml = kind == Container::Zip &&
               std::any_of(entries.begin(), entries.end(),
                           [](const Entry& e) { return e.name == "[Content_Types].xml"; });
  // OpenDocument (.odt, .ods, .odp): a zip with a "mimetype" entry; the text is in content.xml
  // (and in the content.xml of embedded objects), read by the same XML text reader.
  bool odf =
      kind == Container::Zip && !ooxml &&
      std::any_of(entries.begin(), entries.end(), [](const Entry& e) {
        return e.name == "mimetype" && e.data->starts_with("application/vnd.oasis.opendocument");
      });
  if (odf) {
    for (const Entry& e : entries) {
      if (e.name == "content.xml" || e.name.ends_with("/content.xml")) {
        std::string text = ooxml_text(*e.data, nullptr);
        if (trim(text).empty()) continue;
        dm.storage.push_back(std::make_unique<std::string>(std::move(text)));
        dm.segments.push_back(
            {*dm.storage.back(), path + "!" + e.name, SegmentKind::AttachmentContent});
      } else if (!e.name.ends_with(".xml") && e.name != "mimetype" &&
                 !istarts_with(e.name, "Thumbnails/") && !istarts_with(e.name, "META-INF/")) {
        decode_entry(e, path + "!" + e.name, offset, depth + 1, ctx, dm);  // embedded files
      }
    }
    return;
  }
  if (ooxml) {
    std::vector<std::string> shared;
    for (const Entry& e : entries)
      if (e.name == "xl/sharedStrings.xml") shared = shared_strings(*e.data);
    for (const Entry& e : entries) {
      if (!is_ooxml_text_part(e.name) || e.name == "xl/sharedStrings.xml") {
        // Embedded objects (xlsx in docx, media) may hide more.
        if (istarts_with(e.name, "word/embeddings/") || istarts_with(e.name, "xl/embeddings/") ||
            istarts_with(e.name, "ppt/embeddings/"))
          decode_entry(e, path + "!" + e.name, offset, depth + 1, ctx, dm);
        continue;
      }
      std::string text = ooxml_text(*e.data, &shared);
      if (trim(text).empty()) continue;
      dm.storage.push_back(std::make_unique<std::string>(std::move(text)));
      dm.segments.push_back(
          {*dm.storage.back(), path + "!" + e.name, SegmentKind::AttachmentContent});
    }
    return;
  }
  for (const Entry& e : entries) decode_entry(e, path + "!" + e.name, offset, depth + 1, ctx, dm);
}

namespace {

void decode_entry(const Entry& e, const std::string& path, uint64_t offset, size_t depth,
                  DecodeContext& ctx, DecodedMessage& dm) {
  std::string_view base = e.name;
  if (size_t slash = base.rfind('/'); slash != npos) base = base.substr(slash + 1);
  decode_blob(*e.data, base, path, offset, depth, ctx, dm);
}

}  // namespace

}  // namespace credsift::mime_detail
