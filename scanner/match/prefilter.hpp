#pragma once
// Cheaper Hyperscan expressions for the few rules whose own pattern Hyperscan runs slowly (README,
// "Rule library speed"). A rule's pattern is a top-level sequence PREFIX SUFFIX, and PREFIX has no
// literal Hyperscan can filter on (connstr.ado_net: any of `Server=`, `Host=`, `User=` ... then up
// to 300 bytes, before the `Password=` that every match holds), so Hyperscan ran an automaton
// over much of the text. Every match of the pattern ends with a match of SUFFIX at the same end
// offset, so Hyperscan scanning for SUFFIX alone reports every end offset the pattern has (and
// some more). PCRE2 then runs the rule's own pattern, as always, before each end in a window of
// the width of the rule's own pattern: the hits are the rule's, and an end that is not one
// costs one PCRE2 search that finds nothing. Assertions in SUFFIX see the same text either way.
// A suffix is used only while the rule's pattern still is PREFIX SUFFIX with the split at the
// top level (checked here on every load, so an edited rule falls back to its own pattern and
// match_prefilter_test names it).
#include <string>
#include <string_view>
#include <vector>

#include "credsift/rules.hpp"

namespace credsift::match_detail {

struct Prefilter {
  std::string_view rule_id;
  std::string_view suffix;  // the end of the rule's pattern that Hyperscan scans for instead
};

// Every entry of the table, used or not.
const std::vector<Prefilter>& prefilters();

// True when `suffix` ends `pattern` and the rest of the pattern before it is a whole top-level
// sequence (no top-level alternation, the cut not inside a group or class, nor before a
// quantifier).
bool is_top_level_suffix(std::string_view pattern, std::string_view suffix);

// The expression Hyperscan compiles for `rule`: its prefilter suffix when it has a valid one,
// else its pattern.
std::string_view hyperscan_expression(const Rule& rule);

// What the cache keys take in besides the patterns: every table entry.
std::string prefilter_key();

}  // namespace credsift::match_detail
