// The milter protocol server (credsift/milter.hpp) against an MTA played over a socketpair:
// negotiation, commands that want no reply, the message handed to the filter, the end-of-message
// replies sent together, and hostile input (oversized or unknown commands, silence).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "credsift/milter.hpp"

namespace credsift::milter {
namespace {

// What Postfix 3.7 offers: version 6, all actions, every step flag.
constexpr uint32_t kPostfixActions = 0x1ff;
constexpr uint32_t kPostfixSteps = 0x1fffff;

std::string frame(char command, std::string_view data = {}) {
  std::string out(4, '\0');
  const uint32_t length = htonl(static_cast<uint32_t>(data.size() + 1));
  std::memcpy(out.data(), &length, 4);
  out += command;
  out.append(data);
  return out;
}

std::string u32(uint32_t value) {
  value = htonl(value);
  return std::string(reinterpret_cast<const char*>(&value), 4);
}

std::string negotiate(uint32_t version = 6, uint32_t actions = kPostfixActions,
                      uint32_t steps = kPostfixSteps) {
  return frame('O', u32(version) + u32(actions) + u32(steps));
}

std::string nul_joined(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) {
    out.append(part);
    out += '\0';
  }
  return out;
}

struct Reply {
  char command;
  std::string data;
};

class RecordingFilter : public Filter {
 public:
  void mail_from(std::string_view sender) override {
    events.push_back("mail " + std::string(sender));
    message.clear();
  }
  void recipient(std::string_view address) override {
    events.push_back("rcpt " + std::string(address));
  }
  void header(std::string_view name, std::string_view value) override {
    message += std::string(name) + ": " + std::string(value) + "\r\n";
  }
  void end_of_headers() override { message += "\r\n"; }
  void body(std::string_view chunk) override { message.append(chunk); }
  EndOfMessage end_of_message(std::string_view queue_id, uint32_t actions) override {
    events.push_back("eom " + std::string(queue_id) + " " + std::to_string(actions));
    messages.push_back(message);
    return next_end;
  }
  void abort() override { events.push_back("abort"); }

