// Magic bytes of formats that are never mail. Only signatures that text cannot start with (a
// binary byte, or a long exact literal) are listed, so that a plain text file that merely does
// not look like mail is still read as one message when a user names it.
#include "not_mail.hpp"

#include <array>
#include <cstdint>

namespace credsift::source_detail {
namespace {

using namespace std::string_view_literals;

struct Magic {
  size_t offset;
  std::string_view bytes;
  std::string_view type;
};

constexpr std::array kMagic{
    Magic{0, "\xFF\xD8\xFF"sv, "JPEG image"},
    Magic{0, "\x89PNG\r\n\x1A\n"sv, "PNG image"},
    Magic{0, "GIF87a"sv, "GIF image"},
    Magic{0, "GIF89a"sv, "GIF image"},
    Magic{0, "II*\0"sv, "TIFF image"},
    Magic{0, "MM\0*"sv, "TIFF image"},
    Magic{0, "%PDF-"sv, "PDF document"},
    Magic{0, "SQLite format 3\0"sv, "SQLite database"},
    Magic{0,
          "\x7F"
          "ELF"sv,
          "ELF executable"},
    Magic{0, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"sv, "OLE2 compound file (Office document or .msg)"},
    Magic{0, "!BDN"sv, "Outlook PST/OST"},
    Magic{0, "7z\xBC\xAF\x27\x1C"sv, "7-Zip archive"},
    Magic{0, "Rar!\x1A\x07"sv, "RAR archive"},
    Magic{0,
          "\xFD"
          "7zXZ\0"sv,
          "xz data"},
    Magic{0, "\x28\xB5\x2F\xFD"sv, "Zstandard data"},
    Magic{257, "ustar"sv, "tar archive"},
    Magic{0, "OggS\0"sv, "Ogg media"},
    Magic{0, "fLaC\0"sv, "FLAC audio"},
    Magic{0, "\0asm\x01\0\0\0"sv, "WebAssembly module"},
    Magic{0, "\xCA\xFE\xBA\xBE"sv, "Java class or Mach-O binary"},
    Magic{0, "\xCF\xFA\xED\xFE"sv, "Mach-O binary"},
    Magic{0, "\xFE\xED\xFA\xCF"sv, "Mach-O binary"},
};

bool has(std::string_view head, size_t offset, std::string_view bytes) {
  return head.size() >= offset + bytes.size() && head.substr(offset, bytes.size()) == bytes;
}

uint32_t le32(std::string_view head, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v |= uint32_t(static_cast<unsigned char>(head[at + i])) << (8 * i);
  return v;
}

// A zip's first local header names its first entry: Office Open XML and OpenDocument files
// say what they are there.
std::string_view zip_type(std::string_view head) {
  constexpr size_t kNameAt = 30;
  if (head.size() >= kNameAt && has(head, 0, "PK\x03\x04"sv)) {
    const size_t name_length =
        static_cast<unsigned char>(head[26]) | size_t(static_cast<unsigned char>(head[27])) << 8;
    const std::string_view name = head.substr(kNameAt, name_length);
    if (name == "[Content_Types].xml" || name.starts_with("_rels/") ||
        name.starts_with("docProps/") || name.starts_with("word/") || name.starts_with("xl/") ||
        name.starts_with("ppt/"))
      return "Office Open XML document";
    if (name == "mimetype" &&
        head.substr(kNameAt + name_length).starts_with("application/vnd.oasis.opendocument"))
      return "OpenDocument file";
    if (name == "META-INF/MANIFEST.MF" || name == "META-INF/") return "Java archive";
  }
  return "ZIP archive";
}

}  // namespace

std::string_view not_mail_type(std::string_view head) {
  for (const Magic& magic : kMagic)
    if (has(head, magic.offset, magic.bytes)) return magic.type;
  if (has(head, 0, "PK\x03\x04"sv) || has(head, 0, "PK\x05\x06"sv) || has(head, 0, "PK\x07\x08"sv))
    return zip_type(head);
  // bzip2: "BZh", the block size digit, then the block magic (pi in BCD).
  if (head.size() >= 10 && has(head, 0, "BZh"sv) && head[3] >= '1' && head[3] <= '9' &&
      has(head, 4, "\x31\x41\x59\x26\x53\x59"sv))
    return "bzip2 data";
  if (has(head, 0, "RIFF"sv) && head.size() >= 12) {
    const std::string_view form = head.substr(8, 4);
    if (form == "WEBP") return "WebP image";
    if (form == "WAVE") return "WAV audio";
    if (form == "AVI ") return "AVI video";
  }
  // ISO base media (MP4, MOV, HEIC): a box size, then "ftyp".
  if (has(head, 4, "ftyp"sv) && head[0] == '\0') return "MP4/ISO media";
  if (has(head, 0, "ID3"sv) && head.size() >= 10 && static_cast<unsigned char>(head[3]) < 5 &&
      static_cast<unsigned char>(head[4]) == 0)
    return "MP3 audio";
  // Windows PE: "MZ", and at e_lfanew the "PE\0\0" signature (inside what was read).
  if (has(head, 0, "MZ"sv) && head.size() >= 0x40) {
    const uint32_t pe = le32(head, 0x3C);
    if (pe <= head.size() - 4 && has(head, pe, "PE\0\0"sv)) return "Windows executable";
  }
  return {};
}

}  // namespace credsift::source_detail
