#include "text/jinja/value.hpp"

#include "text/unicode.hpp"

#include <simdjson.h>
#include <unicode/uchar.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace tether::agent::text::jinja {
namespace {

std::string key_id(const value& k) {
    switch (k.type()) {
    case kind::string:
        return "s" + k.as_string();
    case kind::boolean:
        return k.as_bool() ? "i1" : "i0";
    case kind::integer:
        return "i" + std::to_string(k.as_int());
    case kind::floating: {
        const double d = k.as_double();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18)
            return "i" + std::to_string(static_cast<std::int64_t>(d));
        return "f" + python_float_repr(d);
    }
    case kind::none:
        return "n";
    case kind::tuple: {
        std::string id = "t(";
        for (const auto& v : k.items()) id += key_id(v) + ",";
        return id + ")";
    }
    default:
        throw template_error("unhashable type: '" + k.type_name() + "'");
    }
}

bool is_printable(char32_t c) {
    if (c == ' ') return true;
    if (c < 0x20 || c == 0x7F) return false;
    if (c < 0x7F) return true;
    const auto gc = U_GET_GC_MASK(static_cast<UChar32>(c));
    return (gc & (U_GC_C_MASK | U_GC_ZL_MASK | U_GC_ZP_MASK | U_GC_ZS_MASK)) == 0;
}

void json_string(std::string& out, std::string_view s) {
    out += '"';
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += ch;
            }
        }
    }
    out += '"';
}

std::string json_key(const value& k) {
    switch (k.type()) {
    case kind::string: return k.as_string();
    case kind::boolean: return k.as_bool() ? "true" : "false";
    case kind::integer: return std::to_string(k.as_int());
    case kind::floating: return python_float_repr(k.as_double());
    case kind::none: return "null";
    default: throw template_error("keys must be str, int, float, bool or None, not " + k.type_name());
    }
}

void json_dump(std::string& out, const value& v, std::optional<int> indent, bool sort_keys, const std::string& item_sep,
               const std::string& key_sep, int depth) {
    if (depth > 200) throw template_error("tojson: nested too deeply");
    auto newline = [&](int level) {
        out += '\n';
        out.append(static_cast<std::size_t>(*indent * level), ' ');
    };
    switch (v.type()) {
    case kind::none: out += "null"; return;
    case kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case kind::integer: out += std::to_string(v.as_int()); return;
    case kind::floating: {
        const double d = v.as_double();
        if (std::isnan(d)) out += "NaN";
        else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
        else out += python_float_repr(d);
        return;
    }
    case kind::string: json_string(out, v.as_string()); return;
    case kind::list:
    case kind::tuple: {
        if (v.is_iterator()) throw template_error("Object of type " + v.type_name() + " is not JSON serializable");
        const auto& items = v.items();
        if (items.empty()) {
            out += "[]";
            return;
        }
        out += '[';
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i > 0) out += item_sep;
            if (indent) newline(depth + 1);
            json_dump(out, items[i], indent, sort_keys, item_sep, key_sep, depth + 1);
        }
        if (indent) newline(depth);
        out += ']';
        return;
    }
    case kind::dict: {
        const auto& d = v.entries();
        if (d.items.empty()) {
            out += "{}";
            return;
        }
        std::vector<std::pair<std::string, const value*>> items;
        for (const auto& [k, val] : d.items) items.emplace_back(json_key(k), &val);
        if (sort_keys)
            std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        out += '{';
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i > 0) out += item_sep;
            if (indent) newline(depth + 1);
            json_string(out, items[i].first);
            out += key_sep;
            json_dump(out, *items[i].second, indent, sort_keys, item_sep, key_sep, depth + 1);
        }
        if (indent) newline(depth);
        out += '}';
        return;
    }
    default:
        throw template_error("Object of type " + v.type_name() + " is not JSON serializable");
    }
}

value from_json_element(simdjson::dom::element e, int depth) {
    if (depth > 200) throw template_error("the template's variables are nested too deeply");
    bool b = false;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0;
    std::string_view s;
    simdjson::dom::array arr;
    simdjson::dom::object obj;
    switch (e.type()) {
    case simdjson::dom::element_type::NULL_VALUE: return value::none();
    case simdjson::dom::element_type::BOOL: if (e.get(b)) break; return value(b);
    case simdjson::dom::element_type::INT64: if (e.get(i)) break; return value(i);
    case simdjson::dom::element_type::UINT64: if (e.get(u)) break; return value(static_cast<double>(u));
    case simdjson::dom::element_type::DOUBLE: if (e.get(d)) break; return value(d);
    case simdjson::dom::element_type::STRING: if (e.get(s)) break; return value(std::string(s));
    case simdjson::dom::element_type::ARRAY: {
        if (e.get(arr)) break;
        std::vector<value> items;
        for (auto item : arr) items.push_back(from_json_element(item, depth + 1));
        return value::list(std::move(items));
    }
    case simdjson::dom::element_type::OBJECT: {
        if (e.get(obj)) break;
        value out = value::make_dict();
        for (auto field : obj) out.entries().set(value(std::string(field.key)), from_json_element(field.value, depth + 1));
        return out;
    }
    }
    return value::none();
}

} // namespace

