// The Graph/Gmail JSON export reader on any bytes, read in small steps (the first byte picks
// the step) with small limits, so that line skipping, the document limit and the window's moves
// are all reached. Every record must come out as a message, a skip or a failure.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "../../../scanner/source/json_export.hpp"
#include "check.hpp"

namespace credsift_fuzz {

inline void json_export_one_input(const uint8_t* data, size_t size) {
  using namespace credsift;
  using namespace credsift::source_detail;
  if (size == 0) return;
  const size_t step = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  looks_like_json_export(input);
  JsonExportLimits limits;
  limits.max_message_bytes = 1 << 16;
  limits.max_document_bytes = 1 << 17;
  limits.read_chunk_bytes = step;
  size_t at = 0;
  JsonExportReader reader(std::make_shared<const std::string>("fuzz.json"), limits,
                          {[](uint64_t, std::string) {}, [](uint64_t, std::string) {}},
                          [&](char* dst, size_t n) {
                            const size_t k = std::min(n, input.size() - at);
                            memcpy(dst, input.data() + at, k);
                            at += k;
                            return k;
                          });
  size_t messages = 0;
  while (auto m = reader.next()) {
    FUZZ_CHECK(m->origin.offset <= input.size());  // an offset inside the file
    FUZZ_CHECK(m->bytes.size() <= limits.max_message_bytes);
    if (!m->skip_reason.empty() || !m->failure.empty()) {
      FUZZ_CHECK(m->bytes.empty());  // a skipped or failed message has no bytes
    }
    FUZZ_CHECK(++messages <= input.size() + 1);  // more messages than bytes: a loop
  }
}

}  // namespace credsift_fuzz
