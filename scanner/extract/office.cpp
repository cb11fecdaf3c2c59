// Legacy Office binaries (OLE2 compound files, read through libolecf): Word .doc
// (office_doc.cpp), Excel .xls (office_xls.cpp) and PowerPoint .ppt (office_ppt.cpp) text.
// Streams are read whole, but never more than the file's own size (a stream's sectors are
// distinct sectors of the file), and their text is charged to the message's budget.
#include <libbfio.h>
#include <libolecf.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "../outlook/range_io.hpp"
#include "credsift/outlook.hpp"
#include "extract_internal.hpp"

namespace credsift::mime_detail {

namespace {

struct OleError {
  libolecf_error_t* error = nullptr;
  ~OleError() {
    if (error) libolecf_error_free(&error);
  }
  libolecf_error_t** operator&() { return &error; }
};

}  // namespace

struct OleFile::Impl {
  libbfio_handle_t* range = nullptr;  // over the caller's bytes; freed after the file
  libolecf_file_t* file = nullptr;
  size_t file_size = 0;
  ~Impl() {
    if (file) {
      libolecf_file_close(file, nullptr);
      libolecf_file_free(&file, nullptr);
    }
    if (range) libbfio_handle_free(&range, nullptr);
  }
};

bool is_ole2(std::string_view bytes) {
  return starts_with_bytes(bytes, std::string_view("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8));
}

OleFile::OleFile(std::string_view bytes) : impl_(std::make_unique<Impl>()) {
  impl_->file_size = bytes.size();
  // libolecf reads the bytes in place through our bounded range handle (outlook/range_io):
  // libbfio 20170123's own memory range copies whole sectors past the end of a short buffer
  // (found by tests/fuzz/tnef_fuzz, regression in tests/fuzz/regressions/office/); ours stops
  // at the end, with no copy of the file and no syscall per sector.
  // A header or directory that points outside the file is refused before libolecf trusts it
  // (see ole2_layout_plausible).
  if (!ole2_layout_plausible(bytes)) return;
  impl_->range = outlook_detail::bounded_range_handle(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!impl_->range) return;
  OleError error;
  if (libolecf_file_initialize(&impl_->file, &error) != 1) return;
  if (libolecf_file_open_file_io_handle(impl_->file, impl_->range, LIBOLECF_OPEN_READ, &error) !=
      1) {
    libolecf_file_free(&impl_->file, nullptr);
    impl_->file = nullptr;
  }
}

OleFile::~OleFile() = default;

bool OleFile::ok() const { return impl_->file != nullptr; }

std::optional<std::string> OleFile::stream(std::string_view name) const {
  if (!impl_->file) return std::nullopt;
  OleError error;
  libolecf_item_t* root = nullptr;
  if (libolecf_file_get_root_item(impl_->file, &root, &error) != 1 || !root) return std::nullopt;
  libolecf_item_t* item = nullptr;
  int found = libolecf_item_get_sub_item_by_utf8_name(
      root, reinterpret_cast<const uint8_t*>(name.data()), name.size(), &item, &error);
  libolecf_item_free(&root, nullptr);
  if (found != 1 || !item) return std::nullopt;
  std::optional<std::string> out;
  uint32_t size = 0;
  uint8_t type = 0;
  if (libolecf_item_get_type(item, &type, &error) == 1 && type == LIBOLECF_ITEM_TYPE_STREAM &&
      libolecf_item_get_size(item, &size, &error) == 1) {
    // A lying directory entry cannot make us allocate more than the file holds.
    std::string data(std::min<size_t>(size, impl_->file_size), '\0');
    ssize_t got = data.empty()
                      ? 0
                      : libolecf_stream_read_buffer_at_offset(
                            item, reinterpret_cast<uint8_t*>(data.data()), data.size(), 0, &error);
    if (got >= 0) {
      data.resize(size_t(got));
      out = std::move(data);
    }
  }
  libolecf_item_free(&item, nullptr);
  return out;
}

namespace {

void keep_text(std::string text, const std::string& path, uint64_t offset, DecodeContext& ctx,
               DecodedMessage& dm) {
  if (trim(text).empty()) return;
  if (!charge(ctx, text.size(), path, offset, dm)) return;
  dm.storage.push_back(std::make_unique<std::string>(std::move(text)));
  dm.segments.push_back({*dm.storage.back(), path, SegmentKind::AttachmentContent});
}

}  // namespace

bool decode_ole_document(std::string_view bytes, const std::string& path, uint64_t offset,
                         DecodeContext& ctx, DecodedMessage& dm) {
  OleFile ole(bytes);
  if (!ole.ok()) {
    add_problem(dm.problems, offset,
                path + ": OLE2 compound file unreadable (damaged header or sector tables)");
    return true;
  }
  const uint64_t budget = ctx.limits.max_decompressed_bytes - ctx.decompressed;
  OfficeText text;
  if (auto word = ole.stream("WordDocument")) {
    auto table1 = ole.stream("1Table");
    auto table0 = ole.stream("0Table");
    text = doc_text(*word, table0 ? *table0 : std::string_view(),
                    table1 ? *table1 : std::string_view(), budget);
  } else if (auto book = ole.stream("Workbook")) {
    text = xls_text(*book, budget);
  } else if (auto book5 = ole.stream("Book")) {
    text = xls_text(*book5, budget);
  } else if (auto ppt = ole.stream("PowerPoint Document")) {
    text = ppt_text(*ppt, budget);
  } else {
    return false;  // another kind of compound file (.msg, .msi, Visio ...)
  }
  for (const std::string& p : text.problems) add_problem(dm.problems, offset, path + ": " + p);
  keep_text(std::move(text.text), path, offset, ctx, dm);
  return true;
}

}  // namespace credsift::mime_detail
