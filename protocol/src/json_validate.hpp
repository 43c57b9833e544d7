#pragma once
// Internal to tether_protocol: the one place that walks a whole simdjson
// on-demand document, validating every byte of it (structure, UTF-8, escapes,
// number grammar, depth, string sizes) and optionally re-emitting it compactly.
// The frame readers run this first so that everything they skip is valid too.

#include "tether/protocol/codec.hpp"

#include <simdjson.h>

#include <optional>
#include <string>

namespace tether::protocol::detail {

using maybe_error = std::optional<parse_error>;

parse_error make_error(parse_errc code, std::string message);
// Maps a simdjson error met at `where` to our codes (depth, size, or invalid JSON).
parse_error from_simdjson(simdjson::error_code e, std::string_view where);

// Nesting limit actually applied: the caller's, capped so recursion stays shallow.
std::size_t depth_limit(const parse_limits& limits);

// A parser sized for `text` and the depth limit; nullopt-like error when allocation fails.
maybe_error prepare_parser(simdjson::ondemand::parser& parser, const simdjson::padded_string& text,
                           const parse_limits& limits);

// Validates the whole document. `require_object`: the top level must be an
// object (not_an_object otherwise). Appends the compact form to `out` if given.
maybe_error validate_document(const simdjson::padded_string& text, const parse_limits& limits, bool require_object,
                              std::string* out);

// Where a value sits, for error messages ("payload.files[2].name"); built
// into text only when an error is reported, so walking stays allocation-free.
struct json_path {
    const json_path* parent = nullptr;
    std::string_view key; // a field name (or, at the root, a whole prefix such as "payload.params")
    std::size_t index = 0;
    bool is_index = false;
    std::string str() const;
};

// Appends the compact form of `v`, found at nesting `depth` (the top level is
// 0), validating it on the way.
maybe_error emit_value(simdjson::ondemand::value v, std::size_t depth, const parse_limits& limits,
                       const json_path& where, std::string* out);

} // namespace tether::protocol::detail
