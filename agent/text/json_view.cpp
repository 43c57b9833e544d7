#include "text/json_view.hpp"

#include <cmath>
#include <vector>

namespace tether::agent::text {

namespace {

// Calls f(begin, end) for each integer literal outside strings (digits only,
// an optional leading '-'; not followed by '.', 'e' or 'E').
template <class F> void for_each_integer(const std::string& json, F&& f) {
    bool in_string = false;
    for (std::size_t i = 0; i < json.size(); ++i) {
        const char c = json[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
            continue;
        }
        if ((c >= '0' && c <= '9') || c == '-') {
            // The whole number token: a fraction's or an exponent's digits
            // are never an integer of their own.
            std::size_t j = c == '-' ? i + 1 : i;
            const std::size_t digits = j;
            while (j < json.size() && json[j] >= '0' && json[j] <= '9') ++j;
            const std::size_t int_end = j;
            bool integer = true;
            while (j < json.size() && (json[j] == '.' || json[j] == 'e' || json[j] == 'E' || json[j] == '+' ||
                                       json[j] == '-' || (json[j] >= '0' && json[j] <= '9'))) {
                integer = false;
                ++j;
            }
            if (integer && int_end > digits) f(digits, int_end);
            i = j > i ? j - 1 : i;
        }
    }
}

} // namespace

void widen_big_integers(std::string& json) {
    std::vector<std::size_t> ends; // where ".0" goes
    for_each_integer(json, [&](std::size_t b, std::size_t e) {
        if (e - b > 19) ends.push_back(e);
    });
    if (ends.empty()) return;
    std::string out;
    out.reserve(json.size() + ends.size() * 2);
    std::size_t from = 0;
    for (const std::size_t e : ends) {
        out.append(json, from, e - from);
        out += ".0";
        from = e;
    }
    out.append(json, from, std::string::npos);
    json = std::move(out);
}

void json_view::fail(const std::string& message) const {
    throw text_error(file_ + ": " + (path_.empty() ? "(top level)" : path_) + ": " + message);
}

std::optional<json_view> json_view::member(std::string_view key, bool null_is_absent) const {
    simdjson::dom::object obj;
    if (e_.get_object().get(obj)) fail("expected an object");
    simdjson::dom::element v;
    if (obj.at_key(key).get(v)) return std::nullopt;
    if (null_is_absent && v.is_null()) return std::nullopt;
    return json_view(v, file_, path_.empty() ? std::string(key) : path_ + "." + std::string(key));
}

json_view json_view::required(std::string_view key) const {
    auto m = member(key);
    if (!m) fail("missing \"" + std::string(key) + "\"");
    return *m;
}

std::string json_view::as_string() const {
    std::string_view s;
    if (e_.get_string().get(s)) fail("expected a string");
    return std::string(s);
}

bool json_view::as_bool() const {
    bool b = false;
    if (e_.get_bool().get(b)) fail("expected true or false");
    return b;
}

std::int64_t json_view::as_int() const {
    std::int64_t i = 0;
    if (!e_.get_int64().get(i)) return i;
    double d = 0;
    if (!e_.get_double().get(d) && std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
        return static_cast<std::int64_t>(d);
    fail("expected an integer");
}

std::uint64_t json_view::as_uint(std::uint64_t max) const {
    const std::int64_t i = as_int();
    if (i < 0 || static_cast<std::uint64_t>(i) > max) fail("expected a whole number from 0 to " + std::to_string(max));
    return static_cast<std::uint64_t>(i);
}

double json_view::as_double() const {
    double d = 0;
    if (e_.get_double().get(d) || !std::isfinite(d)) fail("expected a number");
    return d;
}

std::string json_view::string_or(std::string_view key, std::string fallback) const {
    auto m = member(key);
    return m ? m->as_string() : std::move(fallback);
}

bool json_view::bool_or(std::string_view key, bool fallback) const {
    auto m = member(key);
    return m ? m->as_bool() : fallback;
}

std::optional<std::string> json_view::optional_string(std::string_view key) const {
    auto m = member(key);
    if (!m) return std::nullopt;
    return m->as_string();
}

std::size_t json_view::array_size() const {
    simdjson::dom::array arr;
    if (e_.get_array().get(arr)) fail("expected an array");
    return arr.size();
}

void json_view::for_each(std::size_t max, const std::function<void(std::size_t, const json_view&)>& f) const {
    simdjson::dom::array arr;
    if (e_.get_array().get(arr)) fail("expected an array");
    if (arr.size() > max) fail("more than " + std::to_string(max) + " entries");
    std::size_t i = 0;
    for (auto item : arr) {
        f(i, json_view(item, file_, path_ + "[" + std::to_string(i) + "]"));
        ++i;
    }
}

void json_view::for_each_member(std::size_t max,
                                const std::function<void(std::string_view, const json_view&)>& f) const {
    simdjson::dom::object obj;
    if (e_.get_object().get(obj)) fail("expected an object");
    if (obj.size() > max) fail("more than " + std::to_string(max) + " entries");
    for (auto [key, value] : obj) {
        f(key, json_view(value, file_, path_.empty() ? std::string(key) : path_ + "." + std::string(key)));
    }
}

} // namespace tether::agent::text
