// End-to-end: the HTML report rebuilt from a case store (`credsift tickets --store DB --output
// html=FILE`) draws the same report as the scan that filled the store: the same tickets,
// occurrences, ticket counts, exposure window, timeline and exposure tables; only the scan's
// message counts (not kept per report in the store) are left out. The file is 0600.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "support.hpp"

using namespace credsift::e2e;

namespace {

// The text of the report's data element `id`.
std::string element(const std::string& html, const std::string& id) {
  const std::string open = "id=\"" + id + "\">";
  const size_t begin = html.find(open);
  if (begin == std::string::npos) return "<missing " + id + ">";
  const size_t end = html.find("</script>", begin);
  return html.substr(begin + open.size(), end - begin - open.size());
}

// From the first `from` to the end (or to `to`).
std::string part(const std::string& text, const std::string& from, const std::string& to = "") {
  const size_t begin = text.find(from);
  if (begin == std::string::npos) return "<missing " + from + ">";
  const size_t end = to.empty() ? std::string::npos : text.find(to, begin);
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

TEST(ReportFromStore, SameReportAsTheScan) {
  TempDir dir;
  const std::string db = (dir.path() / "case.db").string();
  const std::string scanned = (dir.path() / "scan.html").string();
  const std::string rebuilt = (dir.path() / "store.html").string();
  const ScanRun scan = run_credsift("scan '" + kSamples.string() +
                                    "' --quiet --internal-domain acme.test --store '" + db +
                                    "' --output 'html=" + scanned + "'");
  ASSERT_EQ(scan.exit_code, 1) << scan.err;
  const ScanRun tickets = run_credsift(
      "tickets --store '" + db + "' --internal-domain acme.test --output 'html=" + rebuilt + "'");
  ASSERT_EQ(tickets.exit_code, 1) << tickets.err;
  struct stat info {};
  ASSERT_EQ(stat(rebuilt.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  const std::string a = slurp(scanned), b = slurp(rebuilt);
  // Occurrences (dates, from/to, subjects redacted, part paths, locations) byte for byte.
  EXPECT_EQ(element(a, "credsift-occurrences"), element(b, "credsift-occurrences"));
  // Every ticket column (ids, rules, severities, statuses, secrets, first/last seen, messages,
  // domains) and the rule and domain tables. The rare fields ("more") differ in one way only:
  // the store keeps an AWS key id redacted, so its identity shows "AKIA…" without the last 4.
  const std::string ta = element(a, "credsift-tickets"), tb = element(b, "credsift-tickets");
  EXPECT_EQ(part(ta, "{", "\"more\":"), part(tb, "{", "\"more\":"));
  EXPECT_EQ(part(ta, "\"names\":"), part(tb, "\"names\":"));
  // Summary from the ticket counts on (window, by severity/status, timeline, exposure with the
  // internal domains marked).
  const std::string da = element(a, "credsift-data"), db_data = element(b, "credsift-data");
  EXPECT_NE(da.find("\"messages_scanned\":"), std::string::npos);
  EXPECT_EQ(part(da, "\"tickets\":"), part(db_data, "\"tickets\":"));
  EXPECT_NE(db_data.find("\"internal_given\":true"), std::string::npos);
  EXPECT_NE(db_data.find("\"external_domains\":5"), std::string::npos) << db_data;
}

}  // namespace
