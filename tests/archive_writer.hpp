#pragma once
// Archives built in memory with libarchive, for the tests that feed them to the decoder.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace credsift::test_archive {

using Files = std::vector<std::pair<std::string, std::string>>;

// Writes an archive with libarchive: format "zip", "7zip", "ustar"; filter "gzip", "bzip2", "xz",
// "none"; "raw" writes one compressed stream (gzip/bzip2/xz of the single file).
inline std::string make_archive(const Files& files, const std::string& format,
                                const std::string& filter = "none",
                                const char* passphrase = nullptr) {
  archive* a = archive_write_new();
  if (filter == "gzip") archive_write_add_filter_gzip(a);
  if (filter == "bzip2") archive_write_add_filter_bzip2(a);
  if (filter == "xz") archive_write_add_filter_xz(a);
  archive_write_set_format_by_name(a, format.c_str());
  if (passphrase) {
    EXPECT_EQ(archive_write_set_options(a, "zip:encryption=zipcrypt"), ARCHIVE_OK);
    archive_write_set_passphrase(a, passphrase);
  }
  size_t capacity = 1 << 16;
  for (const auto& [name, data] : files) capacity += data.size() * 2 + 1024;
  std::string out(capacity, '\0');
  size_t used = 0;
  EXPECT_EQ(archive_write_open_memory(a, out.data(), out.size(), &used), ARCHIVE_OK);
  for (const auto& [name, data] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, la_int64_t(data.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  out.shrink_to_fit();  // the buffer was sized for the worst case
  return out;
}

inline std::string zip(const Files& files) { return make_archive(files, "zip"); }

}  // namespace credsift::test_archive
