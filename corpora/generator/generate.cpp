// credsift-gen: writes a synthetic mail archive of a requested size, deterministically from a
// seed, streamed message by message (never the archive in memory), with secrets planted from
// the example values of the loaded rules and a ground-truth labels file beside it.
#include <zlib.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/match.hpp"
#include "credsift/report.hpp"
#include "credsift/rules.hpp"
#include "credsift/validate.hpp"

namespace fs = std::filesystem;
namespace po = boost::program_options;
using namespace credsift;

namespace {

// xoshiro256**: fast, and identical output on every platform for a given seed.
class Random {
 public:
  explicit Random(uint64_t seed) {
    for (auto& word : state_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  size_t below(size_t n) { return n ? size_t(next() % n) : 0; }
  size_t between(size_t low, size_t high) { return low + below(high - low + 1); }
  bool chance(double p) { return double(next() >> 11) * 0x1.0p-53 < p; }
  template <class T>
  const T& pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

struct Language {
  std::string code;
  bool latin1 = false;  // every word is representable in ISO-8859-1 / windows-1252
  std::vector<std::string> words;
  std::vector<std::string> greetings, closings;
};

// Filler prose stays clear of credential words so that every finding comes from a plant or a
// decoy; the decoys bring those words deliberately.
std::vector<Language> languages() {
  return {
      {"en",
       true,
       {"the",      "meeting",  "schedule",  "for",      "Thursday", "please",    "find",
        "attached", "report",   "quarterly", "numbers",  "customer", "invoice",   "regards",
        "project",  "deadline", "review",    "budget",   "team",     "update",    "next",
        "week",     "we",       "should",    "discuss",  "the",      "draft",     "with",
        "legal",    "before",   "sending",   "it",       "to",       "the",       "client",
        "office",   "closed",   "Monday",    "thanks",   "again",    "for",       "your",
        "help",     "agenda",   "minutes",   "shipment", "delayed",  "warehouse", "order"},
       {"Hi Dana,", "Hello team,", "Dear Mr. Alvarez,", "Hi all,"},
       {"Best regards,", "Thanks,", "Cheers,", "Kind regards,"}},
      {"fr",
       true,
       {"la",       "réunion",   "est",     "prévue",      "jeudi",  "veuillez", "trouver",
        "ci-joint", "le",        "rapport", "trimestriel", "élève",  "très",     "déjà",
        "à",        "propos",    "du",      "budget",      "équipe", "côté",     "français",
        "l’équipe", "prochaine", "semaine", "merci",       "été",    "où",       "ça"},
       {"Bonjour,", "Chère Hélène,", "Bonjour à tous,"},
       {"Cordialement,", "Bien à vous,", "Merci d’avance,"}},
      {"de",
       true,
       {"die",        "Besprechung", "ist",    "für",    "Donnerstag", "geplant", "bitte",
        "finden",     "Sie",         "anbei",  "den",    "Bericht",    "über",    "größere",
        "Änderungen", "nächste",     "Woche",  "Grüße",  "Straße",     "Müller",  "können",
        "wir",        "das",         "Budget", "prüfen", "Kosten",     "€",       "Lieferung"},
       {"Hallo Jürgen,", "Sehr geehrte Frau Schäfer,", "Liebe Kollegen,"},
       {"Viele Grüße,", "Mit freundlichen Grüßen,", "Beste Grüße,"}},
      {"es",
       true,
       {"la",      "reunión", "está",    "programada",  "para",   "el",      "jueves",
        "adjunto", "el",      "informe", "trimestral",  "año",    "señor",   "mañana",
        "envío",   "pedido",  "según",   "presupuesto", "equipo", "próxima", "semana",
        "gracias", "también", "niño",    "España",      "€",      "cliente", "oficina"},
       {"Hola Andrés,", "Estimada señora Núñez,", "Hola equipo,"},
       {"Saludos,", "Un abrazo,", "Atentamente,"}},
      {"ru",
       false,
       {"встреча", "запланирована", "на", "четверг", "пожалуйста", "найдите", "отчёт", "во",
        "вложении", "бюджет", "команда", "неделя", "спасибо", "клиент", "заказ", "склад",
        "обсудить", "договор"},
       {"Здравствуйте,", "Привет, Олег,"},
       {"С уважением,", "Спасибо,"}},
      {"ja",
       false,
       {"会議", "は", "木曜日", "に", "予定", "されています", "報告書", "を", "添付", "します",
        "予算", "チーム", "来週", "確認", "お願いします", "顧客", "注文"},
       {"田中さん、", "皆さん、"},
       {"よろしくお願いします。", "以上です。"}},
  };
}

// UTF-8 to ISO-8859-1 or windows-1252; the caller only passes text they can represent.
std::string to_single_byte(std::string_view utf8, bool windows1252) {
  std::string out;
  out.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size();) {
    const auto byte = uint8_t(utf8[i]);
    uint32_t code = byte;
    size_t length = 1;
    if (byte >= 0xf0)
      code = byte & 0x07, length = 4;
    else if (byte >= 0xe0)
      code = byte & 0x0f, length = 3;
    else if (byte >= 0xc0)
      code = byte & 0x1f, length = 2;
    for (size_t k = 1; k < length && i + k < utf8.size(); ++k)
      code = (code << 6) | (uint8_t(utf8[i + k]) & 0x3f);
    i += length;
    if (code < 0x80 || (code >= 0xa0 && code <= 0xff))
      out += char(code);
    else if (windows1252 && code == 0x20ac)
      out += '\x80';
    else if (windows1252 && code == 0x2019)
      out += '\x92';
    else
      out += '?';
  }
  return out;
}

bool latin1_representable(std::string_view utf8) {
  return std::count(utf8.begin(), utf8.end(), '?') ==
         std::ranges::count(to_single_byte(utf8, false), '?');
}

bool is_ascii(std::string_view text) {
  for (char c : text)
    if (uint8_t(c) >= 0x80) return false;
  return true;
}

std::string base64(std::string_view data, size_t line_length = 76) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(data.size() * 4 / 3 + data.size() / 57 + 8);
  size_t column = 0;
  size_t i = 0;
  auto emit = [&](char c) {
    out += c;
    if (line_length && ++column == line_length) out += '\n', column = 0;
  };
  for (; i + 2 < data.size(); i += 3) {
    const uint32_t v =
        (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    emit(alphabet[v >> 18]);
    emit(alphabet[(v >> 12) & 63]);
    emit(alphabet[(v >> 6) & 63]);
    emit(alphabet[v & 63]);
  }
  if (i < data.size()) {
    uint32_t v = uint8_t(data[i]) << 16;
    if (i + 1 < data.size()) v |= uint8_t(data[i + 1]) << 8;
    emit(alphabet[v >> 18]);
    emit(alphabet[(v >> 12) & 63]);
    emit(i + 1 < data.size() ? alphabet[(v >> 6) & 63] : '=');
    emit('=');
  }
  if (column) out += '\n';
  return out;
}

// Quoted-printable with soft line breaks at 76 columns, so secrets get split across lines.
std::string quoted_printable(std::string_view data) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(data.size() + data.size() / 8);
  size_t column = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    const auto c = uint8_t(data[i]);
    if (c == '\n') {
      out += '\n';
      column = 0;
      continue;
    }
    const bool trailing_space =
        (c == ' ' || c == '\t') && (i + 1 == data.size() || data[i + 1] == '\n');
    const bool literal =
        (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !trailing_space);
    const size_t width = literal ? 1 : 3;
    if (column + width > 75) {
      out += "=\n";
      column = 0;
    }
    if (literal) {
      out += char(c);
    } else {
      out += '=';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
    column += width;
  }
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\n':
        out += "<br>\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A stored (uncompressed) zip with one member: enough for scanners that open archives.
std::string zip_of(const std::string& name, const std::string& data) {
  auto u16 = [](std::string& s, uint16_t v) { s += char(v & 0xff), s += char(v >> 8); };
  auto u32 = [&](std::string& s, uint32_t v) { u16(s, v & 0xffff), u16(s, v >> 16); };
  const uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(data.data()), uInt(data.size()));
  std::string zip;
  u32(zip, 0x04034b50), u16(zip, 10), u16(zip, 0), u16(zip, 0), u16(zip, 0), u16(zip, 0x5821);
  u32(zip, crc), u32(zip, uint32_t(data.size())), u32(zip, uint32_t(data.size()));
  u16(zip, uint16_t(name.size())), u16(zip, 0);
  zip += name;
  zip += data;
  const uint32_t directory = uint32_t(zip.size());
  u32(zip, 0x02014b50), u16(zip, 20), u16(zip, 10), u16(zip, 0), u16(zip, 0), u16(zip, 0),
      u16(zip, 0x5821);
  u32(zip, crc), u32(zip, uint32_t(data.size())), u32(zip, uint32_t(data.size()));
  u16(zip, uint16_t(name.size())), u16(zip, 0), u16(zip, 0), u16(zip, 0), u16(zip, 0);
  u32(zip, 0), u32(zip, 0);
  zip += name;
  const uint32_t directory_size = uint32_t(zip.size()) - directory;
  u32(zip, 0x06054b50), u16(zip, 0), u16(zip, 0), u16(zip, 1), u16(zip, 1);
  u32(zip, directory_size), u32(zip, directory), u16(zip, 0);
  return zip;
}

// Encodings a plant can hide behind; the labels name them.
enum class Encoding {
  Plain,
  QuotedPrintable,
  Base64,
  Html,
  HtmlQuotedPrintable,
  Header,
  Attachment,
  Forwarded,
  Latin1
};
constexpr const char* kEncodingNames[] = {"plain",
                                          "quoted-printable",
                                          "base64",
                                          "html",
                                          "html+quoted-printable",
                                          "rfc2047-header",
                                          "attachment-base64",
                                          "forwarded-rfc822",
                                          "iso-8859-1-qp"};
constexpr int kEncodings = 9;

struct Label {
  std::string rule_id, family, fingerprint, secret;
};

// A snippet of text that holds one or more secrets, each confirmed by the matcher and the
// offline validation so that the labels list only what a correct decoder must find.
struct Plant {
  std::string text;
  std::vector<Label> labels;
};

class Planter {
 public:
  Planter(const RuleSet& rules, const Matcher& matcher)
      : rules_(rules), matcher_(matcher), scratch_(matcher.make_scratch()) {
    for (const auto& rule : rules.rules)
      for (const auto& negative : rule.negative_examples) decoys_.push_back(negative);
  }

