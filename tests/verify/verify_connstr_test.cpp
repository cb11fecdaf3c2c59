// `credsift scan --verify` of connection strings against real servers started here on
// 127.0.0.1: PostgreSQL 15 (as the postgres user, in a private mount namespace with its own
// /dev/null), MariaDB (system tables made by `mariadbd --bootstrap`), Redis, SMTP (aiosmtpd),
// IMAP (Dovecot), FTP (pyftpdlib) and HTTP basic (http.server). Right password live, wrong one
// revoked, closed port unknown, a host outside --verify-hosts never contacted (a listening socket
// there sees nothing).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "../e2e/support.hpp"

namespace credsift::e2e {
namespace {

// A socket listening on address:0; the port it got. Kept open while the object lives.
class Listener {
 public:
  explicit Listener(const char* address) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    ::inet_pton(AF_INET, address, &at.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 || ::listen(fd_, 16) != 0)
      return;
    socklen_t size = sizeof at;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&at), &size);
    port_ = ntohs(at.sin_port);
  }
  ~Listener() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }
  bool saw_connection() const { return ::accept(fd_, nullptr, nullptr) >= 0; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port with nothing listening on it (taken and released at once).
int free_port() {
  Listener listener("127.0.0.1");
  return listener.port();
}

bool port_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &at.sin_addr);
  const bool open = ::connect(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0;
  ::close(fd);
  return open;
}

