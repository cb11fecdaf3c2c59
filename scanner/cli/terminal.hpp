#pragma once
// What the terminal view needs to know about where it is written: colour and width.
#include <cstddef>
#include <string>

namespace credsift::cli {

bool is_terminal(int fd);
// --color=never|always|auto (auto: a terminal, NO_COLOR unset or empty, TERM not "dumb").
// Throws boost::program_options::error on another value.
bool use_color(const std::string& setting, int fd);
// Columns of the terminal on fd (TIOCGWINSZ), else $COLUMNS, else 0 (the format's default).
size_t terminal_width(int fd);

}  // namespace credsift::cli