  // Mutates characters of an example's secret within their own class (and within the secret's
  // own alphabet, so hex stays hex), retrying until the matcher confirms the new secret.
  Plant plant(Random& random, size_t rule_index) {
    const Rule& rule = rules_.rules[rule_index];
    const RuleExample& example = random.pick(rule.examples);
    const size_t at = example.text.find(example.secret);
    for (int attempt = 0; attempt < 12 && at != std::string::npos; ++attempt) {
      std::string secret = mutate(random, example.secret, attempt);
      std::string text = example.text;
      text.replace(at, example.secret.size(), secret);
      Plant result = confirm(text, rule_index, secret);
      if (!result.labels.empty()) return result;
    }
    ++unmutated_;
    return confirm(example.text, rule_index, example.secret);
  }

  // Looks like a secret to a careless scanner, and is none.
  std::string decoy(Random& random) {
    static const char* const hex = "0123456789abcdef";
    static const char* const alnum =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    auto run = [&](const char* alphabet, size_t alphabet_size, size_t n) {
      std::string s;
      for (size_t i = 0; i < n; ++i) s += alphabet[random.below(alphabet_size)];
      return s;
    };
    switch (random.below(9)) {
      case 0:
        return decoys_.empty() ? "n/a" : random.pick(decoys_);
      case 1: {
        const std::string u = run(hex, 16, 32);
        return "Ticket reference: " + u.substr(0, 8) + "-" + u.substr(8, 4) + "-" +
               u.substr(12, 4) + "-" + u.substr(16, 4) + "-" + u.substr(20);
      }
      case 2:
        return "sha256sum: " + run(hex, 16, 64) + "  release.tar.gz";
      case 3:
        return "Fixed in commit " + run(hex, 16, 40) + ", see the changelog.";
      case 4:
        return "Tracking number " + run(alnum, 62, 40) + " (carrier portal)";
      case 5:
        return "password: ********";
      case 6:
        return "api_key=<your-api-key-here>";
      case 7:
        return "export GITHUB_TOKEN=${GITHUB_TOKEN}";
      default:
        return "I forgot my password again, can you reset it tomorrow?";
    }
  }

