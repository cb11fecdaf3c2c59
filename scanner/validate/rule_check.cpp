#include "credsift/rule_check.hpp"

#include "credsift/validate.hpp"

namespace credsift {

namespace {

std::string_view secret_of(const Hit& hit, std::string_view text) {
  return text.substr(hit.secret.begin, hit.secret.end - hit.secret.begin);
}

// Validates a hit the way a scan does: with the matched text and the other captures (the
// generic rules judge a value by the name next to it).
Validation validate_hit(const Rule& rule, const Hit& hit, std::string_view text) {
  std::vector<std::pair<std::string, std::string>> captures;
  for (const NamedSpan& capture : hit.captures)
    captures.emplace_back(
        std::string(capture.name),
        std::string(text.substr(capture.span.begin, capture.span.end - capture.span.begin)));
  return validate(rule, secret_of(hit, text),
                  text.substr(hit.match.begin, hit.match.end - hit.match.begin), captures);
}

// The rule's own hits in the text, for a failure message that shows what it did find.
std::string describe_hits(const Rule& rule, uint32_t index, const std::vector<Hit>& hits,
                          std::string_view text) {
  std::string out;
  for (const Hit& hit : hits) {
    if (hit.rule != index) continue;
    const Validation validation = validate_hit(rule, hit, text);
    out += out.empty() ? "" : ", ";
    out += "'" + std::string(secret_of(hit, text)) + "' (" +
           std::string(to_string(validation.status)) +
           (validation.reason.empty() ? "" : " " + validation.reason) + ")";
  }
  return out.empty() ? "no hit of this rule" : "hits: " + out;
}

}  // namespace

std::vector<RuleCheckFailure> check_rule_examples(const Matcher& matcher) {
  std::vector<RuleCheckFailure> failures;
  const auto scratch = matcher.make_scratch();
  std::vector<Hit> hits;
  const auto& rules = matcher.rules().rules;
  for (uint32_t index = 0; index < rules.size(); ++index) {
    const Rule& rule = rules[index];
    for (const RuleExample& example : rule.examples) {
      hits.clear();
      matcher.scan(example.text, 0, *scratch, hits);
      bool found = false;
      for (const Hit& hit : hits)
        found |= hit.rule == index && secret_of(hit, example.text) == example.secret &&
                 validate_hit(rule, hit, example.text).status != ValidationStatus::Rejected;
      if (!found)
        failures.push_back({index, false, example.text,
                            "example not found with secret '" + example.secret + "'; " +
                                describe_hits(rule, index, hits, example.text)});
    }
    for (const std::string& negative : rule.negative_examples) {
      hits.clear();
      matcher.scan(negative, 0, *scratch, hits);
      for (const Hit& hit : hits) {
        if (hit.rule != index) continue;
        const std::string_view secret = secret_of(hit, negative);
        if (validate_hit(rule, hit, negative).status == ValidationStatus::Rejected) continue;
        failures.push_back({index, true, negative,
                            "negative example accepted with secret '" + std::string(secret) + "'"});
        break;
      }
    }
  }
  return failures;
}

}  // namespace credsift
