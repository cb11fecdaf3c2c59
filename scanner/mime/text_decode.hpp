#pragma once
// Text decoder internals: the paths behind credsift::is_valid_utf8, decode_quoted_printable and
// the ISO-8859-1 / windows-1252 conversion of to_utf8, reachable one by one so that tests and
// benchmarks can hold the SIMD paths against the scalar reference.
#include <string>
#include <string_view>

namespace credsift::mime_detail {

enum class TextPath {
  Scalar,  // byte at a time (8 at a time over ASCII in is_valid_utf8): the reference behaviour
  Sse2,    // 16 bytes per step over ASCII runs / clean QP runs, scalar logic for the rest
  Avx2,    // 32 bytes per step, the same logic
  Best,    // the widest one the CPU has
};

// True when this build and this CPU can run TextPath::Sse2 / TextPath::Avx2.
bool text_sse2_available();
bool text_avx2_available();

// Same contracts as credsift::is_valid_utf8 and credsift::decode_quoted_printable. Asking for a
// SIMD path that is not available runs the scalar path.
bool is_valid_utf8_with(std::string_view bytes, TextPath path);
std::string decode_quoted_printable_with(std::string_view in, TextPath path);

// Appends `in` to `out` as UTF-8, reading it as windows-1252 when `cp1252` is set (its five
// unassigned bytes become U+FFFD), else as ISO-8859-1.
void single_byte_to_utf8_with(std::string_view in, std::string& out, bool cp1252, TextPath path);

}  // namespace credsift::mime_detail