// A server process started with fork + exec of `sh -c script`, stopped by its pid.
class Server {
 public:
  Server(const std::string& script, int port, int stop_signal) : stop_signal_(stop_signal) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/bin/sh", "sh", "-c", script.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 1200 && !ready_; ++i) {  // generous: initdb on a loaded machine
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      ready_ = port_open(port);
      if (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~Server() {
    if (pid_ > 0) {
      ::kill(pid_, stop_signal_);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  int stop_signal_;
  bool ready_ = false;
};

std::map<std::string, std::string> states_by_secret(const fs::path& tickets) {
  std::map<std::string, std::string> out;
  std::istringstream in(slurp(tickets));
  simdjson::dom::parser parser;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element ticket;
    std::string_view secret, state;
    if (parser.parse(line).get(ticket) != simdjson::SUCCESS) continue;
    if (ticket["secret"].get(secret) != simdjson::SUCCESS) continue;
    if (ticket["verification"]["state"].get(state) != simdjson::SUCCESS) continue;
    out[std::string(secret)] = std::string(state);
  }
  return out;
}

fs::path write_mail(const fs::path& dir, const std::vector<std::string>& lines) {
  const fs::path path = dir / "connections.eml";
  std::ofstream out(path);
  out << "From: dev@acme.example\nTo: ops@acme.example\nSubject: db\n"
         "Message-ID: <db@acme.example>\nDate: Mon, 7 Dec 2026 01:00:00 +0000\n\n";
  for (const std::string& line : lines) out << line << "\n";
  return path;
}

ScanRun scan(const fs::path& dir, const fs::path& mail, const std::string& extra) {
  return run_credsift(
      "scan '" + mail.string() + "' --show-secrets --verify --verify-timeout 10 --verify-audit '" +
      (dir / "audit.jsonl").string() + "' -o '" + (dir / "tickets.jsonl").string() + "' " + extra);
}

TEST(VerifyConnections, PostgresAuthentication) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run PostgreSQL as its own user";
  const std::string bin = "/usr/lib/postgresql/15/bin";
  if (!fs::exists(bin + "/postgres")) GTEST_SKIP() << "PostgreSQL 15 is not installed";
  TempDir temp;
  const std::string dir = temp.path().string();
  const std::string password = "Vq8rT2mZ4kLp9wXy";
  std::ofstream(temp.path() / "pw") << password << "\n";
  fs::create_directories(temp.path() / "sock");
  ASSERT_EQ(std::system(("chmod 755 '" + dir + "' && chown -R postgres: '" + dir + "'").c_str()),
            0);
  const int port = free_port();
  const std::string as_postgres = "setpriv --reuid=postgres --regid=postgres --init-groups ";
  // initdb writes to /dev/null, which only root may write here: a private one in a namespace.
  const std::string script =
      "exec unshare -m sh -c \"mknod -m 666 '" + dir + "/null' c 1 3 && mount --bind '" + dir +
      "/null' /dev/null && " + as_postgres + bin + "/initdb -D '" + dir +
      "/data' -U postgres -A scram-sha-256 --pwfile='" + dir + "/pw' >'" + dir +
      "/initdb.log' 2>&1 && exec " + as_postgres + bin + "/postgres -D '" + dir +
      "/data' -h 127.0.0.1 -p " + std::to_string(port) + " -k '" + dir + "/sock' >'" + dir +
      "/postgres.log' 2>&1\"";
  Server postgres(script, port, SIGINT);
  ASSERT_TRUE(postgres.ready()) << slurp(temp.path() / "initdb.log")
                                << slurp(temp.path() / "postgres.log");

  Listener outside("127.0.0.2");
  ASSERT_GT(outside.port(), 0);
  const std::string p = std::to_string(port);
  const std::string wrong = "Zx7wQ3nB8mK2pL5r", closed = "Hy4uJ9kD2sF6gT1e",
                    not_allowed = "Mn3bV8cX1zL6kJ4h";
  const fs::path mail =
      write_mail(temp.path(),
                 {"DATABASE_URL=postgres://postgres:" + password + "@127.0.0.1:" + p + "/postgres",
                  "OLD_URL=postgres://postgres:" + wrong + "@127.0.0.1:" + p + "/postgres",
                  "SPARE_URL=postgres://postgres:" + closed +
                      "@127.0.0.1:" + std::to_string(free_port()) + "/postgres",
                  "REMOTE_URL=postgres://postgres:" + not_allowed +
                      "@127.0.0.2:" + std::to_string(outside.port()) + "/postgres"});
  const ScanRun run = scan(temp.path(), mail, "--verify-hosts 127.0.0.1/32");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const auto states = states_by_secret(temp.path() / "tickets.jsonl");
  EXPECT_EQ(states.at(password), "live");
  EXPECT_EQ(states.at(wrong), "revoked");
  EXPECT_EQ(states.at(closed), "unknown");
  EXPECT_EQ(states.at(not_allowed), "not-checked");
  EXPECT_FALSE(outside.saw_connection());
  const std::string audit = slurp(temp.path() / "audit.jsonl");
  EXPECT_EQ(std::count(audit.begin(), audit.end(), '\n'), 3) << audit;
  EXPECT_EQ(audit.find(password), std::string::npos);
}

TEST(VerifyConnections, RedisAuthentication) {
  if (!fs::exists("/usr/bin/redis-server")) GTEST_SKIP() << "redis-server is not installed";
  TempDir temp;
  const std::string password = "Rq5tY8uI2oP4aS7d";
  const int port = free_port();
  Server redis("exec redis-server --port " + std::to_string(port) +
                   " --bind 127.0.0.1 --requirepass " + password +
                   " --save '' --appendonly no --dir '" + temp.path().string() + "' >'" +
                   temp.path().string() + "/redis.log' 2>&1",
               port, SIGTERM);
  ASSERT_TRUE(redis.ready()) << slurp(temp.path() / "redis.log");
  Listener outside("127.0.0.2");
  const std::string p = std::to_string(port);
  const std::string wrong = "Wq2eR5tY9uI3oP6a", closed = "Fg7hJ2kL5zX8cV1b",
                    not_allowed = "Bn4mQ7wE1rT5yU9i";
  const fs::path mail = write_mail(
      temp.path(),
      {"REDIS_URL=redis://:" + password + "@127.0.0.1:" + p + "/0",
       "OLD_REDIS=redis://:" + wrong + "@127.0.0.1:" + p + "/0",
       "SPARE_REDIS=redis://:" + closed + "@127.0.0.1:" + std::to_string(free_port()),
       "REMOTE_REDIS=redis://:" + not_allowed + "@127.0.0.2:" + std::to_string(outside.port())});
  const ScanRun run = scan(temp.path(), mail, "--verify-hosts '127.0.0.1'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const auto states = states_by_secret(temp.path() / "tickets.jsonl");
  EXPECT_EQ(states.at(password), "live");
  EXPECT_EQ(states.at(wrong), "revoked");
  EXPECT_EQ(states.at(closed), "unknown");
  EXPECT_EQ(states.at(not_allowed), "not-checked");
  EXPECT_FALSE(outside.saw_connection());

  // Without --verify-hosts no connection string is verified at all.
  const ScanRun closed_run = scan(temp.path(), mail, "");
  ASSERT_EQ(closed_run.exit_code, 1) << closed_run.err;
  for (const auto& [secret, state] : states_by_secret(temp.path() / "tickets.jsonl"))
    EXPECT_EQ(state, "not-checked") << secret;
}

// The four answers of one protocol: right password live, wrong revoked, closed port unknown,
// a host outside --verify-hosts not contacted (its listening socket sees no connection).
struct FourStates {
  std::string live, revoked, unknown, not_checked;
};

void expect_four_states(const TempDir& temp, const std::string& scheme, const std::string& user,
                        const std::string& password, int port, const std::string& path,
                        const FourStates& secrets) {
  Listener outside("127.0.0.2");
  ASSERT_GT(outside.port(), 0);
  const auto uri = [&](const std::string& secret, const std::string& host, int at) {
    return scheme + "://" + user + ":" + secret + "@" + host + ":" + std::to_string(at) + path;
  };
  const fs::path mail = write_mail(
      temp.path(), {"URL=" + uri(password, "127.0.0.1", port),
                    "OLD_URL=" + uri(secrets.revoked, "127.0.0.1", port),
                    "SPARE_URL=" + uri(secrets.unknown, "127.0.0.1", free_port()),
                    "REMOTE_URL=" + uri(secrets.not_checked, "127.0.0.2", outside.port())});
  const ScanRun run = scan(temp.path(), mail, "--verify-hosts 127.0.0.1/32");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const auto states = states_by_secret(temp.path() / "tickets.jsonl");
  ASSERT_EQ(states.size(), 4u) << slurp(temp.path() / "tickets.jsonl");
  EXPECT_EQ(states.at(password), "live") << slurp(temp.path() / "tickets.jsonl");
  EXPECT_EQ(states.at(secrets.revoked), "revoked") << slurp(temp.path() / "tickets.jsonl");
  EXPECT_EQ(states.at(secrets.unknown), "unknown");
  EXPECT_EQ(states.at(secrets.not_checked), "not-checked");
  EXPECT_FALSE(outside.saw_connection());
  const std::string audit = slurp(temp.path() / "audit.jsonl");
  EXPECT_EQ(std::count(audit.begin(), audit.end(), '\n'), 3) << audit;
  EXPECT_EQ(audit.find(password), std::string::npos);
}

std::string login_server(const std::string& mode, int port, const std::string& user,
                         const std::string& password, const fs::path& dir) {
  // Debian's python3: aiosmtpd and pyftpdlib are Debian packages.
  return "exec /usr/bin/python3 '" CREDSIFT_SOURCE_DIR "/tests/verify/login_servers.py' " + mode +
         " " + std::to_string(port) + " " + user + " " + password + " '" + dir.string() + "' >'" +
         dir.string() + "/server.log' 2>&1";
}

// The login attempts login_servers.py saw, counted.
std::string attempts(const TempDir& temp) {
  const std::string log = slurp(temp.path() / "attempts.log");
  size_t ok = 0, refused = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) (line == "ok" ? ok : refused) += 1;
  return std::to_string(ok) + " ok, " + std::to_string(refused) + " refused";
}

bool python_has(const std::string& module) {
  return std::system(("/usr/bin/python3 -c 'import " + module + "' 2>/dev/null").c_str()) == 0;
}

TEST(VerifyConnections, MariaDbAuthentication) {
  if (!fs::exists("/usr/sbin/mariadbd")) GTEST_SKIP() << "mariadb-server-core is not installed";
  TempDir temp;
  const std::string dir = temp.path().string();
  const std::string password = "Mb7vN2xQ9wLk4pRt";
  // The system tables straight from the package's SQL (what mariadb-install-db feeds
  // mariadbd --bootstrap), and one account allowed from 127.0.0.1 with a native password.
  {
    std::ofstream sql(temp.path() / "bootstrap.sql");
    sql << "CREATE DATABASE IF NOT EXISTS mysql;\nUSE mysql;\nSET @auth_root_socket=NULL;\n";
    for (const char* part : {"mysql_system_tables.sql", "mysql_performance_tables.sql",
                             "mysql_system_tables_data.sql"})
      sql << slurp(fs::path("/usr/share/mysql") / part) << "\n";
    sql << "INSERT INTO global_priv VALUES ('127.0.0.1', 'app', JSON_OBJECT('access', 0, "
           "'plugin', 'mysql_native_password', 'authentication_string', PASSWORD('"
        << password << "')));\n";
  }
  fs::create_directories(temp.path() / "data");
  const int port = free_port();
  const std::string as_root = ::geteuid() == 0 ? " --user=root" : "";
  const std::string common = "/usr/sbin/mariadbd --no-defaults --datadir='" + dir + "/data'" +
                             as_root + " --log-error='" + dir + "/mariadb.log'";
  const std::string script = common + " --bootstrap --enforce-storage-engine='' <'" + dir +
                             "/bootstrap.sql' >'" + dir + "/bootstrap.log' 2>&1 && exec " + common +
                             " --bind-address=127.0.0.1 --port=" + std::to_string(port) +
                             " --socket='" + dir + "/mysqld.sock' --pid-file='" + dir +
                             "/mysqld.pid' --skip-name-resolve >'" + dir + "/server.log' 2>&1";
  Server mariadb(script, port, SIGTERM);
  ASSERT_TRUE(mariadb.ready()) << slurp(temp.path() / "bootstrap.log")
                               << slurp(temp.path() / "mariadb.log");
  expect_four_states(temp, "mysql", "app", password, port, "/app",
                     {password, "Kd3sF8gH1jZx6cVb", "Qw9eR4tY7uIo2pAs", "Lz5xC8vB3nM1qWe7"});
}

TEST(VerifyConnections, SmtpAuthentication) {
  if (!python_has("aiosmtpd")) GTEST_SKIP() << "python3-aiosmtpd is not installed";
  TempDir temp;
  const std::string password = "Sm4tP8qW2eRt6yUi";
  const int port = free_port();
  Server smtp(login_server("smtp", port, "mailer", password, temp.path()), port, SIGTERM);
  ASSERT_TRUE(smtp.ready()) << slurp(temp.path() / "server.log");
  expect_four_states(temp, "smtp", "mailer", password, port, "",
                     {password, "Rt5yU8iO2pAs6dFg", "Hj3kL7zX1cVb5nMq", "Wp8oI4uY2tRe6wQa"});
  // One refused and one accepted AUTH reached the server: nothing else was tried.
  EXPECT_EQ(attempts(temp), "1 ok, 1 refused");
}

// Dovecot on 127.0.0.1:port with one mailbox account (as root: its login processes run as
// dovenull); with `tls`, STARTTLS offered with a certificate for 127.0.0.1 signed by a CA made
// here (dir/ca.pem).
std::string dovecot_script(const TempDir& temp, int port, const std::string& password, bool tls) {
  const std::string dir = temp.path().string();
  fs::create_directories(temp.path() / "home");
  fs::permissions(temp.path(), fs::perms::owner_all | fs::perms::group_read |
                                   fs::perms::group_exec | fs::perms::others_read |
                                   fs::perms::others_exec);
  fs::permissions(temp.path() / "home", fs::perms::all);
  std::ofstream(temp.path() / "passwd") << "mailbox:{PLAIN}" << password << "::::::\n";
  std::string ssl = "ssl = no\n";
  if (tls) {
    std::ofstream(temp.path() / "ext.cnf")
        << "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string made =
        "cd '" + dir + "' && openssl req -x509" + ec +
        " -keyout ca.key -out ca.pem -days 2 -subj /CN=credsift-test-ca 2>/dev/null && "
        "openssl req" +
        ec +
        " -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null && openssl x509 "
        "-req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
        "-extfile ext.cnf 2>/dev/null";
    if (std::system(made.c_str()) != 0) return "";
    ssl = "ssl = yes\nssl_cert = <" + dir + "/server.pem\nssl_key = <" + dir + "/server.key\n";
  }
  std::ofstream(temp.path() / "dovecot.conf")
      << "base_dir = " << dir << "/run\nstate_dir = " << dir << "/state\nlog_path = " << dir
      << "/dovecot.log\ninstance_name = credsift-verify-test\nprotocols = imap\n"
      << "listen = 127.0.0.1\n"
      << ssl << "disable_plaintext_auth = no\n"
      << "auth_mechanisms = plain login\nfirst_valid_uid = 1\nlast_valid_uid = 0\n"
      << "mail_location = maildir:" << dir << "/home/%u\n"
      << "passdb {\n  driver = passwd-file\n  args = " << dir << "/passwd\n}\n"
      << "userdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=" << dir
      << "/home/%u\n}\n"
      << "service imap-login {\n  chroot =\n  inet_listener imap {\n    address = 127.0.0.1\n"
      << "    port = " << port << "\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}\n"
      << "service anvil {\n  chroot =\n}\n";
  return "exec /usr/sbin/dovecot -F -c '" + dir + "/dovecot.conf' >'" + dir + "/server.log' 2>&1";
}

bool dovecot_usable() {
  return ::geteuid() == 0 && fs::exists("/usr/sbin/dovecot") &&
         fs::exists("/usr/lib/dovecot/imap-login");
}

TEST(VerifyConnections, ImapAuthentication) {
  if (!dovecot_usable()) GTEST_SKIP() << "needs root and dovecot-imapd";
  TempDir temp;
  const std::string password = "Im9aP3sW7dQx2zLk";
  const int port = free_port();
  Server dovecot(dovecot_script(temp, port, password, false), port, SIGTERM);
  ASSERT_TRUE(dovecot.ready()) << slurp(temp.path() / "server.log")
                               << slurp(temp.path() / "dovecot.log");
  expect_four_states(temp, "imap", "mailbox", password, port, "/INBOX",
                     {password, "Xc4vB7nM1qWe5rTy", "Uy6tR2eW9qAs3dFg", "Oi8uY5tR1eWq7aSd"});
}

// imap:// upgrades with STARTTLS when the server offers it, and checks the certificate: with
// the test CA trusted the login goes over TLS; without it nothing is sent and the answer is
// unknown.
TEST(VerifyConnections, ImapStartTls) {
  if (!dovecot_usable()) GTEST_SKIP() << "needs root and dovecot-imapd";
  TempDir temp;
  const std::string password = "It6sL9sQ3wXe7rTz";
  const int port = free_port();
  const std::string script = dovecot_script(temp, port, password, true);
  ASSERT_FALSE(script.empty()) << "openssl could not make the test certificates";
  Server dovecot(script, port, SIGTERM);
  ASSERT_TRUE(dovecot.ready()) << slurp(temp.path() / "server.log")
                               << slurp(temp.path() / "dovecot.log");
  const fs::path mail = write_mail(temp.path(), {"MAILBOX=imap://mailbox:" + password +
                                                 "@127.0.0.1:" + std::to_string(port) + "/INBOX"});
  const auto logins = [&] {
    const std::string log = slurp(temp.path() / "dovecot.log");
    size_t count = 0, tls = 0;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);)
      if (line.find("imap-login: Info: Login:") != std::string::npos) {
        ++count;
        if (line.find(", TLS") != std::string::npos) ++tls;
      }
    return std::to_string(count) + " logins, " + std::to_string(tls) + " over TLS";
  };

  ScanRun run = scan(temp.path(), mail, "--verify-hosts 127.0.0.1");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(states_by_secret(temp.path() / "tickets.jsonl").at(password), "unknown");
  EXPECT_EQ(logins(), "0 logins, 0 over TLS") << slurp(temp.path() / "dovecot.log");

  run = scan(temp.path(), mail,
             "--verify-hosts 127.0.0.1 --verify-ca '" + (temp.path() / "ca.pem").string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(states_by_secret(temp.path() / "tickets.jsonl").at(password), "live")
      << slurp(temp.path() / "tickets.jsonl");
  EXPECT_EQ(logins(), "1 logins, 1 over TLS") << slurp(temp.path() / "dovecot.log");
}