  size_t unmutated() const { return unmutated_; }

 private:
  std::string mutate(Random& random, const std::string& secret, int attempt) {
    std::string classes[3];  // digits, lower, upper present in the secret
    for (char c : secret) {
      if (c >= '0' && c <= '9')
        classes[0] += c;
      else if (c >= 'a' && c <= 'z')
        classes[1] += c;
      else if (c >= 'A' && c <= 'Z')
        classes[2] += c;
    }
    classes[0] = "0123456789";
    // Later attempts touch fewer characters and keep a longer prefix (token prefixes, headers).
    const size_t keep = std::min(secret.size(), secret.size() * size_t(1 + attempt / 3) / 5);
    const size_t changes = std::max<size_t>(2, (secret.size() - keep) / (3 + attempt));
    std::string out = secret;
    for (size_t n = 0; n < changes && keep < out.size(); ++n) {
      const size_t position = keep + random.below(out.size() - keep);
      const char c = out[position];
      const int klass = c >= '0' && c <= '9'   ? 0
                        : c >= 'a' && c <= 'z' ? 1
                        : c >= 'A' && c <= 'Z' ? 2
                                               : -1;
      if (klass < 0 || classes[klass].empty()) continue;
      out[position] = classes[klass][random.below(classes[klass].size())];
    }
    return out;
  }

  Plant confirm(const std::string& text, size_t rule_index, const std::string& secret) {
    hits_.clear();
    matcher_.scan(text, 0, *scratch_, hits_);
    Plant result{text, {}};
    bool intended = false;
    std::set<std::string> seen;
    for (const Hit& hit : hits_) {
      const Rule& rule = rules_.rules[hit.rule];
      const std::string found = text.substr(hit.secret.begin, hit.secret.end - hit.secret.begin);
      if (validate(rule, found).status != ValidationStatus::Unverified) continue;
      if (hit.rule == rule_index && found == secret) intended = true;
      const std::string print = fingerprint(found);
      if (!seen.insert(rule.id + print).second) continue;
      result.labels.push_back({rule.id, rule.file.stem().string(), print, found});
    }
    if (!intended) result.labels.clear();
    return result;
  }

  const RuleSet& rules_;
  const Matcher& matcher_;
  std::unique_ptr<Matcher::Scratch> scratch_;
  std::vector<Hit> hits_;
  std::vector<std::string> decoys_;
  size_t unmutated_ = 0;
};

class Output {
 public:
  enum class Format { Mbox, Maildir, GzipMbox };
  Output(Format format, const fs::path& path) : format_(format), path_(path) {
    if (format == Format::Maildir) {
      for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(path / sub);
    } else if (format == Format::GzipMbox) {
      gz_ = gzopen(path.c_str(), "wb1");
      if (!gz_) throw std::runtime_error(path.string() + ": cannot create");
    } else {
      file_.open(path, std::ios::binary | std::ios::trunc);
      if (!file_) throw std::runtime_error(path.string() + ": cannot create");
    }
  }
  ~Output() {
    if (gz_) gzclose(gz_);
  }

  // One message; mbox "From " lines in the body are escaped (mboxrd) as readers expect.
  void message(uint64_t index, const std::string& text, const std::string& date) {
    if (format_ == Format::Maildir) {
      std::ofstream file(path_ / "cur" / (std::to_string(index) + ".credsift-gen:2,S"),
                         std::ios::binary);
      file << text;
      bytes_ += text.size();
      return;
    }
    std::string out = "From bench@credsift.test " + date + "\n";
    out.reserve(text.size() + 64);
    size_t line = 0;
    while (line < text.size()) {
      size_t end = text.find('\n', line);
      end = end == std::string::npos ? text.size() : end + 1;
      std::string_view piece(text.data() + line, end - line);
      size_t quotes = 0;
      while (quotes < piece.size() && piece[quotes] == '>') ++quotes;
      if (piece.substr(quotes).starts_with("From ")) out += '>';
      out += piece;
      line = end;
    }
    if (!out.ends_with('\n')) out += '\n';
    out += '\n';
    write(out);
  }
  uint64_t bytes() const { return bytes_; }

