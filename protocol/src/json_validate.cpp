#include "json_validate.hpp"

#include "tether/protocol/json_writer.hpp"

#include <fmt/format.h>

namespace tether::protocol::detail {
namespace {

namespace od = simdjson::ondemand;

// simdjson's own stack is sized for this; deeper input is refused as too_deep.
constexpr std::size_t hard_depth_cap = 1024;

std::string_view trim_json_space(std::string_view s) {
    const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    return s;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// Checked on the token itself so that valid numbers simdjson cannot hold in
// a double or a 64-bit integer (1e400, 2^64+1) still pass through unchanged.
bool is_json_number(std::string_view s) {
    std::size_t i = 0;
    if (i < s.size() && s[i] == '-') ++i;
    if (i >= s.size()) return false;
    if (s[i] == '0') {
        ++i;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < s.size() && is_digit(s[i]))
            ++i;
    } else {
        return false;
    }
    if (i < s.size() && s[i] == '.') {
        ++i;
        const std::size_t start = i;
        while (i < s.size() && is_digit(s[i]))
            ++i;
        if (i == start) return false;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        const std::size_t start = i;
        while (i < s.size() && is_digit(s[i]))
            ++i;
        if (i == start) return false;
    }
    return i == s.size();
}

std::string place(const json_path& where) {
    std::string s = where.str();
    return s.empty() ? std::string("$") : s;
}

maybe_error check_string_size(std::string_view s, const parse_limits& limits, const json_path& where) {
    if (s.size() > limits.max_string_bytes)
        return make_error(parse_errc::too_large, fmt::format("{}: string of {} bytes is over the limit of {}",
                                                             place(where), s.size(), limits.max_string_bytes));
    return std::nullopt;
}

// A scalar other than a string: the raw token must be exactly a literal or a number.
maybe_error emit_literal(std::string_view token, od::json_type type, const json_path& where, std::string* out) {
    token = trim_json_space(token);
    bool ok = false;
    switch (type) {
    case od::json_type::number:
        ok = is_json_number(token);
        break;
    case od::json_type::boolean:
        ok = token == "true" || token == "false";
        break;
    case od::json_type::null:
        ok = token == "null";
        break;
    default:
        break;
    }
    if (!ok)
        return make_error(parse_errc::invalid_json,
                          fmt::format("{}: malformed value '{}'", place(where), token.substr(0, 32)));
    if (out) out->append(token);
    return std::nullopt;
}

maybe_error emit_object(od::value& v, std::size_t depth, const parse_limits& limits, const json_path& where,
                        std::string* out) {
    od::object obj;
    if (auto e = v.get_object().get(obj)) return from_simdjson(e, where.str());
    if (out) out->push_back('{');
    bool first = true;
    for (auto field_result : obj) {
        if (auto e = field_result.error()) return from_simdjson(e, where.str());
        od::field field = std::move(field_result).value_unsafe();
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return from_simdjson(e, where.str());
        if (auto err = check_string_size(key, limits, where)) return err;
        const json_path path{&where, key.substr(0, 64)};
        if (out) {
            if (!first) out->push_back(',');
            append_json_string(*out, key);
            out->push_back(':');
        }
        first = false;
        if (auto err = emit_value(field.value(), depth + 1, limits, path, out)) return err;
    }
    if (out) out->push_back('}');
    return std::nullopt;
}

maybe_error emit_array(od::value& v, std::size_t depth, const parse_limits& limits, const json_path& where,
                       std::string* out) {
    od::array arr;
    if (auto e = v.get_array().get(arr)) return from_simdjson(e, where.str());
    if (out) out->push_back('[');
    std::size_t index = 0;
    for (auto element_result : arr) {
        if (auto e = element_result.error()) return from_simdjson(e, where.str());
        if (out && index != 0) out->push_back(',');
        const json_path path{&where, {}, index, true};
        if (auto err = emit_value(std::move(element_result).value_unsafe(), depth + 1, limits, path, out)) return err;
        ++index;
    }
    if (out) out->push_back(']');
    return std::nullopt;
}

} // namespace

std::string json_path::str() const {
    std::string prefix = parent ? parent->str() : std::string();
    if (is_index) return fmt::format("{}[{}]", prefix, index);
    if (prefix.empty()) return std::string(key);
    if (key.empty()) return prefix;
    return fmt::format("{}.{}", prefix, key);
}

parse_error make_error(parse_errc code, std::string message) {
    return parse_error{code, std::move(message), {}};
}

parse_error from_simdjson(simdjson::error_code e, std::string_view where) {
    const std::string_view at = where.empty() ? std::string_view("$") : where;
    switch (e) {
    case simdjson::DEPTH_ERROR:
        return make_error(parse_errc::too_deep, fmt::format("{}: nested too deeply", at));
    case simdjson::CAPACITY:
    case simdjson::MEMALLOC:
        return make_error(parse_errc::too_large, fmt::format("{}: {}", at, simdjson::error_message(e)));
    case simdjson::UTF8_ERROR:
        return make_error(parse_errc::invalid_json, fmt::format("{}: invalid UTF-8", at));
    default:
        return make_error(parse_errc::invalid_json, fmt::format("{}: {}", at, simdjson::error_message(e)));
    }
}

std::size_t depth_limit(const parse_limits& limits) {
    return std::min(limits.max_depth, hard_depth_cap);
}

maybe_error prepare_parser(od::parser& parser, const simdjson::padded_string& text, const parse_limits& limits) {
    // One level of slack: our own counter reports too_deep before simdjson does.
    if (auto e = parser.allocate(std::max<std::size_t>(text.size(), 64), depth_limit(limits) + 2))
        return from_simdjson(e, "");
    return std::nullopt;
}

maybe_error emit_value(od::value v, std::size_t depth, const parse_limits& limits, const json_path& where,
                       std::string* out) {
    od::json_type type;
    if (auto e = v.type().get(type)) return from_simdjson(e, where.str());
    switch (type) {
    case od::json_type::object:
    case od::json_type::array:
        if (depth + 1 > depth_limit(limits))
            return make_error(parse_errc::too_deep,
                              fmt::format("{}: nesting deeper than {}", place(where), depth_limit(limits)));
        return type == od::json_type::object ? emit_object(v, depth, limits, where, out)
                                             : emit_array(v, depth, limits, where, out);
    case od::json_type::string: {
        std::string_view s;
        if (auto e = v.get_string().get(s)) return from_simdjson(e, where.str());
        if (auto err = check_string_size(s, limits, where)) return err;
        if (out) append_json_string(*out, s);
        return std::nullopt;
    }
    default:
        // Left unconsumed on purpose: simdjson skips it, and numbers it cannot
        // represent are still valid JSON here.
        return emit_literal(v.raw_json_token(), type, where, out);
    }
}

maybe_error validate_document(const simdjson::padded_string& text, const parse_limits& limits, bool require_object,
                              std::string* out) {
    od::parser parser;
    if (auto err = prepare_parser(parser, text, limits)) return err;
    od::document doc;
    if (auto e = parser.iterate(text).get(doc)) return from_simdjson(e, "");
    od::json_type type;
    if (auto e = doc.type().get(type)) return from_simdjson(e, "");
    if (require_object && type != od::json_type::object)
        return make_error(parse_errc::not_an_object, "top level is not a JSON object");

    if (type == od::json_type::object || type == od::json_type::array) {
        od::value root;
        if (auto e = doc.get_value().get(root)) return from_simdjson(e, "");
        if (auto err = emit_value(root, 0, limits, json_path{}, out)) return err;
        // After the whole value, only whitespace may follow.
        const char* rest = nullptr;
        if (doc.current_location().get(rest) == simdjson::SUCCESS)
            return make_error(parse_errc::invalid_json, "unexpected text after the JSON value");
        return std::nullopt;
    }

    // A scalar document: simdjson does not check what follows some scalars, so
    // the token must be the whole (trimmed) input.
    const std::string_view whole = trim_json_space(std::string_view(text.data(), text.size()));
    const std::string_view token = trim_json_space(doc.raw_json_token());
    if (token.size() != whole.size())
        return make_error(parse_errc::invalid_json, "unexpected text after the JSON value");
    if (type == od::json_type::string) {
        std::string_view s;
        if (auto e = doc.get_string().get(s)) return from_simdjson(e, "");
        if (auto err = check_string_size(s, limits, json_path{})) return err;
        if (out) append_json_string(*out, s);
        return std::nullopt;
    }
    return emit_literal(token, type, json_path{}, out);
}

} // namespace tether::protocol::detail
