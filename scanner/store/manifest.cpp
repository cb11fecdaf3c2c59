// The plan of a scale-out scan: inputs cut into shards of about equal bytes (whole files, and
// byte ranges of mbox files cut at message separators with the index of the message at each
// cut), written as a JSON manifest that every array task reads.
#include <simdjson.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "credsift/store.hpp"

namespace credsift {

namespace {

constexpr uint64_t kMaxShards = 1'000'000;
constexpr size_t kMaxManifestBytes = 256u << 20;

}  // namespace

Manifest plan_shards(const std::vector<std::string>& inputs, uint64_t shards, int index_base,
                     const std::string& rules_version, const DiagnosticSink& diagnostics) {
  if (shards == 0 || shards > kMaxShards) throw StoreError("--shards must be 1 to 1000000");
  if (index_base != 0 && index_base != 1) throw StoreError("--index-base must be 0 or 1");
  Manifest manifest;
  manifest.index_base = index_base;
  manifest.rules_version = rules_version;
  const std::vector<ListedFile> files = list_input_files(inputs, diagnostics);
  uint64_t total = 0;
  for (const ListedFile& file : files) total += file.size;
  const uint64_t target = std::max<uint64_t>(1, (total + shards - 1) / shards);

  manifest.shards.resize(shards);
  for (uint64_t i = 0; i < shards; ++i) manifest.shards[i].number = i + index_base;
  uint64_t start = 0;  // of the file in the inputs laid end to end
  for (size_t f = 0; f < files.size(); ++f) {
    const ListedFile& file = files[f];
    manifest.inputs.push_back({file.path, file.size, file.mtime_ns, file.slice.walked,
                               file.slice.maildir, file.gzip, file.mbox});
    // Shard boundaries inside this file cut it, at the next message separator, when it is a
    // plain mbox; other files go whole to the shard where they start.
    std::vector<MboxCut> cuts;
    if (file.mbox) {
      std::vector<uint64_t> targets;
      for (uint64_t k = start / target + 1; k * target < start + file.size && k < shards; ++k)
        targets.push_back(k * target - start);
      if (!targets.empty()) cuts = cut_mbox(file.path, targets);
    }
    std::vector<ManifestPiece> pieces;
    uint64_t begin = 0, first_index = 0;
    for (const MboxCut& cut : cuts) {
      if (cut.offset <= begin || cut.offset >= file.size) continue;
      pieces.push_back({f, begin, cut.offset, first_index, false});
      begin = cut.offset;
      first_index = cut.index;
    }
    pieces.push_back({f, begin, file.size, first_index, begin == 0});
    for (ManifestPiece& piece : pieces) {
      const uint64_t shard = std::min<uint64_t>(shards - 1, (start + piece.begin) / target);
      ManifestShard& into = manifest.shards[shard];
      into.bytes += piece.end - piece.begin;
      if (!into.pieces.empty() && into.pieces.back().input == piece.input &&
          into.pieces.back().end == piece.begin) {
        into.pieces.back().end = piece.end;  // adjacent cuts of one file in one shard
        into.pieces.back().whole = into.pieces.back().begin == 0 && piece.end == file.size;
      } else {
        into.pieces.push_back(piece);
      }
    }
    start += file.size;
  }
  manifest.digest = fingerprint(manifest_json(manifest));
  return manifest;
}

std::string manifest_json(const Manifest& manifest) {
  std::ostringstream out;
  out << "{\"credsift_manifest\":1,\n\"index_base\":" << manifest.index_base
      << ",\n\"message_index_base\":0,\n\"rules_version\":\"" << json_escape(manifest.rules_version)
      << "\",\n\"inputs\":[";
  for (size_t i = 0; i < manifest.inputs.size(); ++i) {
    const ManifestInput& input = manifest.inputs[i];
    out << (i ? ",\n" : "\n") << "{\"path\":\"" << json_escape(input.path)
        << "\",\"size\":" << input.size << ",\"mtime_ns\":" << input.mtime_ns
        << ",\"walked\":" << (input.walked ? "true" : "false")
        << ",\"maildir\":" << (input.maildir ? "true" : "false")
        << ",\"gzip\":" << (input.gzip ? "true" : "false")
        << ",\"mbox\":" << (input.mbox ? "true" : "false") << "}";
  }
  out << "],\n\"shards\":[";
  for (size_t s = 0; s < manifest.shards.size(); ++s) {
    const ManifestShard& shard = manifest.shards[s];
    out << (s ? ",\n" : "\n") << "{\"shard\":" << shard.number << ",\"bytes\":" << shard.bytes
        << ",\"pieces\":[";
    for (size_t p = 0; p < shard.pieces.size(); ++p) {
      const ManifestPiece& piece = shard.pieces[p];
      out << (p ? "," : "") << "{\"input\":" << piece.input << ",\"begin\":" << piece.begin
          << ",\"end\":" << piece.end << ",\"first_index\":" << piece.first_index
          << ",\"whole\":" << (piece.whole ? "true" : "false") << "}";
    }
    out << "]}";
  }
  out << "]}\n";
  return out.str();
}

namespace {

[[noreturn]] void bad(const std::string& what) { throw StoreError("manifest: " + what); }

uint64_t unsigned_field(simdjson::dom::object object, const char* name) {
  uint64_t value = 0;
  if (object[name].get(value) != simdjson::SUCCESS)
    bad(std::string("missing or bad \"") + name + "\"");
  return value;
}

bool bool_field(simdjson::dom::object object, const char* name) {
  bool value = false;
  if (object[name].get(value) != simdjson::SUCCESS)
    bad(std::string("missing or bad \"") + name + "\"");
  return value;
}

}  // namespace

Manifest parse_manifest(std::string_view text) {
  if (text.size() > kMaxManifestBytes) bad("larger than 256 MB");
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(text.data(), text.size()).get(document) != simdjson::SUCCESS) bad("not JSON");
  simdjson::dom::object root;
  if (document.get(root) != simdjson::SUCCESS) bad("not a JSON object");
  if (unsigned_field(root, "credsift_manifest") != 1) bad("unknown manifest version");
  Manifest manifest;
  const uint64_t base = unsigned_field(root, "index_base");
  if (base > 1) bad("index_base must be 0 or 1");
  manifest.index_base = static_cast<int>(base);
  std::string_view rules;
  if (root["rules_version"].get(rules) != simdjson::SUCCESS) bad("missing \"rules_version\"");
  manifest.rules_version = std::string(rules);
  simdjson::dom::array inputs, shards;
  if (root["inputs"].get(inputs) != simdjson::SUCCESS) bad("missing \"inputs\"");
  if (root["shards"].get(shards) != simdjson::SUCCESS) bad("missing \"shards\"");
  for (simdjson::dom::element element : inputs) {
    simdjson::dom::object input;
    if (element.get(input) != simdjson::SUCCESS) bad("an input is not an object");
    ManifestInput in;
    std::string_view path;
    if (input["path"].get(path) != simdjson::SUCCESS || path.empty()) bad("an input has no path");
    in.path = std::string(path);
    in.size = unsigned_field(input, "size");
    int64_t mtime = 0;
    if (input["mtime_ns"].get(mtime) != simdjson::SUCCESS)
      bad("input " + in.path + ": no mtime_ns");
    in.mtime_ns = mtime;
    in.walked = bool_field(input, "walked");
    in.maildir = bool_field(input, "maildir");
    in.gzip = bool_field(input, "gzip");
    in.mbox = bool_field(input, "mbox");
    manifest.inputs.push_back(std::move(in));
  }
  uint64_t position = 0;
  for (simdjson::dom::element element : shards) {
    simdjson::dom::object shard;
    if (element.get(shard) != simdjson::SUCCESS) bad("a shard is not an object");
    ManifestShard out;
    out.number = unsigned_field(shard, "shard");
    if (out.number != position + base)
      bad("shard " + std::to_string(out.number) + " out of order (expected " +
          std::to_string(position + base) + ")");
    ++position;
    out.bytes = unsigned_field(shard, "bytes");
    simdjson::dom::array pieces;
    if (shard["pieces"].get(pieces) != simdjson::SUCCESS) bad("shard without \"pieces\"");
    for (simdjson::dom::element p : pieces) {
      simdjson::dom::object object;
      if (p.get(object) != simdjson::SUCCESS) bad("a piece is not an object");
      ManifestPiece piece;
      piece.input = unsigned_field(object, "input");
      piece.begin = unsigned_field(object, "begin");
      piece.end = unsigned_field(object, "end");
      piece.first_index = unsigned_field(object, "first_index");
      piece.whole = bool_field(object, "whole");
      if (piece.input >= manifest.inputs.size())
        bad("shard " + std::to_string(out.number) + ": piece of input " +
            std::to_string(piece.input) + ", which does not exist");
      const ManifestInput& input = manifest.inputs[piece.input];
      if (piece.begin > piece.end || piece.end > input.size)
        bad("shard " + std::to_string(out.number) + ": range [" + std::to_string(piece.begin) +
            ", " + std::to_string(piece.end) + ") outside " + input.path);
      if (!piece.whole && (!input.mbox || input.gzip))
        bad("shard " + std::to_string(out.number) + ": a byte range of " + input.path +
            ", which is not a plain mbox");
      out.pieces.push_back(piece);
    }
    manifest.shards.push_back(std::move(out));
  }
  if (manifest.shards.empty()) bad("no shards");
  manifest.digest = fingerprint(text);
  return manifest;
}

