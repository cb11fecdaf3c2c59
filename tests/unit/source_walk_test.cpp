// What a walk follows and what an unreadable input means (issue 17, items 8, 13 and 17).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "credsift/source.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;

struct Tree {
  fs::path root;
  Tree() {
    char pattern[] = "/tmp/credsift-walk-XXXXXX";
    root = ::mkdtemp(pattern);
  }
  ~Tree() { fs::remove_all(root); }
  void write(const fs::path& path, const std::string& text) const {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
  }
};

const std::string kMessage = "From: a@b\nSubject: s\n\nbody\n";

struct WalkRun {
  std::vector<std::string> files;
  std::vector<Diagnostic> diagnostics;
  uint64_t files_failed = 0, inputs_failed = 0;
};

WalkRun scan(std::vector<std::string> inputs, SourceOptions options = {}) {
  WalkRun run;
  MessageSource source(std::move(inputs), options,
                       [&](const Diagnostic& d) { run.diagnostics.push_back(d); });
  while (auto message = source.next()) run.files.push_back(*message->origin.file);
  run.files_failed = source.files_failed();
  run.inputs_failed = source.inputs_failed();
  return run;
}

TEST(SourceWalk, MaildirSymlinkOutOfTheTreeIsNotFollowed) {
  Tree tree;
  tree.write(tree.root / "secret-elsewhere", kMessage);
  tree.write(tree.root / "mail/cur/1:2,S", kMessage);
  fs::create_directories(tree.root / "mail/new");
  tree.write(tree.root / "mail/inside.eml", kMessage);
  fs::create_symlink(tree.root / "secret-elsewhere", tree.root / "mail/cur/2:2,S");
  fs::create_symlink(tree.root / "mail/inside.eml", tree.root / "mail/cur/3:2,S");
  const WalkRun run = scan({(tree.root / "mail").string()});
  // The link within the tree is followed; the one out of it is reported, not read.
  EXPECT_EQ(run.files.size(), 2u);
  for (const std::string& file : run.files) EXPECT_EQ(file.find("2:2,S"), std::string::npos);
  ASSERT_EQ(run.diagnostics.size(), 1u);
  EXPECT_NE(run.diagnostics[0].message.find("out of the tree"), std::string::npos);
  EXPECT_EQ(run.inputs_failed, 0u);

  SourceOptions follow;
  follow.follow_symlinks = true;
  EXPECT_EQ(scan({(tree.root / "mail").string()}, follow).files.size(), 3u);
  // Named on the command line, a link is the user's choice.
  EXPECT_EQ(scan({(tree.root / "mail/cur/2:2,S").string()}).files.size(), 1u);
}

TEST(SourceWalk, UnreadableExplicitInputsFailTheRunWalkedOnesOnlyWarn) {
  Tree tree;
  tree.write(tree.root / "good.eml", kMessage);
  const WalkRun missing = scan({(tree.root / "good.eml").string(), (tree.root / "nope").string()});
  EXPECT_EQ(missing.files.size(), 1u);
  EXPECT_EQ(missing.inputs_failed, 1u);

  // A socket named on the command line (issue 17.17).
  const fs::path socket_path = tree.root / "sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const WalkRun socket_run = scan({socket_path.string()});
  EXPECT_EQ(socket_run.inputs_failed, 1u);
  ASSERT_FALSE(socket_run.diagnostics.empty());
  EXPECT_NE(socket_run.diagnostics[0].message.find("socket"), std::string::npos);

  // Found while walking, the same socket is a warning and the run is complete.
  const WalkRun walked = scan({tree.root.string()});
  EXPECT_EQ(walked.inputs_failed, 0u);
  EXPECT_EQ(walked.files.size(), 1u);
  ::close(fd);
}

}  // namespace
}  // namespace credsift
