#include "field_reader.hpp"

namespace tether::protocol::detail {
namespace {

namespace od = simdjson::ondemand;

std::string_view type_name(od::json_type t) {
    switch (t) {
    case od::json_type::array:
        return "an array";
    case od::json_type::object:
        return "an object";
    case od::json_type::number:
        return "a number";
    case od::json_type::string:
        return "a string";
    case od::json_type::boolean:
        return "a boolean";
    case od::json_type::null:
        return "null";
    }
    return "a value";
}

} // namespace

std::string join_path(std::string_view parent, std::string_view key) {
    if (parent.empty()) return std::string(key);
    return fmt::format("{}.{}", parent, key);
}

std::string index_path(std::string_view parent, std::size_t index) {
    return fmt::format("{}[{}]", parent, index);
}

maybe_error expect_type(od::value& v, std::string_view path, od::json_type want) {
    od::json_type got;
    if (auto e = v.type().get(got)) return from_simdjson(e, path);
    if (got != want)
        return make_error(parse_errc::wrong_type,
                          fmt::format("{}: expected {}, got {}", path, type_name(want), type_name(got)));
    return std::nullopt;
}

maybe_error read_string(od::value& v, std::string_view path, std::string& out) {
    if (auto err = expect_type(v, path, od::json_type::string)) return err;
    std::string_view s;
    if (auto e = v.get_string().get(s)) return from_simdjson(e, path);
    out.assign(s.data(), s.size());
    return std::nullopt;
}

maybe_error read_uint(od::value& v, std::string_view path, std::uint64_t min, std::uint64_t max, std::uint64_t& out) {
    if (auto err = expect_type(v, path, od::json_type::number)) return err;
    std::uint64_t n = 0;
    // Negative, fractional and out-of-range numbers all fail here.
    if (v.get_uint64().get(n) != simdjson::SUCCESS || n < min || n > max)
        return make_error(parse_errc::bad_value, fmt::format("{}: must be an integer from {} to {}", path, min, max));
    out = n;
    return std::nullopt;
}

maybe_error read_int(od::value& v, std::string_view path, std::int64_t min, std::int64_t max, std::int64_t& out) {
    if (auto err = expect_type(v, path, od::json_type::number)) return err;
    std::int64_t n = 0;
    if (v.get_int64().get(n) != simdjson::SUCCESS || n < min || n > max)
        return make_error(parse_errc::bad_value, fmt::format("{}: must be an integer from {} to {}", path, min, max));
    out = n;
    return std::nullopt;
}

maybe_error read_double(od::value& v, std::string_view path, double& out) {
    if (auto err = expect_type(v, path, od::json_type::number)) return err;
    double d = 0;
    // Fails for numbers beyond a double's range (1e400); those are refused, not made infinite.
    if (v.get_double().get(d) != simdjson::SUCCESS)
        return make_error(parse_errc::bad_value, fmt::format("{}: number out of range", path));
    out = d;
    return std::nullopt;
}

maybe_error read_bool(od::value& v, std::string_view path, bool& out) {
    if (auto err = expect_type(v, path, od::json_type::boolean)) return err;
    if (auto e = v.get_bool().get(out)) return from_simdjson(e, path);
    return std::nullopt;
}

maybe_error read_canonical(od::value& v, std::string_view path, od::json_type want, const parse_limits& limits,
                           std::string& out) {
    if (auto err = expect_type(v, path, want)) return err;
    std::string text;
    // Depth restarts at 0 here; the frame's own validation already bounded it.
    if (auto err = emit_value(v, 0, limits, json_path{nullptr, path}, &text)) return err;
    out = std::move(text);
    return std::nullopt;
}

maybe_error field_reader::find(std::string_view key, presence p, std::optional<od::value>& found) {
    auto result = obj_.find_field_unordered(key);
    if (result.error() == simdjson::NO_SUCH_FIELD) {
        if (p == presence::required)
            return make_error(parse_errc::missing_field, fmt::format("{}: missing", join_path(path_, key)));
        return std::nullopt;
    }
    if (auto e = result.error()) return from_simdjson(e, join_path(path_, key));
    od::value v = std::move(result).value_unsafe();
    od::json_type type;
    if (auto e = v.type().get(type)) return from_simdjson(e, join_path(path_, key));
    if (type == od::json_type::null) {
        // null stands for "absent" in optional fields; a required one must have a value.
        if (p == presence::required)
            return make_error(parse_errc::wrong_type, fmt::format("{}: must not be null", join_path(path_, key)));
        return std::nullopt;
    }
    found = v;
    return std::nullopt;
}

maybe_error field_reader::string(std::string_view key, presence p, std::string& out) {
    std::optional<od::value> v;
    if (auto err = find(key, p, v)) return err;
    if (!v) return std::nullopt;
    return read_string(*v, join_path(path_, key), out);
}

maybe_error field_reader::string(std::string_view key, std::optional<std::string>& out) {
    std::optional<od::value> v;
    if (auto err = find(key, presence::optional, v)) return err;
    if (!v) return std::nullopt;
    std::string s;
    if (auto err = read_string(*v, join_path(path_, key), s)) return err;
    out = std::move(s);
    return std::nullopt;
}

maybe_error field_reader::uint(std::string_view key, presence p, std::uint64_t min, std::uint64_t max,
                               std::uint64_t& out) {
    std::optional<od::value> v;
    if (auto err = find(key, p, v)) return err;
    if (!v) return std::nullopt;
    return read_uint(*v, join_path(path_, key), min, max, out);
}

maybe_error field_reader::uint32(std::string_view key, presence p, std::uint32_t min, std::uint32_t max,
                                 std::uint32_t& out) {
    std::uint64_t n = out;
    if (auto err = uint(key, p, min, max, n)) return err;
    out = static_cast<std::uint32_t>(n);
    return std::nullopt;
}

maybe_error field_reader::integer(std::string_view key, presence p, std::int64_t min, std::int64_t max,
                                  std::int64_t& out) {
    std::optional<od::value> v;
    if (auto err = find(key, p, v)) return err;
    if (!v) return std::nullopt;
    return read_int(*v, join_path(path_, key), min, max, out);
}

maybe_error field_reader::number(std::string_view key, std::optional<double>& out) {
    std::optional<od::value> v;
    if (auto err = find(key, presence::optional, v)) return err;
    if (!v) return std::nullopt;
    double d = 0;
    if (auto err = read_double(*v, join_path(path_, key), d)) return err;
    out = d;
    return std::nullopt;
}

maybe_error field_reader::boolean(std::string_view key, presence p, bool& out) {
    std::optional<od::value> v;
    if (auto err = find(key, p, v)) return err;
    if (!v) return std::nullopt;
    return read_bool(*v, join_path(path_, key), out);
}

maybe_error field_reader::canonical(std::string_view key, presence p, od::json_type want, std::string& out) {
    std::optional<od::value> v;
    if (auto err = find(key, p, v)) return err;
    if (!v) return std::nullopt;
    return read_canonical(*v, join_path(path_, key), want, limits_, out);
}

} // namespace tether::protocol::detail
