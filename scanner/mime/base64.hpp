#pragma once
// Base64 decoder internals: the paths behind credsift::decode_base64, reachable one by one so
// that tests and benchmarks can hold the SIMD path against the scalar reference.
#include <string>
#include <string_view>

namespace credsift::mime_detail {

enum class Base64Path {
  Scalar,  // table-driven, four symbols at a time: the reference behaviour
  Ssse3,   // 16 symbols -> 12 bytes per step, scalar logic for everything else
  Avx2,    // 32 symbols -> 24 bytes per step, scalar logic for everything else
  Best,    // the widest one the CPU has
};

// True when this build and this CPU can run Base64Path::Avx2 / Base64Path::Ssse3.
bool base64_avx2_available();
bool base64_ssse3_available();

// Same contract as credsift::decode_base64. Asking for a SIMD path that is not available runs
// the scalar path.
std::string decode_base64_with(std::string_view in, bool* error, Base64Path path);

}  // namespace credsift::mime_detail