value value::undefined(std::string name) {
    value v;
    v.s_ = std::move(name);
    return v;
}
value value::none() {
    value v;
    v.kind_ = kind::none;
    return v;
}
value::value(bool b) : kind_(kind::boolean), b_(b), i_(b ? 1 : 0) {}
value::value(std::int64_t i) : kind_(kind::integer), i_(i) {}
value::value(double d) : kind_(kind::floating), d_(d) {}
value::value(std::string s) : kind_(kind::string), s_(std::move(s)) {}

value value::list(std::vector<value> items) {
    value v;
    v.kind_ = kind::list;
    v.list_ = std::make_shared<std::vector<value>>(std::move(items));
    return v;
}
value value::iterator(std::vector<value> items, std::string type) {
    value v = list(std::move(items));
    v.s_ = std::move(type);
    return v;
}
value value::tuple(std::vector<value> items) {
    value v = list(std::move(items));
    v.kind_ = kind::tuple;
    return v;
}
value value::make_dict() {
    value v;
    v.kind_ = kind::dict;
    v.dict_ = std::make_shared<dict>();
    return v;
}
value value::make_namespace() {
    value v = make_dict();
    v.kind_ = kind::ns;
    return v;
}
value value::function(std::string name, native_fn fn) {
    value v;
    v.kind_ = kind::callable;
    v.fn_ = std::make_shared<callable_value>(callable_value{std::move(name), std::move(fn)});
    return v;
}

double value::as_double() const {
    switch (kind_) {
    case kind::floating: return d_;
    case kind::integer: return static_cast<double>(i_);
    case kind::boolean: return b_ ? 1.0 : 0.0;
    default: return 0;
    }
}

bool value::truthy() const {
    switch (kind_) {
    case kind::undefined:
    case kind::none: return false;
    case kind::boolean: return b_;
    case kind::integer: return i_ != 0;
    case kind::floating: return d_ != 0;
    case kind::string: return !s_.empty();
    case kind::list:
        if (is_iterator() && !is_dict_view()) return true; // a generator object is always true
        return !list_->empty();
    case kind::tuple: return !list_->empty();
    case kind::dict: return !dict_->items.empty();
    case kind::ns:
    case kind::callable: return true;
    }
    return false;
}

std::string value::str() const {
    switch (kind_) {
    case kind::undefined: return "";
    case kind::string: return s_;
    default: return repr();
    }
}

std::string value::repr() const {
    switch (kind_) {
    case kind::undefined: return "Undefined";
    case kind::none: return "None";
    case kind::boolean: return b_ ? "True" : "False";
    case kind::integer: return std::to_string(i_);
    case kind::floating: return python_float_repr(d_);
    case kind::string: return python_string_repr(s_);
    case kind::list:
    case kind::tuple: {
        if (is_iterator() && !is_dict_view()) return "<" + s_ + " object>";
        const bool t = kind_ == kind::tuple;
        std::string out = is_dict_view() ? s_ + "([" : t ? "(" : "[";
        for (std::size_t i = 0; i < list_->size(); ++i) {
            if (i) out += ", ";
            out += (*list_)[i].repr();
        }
        if (t && list_->size() == 1) out += ",";
        out += is_dict_view() ? "])" : t ? ")" : "]";
        return out;
    }
    case kind::dict:
    case kind::ns: {
        std::string out = "{";
        for (std::size_t i = 0; i < dict_->items.size(); ++i) {
            if (i) out += ", ";
            out += dict_->items[i].first.repr() + ": " + dict_->items[i].second.repr();
        }
        out += "}";
        return kind_ == kind::ns ? "<Namespace " + out + ">" : out;
    }
    case kind::callable: return "<function " + fn_->name + ">";
    }
    return "";
}

std::string value::type_name() const {
    switch (kind_) {
    case kind::undefined: return "Undefined";
    case kind::none: return "NoneType";
    case kind::boolean: return "bool";
    case kind::integer: return "int";
    case kind::floating: return "float";
    case kind::string: return "str";
    case kind::list: return is_iterator() ? s_ : "list";
    case kind::tuple: return "tuple";
    case kind::dict: return "dict";
    case kind::ns: return "Namespace";
    case kind::callable: return "function";
    }
    return "object";
}

bool operator==(const value& a, const value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
        return a.as_int() == b.as_int();
    }
    if (a.kind_ != b.kind_) return false;
    switch (a.kind_) {
    case kind::undefined:
    case kind::none: return true;
    case kind::string: return a.s_ == b.s_;
    case kind::list:
        // Iterators compare by identity, as in Python.
        if (a.is_iterator() || b.is_iterator()) return a.list_ == b.list_;
        return *a.list_ == *b.list_;
    case kind::tuple: return *a.list_ == *b.list_;
    case kind::dict:
    case kind::ns: {
        if (a.dict_ == b.dict_) return true;
        if (a.dict_->size() != b.dict_->size() || a.kind_ == kind::ns) return false;
        for (const auto& [k, v] : a.dict_->items) {
            const value* other = b.dict_->find(k);
            if (other == nullptr || !(*other == v)) return false;
        }
        return true;
    }
    case kind::callable: return a.fn_ == b.fn_;
    default: return false;
    }
}