 private:
  void write(std::string_view data) {
    bytes_ += data.size();
    if (gz_) {
      if (gzwrite(gz_, data.data(), unsigned(data.size())) != int(data.size()))
        throw std::runtime_error(path_.string() + ": write failed");
    } else if (!file_.write(data.data(), std::streamsize(data.size()))) {
      throw std::runtime_error(path_.string() + ": write failed");
    }
  }
  Format format_;
  fs::path path_;
  std::ofstream file_;
  gzFile gz_ = nullptr;
  uint64_t bytes_ = 0;
};

struct Thread {
  std::string subject;
  std::vector<std::string> message_ids;
  std::string history;  // quoted text of the thread so far, newest first
  size_t language = 0;
};

struct Settings {
  uint64_t seed = 1;
  uint64_t size = 0;
  double secret_rate = 0.1;
  double decoy_rate = 0.3;
  size_t big_attachments = 0;
  size_t big_attachment_mb = 50;
  // "mail": the shape of real mail (median message 3.4 KB, p99 ~34 KB, headers a third of the
  // bytes, body bytes half text/plain and half text/html, 81% 7bit/8bit parts, 12%
  // quoted-printable, 3% base64, few attachments); "attachments": the original archive, whose
  // bytes are mostly decoded-and-skipped attachments.
  bool mail_profile = false;
};

class Generator {
 public:
  Generator(const Settings& settings, const RuleSet& rules, Planter& planter, Output& output,
            std::ostream& labels)
      : settings_(settings),
        rules_(rules),
        planter_(planter),
        output_(output),
        labels_(labels),
        random_(settings.seed),
        languages_(languages()) {}

  void run() {
    const uint64_t big_every =
        settings_.big_attachments ? settings_.size / (settings_.big_attachments + 1) : 0;
    uint64_t next_big = big_every;
    size_t bigs = 0;
    while (output_.bytes() < settings_.size) {
      const bool big = big_every && bigs < settings_.big_attachments && output_.bytes() >= next_big;
      if (big) ++bigs, next_big += big_every;
      one_message(big);
    }
    labels_ << "# messages\t" << index_ << "\n# bytes\t" << output_.bytes() << "\n# planted\t"
            << planted_ << "\n";
  }
  uint64_t messages() const { return index_; }
  uint64_t planted() const { return planted_; }

 private:
  std::string words(const Language& language, size_t count) {
    std::string out;
    size_t column = 0;
    const bool spaced = language.code != "ja";
    for (size_t i = 0; i < count; ++i) {
      const std::string& word = random_.pick(language.words);
      if (spaced && column) out += ' ';
      out += word;
      column += word.size() + 1;
      if (column > 68) out += '\n', column = 0;
    }
    out += spaced ? ".\n" : "。\n";
    return out;
  }

  std::string paragraphs(const Language& language, size_t count) {
    std::string out;
    for (size_t i = 0; i < count; ++i) out += words(language, random_.between(12, 70)) + "\n";
    return out;
  }

  std::string date() {
    static const char* const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%s %s %2zu %02zu:%02zu:%02zu 2024",
                  days[random_.below(7)], months[random_.below(12)], random_.between(1, 28),
                  random_.below(24), random_.below(60), random_.below(60));
    return buffer;
  }

  std::string binary(size_t bytes) {
    std::string out(bytes, '\0');
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
      const uint64_t v = random_.next();
      std::memcpy(out.data() + i, &v, 8);
    }
    for (; i < bytes; ++i) out[i] = char(random_.next());
    return out;
  }

