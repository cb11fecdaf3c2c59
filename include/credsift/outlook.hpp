#pragma once
// Outlook items shared by the stages that meet them: the PST/.msg readers of the source stage
// and the attachment decoder of the extract stage (an attached .msg, a TNEF body). One unit
// (scanner/outlook/) holds the MAPI property model, the rendering as RFC 5322, the .msg
// (MS-OXMSG) decoder and compressed RTF (MS-OXRTFCP), so that data flows one way.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credsift {

// Compressed RTF (MS-OXRTFCP): PR_RTF_COMPRESSED bodies of PST, .msg and TNEF items.
struct LzfuResult {
  std::string text;
  std::string error;
  bool truncated = false;  // max_output reached before the raw size
};
LzfuResult decompress_lzfu(std::string_view compressed, size_t max_output = size_t(64) << 20);

// Whether an OLE2 compound file may be handed to libolecf, from its first 512 bytes and its size.
// libolecf 20181231 sizes its tables from the header's counts before reading them: a header
// that claims more FAT, DIFAT, mini FAT or directory sectors than the file holds makes it
// allocate up to gigabytes (found by office_fuzz and msg_fuzz).
bool ole2_header_plausible(std::string_view header, uint64_t file_size);
// The header check, and the layout libolecf trusts unchecked: the mini stream parameters, the
// FAT, the directory chain, each stream's first sector and the mini FAT entries (a first sector
// far outside the file made libolecf 20181231 walk a sector chain for seconds on every read),
// the mini stream's chain and each small stream's chain. `why`, when given, gets the reason and
// the byte offset of the structure that is refused.
bool ole2_layout_plausible(std::string_view file, std::string* why = nullptr);

// An Outlook item file (.msg, OLE2) as an RFC 5322 message, so that the decoder reads a .msg
// attached to a mail like a message/rfc822 part; nullopt when the bytes are no .msg. The
// message holds at most max_bytes (larger attachments are left out and listed in problems).
std::optional<std::string> outlook_item_to_rfc5322(std::string_view file_bytes, uint64_t max_bytes,
                                                   std::vector<std::string>* problems = nullptr);

}  // namespace credsift
