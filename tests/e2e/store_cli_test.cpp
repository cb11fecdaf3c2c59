// The case store from the command line: scan --store, tickets in every format, triage (ids and
// CSV), baseline --store, plan + scan --manifest (SGE_TASK_ID, 1-based) + merge, and the
// refusals (a shard that never ran, a changed input, a symbolic link) with exit 2.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "support.hpp"

namespace credsift::e2e {
namespace {

std::string q(const fs::path& path) { return "'" + path.string() + "'"; }

int mode_of(const fs::path& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

size_t lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(StoreCli, ScanTicketsTriageAndBaseline) {
  TempDir dir;
  const fs::path store = dir.path() / "case.db";
  ScanRun scan = run_credsift("scan " + q(kSamples) + " --store " + q(store) +
                              " -q -o jsonl=" + q(dir.path() / "scan.jsonl"));
  ASSERT_EQ(scan.exit_code, 1) << scan.err;
  EXPECT_EQ(mode_of(store), 0600);
  const size_t tickets = lines(slurp(dir.path() / "scan.jsonl"));
  ASSERT_GT(tickets, 5u);

  // A rescan finds every message already in the case.
  scan = run_credsift("scan " + q(kSamples) + " --store " + q(store) +
                      " -o jsonl=" + q(dir.path() / "again.jsonl"));
  EXPECT_NE(scan.err.find("already in the case"), std::string::npos) << scan.err;
  EXPECT_NE(scan.err.find(" 0 scanned"), std::string::npos) << scan.err;

  // Every format from the store.
  ScanRun out = run_credsift(
      "tickets --store " + q(store) + " -o jsonl=" + q(dir.path() / "t.jsonl") +
      " -o csv=" + q(dir.path() / "t.csv") + " -o md=" + q(dir.path() / "t.md") +
      " -o sarif=" + q(dir.path() / "t.sarif") + " -o json=" + q(dir.path() / "t.json"));
  ASSERT_EQ(out.exit_code, 1) << out.err;
  EXPECT_EQ(lines(slurp(dir.path() / "t.jsonl")), tickets);
  for (const char* name : {"t.jsonl", "t.csv", "t.md", "t.sarif", "t.json"}) {
    EXPECT_EQ(mode_of(dir.path() / name), 0600) << name;
    EXPECT_FALSE(slurp(dir.path() / name).empty()) << name;
  }
  EXPECT_EQ(slurp(dir.path() / "t.jsonl").find("Tr0ub4dor&3xQ"), std::string::npos);

  // The default view, then triage by id and by CSV.
  out = run_credsift("tickets --store " + q(store) + " --limit 0");
  ASSERT_EQ(out.exit_code, 1);
  std::istringstream table(out.out);
  std::string header, first, second;
  std::getline(table, header);
  std::getline(table, first);
  std::getline(table, second);
  const std::string id1 = first.substr(0, first.find(' '));
  const std::string id2 = second.substr(0, second.find(' '));
  ASSERT_TRUE(id1.starts_with("cs-")) << out.out;
  out = run_credsift("triage --store " + q(store) + " " + id1 +
                     " --status rotated --note 'revoked by J. Doe, INC-4411' --owner ops");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  std::ofstream(dir.path() / "triage.csv") << "id,status,note\n"
                                           << id2 << ",false-positive,\"test data, not real\"\n";
  out = run_credsift("triage --store " + q(store) + " --csv " + q(dir.path() / "triage.csv"));
  ASSERT_EQ(out.exit_code, 0) << out.err;
  out = run_credsift("tickets --store " + q(store) + " --triage rotated --format jsonl");
  EXPECT_EQ(lines(out.out), 1u);
  EXPECT_NE(out.out.find("\"triage\":\"rotated\""), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("\"triage_note\":\"revoked by J. Doe, INC-4411\""), std::string::npos);
  EXPECT_NE(out.out.find("\"triage_owner\":\"ops\""), std::string::npos);
  out = run_credsift("tickets --store " + q(store) + " --triage false-positive --format csv");
  EXPECT_NE(out.out.find(id2), std::string::npos) << out.out;
  out = run_credsift("tickets --store " + q(store) + " --triage false-positive --format json");
  EXPECT_NE(out.out.find("test data, not real"), std::string::npos) << out.out;
  out = run_credsift("tickets --store " + q(store) + " --triage open --format jsonl");
  EXPECT_EQ(lines(out.out), tickets - 2);
  out = run_credsift("triage --store " + q(store) + " cs-0000000000000000 --status rotated");
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("cs-0000000000000000"), std::string::npos);

  out = run_credsift("baseline --store " + q(store) + " --output " + q(dir.path() / "base.json"));
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE(slurp(dir.path() / "base.json").find("sha256:"), std::string::npos);
  // The baseline suppresses every ticket of the case in a plain scan.
  out = run_credsift("scan " + q(kSamples) + " --baseline " + q(dir.path() / "base.json") + " -q");
  EXPECT_EQ(out.exit_code, 0) << out.out;
}

// A ticket's triage history, for people (oldest first, control characters made visible) and as
// JSON; ids as triage takes them (full, a prefix, the fingerprint).
TEST(StoreCli, TriageHistoryShowsWhoWhenWhatAndWhy) {
  TempDir dir;
  const fs::path store = dir.path() / "case.db";
  ScanRun out = run_credsift("scan " + q(kSamples) + " --store " + q(store) + " -q");
  ASSERT_EQ(out.exit_code, 1) << out.err;
  out = run_credsift("tickets --store " + q(store) + " --limit 0");
  std::istringstream table(out.out);
  std::string header, first, second;
  std::getline(table, header);
  std::getline(table, first);
  std::getline(table, second);
  const std::string id = first.substr(0, first.find(' '));
  const std::string untouched = second.substr(0, second.find(' '));
  ASSERT_TRUE(id.starts_with("cs-")) << out.out;

  out = run_credsift("triage --store " + q(store) + " " + id +
                     " --status confirmed --owner 'team-payments' --note 'live key'");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  out = run_credsift("triage --store " + q(store) + " " + id.substr(0, 10) +
                     " --status rotated --at 2024-03-04T09:12:00Z --note \"$(printf "
                     "'revoked\\033[2J INC-4411')\"");
  ASSERT_EQ(out.exit_code, 0) << out.err;

  out = run_credsift("triage --store " + q(store) + " --history " + id + " " + untouched);
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const size_t confirmed = out.out.find("open -> confirmed");
  const size_t rotated = out.out.find("2024-03-04T09:12:00Z  confirmed -> rotated");
  EXPECT_NE(confirmed, std::string::npos) << out.out;
  EXPECT_NE(rotated, std::string::npos) << out.out;
  EXPECT_LT(confirmed, rotated) << out.out;
  EXPECT_TRUE(out.out.starts_with(id + " (sha256:")) << out.out;
  EXPECT_NE(out.out.find(": rotated\n"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("owner: team-payments"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("note: revoked\\x1b[2J INC-4411"), std::string::npos) << out.out;
  EXPECT_EQ(out.out.find('\x1b'), std::string::npos);
  EXPECT_NE(out.out.find(", recorded "), std::string::npos) << out.out;
  EXPECT_NE(out.out.find(untouched + " (sha256:"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("open, never triaged"), std::string::npos) << out.out;

  out = run_credsift("triage --store " + q(store) + " --history --json " + id);
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(lines(out.out), 1u) << out.out;
  EXPECT_NE(out.out.find("\"id\":\"" + id + "\""), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("\"triage\":\"rotated\""), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("\"previous\":\"confirmed\",\"status\":\"rotated\""), std::string::npos)
      << out.out;
  EXPECT_NE(out.out.find("\"at\":\"2024-03-04T09:12:00Z\""), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("\"note\":\"revoked\\u001b[2J INC-4411\""), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("\"automatic\":false"), std::string::npos) << out.out;

  out = run_credsift("triage --store " + q(store) + " --history cs-0000000000000000");
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("cs-0000000000000000"), std::string::npos) << out.err;
  out = run_credsift("triage --store " + q(store) + " --history " + id + " --status open");
  EXPECT_EQ(out.exit_code, 2) << out.err;
  out = run_credsift("triage --store " + q(store) + " " + id + " --status open --json");
  EXPECT_EQ(out.exit_code, 2) << out.err;
}

TEST(StoreCli, PlanShardsOneBasedMergeAndRefusals) {
  TempDir dir;
  const fs::path archive = dir.path() / "archive";
  fs::copy(kSamples, archive, fs::copy_options::recursive);
  ScanRun out = run_credsift("plan " + q(archive) + " --shards 3 --index-base 1 --manifest " +
                             q(dir.path() / "plan.json"));
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(mode_of(dir.path() / "plan.json"), 0600);
  EXPECT_NE(slurp(dir.path() / "plan.json").find("\"index_base\":1"), std::string::npos);

  // SGE task ids are 1-based whatever the plan: SGE_TASK_ID=1 is the plan's first shard.
  for (int task = 1; task <= 2; ++task) {
    ::setenv("SGE_TASK_ID", std::to_string(task).c_str(), 1);
    out = run_credsift("scan --manifest " + q(dir.path() / "plan.json") + " --store " +
                       q(dir.path() / ("s" + std::to_string(task) + ".db")) +
                       " -q -o jsonl=" + q(dir.path() / "x.jsonl"));
    ::unsetenv("SGE_TASK_ID");
    ASSERT_LE(out.exit_code, 1) << out.err;
  }
  // Shard 3 never ran: named, exit 2, nothing merged.
  out = run_credsift("merge --store " + q(dir.path() / "case.db") + " --manifest " +
                     q(dir.path() / "plan.json") + " " + q(dir.path() / "s1.db") + " " +
                     q(dir.path() / "s2.db"));
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("shard 3: never ran"), std::string::npos) << out.err;
  // A new case is built aside and linked in only when complete: a refused merge leaves none.
  EXPECT_FALSE(fs::exists(dir.path() / "case.db"));

  out = run_credsift("scan --manifest " + q(dir.path() / "plan.json") + " --shard 3 --store " +
                     q(dir.path() / "s3.db") + " -q -o jsonl=" + q(dir.path() / "x.jsonl"));
  ASSERT_LE(out.exit_code, 1) << out.err;
  out = run_credsift("merge --store " + q(dir.path() / "case.db") + " --manifest " +
                     q(dir.path() / "plan.json") + " " + q(dir.path() / "s3.db") + " " +
                     q(dir.path() / "s1.db") + " " + q(dir.path() / "s2.db") + " " +
                     q(dir.path() / "s1.db"));
  ASSERT_EQ(out.exit_code, 0) << out.err;
  out = run_credsift("scan " + q(archive) + " --store " + q(dir.path() / "single.db") +
                     " -q -o jsonl=" + q(dir.path() / "x.jsonl"));
  ASSERT_EQ(out.exit_code, 1) << out.err;
  const ScanRun merged = run_credsift("tickets --store " + q(dir.path() / "case.db") + " -f jsonl");
  const ScanRun single =
      run_credsift("tickets --store " + q(dir.path() / "single.db") + " -f jsonl");
  EXPECT_EQ(merged.out, single.out);
  EXPECT_GT(lines(merged.out), 5u);

  // An input changed since the plan: the shard scan is refused, naming it.
  std::ofstream(archive / "inbox.mbox", std::ios::app) << "\n";
  out = run_credsift("scan --manifest " + q(dir.path() / "plan.json") + " --shard 1 --store " +
                     q(dir.path() / "late.db") + " -q");
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("inbox.mbox: size"), std::string::npos) << out.err;

  // A store path that is a symbolic link is refused.
  fs::create_symlink(dir.path() / "target.db", dir.path() / "link.db");
  out = run_credsift("scan " + q(archive) + " --store " + q(dir.path() / "link.db") + " -q");
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("symbolic link"), std::string::npos) << out.err;
  EXPECT_FALSE(fs::exists(dir.path() / "target.db"));
}

}  // namespace
}  // namespace credsift::e2e
