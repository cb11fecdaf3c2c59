// TNEF (winmail.dat, application/ms-tnef; MS-OXTNEF): Outlook's wrapper for a message's bodies
// and attachments. Read by a bounded single pass over the attribute stream: message bodies
// (attBody, and PR_BODY / PR_HTML / PR_RTF_COMPRESSED in attMAPIProps) become segments under
// the attachment's path ("2:attachment=winmail.dat!body"), attachments inside it (attAttachData,
// or PR_ATTACH_DATA_BIN in attAttachment) are decoded as attachments ("...!report.doc").
// Embedded messages (PR_ATTACH_DATA_OBJ) are TNEF streams themselves, decoded one level deeper.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "extract_internal.hpp"

namespace credsift::mime_detail {

namespace {

constexpr uint32_t kTnefSignature = 0x223E9F78;
constexpr size_t kMaxAttachments = 4096;

uint16_t le16(std::string_view s, size_t at) {
  return uint16_t(uint8_t(s[at]) | uint8_t(s[at + 1]) << 8);
}
uint32_t le32(std::string_view s, size_t at) {
  return uint32_t(le16(s, at)) | uint32_t(le16(s, at + 2)) << 16;
}

// Attribute ids (low 16 bits of the attribute's id).
constexpr uint16_t attBody = 0x800C;
constexpr uint16_t attAttachData = 0x800F;
constexpr uint16_t attAttachTitle = 0x8010;
constexpr uint16_t attAttachRendData = 0x9002;
constexpr uint16_t attMAPIProps = 0x9003;
constexpr uint16_t attAttachment = 0x9005;
constexpr uint16_t attOemCodepage = 0x9007;

// MAPI property tags used.
constexpr uint16_t PR_BODY = 0x1000;
constexpr uint16_t PR_RTF_COMPRESSED = 0x1009;
constexpr uint16_t PR_HTML = 0x1013;
constexpr uint16_t PR_ATTACH_DATA = 0x3701;
constexpr uint16_t PR_ATTACH_FILENAME = 0x3704;
constexpr uint16_t PR_ATTACH_LONG_FILENAME = 0x3707;
constexpr uint16_t PR_DISPLAY_NAME = 0x3001;

constexpr uint16_t PT_STRING8 = 0x001E, PT_UNICODE = 0x001F, PT_BINARY = 0x0102, PT_OBJECT = 0x000D,
                   PT_MV = 0x1000;

size_t fixed_size(uint16_t type) {
  switch (type) {
    case 0x0002:  // PT_SHORT, padded
    case 0x0003:  // PT_LONG
    case 0x0004:  // PT_FLOAT
    case 0x000A:  // PT_ERROR
    case 0x000B:  // PT_BOOLEAN, padded
      return 4;
    case 0x0005:  // PT_DOUBLE
    case 0x0006:  // PT_CURRENCY
    case 0x0007:  // PT_APPTIME
    case 0x0014:  // PT_I8
    case 0x0040:  // PT_SYSTIME
      return 8;
    case 0x0048:  // PT_CLSID
      return 16;
    default:
      return 0;
  }
}

struct Property {
  uint16_t id = 0, type = 0;
  std::string_view value;  // the first value of variable-length properties
};

// attMAPIProps / attAttachment payload: a counted list of properties. Stops at the first
// malformed one (reported) and returns those read before it.
std::vector<Property> read_properties(std::string_view d, std::string& problem) {
  std::vector<Property> props;
  if (d.size() < 4) return props;
  const uint32_t count = le32(d, 0);
  size_t p = 4;
  auto need = [&](size_t n) { return n <= d.size() - p; };
  for (uint32_t i = 0; i < count; ++i) {
    if (!need(4)) {
      problem = "MAPI property list truncated";
      break;
    }
    Property prop;
    prop.type = le16(d, p);
    prop.id = le16(d, p + 2);
    p += 4;
    if (prop.id >= 0x8000) {  // named property: GUID, kind, id or name
      if (!need(20)) break;
      const uint32_t kind = le32(d, p + 16);
      p += 20;
      if (kind == 0) {
        if (!need(4)) break;
        p += 4;
      } else {
        if (!need(4)) break;
        const uint32_t n = le32(d, p);
        p += 4;
        if (!need(n)) break;
        p += (size_t(n) + 3) & ~size_t(3);
        if (p > d.size()) break;
      }
    }
    const bool multi = prop.type & PT_MV;
    const uint16_t base = prop.type & ~PT_MV;
    uint32_t values = 1;
    const bool variable =
        base == PT_STRING8 || base == PT_UNICODE || base == PT_BINARY || base == PT_OBJECT;
    if (multi || variable) {
      if (!need(4)) break;
      values = le32(d, p);
      p += 4;
    }
    bool bad = false;
    for (uint32_t v = 0; v < values; ++v) {
      if (variable) {
        if (!need(4)) {
          bad = true;
          break;
        }
        const uint32_t n = le32(d, p);
        p += 4;
        if (!need(n)) {
          bad = true;
          break;
        }
        if (v == 0) prop.value = d.substr(p, n);
        p += (size_t(n) + 3) & ~size_t(3);
        if (p > d.size()) p = d.size();
      } else {
        const size_t n = fixed_size(base);
        if (n == 0 || !need(n)) {
          bad = true;
          break;
        }
        if (v == 0) prop.value = d.substr(p, n);
        p += n;
      }
    }
    if (bad) {
      problem = "MAPI property " + std::to_string(prop.id) + " malformed";
      break;
    }
    props.push_back(prop);
  }
  return props;
}

struct TnefAttachment {
  std::string name;
  std::string_view data;
  bool embedded_message = false;
};

std::string string_value(const Property& p, const std::string& charset) {
  std::string_view v = p.value;
  if ((p.type & ~PT_MV) == PT_UNICODE) {
    std::string s = to_utf8(v, "UTF-16LE");
    while (!s.empty() && s.back() == '\0') s.pop_back();
    return s;
  }
  while (!v.empty() && v.back() == '\0') v.remove_suffix(1);
  return to_utf8(v, charset);
}

}  // namespace

bool is_tnef(std::string_view bytes) {
  return bytes.size() >= 6 && le32(bytes, 0) == kTnefSignature;
}

void decode_tnef(std::string_view bytes, const std::string& path, uint64_t offset, size_t depth,
                 DecodeContext& ctx, DecodedMessage& dm) {
  if (depth >= ctx.limits.max_archive_depth || depth >= kHardArchiveDepth) {
    add_problem(dm.problems, offset,
                path + ": TNEF nesting depth limit " +
                    std::to_string(ctx.limits.max_archive_depth) + " reached; not decoded");
    return;
  }
  std::string charset = "windows-1252";
  std::vector<TnefAttachment> attachments;
  auto emit_text = [&](std::string text, const std::string& sub) {
    if (trim(text).empty() || !charge(ctx, text.size(), sub, offset, dm)) return;
    dm.storage.push_back(std::make_unique<std::string>(std::move(text)));
    dm.segments.push_back({*dm.storage.back(), sub, SegmentKind::AttachmentContent});
  };
  auto body_properties = [&](const std::vector<Property>& props) {
    for (const Property& prop : props) {
      if (prop.id == PR_BODY && ((prop.type == PT_STRING8) || prop.type == PT_UNICODE)) {
        emit_text(string_value(prop, charset), path + "!body");
      } else if (prop.id == PR_HTML &&
                 (prop.type == PT_BINARY || prop.type == PT_STRING8 || prop.type == PT_UNICODE)) {
        std::string html =
            prop.type == PT_UNICODE ? string_value(prop, charset) : to_utf8(prop.value, "");
        emit_text(html_to_text(html), path + "!body.html");
      } else if (prop.id == PR_RTF_COMPRESSED && prop.type == PT_BINARY) {
        const uint64_t budget = ctx.limits.max_decompressed_bytes - ctx.decompressed;
        LzfuResult rtf =
            decompress_lzfu(prop.value, size_t(std::min<uint64_t>(budget, 256u << 20)));
        if (!rtf.error.empty()) add_problem(dm.problems, offset, path + "!body.rtf: " + rtf.error);
        if (!rtf.text.empty())
          decode_rtf(rtf.text, path + "!body.rtf", offset, SegmentKind::AttachmentContent, ctx, dm);
      }
    }
  };
  size_t p = 6;  // signature, legacy key
  bool in_attachment = false;
  while (p < bytes.size()) {
    if (bytes.size() - p < 9) {
      add_problem(dm.problems, offset,
                  path + ": TNEF attribute header truncated at offset " + std::to_string(p));
      break;
    }
    const uint8_t level = uint8_t(bytes[p]);
    const uint32_t id = le32(bytes, p + 1);
    const uint32_t length = le32(bytes, p + 5);
    p += 9;
    if (length > bytes.size() - p || bytes.size() - p - length < 2) {
      add_problem(dm.problems, offset,
                  path + ": TNEF attribute at offset " + std::to_string(p - 9) +
                      " is longer than the stream");
      break;
    }
    std::string_view data = bytes.substr(p, length);
    p += length + 2;  // checksum not verified: a wrong one still carries readable data
    const uint16_t att = uint16_t(id & 0xFFFF);
    (void)level;
    if (att == attOemCodepage && data.size() >= 4) {
      const uint32_t cp = le32(data, 0);
      charset = cp == 65001 ? "UTF-8" : cp ? "CP" + std::to_string(cp) : "windows-1252";
    } else if (att == attBody) {
      std::string_view v = data;
      while (!v.empty() && v.back() == '\0') v.remove_suffix(1);
      emit_text(to_utf8(v, charset), path + "!body");
    } else if (att == attMAPIProps) {
      std::string problem;
      body_properties(read_properties(data, problem));
      if (!problem.empty()) add_problem(dm.problems, offset, path + ": " + problem);
    } else if (att == attAttachRendData) {
      if (attachments.size() >= kMaxAttachments) {
        add_problem(dm.problems, offset, path + ": too many TNEF attachments; the rest skipped");
        break;
      }
      attachments.emplace_back();
      in_attachment = true;
    } else if (in_attachment && att == attAttachTitle) {
      std::string_view v = data;
      while (!v.empty() && v.back() == '\0') v.remove_suffix(1);
      if (attachments.back().name.empty()) attachments.back().name = to_utf8(v, charset);
    } else if (in_attachment && att == attAttachData) {
      attachments.back().data = data;
    } else if (in_attachment && att == attAttachment) {
      std::string problem;
      for (const Property& prop : read_properties(data, problem)) {
        TnefAttachment& a = attachments.back();
        if ((prop.id == PR_ATTACH_LONG_FILENAME ||
             (prop.id == PR_ATTACH_FILENAME && a.name.empty()) ||
             (prop.id == PR_DISPLAY_NAME && a.name.empty())) &&
            (prop.type == PT_STRING8 || prop.type == PT_UNICODE)) {
          std::string name = string_value(prop, charset);
          if (!name.empty()) a.name = std::move(name);
        } else if (prop.id == PR_ATTACH_DATA && prop.type == PT_BINARY) {
          a.data = prop.value;
        } else if (prop.id == PR_ATTACH_DATA && prop.type == PT_OBJECT && prop.value.size() > 16) {
          a.data = prop.value.substr(16);  // after the interface id
          a.embedded_message = is_tnef(a.data);
        }
      }
      if (!problem.empty()) add_problem(dm.problems, offset, path + ": " + problem);
    }
  }
  size_t index = 0;
  for (TnefAttachment& a : attachments) {
    ++index;
    if (a.name.size() > 1024) a.name.resize(1024);
    for (char& c : a.name)
      if (c == '\n' || c == '\r') c = ' ';
    std::string name = a.name.empty() ? "attachment" + std::to_string(index) : a.name;
    if (ctx.parts >= ctx.limits.max_parts) {
      if (!ctx.parts_reported)
        add_problem(dm.problems, offset,
                    path + ": part limit " + std::to_string(ctx.limits.max_parts) +
                        " reached; remaining TNEF attachments skipped");
      ctx.parts_reported = true;
      break;
    }
    ++ctx.parts;
    const std::string sub = path + "!" + name;
    dm.storage.push_back(std::make_unique<std::string>(name));
    dm.segments.push_back({*dm.storage.back(), sub + ":filename", SegmentKind::AttachmentName});
    if (a.embedded_message)
      decode_tnef(a.data, sub, offset, depth + 1, ctx, dm);
    else
      decode_blob(a.data, name, sub, offset, depth + 1, ctx, dm);
  }
}

}  // namespace credsift::mime_detail
