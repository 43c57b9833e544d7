#pragma once
// Python's str behaviour where templates see it: isspace, title and
// capitalize, replace, split/rsplit, strip, upper/lower (full Unicode case
// mapping, via ICU), % formatting, and Jinja's |title and |escape; plus the
// argument checks the filters and methods share. Internal to agent/text/jinja.

#include "text/jinja/value.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace tether::agent::text::jinja {

// Python's str.isspace (what strip() and split() use).
bool py_space(char32_t c);
// A string's code points, and back.
std::u32string cps(std::string_view s);
std::string utf8(const std::u32string& s);
// The argument as a string / whole number, or a template_error naming `what`.
std::string need_string(const call_args& a, const value& v, const char* what);
std::int64_t need_int(const call_args& a, const value& v, const char* what);

// Python's str.title(): a cased character after an uncased one starts a word.
std::string py_title(std::string_view s);
std::string py_capitalize(std::string_view s);
// Jinja's |title: split on runs of [-\s({\[<] and capitalize each part.
std::string jinja_title(std::string_view s);
// str.replace(old, new, count); count < 0: all.
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, std::int64_t count);
// str.split / str.rsplit (sep None: runs of whitespace).
value py_split(const call_args& a, std::string_view s, const value& sep_v, std::int64_t maxsplit, bool from_right);
std::string html_escape(std::string_view s);
// Python's str.upper() / str.lower() (full Unicode case mapping).
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
// Python's str.strip(chars) family: `which` 'b' both, 'l' left, 'r' right.
std::string py_strip(std::string_view s, const value& chars, char which);
// Python's str % args (printf-style: %s %r %d %i %f %x %%).
std::string py_percent_format(std::string_view fmt, const value& args);

} // namespace tether::agent::text::jinja