  std::vector<std::string> events, messages;
  std::string message;
  EndOfMessage next_end;
};

// Runs serve_connection on one end of a socketpair; the test is the MTA on the other.
class MilterProtocol : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  void TearDown() override {
    if (server_.joinable()) {
      ::shutdown(fds_[0], SHUT_RDWR);
      server_.join();
    }
    for (int fd : fds_) ::close(fd);
  }
  void start(int timeout_ms = 5000, uint32_t max_command = 4u << 20) {
    server_ = std::thread([this, timeout_ms, max_command] {
      status_ = serve_connection(fds_[1], filter_, timeout_ms, max_command);
      ::shutdown(fds_[1], SHUT_RDWR);
    });
  }
  void send(const std::string& bytes) {
    ASSERT_EQ(::write(fds_[0], bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  // Reads replies until `count` have come or the milter has been silent for 300 ms.
  std::vector<Reply> replies(size_t count) {
    std::vector<Reply> out;
    while (out.size() < count) {
      while (pending_.size() >= 5) {
        uint32_t length;
        std::memcpy(&length, pending_.data(), 4);
        length = ntohl(length);
        if (pending_.size() < 4 + length) break;
        out.push_back({pending_[4], pending_.substr(5, length - 1)});
        pending_.erase(0, 4 + length);
      }
      if (out.size() >= count) break;
      pollfd in{fds_[0], POLLIN, 0};
      if (::poll(&in, 1, 300) <= 0) break;
      char buffer[4096];
      const ssize_t got = ::read(fds_[0], buffer, sizeof buffer);
      if (got <= 0) break;
      pending_.append(buffer, static_cast<size_t>(got));
    }
    return out;
  }
  std::string finish() {
    server_.join();
    return status_;
  }

  int fds_[2] = {-1, -1};
  RecordingFilter filter_;
  std::thread server_;
  std::string status_, pending_;
};

TEST_F(MilterProtocol, NegotiatesNoReplyStepsAndOnlyTheActionsItUses) {
  start();
  send(negotiate());
  const std::vector<Reply> got = replies(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].command, 'O');
  ASSERT_EQ(got[0].data.size(), 12u);
  EXPECT_EQ(got[0].data.substr(0, 4), u32(6));
  EXPECT_EQ(got[0].data.substr(4, 4), u32(kActionAddHeaders | kActionQuarantine));
  const std::string steps = got[0].data.substr(8, 4);
  for (uint32_t step : {kStepNoConnect, kStepNoHelo, kStepNoReplyHeader, kStepNoReplyBody,
                        kStepNoReplyMail, kStepNoReplyRecipient, kStepNoReplyEndOfHeaders})
    EXPECT_EQ(ntohl(*reinterpret_cast<const uint32_t*>(steps.data())) & step, step) << step;
  send(frame('Q'));
  EXPECT_EQ(finish(), "quit");
}

TEST_F(MilterProtocol, AWholeMessageInOneWriteGetsItsRepliesInOne) {
  start();
  send(negotiate());
  ASSERT_EQ(replies(1).size(), 1u);
  // As Postfix sends them with no-reply steps: all of it before the end-of-message reply.
  std::string mta = frame('D', "M" + nul_joined({"i", "Q1D"})) +
                    frame('M', nul_joined({"<a@corp.test>", "SIZE=10"})) +
                    frame('R', nul_joined({"<b@example.test>"})) +
                    frame('L', nul_joined({"Subject", "hello"})) +
                    frame('L', nul_joined({"From", "a@corp.test"})) + frame('N') +
                    frame('B', "body line\r\n") + frame('E', "last\r\n");
  filter_.next_end.add_headers = {{"X-Credsift-Verdict", "hold"}, {"X-Two", "v"}};
  filter_.next_end.quarantine_reason = "credsift: key\nfound";
  send(mta);
  const std::vector<Reply> got = replies(4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].command, 'h');
  EXPECT_EQ(got[0].data, nul_joined({"X-Credsift-Verdict", "hold"}));
  EXPECT_EQ(got[1].command, 'h');
  EXPECT_EQ(got[2].command, 'q');
  EXPECT_EQ(got[2].data, nul_joined({"credsift: key found"}));  // one line
  EXPECT_EQ(got[3].command, 'c');
  EXPECT_TRUE(replies(1).empty());  // nothing for the commands that want no reply
  ASSERT_EQ(filter_.messages.size(), 1u);
  EXPECT_EQ(filter_.messages[0],
            "Subject: hello\r\nFrom: a@corp.test\r\n\r\nbody line\r\nlast\r\n");
  EXPECT_EQ(filter_.events[0], "mail <a@corp.test>");
  EXPECT_EQ(filter_.events[1], "rcpt <b@example.test>");
  EXPECT_EQ(filter_.events[2], "eom Q1D " + std::to_string(kActionAddHeaders | kActionQuarantine));
  send(frame('A') + frame('Q'));
  EXPECT_EQ(finish(), "quit");
}

TEST_F(MilterProtocol, StepsTheMtaDoesNotSkipAreAnsweredOneByOne) {
  start();
  // An MTA that offers no step flags (an older one): every command but macros is answered.
  send(negotiate(2, kActionAddHeaders, 0));
  ASSERT_EQ(replies(1).size(), 1u);
  send(frame('C', nul_joined({"host"}) + "4" + std::string(2, '\0') + nul_joined({"1.2.3.4"})));
  send(frame('H', nul_joined({"helo.test"})));
  send(frame('M', nul_joined({"<a@x>"})));
  send(frame('L', nul_joined({"Subject", "s"})));
  std::vector<Reply> got = replies(4);
  ASSERT_EQ(got.size(), 4u);
  for (const Reply& reply : got) EXPECT_EQ(reply.command, 'c');
  filter_.next_end.quarantine_reason = "not allowed";  // quarantine was not offered
  send(frame('N') + frame('E'));
  got = replies(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].command, 'c');  // end of headers
  EXPECT_EQ(got[1].command, 'c');  // no 'q' the MTA did not allow
}

