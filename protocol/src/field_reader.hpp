#pragma once
// Internal to tether_protocol: typed access to the fields of one JSON object
// of an already validated document, turning absence and wrong types into
// parse_errors that name the field. Never throws; never reads past the object.

#include "json_validate.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::protocol::detail {

enum class presence { required, optional };

std::string join_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, std::size_t index);

// Value-level readers: `v` must be of the named JSON type (wrong_type otherwise).
maybe_error read_string(simdjson::ondemand::value& v, std::string_view path, std::string& out);
maybe_error read_uint(simdjson::ondemand::value& v, std::string_view path, std::uint64_t min, std::uint64_t max,
                      std::uint64_t& out);
maybe_error read_int(simdjson::ondemand::value& v, std::string_view path, std::int64_t min, std::int64_t max,
                     std::int64_t& out);
maybe_error read_double(simdjson::ondemand::value& v, std::string_view path, double& out);
maybe_error read_bool(simdjson::ondemand::value& v, std::string_view path, bool& out);
// The value, which must have type `want`, re-emitted compactly.
maybe_error read_canonical(simdjson::ondemand::value& v, std::string_view path, simdjson::ondemand::json_type want,
                           const parse_limits& limits, std::string& out);
maybe_error expect_type(simdjson::ondemand::value& v, std::string_view path, simdjson::ondemand::json_type want);

class field_reader {
  public:
    field_reader(simdjson::ondemand::object& obj, std::string path, const parse_limits& limits)
        : obj_(obj), path_(std::move(path)), limits_(limits) {}

    const std::string& path() const { return path_; }
    const parse_limits& limits() const { return limits_; }

    // Each reader leaves `out` untouched when an optional field is absent or null.
    maybe_error string(std::string_view key, presence p, std::string& out);
    maybe_error string(std::string_view key, std::optional<std::string>& out);
    maybe_error uint(std::string_view key, presence p, std::uint64_t min, std::uint64_t max, std::uint64_t& out);
    maybe_error uint32(std::string_view key, presence p, std::uint32_t min, std::uint32_t max, std::uint32_t& out);
    maybe_error integer(std::string_view key, presence p, std::int64_t min, std::int64_t max, std::int64_t& out);
    maybe_error number(std::string_view key, std::optional<double>& out);
    maybe_error boolean(std::string_view key, presence p, bool& out);
    maybe_error canonical(std::string_view key, presence p, simdjson::ondemand::json_type want, std::string& out);

    // Calls f(field_reader&) on the nested object when present.
    template <typename F> maybe_error object(std::string_view key, presence p, F&& f);
    // Calls f(value&, path) on each element when present; more than
    // `max_count` elements is too_large, `non_empty` refuses [].
    template <typename F>
    maybe_error array(std::string_view key, presence p, std::size_t max_count, bool non_empty, F&& f);

  private:
    // Sets `found` when the field is present and not null.
    maybe_error find(std::string_view key, presence p, std::optional<simdjson::ondemand::value>& found);

    simdjson::ondemand::object& obj_;
    std::string path_;
    const parse_limits& limits_;
};

// Calls f(field_reader&) on `v`, which must be an object.
template <typename F>
maybe_error read_object(simdjson::ondemand::value& v, std::string_view path, const parse_limits& limits, F&& f) {
    simdjson::ondemand::object obj;
    if (auto err = expect_type(v, path, simdjson::ondemand::json_type::object)) return err;
    if (auto e = v.get_object().get(obj)) return from_simdjson(e, path);
    field_reader reader(obj, std::string(path), limits);
    return f(reader);
}

template <typename F> maybe_error field_reader::object(std::string_view key, presence p, F&& f) {
    std::optional<simdjson::ondemand::value> v;
    if (auto err = find(key, p, v)) return err;
    if (!v) return std::nullopt;
    return read_object(*v, join_path(path_, key), limits_, std::forward<F>(f));
}

template <typename F>
maybe_error field_reader::array(std::string_view key, presence p, std::size_t max_count, bool non_empty, F&& f) {
    std::optional<simdjson::ondemand::value> v;
    if (auto err = find(key, p, v)) return err;
    if (!v) return std::nullopt;
    const std::string path = join_path(path_, key);
    if (auto err = expect_type(*v, path, simdjson::ondemand::json_type::array)) return err;
    simdjson::ondemand::array arr;
    if (auto e = v->get_array().get(arr)) return from_simdjson(e, path);
    std::size_t index = 0;
    for (auto element : arr) {
        if (auto e = element.error()) return from_simdjson(e, path);
        if (index >= max_count)
            return make_error(parse_errc::too_large, fmt::format("{}: more than {} entries", path, max_count));
        simdjson::ondemand::value item = std::move(element).value_unsafe();
        if (auto err = f(item, index_path(path, index))) return err;
        ++index;
    }
    if (non_empty && index == 0) return make_error(parse_errc::bad_value, fmt::format("{}: must not be empty", path));
    return std::nullopt;
}

} // namespace tether::protocol::detail
