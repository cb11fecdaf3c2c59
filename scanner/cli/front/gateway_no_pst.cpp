// credsift-gateway's PST/OST entry points: the gateway checks one message from stdin or a socket
// and never needs libpff, whose reader (scanner/source/pst.cpp) would otherwise come in through
// the pipeline's file sources and put libpff on every check's start. Linked as an object into
// credsift-gateway only, these definitions satisfy message_source.cpp's references first, so the
// linker never takes pst.cpp out of libcredsift_source.a (a second definition would fail the
// link loudly, never pass silently). A PST met here fails by name; `credsift scan` reads it.
#include "../../source/outlook.hpp"

namespace credsift::source_detail {

// The same magic checks as pst.cpp (MS-PST 2.2.2.6, the OLE2 compound file header).
bool is_pst_magic(std::string_view head) { return head.substr(0, 4) == "!BDN"; }

bool is_ole2_magic(std::string_view head) {
  return head.substr(0, 8) == std::string_view("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
}

std::unique_ptr<ItemReader> open_pst(std::shared_ptr<const std::string> /*file*/,
                                     const SourceOptions& /*options*/, ItemReport /*report*/,
                                     std::string& error) {
  error = "a PST/OST file: credsift-gateway is built without libpff; `credsift scan` reads it";
  return nullptr;
}

}  // namespace credsift::source_detail
