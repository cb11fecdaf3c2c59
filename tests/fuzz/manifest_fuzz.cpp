// libFuzzer: the plan manifest reader on any bytes. It either throws StoreError or returns a
// manifest whose every piece lies inside its input and whose shards are numbered in order;
// writing it back and reading that again gives the same plan.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "credsift/store.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  credsift::Manifest manifest;
  try {
    manifest = credsift::parse_manifest(text);
  } catch (const credsift::StoreError&) {
    return 0;
  }
  for (size_t s = 0; s < manifest.shards.size(); ++s) {
    const credsift::ManifestShard& shard = manifest.shards[s];
    if (shard.number != s + static_cast<uint64_t>(manifest.index_base)) std::abort();
    for (const credsift::ManifestPiece& piece : shard.pieces)
      if (piece.input >= manifest.inputs.size() || piece.begin > piece.end ||
          piece.end > manifest.inputs[piece.input].size)
        std::abort();
  }
  const credsift::Manifest again = credsift::parse_manifest(credsift::manifest_json(manifest));
  if (credsift::manifest_json(again) != credsift::manifest_json(manifest)) std::abort();
  return 0;
}