const value* dict::find(const value& key) const {
    std::string id;
    try {
        id = key_id(key);
    } catch (const template_error&) {
        return nullptr;
    }
    auto it = index.find(id);
    return it == index.end() ? nullptr : &items[it->second].second;
}

const value* dict::find(std::string_view key) const {
    auto it = index.find("s" + std::string(key));
    return it == index.end() ? nullptr : &items[it->second].second;
}

void dict::set(const value& key, value v) {
    const std::string id = key_id(key);
    if (auto it = index.find(id); it != index.end()) {
        items[it->second].second = std::move(v);
        return;
    }
    index.emplace(id, items.size());
    items.emplace_back(key, std::move(v));
}

value call_args::get(std::size_t i, std::string_view name, value fallback) const {
    for (const auto& [k, v] : keyword)
        if (k == name) return v;
    if (i < positional.size()) return positional[i];
    return fallback;
}

std::string python_float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    std::string out;
    if (sci.front() == '-') {
        out += '-';
        sci.erase(0, 1);
    }
    const auto e = sci.find('e');
    std::string digits = sci.substr(0, e);
    digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
    const int exponent = std::stoi(sci.substr(e + 1));
    const int decpt = exponent + 1; // value = 0.DIGITS * 10^decpt
    const int n = static_cast<int>(digits.size());
    if (decpt <= -4 || decpt > 16) {
        out += digits[0];
        if (n > 1) out += "." + digits.substr(1);
        char ex[16];
        std::snprintf(ex, sizeof ex, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
        out += ex;
        return out;
    }
    if (decpt <= 0) {
        out += "0." + std::string(static_cast<std::size_t>(-decpt), '0') + digits;
    } else if (decpt >= n) {
        out += digits + std::string(static_cast<std::size_t>(decpt - n), '0') + ".0";
    } else {
        out += digits.substr(0, static_cast<std::size_t>(decpt)) + "." + digits.substr(static_cast<std::size_t>(decpt));
    }
    return out;
}

std::string python_string_repr(std::string_view s) {
    const bool has_single = s.find('\'') != std::string_view::npos;
    const bool has_double = s.find('"') != std::string_view::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    for (std::size_t i = 0; i < s.size();) {
        std::size_t n = 0;
        const char32_t c = decode_at(s, i, n);
        if (c == '\\') out += "\\\\";
        else if (c == static_cast<char32_t>(quote)) out += std::string("\\") + quote;
        else if (c == '\t') out += "\\t";
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (is_printable(c)) out.append(s.substr(i, n));
        else {
            char buf[16];
            if (c < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
            else if (c < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            else std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
            out += buf;
        }
        i += n;
    }
    out += quote;
    return out;
}

std::string to_json(const value& v, std::optional<int> indent, bool sort_keys,
                    std::optional<std::pair<std::string, std::string>> separators) {
    std::string item_sep = indent ? "," : ", ";
    std::string key_sep = ": ";
    if (separators) {
        item_sep = separators->first;
        key_sep = separators->second;
    }
    std::string out;
    json_dump(out, v, indent, sort_keys, item_sep, key_sep, 0);
    return out;
}

bool less_than(const value& a, const value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
        return a.as_int() < b.as_int();
    }
    if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
    if (a.type() == b.type() && a.is_list()) {
        const auto& x = a.items();
        const auto& y = b.items();
        for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (x[i] == y[i]) continue;
            return less_than(x[i], y[i]);
        }
        return x.size() < y.size();
    }
    throw template_error("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

bool contains(const value& haystack, const value& needle) {
    switch (haystack.type()) {
    case kind::string:
        if (!needle.is_string())
            throw template_error("'in <string>' requires string as left operand, not " + needle.type_name());
        return haystack.as_string().find(needle.as_string()) != std::string::npos;
    case kind::list:
    case kind::tuple:
        return std::any_of(haystack.items().begin(), haystack.items().end(), [&](const value& v) { return v == needle; });
    case kind::dict:
    case kind::ns:
        return haystack.entries().find(needle) != nullptr;
    case kind::undefined:
        return false;
    default:
        throw template_error("argument of type '" + haystack.type_name() + "' is not iterable");
    }
}

std::optional<std::size_t> length_of(const value& v) {
    switch (v.type()) {
    case kind::string: return count_code_points(v.as_string());
    case kind::list:
        if (v.is_iterator() && !v.is_dict_view()) return std::nullopt;
        return v.items().size();
    case kind::tuple: return v.items().size();
    case kind::dict:
    case kind::ns: return v.entries().size();
    case kind::undefined: return 0;
    default: return std::nullopt;
    }
}

value from_json(std::string_view json) {
    simdjson::dom::parser p;
    simdjson::dom::element root;
    if (auto err = p.parse(json.data(), json.size()).get(root))
        throw template_error(std::string("not valid JSON: ") + simdjson::error_message(err));
    return from_json_element(root, 0);
}

} // namespace tether::agent::text::jinja