  // A well-formed PDF: catalog, page, font, a Flate-compressed text stream, an image of noise
  // (DCT, never decoded for text) and a correct cross-reference table.
  std::string pdf(const Language& language) {
    std::string text = "BT /F1 11 Tf 72 720 Td 14 TL\n";
    for (int line = 0; line < 30; ++line) {
      std::string words_line = to_single_byte(words(language, 9), false);
      std::erase(words_line, '\n');
      std::string escaped;
      for (char c : words_line) {
        if (c == '(' || c == ')' || c == '\\') escaped += '\\';
        escaped += c;
      }
      text += "(" + escaped + ") Tj T*\n";
    }
    text += "ET\n";
    uLongf packed_size = compressBound(uLong(text.size()));
    std::string packed(packed_size, '\0');
    compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
              reinterpret_cast<const Bytef*>(text.data()), uLong(text.size()), 6);
    packed.resize(packed_size);
    const std::string image = binary(random_.between(4 << 10, 120 << 10));
    const std::string objects[] = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
        "<< /Length " + std::to_string(packed.size()) + " /Filter /FlateDecode >>\nstream\n" +
            packed + "\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        "<< /Type /XObject /Subtype /Image /Width 64 /Height 64 /ColorSpace /DeviceRGB "
        "/BitsPerComponent 8 /Filter /DCTDecode /Length " +
            std::to_string(image.size()) + " >>\nstream\n" + image + "\nendstream"};
    std::string out = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
    std::vector<size_t> offsets;
    for (size_t i = 0; i < std::size(objects); ++i) {
      offsets.push_back(out.size());
      out += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
    }
    const size_t xref = out.size();
    out += "xref\n0 " + std::to_string(offsets.size() + 1) + "\n0000000000 65535 f \n";
    for (size_t offset : offsets) {
      char entry[32];
      std::snprintf(entry, sizeof entry, "%010zu 00000 n \n", offset);
      out += entry;
    }
    out += "trailer\n<< /Size " + std::to_string(offsets.size() + 1) +
           " /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
    return out;
  }

  std::string csv(const Language& language) {
    std::string out = "id,date,customer,amount,reference\n";
    const size_t rows = random_.between(20, 400);
    for (size_t i = 0; i < rows; ++i) {
      out += std::to_string(1000 + i) + ",2024-0" + std::to_string(1 + random_.below(9)) + "-1" +
             std::to_string(random_.below(10)) + "," + random_.pick(language.words) + "," +
             std::to_string(random_.below(100000)) + "." + std::to_string(10 + random_.below(90)) +
             "," + std::to_string(random_.next() % 100000000000ULL) + "\n";
    }
    return out;
  }

  std::string config_file() {
    std::string out =
        "# service settings\nLOG_LEVEL=info\nPORT=" + std::to_string(random_.between(1024, 65000)) +
        "\nFEATURE_FLAGS=search,export\n";
    if (random_.chance(0.5)) out += "DATABASE_PASSWORD=changeme\n";
    return out;
  }

  static std::string part_headers(const std::string& type, const std::string& encoding,
                                  const std::string& extra = "") {
    std::string out = "Content-Type: " + type + "\n";
    if (!encoding.empty()) out += "Content-Transfer-Encoding: " + encoding + "\n";
    out += extra;
    return out + "\n";
  }

  // A text part: the charset and transfer encoding chosen (or forced by the plant's encoding).
  std::string text_part(const std::string& utf8_text, const Language& language, bool html,
                        int forced_encoding) {
    std::string charset = "utf-8";
    std::string body = utf8_text;
    if (forced_encoding == int(Encoding::Latin1) ||
        (forced_encoding < 0 && language.latin1 && random_.chance(0.5))) {
      if (is_ascii(utf8_text) || language.latin1) {
        const bool windows = forced_encoding != int(Encoding::Latin1) && random_.chance(0.5);
        charset = windows ? "windows-1252" : "iso-8859-1";
        body = to_single_byte(utf8_text, windows);
      }
    }
    std::string transfer;
    switch (forced_encoding) {
      case int(Encoding::QuotedPrintable):
      case int(Encoding::HtmlQuotedPrintable):
      case int(Encoding::Latin1):
        transfer = "quoted-printable";
        break;
      case int(Encoding::Base64):
        transfer = "base64";
        break;
      case int(Encoding::Plain):
      case int(Encoding::Html):
        transfer = is_ascii(body) ? "7bit" : "8bit";
        break;
      default: {
        if (settings_.mail_profile) {
          const size_t roll = random_.below(100);
          transfer = roll < 84   ? (is_ascii(body) ? "7bit" : "8bit")
                     : roll < 97 ? "quoted-printable"
                                 : "base64";
          break;
        }
        const size_t roll = random_.below(10);
        transfer = roll < 4   ? (is_ascii(body) ? "7bit" : "8bit")
                   : roll < 8 ? "quoted-printable"
                              : "base64";
      }
    }
    const std::string type =
        std::string(html ? "text/html" : "text/plain") + "; charset=" + charset;
    if (transfer == "quoted-printable")
      body = quoted_printable(body);
    else if (transfer == "base64")
      body = base64(body);
    return part_headers(type, transfer) + body;
  }

  std::string html_of(const std::string& text) {
    if (!settings_.mail_profile)
      return "<html><head><style>p{margin:0}</style></head><body><div dir=\"ltr\"><p>" +
             html_escape(text) + "</p></div></body></html>\n";
    // Mail clients' HTML: a style block, a layout table, and a styled element per paragraph.
    std::string out =
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\">\n<html xmlns=\"http://"
        "www.w3.org/1999/xhtml\"><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
        "charset=utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "\n<style type=\"text/css\">body{margin:0;padding:0;font-family:Arial,Helvetica,sans-"
        "serif}\ntable{border-collapse:collapse}.content{padding:12px 18px;color:#222222;font-"
        "size:14px;line-height:20px}\n</style></head>\n<body><table width=\"100%\" cellpadding="
        "\"0\" cellspacing=\"0\" border=\"0\" role=\"presentation\"><tr><td align=\"center\">\n"
        "<table width=\"600\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\"><tr><td class=\""
        "content\">\n";
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find("\n\n", start);
      end = end == std::string::npos ? text.size() : end + 2;
      out +=
          "<p style=\"margin:0 0 12px 0;font-family:Arial,Helvetica,sans-serif;font-size:"
          "14px;color:#222222\">" +
          html_escape(text.substr(start, end - start)) + "</p>\n";
      start = end;
    }
    return out + "</td></tr></table>\n</td></tr></table></body></html>\n";
  }

  // The transport headers real mail carries (Received chain, DKIM, authentication results,
  // list headers): about a third of a real corpus's bytes.
  std::string transport_headers(const std::string& message_id) {
    std::string out = "Return-Path: <user" + std::to_string(random_.below(500)) +
                      "@corp.example>\nDelivered-To: team@corp.example\n";
    const size_t hops = random_.between(3, 6);
    for (size_t hop = 0; hop < hops; ++hop) {
      out += "Received: from mx" + std::to_string(random_.below(30)) + ".relay" +
             std::to_string(hop) + ".example (mx" + std::to_string(random_.below(30)) +
             ".relay.example [192.0.2." + std::to_string(random_.below(250)) + "])\n\tby mail" +
             std::to_string(hop) + ".corp.example (Postfix) with ESMTPS id " +
             std::to_string(random_.next() % 100000000) + "\n\tfor <team@corp.example>; " + date() +
             " +0000\n";
    }
    out +=
        "Authentication-Results: mail.corp.example;\n\tdkim=pass header.d=relay.example "
        "header.s=s1 header.b=" +
        base64(binary(6), 0) +
        ";\n\tspf=pass smtp.mailfrom=relay.example;\n\tdmarc=pass "
        "(p=none dis=none) header.from=corp.example\n";
    if (random_.chance(0.6)) {
      out +=
          "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=relay.example; s=s1;\n"
          "\tt=" +
          std::to_string(1700000000 + random_.below(30000000)) +
          "; h=from:to:subject:date:message-id:mime-version:content-type;\n\tbh=" +
          base64(binary(32), 0) + ";\n\tb=";
      const std::string signature = base64(binary(256), 0);
      for (size_t i = 0; i < signature.size(); i += 70) out += signature.substr(i, 70) + "\n\t ";
      out.resize(out.size() - 3);
      out += "\n";
    }
    if (random_.chance(0.3))
      out +=
          "List-Id: Project discussion <project.lists.example>\nList-Unsubscribe: "
          "<mailto:project-request@lists.example?subject=unsubscribe>\nList-Archive: "
          "<https://lists.example/archives/project>\nPrecedence: list\n";
    out += "X-Mailer: " + std::string(random_.chance(0.5) ? "Microsoft Outlook 16.0" : "Mutt/2.2") +
           "\nX-Spam-Status: No, score=-" + std::to_string(random_.below(5)) + "." +
           std::to_string(random_.below(10)) + " required=5.0\nX-Original-Message-ID: <" +
           message_id + ">\n";
    return out;
  }

  std::string encoded_word(const std::string& text) {
    if (random_.chance(0.5)) return "=?utf-8?B?" + base64(text, 0) + "?=";
    std::string q;
    for (char c : text) {
      const auto u = uint8_t(c);
      if (c == ' ')
        q += '_';
      else if (u >= 33 && u <= 126 && c != '=' && c != '?' && c != '_')
        q += c;
      else {
        static constexpr char hex[] = "0123456789ABCDEF";
        q += '=', q += hex[u >> 4], q += hex[u & 15];
      }
    }
    return "=?utf-8?Q?" + q + "?=";
  }

  void one_message(bool big_attachment) {
    const uint64_t index = index_++;
    const std::string message_id =
        "g" + std::to_string(settings_.seed) + "." + std::to_string(index) + "@bench.credsift.test";

    // Threads: about half the mail replies to an open thread, quoting its history.
    Thread* thread = nullptr;
    if (!threads_.empty() && random_.chance(0.5))
      thread = &threads_[random_.below(threads_.size())];
    if (!thread) {
      if (threads_.size() >= 64)
        threads_.erase(threads_.begin() + long(random_.below(threads_.size())));
      threads_.push_back({});
      thread = &threads_.back();
      thread->language = random_.chance(0.6) ? 0 : random_.below(languages_.size());
      const Language& language = languages_[thread->language];
      thread->subject = words(language, random_.between(3, 7));
      thread->subject.erase(thread->subject.find_last_not_of(".。\n") + 1);
      for (auto& c : thread->subject)
        if (c == '\n') c = ' ';
    }
    const Language& language = languages_[thread->language];

    // What this message carries: plants (each with its encoding) and decoys.
    struct Placed {
      Plant plant;
      Encoding encoding;
    };
    std::vector<Placed> plants;
    if (random_.chance(settings_.secret_rate)) {
      const size_t count = random_.chance(0.2) ? 2 : 1;
      for (size_t i = 0; i < count; ++i) {
        Plant plant = planter_.plant(random_, random_.below(rules_.rules.size()));
        if (plant.labels.empty()) continue;
        auto encoding = Encoding(random_.below(kEncodings));
        if (encoding == Encoding::Latin1 && !(language.latin1 && latin1_representable(plant.text)))
          encoding = Encoding::QuotedPrintable;
        if (encoding == Encoding::Header && plant.text.find('\n') != std::string::npos &&
            plant.text.find('\n') + 1 != plant.text.size())
          encoding = Encoding::Plain;
        plants.push_back({std::move(plant), encoding});
      }
    }

    std::string body_text = random_.chance(0.5) ? random_.pick(language.greetings) + "\n\n" : "";
    // Real mail is mostly short, with a long tail (the mail profile: median ~3.4 KB in all).
    body_text += paragraphs(
        language, settings_.mail_profile
                      ? (random_.chance(0.9) ? random_.between(1, 2) : random_.between(3, 12))
                      : random_.between(1, 5));
    std::string fresh = body_text;  // what later replies quote
    std::vector<std::string> attachments;
    std::vector<std::string> forwarded;
    std::string subject = thread->message_ids.empty() ? thread->subject : "Re: " + thread->subject;
    bool force_html = false;
    int forced = -1;
    std::string header_secret;
    for (const auto& placed : plants) {
      const std::string snippet =
          "\n" + placed.plant.text + (placed.plant.text.ends_with('\n') ? "\n" : "\n\n");
      switch (placed.encoding) {
        case Encoding::Header: {
          std::string line = placed.plant.text;
          while (!line.empty() && line.back() == '\n') line.pop_back();
          header_secret = line;
          break;
        }
        case Encoding::Attachment:
          attachments.push_back(snippet);
          break;
        case Encoding::Forwarded:
          forwarded.push_back(snippet);
          break;
        case Encoding::Html:
        case Encoding::HtmlQuotedPrintable:
          force_html = true;
          forced = int(placed.encoding);
          body_text += snippet;
          break;
        default:
          if (forced < 0 || forced == int(placed.encoding)) {
            forced = int(placed.encoding);
            body_text += snippet;
          } else {
            attachments.push_back(snippet);
          }
      }
    }
    if (random_.chance(settings_.decoy_rate)) body_text += "\n" + planter_.decoy(random_) + "\n\n";
    body_text += random_.pick(language.closings) + "\n" + random_.pick(language.words) + "\n";
    if (!thread->history.empty())
      body_text += "\nOn " + date() + ", someone wrote:\n" + thread->history;

    // Headers.
    std::string out;
    out.reserve(16 << 10);
    if (settings_.mail_profile) out += transport_headers(message_id);
    out += "Message-ID: <" + message_id + ">\n";
    out += "Date: " + date() + " +0000\n";
    const size_t sender = random_.below(500);
    out += "From: \"User " + std::to_string(sender) + "\" <user" + std::to_string(sender) +
           "@corp.example>\n";
    out += "To: team" + std::to_string(random_.below(40)) + "@corp.example\n";
    out += "Subject: " + (is_ascii(subject) ? subject : encoded_word(subject)) +
           (header_secret.empty() ? "" : " " + encoded_word(header_secret)) + "\n";
    if (!thread->message_ids.empty()) {
      out += "In-Reply-To: <" + thread->message_ids.back() + ">\nReferences:";
      const size_t first = thread->message_ids.size() > 8 ? thread->message_ids.size() - 8 : 0;
      for (size_t i = first; i < thread->message_ids.size(); ++i)
        out += " <" + thread->message_ids[i] + ">";
      out += "\n";
    }
    out += "MIME-Version: 1.0\n";

    // Body shape: plain, HTML, alternative, or mixed with attachments.
    // The mail profile: 50% plain only, 5% HTML only, 45% alternative; 4% with attachments.
    const size_t shape = settings_.mail_profile ? random_.below(20) : random_.below(10);
    const bool with_attachments = settings_.mail_profile ? random_.chance(0.04) : shape >= 6;
    const bool html_only = force_html               ? random_.chance(0.3)
                           : settings_.mail_profile ? shape == 19
                                                    : shape == 0;
    const bool alternative = force_html || (settings_.mail_profile ? shape < 9 : shape < 4);
    std::vector<std::string> extra_parts;
    for (const auto& text : attachments) {
      const std::string name = random_.chance(0.5) ? "deploy.env" : "settings.yaml";
      extra_parts.push_back(
          part_headers("text/plain; charset=utf-8; name=\"" + name + "\"", "base64",
                       "Content-Disposition: attachment; filename=\"" + name + "\"\n") +
          base64(config_file() + text));
    }
    for (const auto& text : forwarded) {
      // No Message-ID of its own: findings in it belong to the outer message.
      const std::string inner = std::string("From: ops@corp.example\nSubject: ") +
                                "credentials\nContent-Type: text/plain; charset=utf-8\n" +
                                "Content-Transfer-Encoding: quoted-printable\n\n" +
                                quoted_printable("Forwarding this as asked.\n" + text);
      extra_parts.push_back(part_headers("message/rfc822", "", "Content-Disposition: inline\n") +
                            inner);
    }
    if (with_attachments || big_attachment) {
      const size_t count = random_.between(1, 2);
      for (size_t i = 0; i < count; ++i) {
        switch (random_.below(5)) {
          case 0:
            extra_parts.push_back(
                part_headers("application/octet-stream; name=\"data.bin\"", "base64",
                             "Content-Disposition: attachment; filename=\"data.bin\"\n") +
                base64(binary(settings_.mail_profile ? random_.between(1 << 10, 16 << 10)
                                                     : random_.between(2 << 10, 96 << 10))));
            break;
          case 1:
            extra_parts.push_back(
                part_headers("application/pdf; name=\"report.pdf\"", "base64",
                             "Content-Disposition: attachment; filename=\"report.pdf\"\n") +
                base64(pdf(language)));
            break;
          case 2:
            extra_parts.push_back(
                part_headers("application/zip; name=\"notes.zip\"", "base64",
                             "Content-Disposition: attachment; filename=\"notes.zip\"\n") +
                base64(zip_of("notes.txt", paragraphs(language, 6))));
            break;
          case 3:
            extra_parts.push_back(
                part_headers("text/csv; charset=utf-8; name=\"orders.csv\"", "base64",
                             "Content-Disposition: attachment; filename=\"orders.csv\"\n") +
                base64(csv(language)));
            break;
          default:
            extra_parts.push_back(
                part_headers("text/plain; charset=utf-8; name=\"app.conf\"", "7bit",
                             "Content-Disposition: attachment; filename=\"app.conf\"\n") +
                config_file());
        }
      }
    }
    if (big_attachment)
      extra_parts.push_back(
          part_headers("application/octet-stream; name=\"backup.tar\"", "base64",
                       "Content-Disposition: attachment; filename=\"backup.tar\"\n") +
          base64(binary(settings_.big_attachment_mb << 20)));

    std::string text_body;
    if (html_only) {
      text_body = text_part(html_of(body_text), language, true, forced);
    } else if (alternative) {
      const std::string boundary = "alt-" + std::to_string(index);
      const int plain_forced =
          forced == int(Encoding::Html) || forced == int(Encoding::HtmlQuotedPrintable) ? -1
                                                                                        : forced;
      text_body = "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\n\n--" +
                  boundary + "\n" + text_part(body_text, language, false, plain_forced) + "\n--" +
                  boundary + "\n" + text_part(html_of(body_text), language, true, forced) + "\n--" +
                  boundary + "--\n";
    } else {
      text_body = text_part(body_text, language, false, forced);
    }
    if (extra_parts.empty()) {
      out += text_body;
    } else {
      const std::string boundary = "mixed-" + std::to_string(index);
      out += "Content-Type: multipart/mixed; boundary=\"" + boundary +
             "\"\n\nThis is a multi-part message in MIME format.\n\n--" + boundary + "\n" +
             text_body;
      for (const auto& part : extra_parts) out += "\n--" + boundary + "\n" + part;
      out += "\n--" + boundary + "--\n";
    }
    output_.message(index, out, date());

    for (const auto& placed : plants) {
      for (const auto& label : placed.plant.labels) {
        labels_ << message_id << '\t' << label.rule_id << '\t' << label.family << '\t'
                << label.fingerprint << '\t' << kEncodingNames[int(placed.encoding)] << '\t'
                << label.secret.size() << '\t';
        // Synthetic secrets, kept in clear (tabs and newlines escaped) to score peers that
        // report the matched text instead of a fingerprint.
        for (char c : label.secret)
          labels_ << (c == '\n'   ? "\\n"
                      : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t"
                      : c == '\\' ? "\\\\"
                                  : std::string(1, c));
        labels_ << '\n';
        ++planted_;
      }
    }

    // The reply history grows with the thread, quoted once more at every level.
    thread->message_ids.push_back(message_id);
    std::string quoted;
    for (size_t line = 0; line < fresh.size();) {
      size_t end = fresh.find('\n', line);
      end = end == std::string::npos ? fresh.size() : end + 1;
      quoted += "> " + fresh.substr(line, end - line);
      line = end;
    }
    thread->history = quoted + thread->history;
    const size_t history_cap = settings_.mail_profile ? (1 << 10) : (24 << 10);
    if (thread->history.size() > history_cap) thread->history.resize(history_cap);
    while (!thread->history.empty() && thread->history.back() != '\n') thread->history.pop_back();
    if (thread->message_ids.size() > 40)
      threads_.erase(threads_.begin() + (thread - threads_.data()));
  }

  const Settings& settings_;
  const RuleSet& rules_;
  Planter& planter_;
  Output& output_;
  std::ostream& labels_;
  Random random_;
  std::vector<Language> languages_;
  std::vector<Thread> threads_;
  uint64_t index_ = 0;
  uint64_t planted_ = 0;
};