TEST_F(MilterProtocol, RejectSendsTheReplyCodeAndTempfailItsOwnCode) {
  start();
  send(negotiate());
  ASSERT_EQ(replies(1).size(), 1u);
  filter_.next_end.verdict = EndOfMessage::Verdict::Reject;
  filter_.next_end.reject_reply = "550 5.7.1 credsift: a key\r\nmore";
  filter_.next_end.add_headers = {{"X-Not", "sent"}};
  send(frame('M', nul_joined({"<a@x>"})) + frame('N') + frame('E'));
  std::vector<Reply> got = replies(2);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].command, 'y');
  EXPECT_EQ(got[0].data, nul_joined({"550 5.7.1 credsift: a key  more"}));
  filter_.next_end = {};
  filter_.next_end.verdict = EndOfMessage::Verdict::TempFail;
  send(frame('M', nul_joined({"<a@x>"})) + frame('E'));
  got = replies(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].command, 't');
}

TEST_F(MilterProtocol, ACommandOverTheLimitEndsTheConnectionWithoutReadingIt) {
  start(5000, 1000);
  send(negotiate());
  ASSERT_EQ(replies(1).size(), 1u);
  send(u32(1u << 30) + "B");  // claims 1 GiB
  EXPECT_EQ(finish(), "protocol error: command length");
  EXPECT_TRUE(filter_.messages.empty());
}

TEST_F(MilterProtocol, ALengthAloneOverTheLimitIsRefusedBeforeMakingRoomForIt) {
  start();
  send(negotiate());
  ASSERT_EQ(replies(1).size(), 1u);
  send(u32(0xffffffffu));  // only the length, no command byte yet
  EXPECT_EQ(finish(), "protocol error: command length");
}

TEST_F(MilterProtocol, ACommandLargerThanTheBufferIsReadWhole) {
  start();
  send(negotiate());
  ASSERT_EQ(replies(1).size(), 1u);
  const std::string big_value(300'000, 'v');  // longer than the 128 KiB read buffer
  send(frame('M', nul_joined({"<a@x>"})) + frame('L', nul_joined({"X-Big", big_value})) +
       frame('N') + frame('E'));
  ASSERT_EQ(replies(2).size(), 1u);
  ASSERT_EQ(filter_.messages.size(), 1u);
  EXPECT_EQ(filter_.messages[0], "X-Big: " + big_value + "\r\n\r\n");
  // The buffer shrinks back; the next message on the connection is read as usual.
  send(frame('M', nul_joined({"<b@x>"})) + frame('L', nul_joined({"Subject", "small"})) +
       frame('N') + frame('B', "text") + frame('E'));
  ASSERT_EQ(replies(2).size(), 1u);
  ASSERT_EQ(filter_.messages.size(), 2u);
  EXPECT_EQ(filter_.messages[1], "Subject: small\r\n\r\ntext");
}

TEST_F(MilterProtocol, UnknownCommandsAndShortNegotiationsAreErrors) {
  start();
  send(frame('O', "short"));
  EXPECT_EQ(finish(), "protocol error: short negotiation");
  for (int fd : fds_) ::close(fd);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
  start();
  send(negotiate() + frame('Z', "x"));
  EXPECT_EQ(finish(), "protocol error: unknown command 90");
}

TEST_F(MilterProtocol, SilenceEndsTheConnectionAfterTheTimeout) {
  start(100);
  send(negotiate());
  EXPECT_EQ(finish(), "timeout");
}

TEST_F(MilterProtocol, ThePeerClosingEndsItCleanly) {
  start();
  send(negotiate() + frame('M', nul_joined({"<a@x>"})));
  ::shutdown(fds_[0], SHUT_WR);
  EXPECT_EQ(finish(), "closed");
}

}  // namespace
}  // namespace credsift::milter
