#pragma once
// Splits a Jinja template into tokens the way Jinja2's lexer does with the
// settings transformers uses for chat templates: newlines normalized and one
// trailing newline dropped, trim_blocks (the newline after a block or
// comment tag goes), lstrip_blocks (spaces before a block tag on its line
// go), `-` and `+` whitespace control, {% raw %}, string literals unescaped
// like Python's unicode-escape, integers and floats with underscores.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::text::jinja {

enum class tok : std::uint8_t {
    data,           // template text
    variable_begin, // {{
    variable_end,   // }}
    block_begin,    // {%
    block_end,      // %}
    name,
    string,
    integer,
    floating,
    op, // + - * / // % ** ~ [ ] ( ) { } == != > >= < <= = . : | , ;
    eof,
};

struct token {
    tok type;
    std::string text; // data, name, unescaped string, operator, number spelling
    int line = 1;
    int column = 1;
};

struct lexer_options {
    bool trim_blocks = true;
    bool lstrip_blocks = true;
};

// Throws template_error (with line and column) on an unterminated tag,
// string or comment, an unknown character, or unbalanced brackets.
std::vector<token> lex(std::string_view source, const lexer_options& options = {});

} // namespace tether::agent::text::jinja
