#pragma once
// Text from mail on its way to a terminal: control characters, escape sequences (ANSI CSI, OSC,
// DCS ...), C1 controls, bidi overrides and invalid UTF-8 are made visible instead of being
// written raw, so that a hostile Subject can neither recolour, retitle nor reorder a terminal.
#include <string>
#include <string_view>

namespace credsift {

// Printable UTF-8 passes unchanged; every other byte or code point becomes a visible escape
// (`\x1b`, `\u{202e}`): the result holds no control character, not even a newline or a tab.
std::string escape_for_terminal(std::string_view text);

}  // namespace credsift