TEST(VerifyConnections, FtpAuthentication) {
  if (!python_has("pyftpdlib")) GTEST_SKIP() << "python3-pyftpdlib is not installed";
  TempDir temp;
  const std::string password = "Ft2pQ6wE9rTy3uIo";
  const int port = free_port();
  Server ftp(login_server("ftp", port, "files", password, temp.path()), port, SIGTERM);
  ASSERT_TRUE(ftp.ready()) << slurp(temp.path() / "server.log");
  expect_four_states(temp, "ftp", "files", password, port, "/pub",
                     {password, "Gh5jK8lZ2xCv6bNm", "Pl9oK3iJ7uHy1gTf", "Aq2wS5eD8rFt4gYh"});
  EXPECT_EQ(attempts(temp), "1 ok, 1 refused");
}

TEST(VerifyConnections, HttpBasicAuthentication) {
  TempDir temp;
  const std::string password = "Hb3aS7iC1pWq5eRt";
  const int port = free_port();
  Server web(login_server("http", port, "deploy", password, temp.path()), port, SIGTERM);
  ASSERT_TRUE(web.ready()) << slurp(temp.path() / "server.log");
  expect_four_states(temp, "http", "deploy", password, port, "/private",
                     {password, "Zm8xN4bV1cQw6eRt", "Yt7rE3wQ9aSd2fGh", "Jk5lM8nB2vCx6zQw"});

  // A URL that answers without credentials too says nothing about the password: unknown.
  TempDir open_dir;
  const std::string unprotected = "Nb6vC2xZ9lKj4hGf";
  const fs::path mail = write_mail(
      open_dir.path(),
      {"URL=http://deploy:" + unprotected + "@127.0.0.1:" + std::to_string(port) + "/public"});
  const ScanRun run = scan(open_dir.path(), mail, "--verify-hosts 127.0.0.1");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(states_by_secret(open_dir.path() / "tickets.jsonl").at(unprotected), "unknown");
}

