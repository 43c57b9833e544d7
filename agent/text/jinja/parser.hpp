#pragma once
// Parses a Jinja template into a syntax tree, with Jinja2's grammar and
// operator precedence. Only what chat templates use is accepted; anything
// else (an unknown tag, filter or test, extends/include/import, *args) is
// refused here, at load, with its line and column.

#include "text/jinja/ast.hpp"
#include "text/jinja/lexer.hpp"

#include <string_view>

namespace tether::agent::text::jinja {

// Throws template_error with the line and column of the first problem.
template_ast parse(std::string_view source, const lexer_options& options = {});

// Names the interpreter knows, so the parser can refuse the rest at load.
bool known_filter(std::string_view name);
bool known_test(std::string_view name);

} // namespace tether::agent::text::jinja
