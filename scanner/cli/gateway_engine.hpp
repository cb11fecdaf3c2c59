#pragma once
// What the gateway daemons (milter, serve) judge a message with: the policy and the compiled
// rules, replaced as a whole on SIGHUP (a message in flight keeps the engine it started with
// through its shared_ptr), and a pool of matcher scratch.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "commands.hpp"
#include "credsift/gateway.hpp"
#include "credsift/match.hpp"

namespace credsift::cli {

struct GatewayEngine {
  gateway::Policy policy;
  std::unique_ptr<Matcher> matcher;
  uint64_t generation = 0;

  // Hyperscan scratch belongs to one thread at a time and one compiled database. A gateway
  // sees about one message per connection, and connections move between threads: scratch made
  // per connection was made per message. Finished scans hand theirs back here.
  std::unique_ptr<Matcher::Scratch> take_scratch() const {
    {
      std::lock_guard lock(scratch_mutex_);
      if (!idle_scratch_.empty()) {
        std::unique_ptr<Matcher::Scratch> scratch = std::move(idle_scratch_.back());
        idle_scratch_.pop_back();
        return scratch;
      }
    }
    return matcher->make_scratch();
  }
  void give_back(std::unique_ptr<Matcher::Scratch> scratch) const {
    std::lock_guard lock(scratch_mutex_);
    // Bounded: as many as scans ever ran at once, never more than 64.
    if (idle_scratch_.size() < 64) idle_scratch_.push_back(std::move(scratch));
  }

 private:
  mutable std::mutex scratch_mutex_;
  mutable std::vector<std::unique_ptr<Matcher::Scratch>> idle_scratch_;
};

// Builds an engine from the policy file (empty: the default policy) and the rules; throws on
// any error (a daemon then keeps the engine it has).
inline std::shared_ptr<GatewayEngine> build_gateway_engine(
    const std::string& policy_file, const std::vector<std::string>& extra_rules,
    bool no_default_rules, bool use_rule_cache, uint64_t generation) {
  auto engine = std::make_shared<GatewayEngine>();
  engine->policy =
      policy_file.empty() ? gateway::default_policy() : gateway::load_policy(policy_file);
  MatcherOptions options;
  options.use_cache = use_rule_cache;
  engine->matcher = load_matcher(extra_rules, no_default_rules, nullptr, options);
  engine->generation = generation;
  return engine;
}

}  // namespace credsift::cli
