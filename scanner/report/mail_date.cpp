// Message dates: RFC 5322 Date headers and command-line dates, to epoch seconds (UTC).
#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <string>

#include "credsift/report.hpp"

namespace credsift {

namespace {

// Days from 1970-01-01 to a civil date (callers have checked the ranges with valid_civil).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
  using namespace std::chrono;
  return sys_days{std::chrono::year{static_cast<int>(year)} / std::chrono::month{month} /
                  std::chrono::day{day}}
      .time_since_epoch()
      .count();
}

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}
  void skip_spaces_and_comments() {
    while (position_ < text_.size()) {
      const char c = text_[position_];
      if (c == '(') {  // RFC 5322 comment, possibly nested
        int depth = 0;
        while (position_ < text_.size()) {
          if (text_[position_] == '(') ++depth;
          if (text_[position_] == ')' && --depth == 0) {
            ++position_;
            break;
          }
          ++position_;
        }
      } else if (std::isspace(static_cast<unsigned char>(c)) || c == ',') {
        ++position_;
      } else {
        break;
      }
    }
  }
  std::optional<int64_t> number(size_t min_digits, size_t max_digits) {
    skip_spaces_and_comments();
    size_t digits = 0;
    int64_t value = 0;
    while (position_ < text_.size() && digits < max_digits &&
           std::isdigit(static_cast<unsigned char>(text_[position_]))) {
      value = value * 10 + (text_[position_++] - '0');
      ++digits;
    }
    if (digits < min_digits) return std::nullopt;
    return value;
  }
  std::string word() {
    skip_spaces_and_comments();
    std::string out;
    while (position_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[position_])))
      out.push_back(
          static_cast<char>(std::tolower(static_cast<unsigned char>(text_[position_++]))));
    return out;
  }
  bool consume(char c) {
    if (position_ < text_.size() && text_[position_] == c) {
      ++position_;
      return true;
    }
    return false;
  }
  char peek() {
    skip_spaces_and_comments();
    return position_ < text_.size() ? text_[position_] : '\0';
  }
  bool at_end() {
    skip_spaces_and_comments();
    return position_ >= text_.size();
  }

 private:
  std::string_view text_;
  size_t position_ = 0;
};

std::optional<unsigned> month_number(const std::string& name) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  if (name.size() < 3) return std::nullopt;
  for (unsigned i = 0; i < 12; ++i)
    if (name.compare(0, 3, kMonths[i]) == 0) return i + 1;
  return std::nullopt;
}

// Zone names of RFC 822 (military zones other than Z are ambiguous: treated as UTC, per RFC 5322).
std::optional<int> named_zone_minutes(const std::string& name) {
  if (name == "ut" || name == "utc" || name == "gmt" || name == "z" || name.size() == 1) return 0;
  if (name == "edt") return -4 * 60;
  if (name == "est" || name == "cdt") return -5 * 60;
  if (name == "cst" || name == "mdt") return -6 * 60;
  if (name == "mst" || name == "pdt") return -7 * 60;
  if (name == "pst") return -8 * 60;
  if (name == "cet") return 60;
  if (name == "cest") return 120;
  return std::nullopt;
}

bool valid_civil(int64_t year, int64_t month, int64_t day, int64_t hour, int64_t minute,
                 int64_t second) {
  return year >= 1900 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 && day <= 31 &&
         hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 60;
}

}  // namespace

