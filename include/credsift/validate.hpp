#pragma once
// Validate: offline checks on one hit. Grows in later work (checksums, structure, entropy).
#include <string>
#include <string_view>

#include "credsift/rules.hpp"

namespace credsift {

enum class ValidationStatus { Unverified, Rejected };
std::string_view to_string(ValidationStatus);

struct Validation {
  ValidationStatus status = ValidationStatus::Unverified;
  std::string reason;  // why rejected (placeholder, low entropy ...)
};

// True when the text is an obvious placeholder: EXAMPLE, xxxx, ****, changeme, <password>,
// ${VAR}, {{var}}, %s and the like.
bool is_placeholder(std::string_view secret);
double shannon_entropy(std::string_view text);  // bits per character

Validation validate(const Rule& rule, std::string_view secret);

}  // namespace credsift
