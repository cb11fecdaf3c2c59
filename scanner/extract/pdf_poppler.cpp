// PDF attachments to text: our own reader (pdf.cpp) first, poppler for what it declines. poppler
// lives in a plugin (poppler/poppler_plugin.cpp, libcredsift_poppler.so) loaded with dlopen the
// first time a PDF needs it: mapping poppler and its 25 libraries at every start cost more than
// the whole gateway check of a message. Without the plugin such a PDF gets a decode problem.
#include <dlfcn.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "extract_internal.hpp"
#include "poppler/poppler_plugin.h"

namespace credsift::mime_detail {

namespace {

struct PopplerPlugin {
  credsift_poppler_pdf_text_fn pdf_text = nullptr;
  std::string error;  // why pdf_text is null
};

// Where the plugin may be: $CREDSIFT_PLUGIN_DIR alone when set (tests, relocated installs);
// else beside the running binary (the build tree), its ../lib/credsift (an install), and the
// build tree this library was compiled in (unit tests run from elsewhere).
std::vector<std::filesystem::path> plugin_dirs() {
  if (const char* dir = std::getenv("CREDSIFT_PLUGIN_DIR"); dir && *dir) return {dir};
  std::vector<std::filesystem::path> dirs;
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    dirs.push_back(exe.parent_path());
    dirs.push_back(exe.parent_path().parent_path() / "lib/credsift");
  }
#ifdef CREDSIFT_PLUGIN_BUILD_DIR
  dirs.emplace_back(CREDSIFT_PLUGIN_BUILD_DIR);
#endif
  return dirs;
}

PopplerPlugin load_poppler_plugin() {
  static constexpr char kName[] = "libcredsift_poppler.so";
  PopplerPlugin plugin;
  std::string tried;
  for (const std::filesystem::path& dir : plugin_dirs()) {
    const std::filesystem::path file = dir / kName;
    std::error_code error;
    if (!std::filesystem::is_regular_file(file, error)) {
      tried += (tried.empty() ? "" : ", ") + dir.string();
      continue;
    }
    // Local: poppler's symbols stay out of the global namespace. Never unloaded.
    void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = ::dlerror();
      plugin.error = file.string() + " cannot be loaded: " + (why ? why : "unknown error");
      return plugin;
    }
    const auto abi =
        reinterpret_cast<credsift_poppler_abi_fn>(::dlsym(handle, "credsift_poppler_abi"));
    const auto pdf_text = reinterpret_cast<credsift_poppler_pdf_text_fn>(
        ::dlsym(handle, "credsift_poppler_pdf_text"));
    if (!abi || !pdf_text || abi() != CREDSIFT_POPPLER_ABI) {
      plugin.error = file.string() + " is not the plugin of this credsift build";
      return plugin;
    }
    plugin.pdf_text = pdf_text;
    return plugin;
  }
  plugin.error = std::string(kName) + " not found (looked in " + tried + ")";
  return plugin;
}

// Loaded once (thread-safe static), on the first PDF that our reader declines.
const PopplerPlugin& poppler_plugin() {
  static const PopplerPlugin plugin = load_poppler_plugin();
  return plugin;
}

}  // namespace

void decode_pdf(std::string_view bytes, const std::string& path, uint64_t offset,
                DecodeContext& ctx, DecodedMessage& dm) {
  // Both readers report too many pages, add pages while the decompression budget lasts, and
  // keep the text in the same way.
  auto note_page_count = [&](size_t count) {
    if (count > kMaxPdfPages)
      add_problem(dm.problems, offset,
                  path + ": PDF has " + std::to_string(count) + " pages; the first " +
                      std::to_string(kMaxPdfPages) + " decoded");
  };
  std::string text;
  auto add_page = [&](std::string_view page) {
    if (!charge(ctx, page.size() + 1, path, offset, dm)) return false;
    text.append(page);
    text.push_back('\n');
    return true;
  };
  auto keep_text = [&] {
    if (trim(text).empty()) return;
    dm.storage.push_back(std::make_unique<std::string>(std::move(text)));
    dm.segments.push_back({*dm.storage.back(), path, SegmentKind::AttachmentContent});
  };
  // Our own reader first: no lock, and much faster on the simple PDFs mail carries. poppler
  // reads whatever it declines.
  PdfTextLimits limits;
  limits.max_pages = kMaxPdfPages;
  limits.max_inflated = ctx.limits.max_decompressed_bytes - ctx.decompressed;
  limits.max_compression_ratio = ctx.limits.max_compression_ratio;
  if (PdfText fast = pdf_text_fast(bytes, limits, path, offset, dm.problems); fast.handled) {
    note_page_count(fast.page_count);
    for (const std::string& page : fast.pages)
      if (!add_page(page)) break;
    keep_text();
    return;
  }
  // What our reader declines goes to poppler, in its plugin (loaded on first use).
  const PopplerPlugin& plugin = poppler_plugin();
  if (!plugin.pdf_text) {
    add_problem(dm.problems, offset,
                path + ": PDF text not decoded (needs poppler's reader): " + plugin.error);
    return;
  }
  struct PageSink {
    decltype(add_page)& add;
  } sink{add_page};
  const auto on_page = [](void* context, const char* utf8, size_t size) -> int {
    return static_cast<PageSink*>(context)->add(std::string_view(utf8, size)) ? 1 : 0;
  };
  size_t page_count = 0;
  switch (plugin.pdf_text(bytes.data(), bytes.size(), kMaxPdfPages, &page_count, on_page, &sink)) {
    case CREDSIFT_PDF_OK:
      break;
    case CREDSIFT_PDF_ENCRYPTED:
      add_problem(dm.problems, offset, path + ": PDF is encrypted; text not decoded");
      return;
    case CREDSIFT_PDF_FAILED:
      add_problem(dm.problems, offset, path + ": PDF reader failed (poppler)");
      return;
    default:
      add_problem(dm.problems, offset, path + ": PDF unreadable");
      return;
  }
  note_page_count(page_count);
  keep_text();
}

}  // namespace credsift::mime_detail