uint64_t parse_size(const std::string& text) {
  size_t used = 0;
  const double number = std::stod(text, &used);
  std::string unit = text.substr(used);
  for (auto& c : unit) c = char(std::toupper(uint8_t(c)));
  if (!unit.empty() && unit.back() == 'B') unit.pop_back();
  const double scale = unit.empty()   ? 1
                       : unit == "K"  ? 1e3
                       : unit == "M"  ? 1e6
                       : unit == "G"  ? 1e9
                       : unit == "KI" ? 1024.0
                       : unit == "MI" ? 1048576.0
                       : unit == "GI" ? 1073741824.0
                                      : -1;
  if (scale < 0 || number <= 0) throw po::error("bad size " + text + " (examples: 10M, 200MB, 2G)");
  return uint64_t(number * scale);
}

}  // namespace

int main(int argc, char** argv) try {
  std::string size_text = "10M", format_text = "mbox", output_path, labels_path;
  std::string profile_text = "attachments";
  std::vector<std::string> rule_paths;
  Settings settings;
  po::options_description options(
      "credsift-gen [options] --output PATH\n\nWrites a synthetic mail archive with planted "
      "secrets "
      "and a ground-truth labels file.\nThe same seed, size, rates and rules give the same "
      "bytes.\n\nOptions");
  options.add_options()("help,h", "show this help")("output,o", po::value(&output_path),
                                                    "archive to write (a directory for maildir)")(
      "labels,l", po::value(&labels_path), "labels file (default: OUTPUT.labels.tsv)")(
      "size,s", po::value(&size_text)->default_value("10M"),
      "raw archive size: 10M, 200MB, 2G, 20GiB")("format,f",
                                                 po::value(&format_text)->default_value("mbox"),
                                                 "mbox, maildir or gzip (gzip-compressed mbox)")(
      "seed", po::value(&settings.seed)->default_value(1), "random seed")(
      "secret-rate", po::value(&settings.secret_rate)->default_value(0.1),
      "share of messages that carry planted secrets")(
      "decoy-rate", po::value(&settings.decoy_rate)->default_value(0.3),
      "share of messages that carry a decoy (placeholder, hash, UUID, example key)")(
      "big-attachments", po::value(&settings.big_attachments)->default_value(0),
      "number of large attachments spread over the archive")(
      "big-attachment-mb", po::value(&settings.big_attachment_mb)->default_value(50),
      "size of each large attachment, MB before base64")(
      "profile", po::value(&profile_text)->default_value("attachments"),
      "mail (the shape of real mail: small messages, heavy headers, half HTML) or attachments "
      "(the original archive)")(
      "rules", po::value(&rule_paths)->composing(),
      "rule file or directory whose examples are planted (default: the bundled patterns/)");
  po::variables_map arguments;
  po::store(po::parse_command_line(argc, argv, options), arguments);
  po::notify(arguments);
  if (arguments.count("help") || output_path.empty()) {
    std::cout << options;
    return output_path.empty() && !arguments.count("help") ? 2 : 0;
  }
  settings.size = parse_size(size_text);
  if (profile_text != "mail" && profile_text != "attachments")
    throw po::error("unknown --profile " + profile_text + " (mail or attachments)");
  settings.mail_profile = profile_text == "mail";
  Output::Format format;
  if (format_text == "mbox")
    format = Output::Format::Mbox;
  else if (format_text == "maildir")
    format = Output::Format::Maildir;
  else if (format_text == "gzip")
    format = Output::Format::GzipMbox;
  else
    throw po::error("unknown --format " + format_text);
  if (labels_path.empty()) labels_path = output_path + ".labels.tsv";
  if (rule_paths.empty()) rule_paths.push_back(CREDSIFT_DEFAULT_RULES);

  const RuleSet rules = load_rules(std::vector<fs::path>(rule_paths.begin(), rule_paths.end()));
  const Matcher matcher(rules);
  Planter planter(rules, matcher);
  std::ofstream labels(labels_path, std::ios::trunc);
  if (!labels) throw std::runtime_error(labels_path + ": cannot create");
  labels << "# message_id\trule_id\tfamily\tfingerprint\tencoding\tsecret_length\tsecret\n";
  labels << "# seed\t" << settings.seed << "\n# rules\t" << rules.digest << "\n";
  Output output(format, output_path);
  Generator generator(settings, rules, planter, output, labels);
  generator.run();
  std::cerr << "credsift-gen: " << generator.messages() << " messages, " << output.bytes()
            << " bytes, " << generator.planted() << " planted secrets (" << planter.unmutated()
            << " plants kept an example secret unmutated)\n";
  return 0;
} catch (const std::exception& error) {
  std::cerr << "credsift-gen: " << error.what() << "\n";
  return 2;
}