std::optional<int64_t> parse_mail_date(std::string_view date) {
  Reader in(date);
  // Optional day name.
  if (std::isalpha(static_cast<unsigned char>(in.peek()))) {
    const std::string day_name = in.word();
    if (month_number(day_name)) return std::nullopt;  // "Mar 4, 2024" order: not RFC 5322
  }
  const std::optional<int64_t> day = in.number(1, 2);
  if (!day) return std::nullopt;
  in.consume('-');
  const std::optional<unsigned> month = month_number(in.word());
  if (!month) return std::nullopt;
  in.consume('-');
  std::optional<int64_t> year = in.number(2, 4);
  if (!year) return std::nullopt;
  if (*year < 50)
    *year += 2000;
  else if (*year < 1000)
    *year += 1900;  // two- and three-digit years of RFC 2822's obs-year
  const std::optional<int64_t> hour = in.number(1, 2);
  if (!hour || !in.consume(':')) return std::nullopt;
  const std::optional<int64_t> minute = in.number(2, 2);
  if (!minute) return std::nullopt;
  int64_t second = 0;
  if (in.consume(':')) {
    const std::optional<int64_t> s = in.number(2, 2);
    if (!s) return std::nullopt;
    second = *s;
  }
  int zone_minutes = 0;
  const char sign = in.peek();
  if (sign == '+' || sign == '-') {
    in.consume(sign);
    const std::optional<int64_t> zone = in.number(4, 4);
    if (!zone) return std::nullopt;
    zone_minutes = static_cast<int>((*zone / 100) * 60 + *zone % 100);
    if (sign == '-') zone_minutes = -zone_minutes;
  } else if (!in.at_end()) {
    const std::optional<int> named = named_zone_minutes(in.word());
    if (!named) return std::nullopt;
    zone_minutes = *named;
  }
  if (!valid_civil(*year, *month, *day, *hour, *minute, second)) return std::nullopt;
  return days_from_civil(*year, *month, static_cast<unsigned>(*day)) * 86400 + *hour * 3600 +
         *minute * 60 + second - zone_minutes * 60;
}

std::optional<int64_t> parse_date_argument(std::string_view text, bool end_of_day) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  const std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &consumed) == 3) {
    std::string_view rest = text.substr(static_cast<size_t>(consumed));
    if (rest.empty()) {
      if (!valid_civil(year, month, day, 0, 0, 0)) return std::nullopt;
      const int64_t start =
          days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400;
      return end_of_day ? start + 86399 : start;
    }
    if (rest.front() != 'T' && rest.front() != ' ') return std::nullopt;
    int time_consumed = 0;
    const std::string time(rest.substr(1));
    if (std::sscanf(time.c_str(), "%2d:%2d%n", &hour, &minute, &time_consumed) != 2)
      return std::nullopt;
    std::string_view zone = std::string_view(time).substr(static_cast<size_t>(time_consumed));
    if (zone.starts_with(":")) {
      int second_consumed = 0;
      if (std::sscanf(std::string(zone).c_str(), ":%2d%n", &second, &second_consumed) != 1)
        return std::nullopt;
      zone.remove_prefix(static_cast<size_t>(second_consumed));
    }
    int zone_minutes = 0;
    if (!zone.empty() && zone != "Z" && zone != "z") {
      int zh = 0, zm = 0;
      if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') ||
          std::sscanf(std::string(zone.substr(1)).c_str(), "%2d:%2d", &zh, &zm) != 2)
        return std::nullopt;
      zone_minutes = (zh * 60 + zm) * (zone[0] == '-' ? -1 : 1);
    }
    if (!valid_civil(year, month, day, hour, minute, second)) return std::nullopt;
    return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
           hour * 3600 + minute * 60 + second - zone_minutes * 60;
  }
  return parse_mail_date(text);
}

std::string format_iso8601(int64_t epoch) {
  // Years 0000-9999 only: a date outside comes from a damaged store, and chrono's year is an int.
  constexpr int64_t kFirst = -62167219200, kLast = 253402300799;
  epoch = std::clamp(epoch, kFirst, kLast);
  using namespace std::chrono;
  const sys_seconds when{seconds{epoch}};
  const sys_days day = floor<days>(when);
  const year_month_day civil{day};
  const hh_mm_ss clock{when - day};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02dZ", int{civil.year()},
                unsigned{civil.month()}, unsigned{civil.day()},
                static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()));
  return buffer;
}

}  // namespace credsift
