// The safety rails of verification: rates, token buckets and the host allow-list.
#include <arpa/inet.h>
#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "credsift/verify.hpp"

namespace credsift {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<double> parse_rate(std::string_view text) {
  text = trim(text);
  double per = 1;
  const size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view unit = text.substr(slash + 1);
    if (unit == "s" || unit == "sec")
      per = 1;
    else if (unit == "m" || unit == "min")
      per = 60;
    else if (unit == "h")
      per = 3600;
    else
      return std::nullopt;
    text = text.substr(0, slash);
  }
  double count = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (error != std::errc() || end != text.data() + text.size() || !(count > 0)) return std::nullopt;
  return count / per;
}

TokenBucket::TokenBucket(double rate, double burst)
    : rate_(rate),
      burst_(std::max(1.0, burst)),
      tokens_(std::max(1.0, burst)),
      last_(std::chrono::steady_clock::now()) {}

void TokenBucket::acquire() {
  for (;;) {
    std::chrono::duration<double> wait{};
    {
      std::lock_guard lock(mutex_);
      const auto now = std::chrono::steady_clock::now();
      tokens_ =
          std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
      last_ = now;
      if (tokens_ >= 1) {
        tokens_ -= 1;
        return;
      }
      wait = std::chrono::duration<double>((1 - tokens_) / rate_);
    }
    std::this_thread::sleep_for(wait);
  }
}

HostAllowList HostAllowList::parse(std::string_view list) {
  HostAllowList allow;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    const size_t slash = item.find('/');
    Network network;
    const std::string address(item.substr(0, slash));
    if (::inet_pton(AF_INET, address.c_str(), network.bytes) == 1) {
      network.family = AF_INET;
      network.prefix = 32;
    } else if (::inet_pton(AF_INET6, address.c_str(), network.bytes) == 1) {
      network.family = AF_INET6;
      network.prefix = 128;
    }
    if (network.family == 0) {
      if (slash != std::string_view::npos)
        throw std::invalid_argument("--verify-hosts: not a CIDR: " + std::string(item));
      allow.globs_.push_back(lower(item));
      continue;
    }
    if (slash != std::string_view::npos) {
      const std::string_view bits = item.substr(slash + 1);
      unsigned prefix = 0;
      const auto [end, error] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      if (error != std::errc() || end != bits.data() + bits.size() || prefix > network.prefix)
        throw std::invalid_argument("--verify-hosts: bad prefix length in " + std::string(item));
      network.prefix = prefix;
    }
    allow.networks_.push_back(network);
  }
  return allow;
}

bool HostAllowList::allows_name(std::string_view host) const {
  const std::string name = lower(host);
  for (const std::string& glob : globs_)
    if (::fnmatch(glob.c_str(), name.c_str(), FNM_NOESCAPE) == 0) return true;
  return allows_address(host);
}

bool HostAllowList::allows_address(std::string_view numeric_address) const {
  const std::string text(numeric_address);
  unsigned char bytes[16] = {};
  int family = 0;
  if (::inet_pton(AF_INET, text.c_str(), bytes) == 1)
    family = AF_INET;
  else if (::inet_pton(AF_INET6, text.c_str(), bytes) == 1)
    family = AF_INET6;
  else
    return false;
  for (const Network& network : networks_) {
    if (network.family != family) continue;
    const unsigned full = network.prefix / 8, rest = network.prefix % 8;
    if (std::memcmp(network.bytes, bytes, full) != 0) continue;
    if (rest) {
      const unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
      if ((network.bytes[full] & mask) != (bytes[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

std::pair<std::string, double> parse_provider_rate(std::string_view text) {
  const size_t equals = text.find('=');
  const std::string_view rate_text =
      equals == std::string_view::npos ? text : text.substr(equals + 1);
  const std::optional<double> rate = parse_rate(rate_text);
  if (!rate) throw std::invalid_argument("--verify-rate: cannot read '" + std::string(text) + "'");
  if (equals == std::string_view::npos) return {"", *rate};
  return {lower(trim(text.substr(0, equals))), *rate};
}

std::pair<std::string, std::string> parse_provider_endpoint(std::string_view text) {
  const size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0)
    throw std::invalid_argument("--verify-endpoint: expected PROVIDER=URL, got '" +
                                std::string(text) + "'");
  std::string url(trim(text.substr(equals + 1)));
  // Secrets travel over TLS with certificate checks, even to an overridden endpoint.
  if (!url.starts_with("https://"))
    throw std::invalid_argument("--verify-endpoint: only https:// URLs, got '" + url + "'");
  while (url.ends_with('/')) url.pop_back();
  return {lower(trim(text.substr(0, equals))), url};
}

}  // namespace credsift
