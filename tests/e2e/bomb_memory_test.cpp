// End-to-end: the working set of decompression bombs stays near the documented limits (issue 17
// item 12): a 1.4 MB zip of 1.4 GB of zeros attached to a mail stops at the per-message
// decompressed-bytes budget (256 MB) without the entry's buffer doubling past it (it held 495 MB,
// then 570 MB), and a gzip mbox whose one message is 1 GB of zeros stops at the message size
// limit (256 MB). Peak memory is the child's ru_maxrss (RUSAGE_CHILDREN), as in hostile_test.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support.hpp"

namespace fs = std::filesystem;
using namespace credsift::e2e;

namespace {

// The 256 MB budget, plus the scanner's own ~50 MB (rules, Hyperscan databases), plus margin;
// under AddressSanitizer, shadow memory and the quarantine add their share.
#if defined(__SANITIZE_ADDRESS__)
constexpr long kPeakLimitMb = 900;
#else
constexpr long kPeakLimitMb = 400;
#endif

long children_peak_kb() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  return usage.ru_maxrss;
}

// `megabytes` MB of zeros written through libarchive in 1 MB steps (never held whole here):
// format "zip" with one entry, or "raw" with the gzip filter and `head` before the zeros.
std::string zeros_archive(const std::string& format, size_t megabytes, const std::string& head) {
  archive* a = archive_write_new();
  if (format == "raw") archive_write_add_filter_gzip(a);
  archive_write_set_format_by_name(a, format.c_str());
  std::string out(16u << 20, '\0');
  size_t used = 0;
  EXPECT_EQ(archive_write_open_memory(a, out.data(), out.size(), &used), ARCHIVE_OK);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "zeros.bin");
  archive_entry_set_size(e, la_int64_t(head.size() + (megabytes << 20)));
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
  if (!head.empty()) archive_write_data(a, head.data(), head.size());
  const std::string chunk(1u << 20, '\0');
  for (size_t i = 0; i < megabytes; ++i) archive_write_data(a, chunk.data(), chunk.size());
  archive_entry_free(e);
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK) << archive_error_string(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

TEST(BombMemory, ZipBombStopsAtTheDecompressedBudget) {
  TempDir temp;
  const std::string bomb = zeros_archive("zip", 1400, "");
  ASSERT_LT(bomb.size(), 2u << 20);
  const fs::path eml = temp.path() / "bomb.eml";
  std::ofstream(eml, std::ios::binary)
      << "From: a@acme.test\nTo: b@acme.test\nSubject: bomb\nMessage-ID: <bomb@x>\n"
         "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=BB\n\n--BB\n"
         "Content-Type: text/plain\n\npassword=\"Xq7#vTr9!kLm2&pW\"\n--BB\n"
         "Content-Type: application/zip; name=bomb.zip\nContent-Transfer-Encoding: base64\n\n"
      << base64(bomb) << "--BB--\n";
  const ScanRun run = run_credsift("scan -j 1 -o - -f jsonl '" + eml.string() + "'");
  const long peak_kb = children_peak_kb();
  EXPECT_TRUE(run.exit_code == 0 || run.exit_code == 1) << run.err;
  EXPECT_NE(run.err.find("decompressed-bytes limit"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("1 scanned"), std::string::npos) << run.err;
  EXPECT_LT(peak_kb, kPeakLimitMb * 1024) << "peak RSS " << peak_kb << " kB";
  std::cerr << "credsift peak RSS on a 1.4 GB zip bomb: " << peak_kb / 1024 << " MB\n";
}

TEST(BombMemory, GzipMboxOfZerosStopsAtTheMessageLimit) {
  TempDir temp;
  const fs::path mbox = temp.path() / "zeros.mbox.gz";
  std::ofstream(mbox, std::ios::binary)
      << zeros_archive("raw", 1024, "From a@b Mon Jan  1 00:00:00 2001\nSubject: z\n\n");
  const ScanRun run = run_credsift("scan -j 1 -o - -f jsonl '" + mbox.string() + "'");
  const long peak_kb = children_peak_kb();
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("message larger than"), std::string::npos) << run.err;
  EXPECT_LT(peak_kb, kPeakLimitMb * 1024) << "peak RSS " << peak_kb << " kB";
  std::cerr << "credsift peak RSS on a gzip mbox of 1 GB of zeros: " << peak_kb / 1024 << " MB\n";
}

}  // namespace