// scan --store --verify keeps the results in the case store and reuses a live or revoked one
// instead of contacting again; tickets --verify re-verifies the open tickets of the case (only
// when the store kept the secrets) and records the new results.
TEST(VerifyConnections, CaseStoreResultsAndReverification) {
  if (!fs::exists("/usr/bin/redis-server") || !fs::exists("/usr/bin/redis-cli"))
    GTEST_SKIP() << "redis-server is not installed";
  TempDir temp;
  const std::string password = "Cs4eR7tY1uIo5pAs", wrong = "Cw8qE2rT6yUi3oPl",
                    added = "Cn5bV9cX2zLk7jHg";
  const int port = free_port();
  const std::string p = std::to_string(port);
  Server redis("exec redis-server --port " + p + " --bind 127.0.0.1 --requirepass " + password +
                   " --save '' --appendonly no --dir '" + temp.path().string() + "' >'" +
                   temp.path().string() + "/redis.log' 2>&1",
               port, SIGTERM);
  ASSERT_TRUE(redis.ready()) << slurp(temp.path() / "redis.log");
  const std::string store = (temp.path() / "case.db").string();
  const fs::path audit = temp.path() / "audit.jsonl";
  const auto audit_lines = [&] {
    const std::string text = fs::exists(audit) ? slurp(audit) : "";
    return std::count(text.begin(), text.end(), '\n');
  };
  const fs::path first =
      write_mail(temp.path(), {"REDIS_URL=redis://:" + password + "@127.0.0.1:" + p + "/0",
                               "OLD_REDIS=redis://:" + wrong + "@127.0.0.1:" + p + "/0"});
  ScanRun run =
      scan(temp.path(), first, "--verify-hosts 127.0.0.1 --store '" + store + "' --store-secrets");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(audit_lines(), 2);

  // A second mail with the live credential again and a new one: only the new one is sent.
  TempDir second_dir;
  const fs::path second =
      write_mail(second_dir.path(),
                 {"Subject line aside: REDIS_URL=redis://:" + password + "@127.0.0.1:" + p + "/0",
                  "NEW_REDIS=redis://:" + added + "@127.0.0.1:" + p + "/1"});
  run =
      scan(temp.path(), second, "--verify-hosts 127.0.0.1 --store '" + store + "' --store-secrets");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(audit_lines(), 3) << slurp(audit);
  EXPECT_NE(run.err.find("1 from the case store"), std::string::npos) << run.err;
  auto states = states_by_secret(temp.path() / "tickets.jsonl");
  EXPECT_EQ(states.at(password), "live");
  EXPECT_EQ(states.at(added), "revoked");

  // The stored results come back with the case's tickets.
  run = run_credsift("tickets --store '" + store + "' --format jsonl --show-secrets -o '" +
                     (temp.path() / "stored.jsonl").string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  states = states_by_secret(temp.path() / "stored.jsonl");
  EXPECT_EQ(states.at(password), "live");
  EXPECT_EQ(states.at(wrong), "revoked");

  // The password is rotated on the server; one ticket is triaged away. tickets --verify
  // contacts the open ones again (not the stored result) and records what it finds.
  ASSERT_EQ(std::system(("redis-cli -p " + p + " -a " + password +
                         " --no-auth-warning CONFIG SET requirepass Rotated9xQ2wE5 >/dev/null")
                            .c_str()),
            0);
  const std::string wrong_id = "cs-" + [&] {
    for (const auto& line : std::vector<std::string>{slurp(temp.path() / "stored.jsonl")})
      if (const size_t at = line.find(wrong); at != std::string::npos) {
        const size_t id = line.rfind("\"id\":\"cs-", at);
        return line.substr(id + 9, 16);
      }
    return std::string();
  }();
  run = run_credsift("triage --store '" + store + "' " + wrong_id + " --status rotated");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  run = run_credsift("tickets --store '" + store +
                     "' --verify --verify-hosts 127.0.0.1 --verify-audit '" + audit.string() +
                     "' --format jsonl --show-secrets -o '" +
                     (temp.path() / "reverified.jsonl").string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(audit_lines(), 5) << slurp(audit);  // the two open tickets, not the rotated one
  states = states_by_secret(temp.path() / "reverified.jsonl");
  EXPECT_EQ(states.at(password), "revoked");
  EXPECT_EQ(states.at(added), "revoked");
  EXPECT_EQ(states.count(wrong), 0u);  // only open tickets by default
  run = run_credsift("tickets --store '" + store + "' --format jsonl --show-secrets -o '" +
                     (temp.path() / "after.jsonl").string() + "'");
  EXPECT_EQ(states_by_secret(temp.path() / "after.jsonl").at(password), "revoked");

  // A store that kept secrets redacted (no --store-secrets) cannot be re-verified: said, and
  // nothing is sent.
  TempDir redacted_dir;
  const std::string redacted_store = (redacted_dir.path() / "case.db").string();
  run = run_credsift("scan '" + first.string() + "' --store '" + redacted_store + "' -o '" +
                     (redacted_dir.path() / "t.jsonl").string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const fs::path redacted_audit = redacted_dir.path() / "audit.jsonl";
  run = run_credsift("tickets --store '" + redacted_store +
                     "' --verify --verify-hosts 127.0.0.1 --verify-audit '" +
                     redacted_audit.string() + "' --format jsonl -o '" +
                     (redacted_dir.path() / "re.jsonl").string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("2 of 2 tickets cannot be verified"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(redacted_audit) && !slurp(redacted_audit).empty());
  const std::string reverified = slurp(redacted_dir.path() / "re.jsonl");
  EXPECT_EQ(reverified.find("\"state\":\"live\""), std::string::npos);
  EXPECT_EQ(reverified.find("\"state\":\"revoked\""), std::string::npos);
}

}  // namespace
}  // namespace credsift::e2e
