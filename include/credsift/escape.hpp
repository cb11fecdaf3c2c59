#pragma once
// Escaping of text from mail (file names, addresses, subjects, charset names) before it reaches a
// human: a terminal, a CSV cell, a Markdown table. Mail is hostile: an ESC sequence can rewrite
// the terminal, a bidi override can make "exe.txt" read as "txt.exe".
#include <string>
#include <string_view>

namespace credsift {

// text with every character that could steer a terminal or reorder what is shown made visible:
// C0 controls except tab (so also CR and LF) and DEL as "\x1b"; C1 controls (U+0080..U+009F)
// and the bidi controls U+200E, U+200F, U+202A..U+202E, U+2066..U+2069 as "\u{202e}"; bytes
// that are not UTF-8 as "\xff". Everything else, backslashes included, is kept as it is.
std::string escape_for_terminal(std::string_view text);

// A file name as reports write it (JSON, CSV, Markdown; SARIF percent-encodes its URIs): bytes
// that are not UTF-8 as "\xNN" and a backslash as "\\", everything else as it is, so that
// `printf '%b' NAME` gives the original bytes back, and a UTF-8 name without backslashes is
// unchanged. (Without it, such bytes became U+FFFD and the file could not be found.)
std::string escape_file_name(std::string_view name);

// True for the code points that escape_for_terminal shows as "\u{...}" (C1 controls and bidi
// controls): json_escape writes them as \u escapes too.
bool is_invisible_control(char32_t code);

// The code point of the UTF-8 sequence at text[i] and its length, or length 0 when the bytes
// there are not valid UTF-8 (overlong forms and surrogates included). i < text.size().
struct Utf8Char {
  char32_t code = 0;
  size_t length = 0;
};
Utf8Char decode_utf8(std::string_view text, size_t i);

}  // namespace credsift
