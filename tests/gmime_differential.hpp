#pragma once
// credsift's part tree against GMime 3's parser: what the GMime differential tests share
// (tests/unit/mime_gmime_test.cpp on our small corpora, tests/corpora/realmail_test.cpp on the
// SpamAssassin public corpus). The caller runs g_mime_init() once before using it.
#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "credsift/mime.hpp"

namespace credsift::gmime_differential {

using credsift::PartLeaf;

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline std::string join_path(const std::string& prefix, int i) {
  return prefix.empty() ? std::to_string(i) : prefix + "." + std::to_string(i);
}

inline std::string decoded_content(GMimePart* part) {
  GMimeDataWrapper* dw = g_mime_part_get_content(part);
  if (!dw) return {};
  GMimeStream* mem = g_mime_stream_mem_new();
  GMimeStream* filtered = g_mime_stream_filter_new(mem);
  GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(dw);
  if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
      enc == GMIME_CONTENT_ENCODING_UUENCODE) {
    GMimeFilter* f = g_mime_filter_basic_new(enc, FALSE);
    g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), f);
    g_object_unref(f);
  }
  GMimeStream* src = g_mime_data_wrapper_get_stream(dw);
  g_mime_stream_reset(src);
  g_mime_stream_write_to_stream(src, filtered);
  g_mime_stream_flush(filtered);
  GByteArray* arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
  std::string out(reinterpret_cast<const char*>(arr->data), arr->len);
  g_object_unref(filtered);
  g_object_unref(mem);
  return out;
}

inline void gmime_walk(GMimeObject* obj, const std::string& leaf_path, const std::string& prefix,
                       std::vector<PartLeaf>& out) {
  if (GMIME_IS_MULTIPART(obj)) {
    int n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
    for (int i = 0; i < n; ++i) {
      std::string p = join_path(prefix, i + 1);
      gmime_walk(g_mime_multipart_get_part(GMIME_MULTIPART(obj), i), p, p, out);
    }
  } else if (GMIME_IS_MESSAGE_PART(obj)) {
    GMimeMessage* msg = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    if (msg && msg->mime_part) gmime_walk(msg->mime_part, leaf_path + ".1", leaf_path, out);
  } else if (GMIME_IS_PART(obj)) {
    PartLeaf leaf;
    leaf.path = leaf_path;
    char* type = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(obj));
    leaf.content_type = lower(type ? type : "");
    g_free(type);
    const char* fn = g_mime_part_get_filename(GMIME_PART(obj));
    leaf.filename = fn ? fn : "";
    leaf.body = decoded_content(GMIME_PART(obj));
    out.push_back(std::move(leaf));
  }
}

inline std::vector<PartLeaf> gmime_leaves(const std::string& raw, std::string* subject) {
  std::vector<PartLeaf> out;
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(raw.data(), raw.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
  if (msg) {
    if (msg->mime_part) gmime_walk(msg->mime_part, "1", "", out);
    const char* subj = g_mime_message_get_subject(msg);
    *subject = subj ? subj : "";
    g_object_unref(msg);
  }
  g_object_unref(parser);
  g_object_unref(stream);
  return out;
}

inline std::string show(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 200)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 32 || c >= 127) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out;
}

// Where two strings first differ, with some bytes before it, for failure messages.
inline std::string first_difference(const std::string& a, const std::string& b) {
  size_t at = 0;
  while (at < a.size() && at < b.size() && a[at] == b[at]) ++at;
  const size_t from = at > 40 ? at - 40 : 0;
  return "(sizes " + std::to_string(a.size()) + " vs " + std::to_string(b.size()) +
         ", first difference at byte " + std::to_string(at) + ") '" + show(a.substr(from)) +
         "' vs '" + show(b.substr(from)) + "'";
}

enum class Field { Count, Path, Type, Filename, Body, Subject };

// One difference between the trees, described for the failure message.
struct Difference {
  std::string what;
  Field field;
  std::string ours, theirs;
};

inline std::vector<Difference> compare(const std::vector<PartLeaf>& ours,
                                       const std::vector<PartLeaf>& theirs) {
  std::vector<Difference> diffs;
  if (ours.size() != theirs.size())
    diffs.push_back({"leaf count: ours " + std::to_string(ours.size()) + ", GMime " +
                         std::to_string(theirs.size()),
                     Field::Count, std::to_string(ours.size()), std::to_string(theirs.size())});
  for (size_t i = 0; i < std::min(ours.size(), theirs.size()); ++i) {
    const PartLeaf& a = ours[i];
    const PartLeaf& b = theirs[i];
    if (a.path != b.path)
      diffs.push_back({"path " + a.path + " vs " + b.path, Field::Path, a.path, b.path});
    if (a.content_type != b.content_type)
      diffs.push_back({a.path + " content type " + a.content_type + " vs " + b.content_type,
                       Field::Type, a.content_type, b.content_type});
    if (a.filename != b.filename)
      diffs.push_back({a.path + " filename '" + a.filename + "' vs '" + b.filename + "'",
                       Field::Filename, a.filename, b.filename});
    if (a.body != b.body)
      diffs.push_back(
          {a.path + " body " + first_difference(a.body, b.body), Field::Body, a.body, b.body});
  }
  return diffs;
}

inline std::string describe(const std::vector<Difference>& diffs) {
  std::string s;
  for (auto& d : diffs) s += "  " + d.what + "\n";
  return s;
}

inline std::string strip_trailing_space_before_eol(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ' ' || s[i] == '\t') {
      size_t j = i;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      if (j == s.size() || s[j] == '\n' || (s[j] == '\r' && j + 1 < s.size() && s[j + 1] == '\n')) {
        i = j - 1;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Every difference between credsift's leaves and subject and GMime's, for one raw message.
inline std::vector<Difference> differences(const std::string& raw) {
  auto ours = credsift::part_leaves(raw);
  std::string their_subject;
  auto theirs = gmime_leaves(raw, &their_subject);
  auto diffs = compare(ours, theirs);
  std::string our_subject = credsift::decode_message(raw).envelope.subject;
  if (our_subject != their_subject)
    diffs.push_back({"subject " + first_difference(our_subject, their_subject), Field::Subject,
                     our_subject, their_subject});
  return diffs;
}

}  // namespace credsift::gmime_differential