Manifest read_manifest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StoreError("cannot read the manifest " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  try {
    return parse_manifest(buffer.str());
  } catch (const StoreError& error) {
    throw StoreError(path + ": " + error.what());
  }
}

void check_manifest_inputs(const Manifest& manifest) {
  std::string problems;
  for (const ManifestInput& input : manifest.inputs) {
    struct stat st {};
    std::string what;
    if (::stat(input.path.c_str(), &st) != 0) {
      what = "missing";
    } else if (static_cast<uint64_t>(st.st_size) != input.size) {
      what = "size " + std::to_string(st.st_size) + ", planned " + std::to_string(input.size);
    } else if (static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec !=
               input.mtime_ns) {
      what = "modified since the plan";
    }
    if (!what.empty()) problems += "\n  " + input.path + ": " + what;
  }
  if (!problems.empty())
    throw StoreError("the manifest no longer matches its inputs (plan again):" + problems);
}

const ManifestShard& manifest_shard(const Manifest& manifest, uint64_t number) {
  if (number < static_cast<uint64_t>(manifest.index_base) ||
      number - manifest.index_base >= manifest.shards.size())
    throw StoreError("shard " + std::to_string(number) + " is not in the manifest (shards " +
                     std::to_string(manifest.index_base) + " to " +
                     std::to_string(manifest.index_base + manifest.shards.size() - 1) + ")");
  return manifest.shards[number - manifest.index_base];
}

std::vector<std::string> shard_inputs(const Manifest& manifest, const ManifestShard& shard,
                                      SourceOptions& source) {
  std::vector<std::string> inputs;
  for (const ManifestPiece& piece : shard.pieces) {
    const ManifestInput& input = manifest.inputs[piece.input];
    InputSlice slice;
    slice.walked = input.walked;
    slice.maildir = input.maildir;
    if (!piece.whole) {
      slice.begin = piece.begin;
      slice.end = piece.end;
      slice.first_index = piece.first_index;
    }
    if (!source.slices.emplace(input.path, slice).second)
      throw StoreError("manifest: " + input.path + " twice in shard " +
                       std::to_string(shard.number));
    inputs.push_back(input.path);
  }
  return inputs;
}

}  // namespace credsift
