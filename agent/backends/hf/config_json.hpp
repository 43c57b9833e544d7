#pragma once
// What the readers of a model folder's JSON files share: bounded reading of
// the file, parsing it (integers past 64 bits widened) into a json_view whose
// errors name the file and field, and range-checked whole-number fields. Every
// json_view error becomes a folder_error.

#include "backends/hf/folder_error.hpp"
#include "text/json_view.hpp"

#include <simdjson.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace tether::agent::hf {

// The text of `path`, at most `max_bytes`; "" when absent and not `required`.
inline std::string read_folder_file(const std::filesystem::path& path, std::size_t max_bytes, bool required,
                                    std::string_view what_it_is = {}) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (!required) return {};
        throw folder_error(path.string() + ": cannot read" + (what_it_is.empty() ? "" : " (" + std::string(what_it_is) + ")"));
    }
    std::error_code ec;
    if (auto size = std::filesystem::file_size(path, ec); !ec && size > max_bytes)
        throw folder_error(path.filename().string() + ": larger than " + std::to_string(max_bytes >> 20) + " MiB");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Parses `json` (the file `file`) and calls read(root), an object (or, when
// `any_root`, whatever the root is).
template <class F>
void with_json_root(std::string_view json, const char* file, std::size_t max_bytes, F&& read, bool any_root = false) {
    if (json.size() > max_bytes)
        throw folder_error(std::string(file) + ": larger than " + std::to_string(max_bytes >> 20) + " MiB");
    std::string text(json);
    text::widen_big_integers(text);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (auto err = parser.parse(text).get(root))
        throw folder_error(std::string(file) + ": not valid JSON (" + simdjson::error_message(err) + ")");
    try {
        const text::json_view v(root, file, "");
        if (!any_root && !v.is_object()) v.fail("expected an object");
        read(v);
    } catch (const text::text_error& e) {
        throw folder_error(e.what());
    }
}

// c[key], a whole number in [lo, hi]; `fallback` when absent (else "missing").
inline std::int64_t int_field(const text::json_view& c, std::string_view key, std::int64_t lo, std::int64_t hi,
                              std::optional<std::int64_t> fallback = std::nullopt) {
    auto m = c.member(key);
    if (!m) {
        if (fallback) return *fallback;
        c.required(key); // throws "missing"
    }
    const auto v = m->as_int();
    if (v < lo || v > hi) m->fail("expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
    return v;
}

// c[key], a number in (lo, hi]; `fallback` when absent.
inline double number_field(const text::json_view& c, std::string_view key, double lo, double hi, double fallback) {
    auto m = c.member(key);
    if (!m) return fallback;
    const double v = m->as_double();
    if (!(v > lo && v <= hi)) m->fail("expected a number above " + std::to_string(lo) + " and at most " + std::to_string(hi));
    return v;
}

} // namespace tether::agent::hf
