// The filters (apply_filter, known_filter), each as Jinja2 has it.
#include "text/jinja/builtins.hpp"

#include "text/jinja/builtins_support.hpp"
#include "text/jinja/parser.hpp"
#include "text/jinja/python_text.hpp"
#include "text/unicode.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace tether::agent::text::jinja {

bool known_filter(std::string_view n) {
    static const std::set<std::string_view> filters{
        "abs",    "attr",      "batch",  "capitalize", "center", "count",   "d",        "default", "dictsort",
        "e",      "escape",    "first",  "float",      "forceescape", "format", "indent", "int",   "items",
        "join",   "last",      "length", "list",       "lower",  "map",     "max",      "min",     "reject",
        "rejectattr", "replace", "reverse", "round",   "safe",   "select",  "selectattr", "slice", "sort",
        "string", "sum",       "title",  "tojson",     "trim",   "truncate", "unique",  "upper",   "wordcount"};
    return filters.contains(n);
}

value apply_filter(runtime& rt, std::string_view n, const value& v, call_args& a) {
    auto need_str_operand = [&]() -> std::string { return v.str(); };
    if (n == "trim") return value(py_strip(need_str_operand(), a.get(0, "chars", value::none()), 'b'));
    if (n == "upper") return value(py_upper(v.str()));
    if (n == "lower") return value(py_lower(v.str()));
    if (n == "capitalize") return value(py_capitalize(v.str()));
    if (n == "title") return value(jinja_title(v.str()));
    if (n == "string") return value(v.str());
    if (n == "safe" || n == "escape" || n == "e" || n == "forceescape")
        return n == "safe" ? (v.is_string() ? v : value(v.str())) : value(html_escape(v.str()));
    if (n == "length" || n == "count") {
        auto len = length_of(v);
        if (!len) a.fail("object of type '" + v.type_name() + "' has no len()");
        return value(static_cast<std::int64_t>(*len));
    }
    if (n == "default" || n == "d") {
        const value fallback = a.get(0, "default_value", value(std::string()));
        const bool boolean = a.get(1, "boolean", value(false)).truthy();
        if (v.is_undefined() || (boolean && !v.truthy())) return fallback;
        return v;
    }
    if (n == "tojson") {
        std::optional<int> indent;
        const value ind = a.get(1, "indent", value::none());
        if (!ind.is_none() && !ind.is_undefined()) indent = static_cast<int>(need_int(a, ind, "tojson indent"));
        const bool sort = a.get(3, "sort_keys", value(false)).truthy();
        const value ea = a.get(0, "ensure_ascii", value(false));
        std::optional<std::pair<std::string, std::string>> seps;
        const value sv = a.get(2, "separators", value::none());
        if (sv.is_list() && sv.items().size() == 2) seps = std::make_pair(sv.items()[0].str(), sv.items()[1].str());
        std::string out = to_json(v, indent, sort, seps);
        if (ea.truthy()) {
            // ensure_ascii: every non-ASCII character as \uXXXX (surrogate pairs above U+FFFF).
            std::string ascii;
            for (std::size_t i = 0; i < out.size();) {
                std::size_t k = 0;
                const char32_t c = decode_at(out, i, k);
                char buf[16];
                if (c < 0x80) ascii += static_cast<char>(c);
                else if (c < 0x10000) {
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    ascii += buf;
                } else {
                    const char32_t u = c - 0x10000;
                    std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (u >> 10)),
                                  static_cast<unsigned>(0xDC00 + (u & 0x3FF)));
                    ascii += buf;
                }
                i += k;
            }
            out = std::move(ascii);
        }
        return value(std::move(out));
    }
    if (n == "items") {
        if (v.is_undefined()) return value::iterator({}, "generator");
        if (v.type() != kind::dict) a.fail("Can only get item pairs from a mapping.");
        return value::iterator(items_of(v), "generator");
    }
    if (n == "list") {
        auto items = iterate(v);
        rt.spend(items.size());
        return value::list(std::move(items));
    }
    if (n == "first") {
        auto items = iterate(v);
        return items.empty() ? value::undefined("first") : items.front();
    }
    if (n == "last") {
        if (v.is_iterator() && !v.is_dict_view()) a.fail("'" + v.type_name() + "' object is not reversible");
        auto items = iterate(v);
        return items.empty() ? value::undefined("last") : items.back();
    }
    if (n == "reverse") {
        if (v.is_string()) {
            auto c = cps(v.as_string());
            std::reverse(c.begin(), c.end());
            return value(utf8(c));
        }
        // reversed() where it works (an iterator), else a reversed list.
        const bool reversible = v.is_dict() || (v.is_list() && (!v.is_iterator() || v.is_dict_view()));
        auto items = iterate(v);
        std::reverse(items.begin(), items.end());
        if (!reversible) return value::list(std::move(items));
        const std::string type = v.type() == kind::tuple ? "reversed"
                                 : v.is_dict_view()      ? v.type_name().substr(0, 5) + "reverse" + v.type_name().substr(5) + "iterator"
                                 : v.is_dict()           ? "dict_reversekeyiterator"
                                                         : "list_reverseiterator";
        return value::iterator(std::move(items), type);
    }
    if (n == "join") {
        const std::string sep = a.get(0, "d", value(std::string())).str();
        const value attr = a.get(1, "attribute", value::none());
        std::string out;
        bool first = true;
        const auto items = iterate(v);
        rt.spend(items.size());
        for (const auto& item : items) {
            if (!first) out += sep;
            out += (attr.is_none() ? item : attribute_path(rt, item, attr)).str();
            first = false;
            if (out.size() > rt.options().limits.max_output) a.fail("the joined text is too large");
        }
        return value(std::move(out));
    }
    if (n == "map") {
        const auto items = iterate(v);
        rt.spend(items.size());
        std::vector<value> out;
        if (a.positional.empty()) {
            const value attr = a.get(99, "attribute");
            if (attr.is_undefined()) a.fail("map requires a filter argument");
            const value fallback = a.get(99, "default", value::none());
            for (const auto& item : items) {
                value x = attribute_path(rt, item, attr);
                if (x.is_undefined() && !fallback.is_none()) x = fallback;
                out.push_back(std::move(x));
            }
        } else {
            const std::string fname = need_string(a, a.positional[0], "map");
            if (!known_filter(fname)) a.fail("no filter named '" + fname + "'");
            call_args rest = a;
            rest.positional.erase(rest.positional.begin());
            for (const auto& item : items) out.push_back(rt.filter(fname, item, rest));
        }
        return value::iterator(std::move(out), "generator");
    }
    if (n == "select") return select_items(rt, v, a, true, false);
    if (n == "reject") return select_items(rt, v, a, false, false);
    if (n == "selectattr") return select_items(rt, v, a, true, true);
    if (n == "rejectattr") return select_items(rt, v, a, false, true);
    if (n == "attr") return get_attribute(rt, v, need_string(a, a.get(0, "name"), "attr"));
    if (n == "replace") {
        const value count = a.get(2, "count", value::none());
        return value(py_replace(v.str(), a.get(0, "old").str(), a.get(1, "new").str(),
                                count.is_none() ? -1 : need_int(a, count, "replace")));
    }
    if (n == "int") return to_int(v, a.get(0, "default", value(std::int64_t{0})), need_int(a, a.get(1, "base", value(std::int64_t{10})), "int"));
    if (n == "float") {
        if (v.is_number()) return value(v.as_double());
        if (v.is_string()) {
            try {
                std::size_t used = 0;
                const std::string s = py_strip(v.as_string(), value::none(), 'b');
                const double d = std::stod(s, &used);
                if (used == s.size()) return value(d);
            } catch (const std::exception&) {
            }
        }
        return a.get(0, "default", value(0.0));
    }
    if (n == "abs") {
        if (v.is_int() || v.is_bool()) return value(v.as_int() < 0 ? -v.as_int() : v.as_int());
        if (v.is_float()) return value(std::fabs(v.as_double()));
        a.fail("bad operand type for abs(): '" + v.type_name() + "'");
    }
    if (n == "round") {
        const std::int64_t precision = need_int(a, a.get(0, "precision", value(std::int64_t{0})), "round");
        const std::string method = a.get(1, "method", value("common")).str();
        if (!v.is_number()) a.fail("round expects a number");
        const double scale = std::pow(10.0, static_cast<double>(precision));
        const double x = v.as_double() * scale;
        double r = 0;
        if (method == "common") r = std::nearbyint(x);
        else if (method == "ceil") r = std::ceil(x);
        else if (method == "floor") r = std::floor(x);
        else a.fail("method must be common, ceil or floor");
        return value(r / scale);
    }
    if (n == "sum") {
        const value attr = a.get(0, "attribute", value::none());
        value total = a.get(1, "start", value(std::int64_t{0}));
        for (const auto& item : iterate(v)) {
            const value x = attr.is_none() ? item : attribute_path(rt, item, attr);
            if (!x.is_number() || !total.is_number()) a.fail("sum: unsupported operand types");
            if (x.is_float() || total.is_float()) total = value(total.as_double() + x.as_double());
            else total = value(total.as_int() + x.as_int());
        }
        return total;
    }
    if (n == "min" || n == "max") {
        const bool cs = a.get(0, "case_sensitive", value(false)).truthy();
        const value attr = a.get(1, "attribute", value::none());
        const auto items = iterate(v);
        if (items.empty()) return value::undefined(std::string(n));
        std::size_t best = 0;
        auto key = [&](const value& x) {
            value k = attr.is_none() ? x : attribute_path(rt, x, attr);
            return cs ? k : ignore_case(k);
        };
        for (std::size_t i = 1; i < items.size(); ++i) {
            const bool better = n == "min" ? less_than(key(items[i]), key(items[best])) : less_than(key(items[best]), key(items[i]));
            if (better) best = i;
        }
        return items[best];
    }
    if (n == "unique") {
        const bool cs = a.get(0, "case_sensitive", value(false)).truthy();
        const value attr = a.get(1, "attribute", value::none());
        std::vector<value> out;
        std::vector<value> seen;
        for (const auto& item : iterate(v)) {
            value k = attr.is_none() ? item : attribute_path(rt, item, attr);
            if (!cs) k = ignore_case(k);
            if (std::find(seen.begin(), seen.end(), k) != seen.end()) continue;
            seen.push_back(k);
            out.push_back(item);
        }
        return value::iterator(std::move(out), "generator");
    }
    if (n == "sort") {
        const bool reverse = a.get(0, "reverse", value(false)).truthy();
        const bool cs = a.get(1, "case_sensitive", value(false)).truthy();
        const value attr = a.get(2, "attribute", value::none());
        // Keys as Jinja2 makes them: a list of one value per attribute
        // ("age,name" gives two), compared as Python compares lists: equal
        // elements are skipped, so [None] and [None] do not need a `<`.
        std::vector<value> paths;
        if (attr.is_string()) {
            const std::string& spec = attr.as_string();
            for (std::size_t start = 0;;) {
                const auto comma = spec.find(',', start);
                paths.emplace_back(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
        } else {
            paths.push_back(attr);
        }
        const auto items = iterate(v);
        rt.spend(items.size());
        std::vector<std::pair<std::vector<value>, std::size_t>> keyed;
        keyed.reserve(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            std::vector<value> k;
            for (const auto& p : paths) {
                value x = p.is_none() ? items[i] : attribute_path(rt, items[i], p);
                k.push_back(cs ? std::move(x) : ignore_case(x));
            }
            keyed.emplace_back(std::move(k), i);
        }
        auto list_less = [](const std::vector<value>& x, const std::vector<value>& y) {
            for (std::size_t i = 0; i < x.size() && i < y.size(); ++i)
                if (!(x[i] == y[i])) return less_than(x[i], y[i]);
            return x.size() < y.size();
        };
        std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
            return reverse ? list_less(y.first, x.first) : list_less(x.first, y.first);
        });
        std::vector<value> out;
        out.reserve(keyed.size());
        for (const auto& [k, i] : keyed) out.push_back(items[i]);
        return value::list(std::move(out));
    }
    if (n == "dictsort") {
        if (v.type() != kind::dict) a.fail("dictsort expects a mapping");
        const bool cs = a.get(0, "case_sensitive", value(false)).truthy();
        const std::string by = a.get(1, "by", value("key")).str();
        const bool reverse = a.get(2, "reverse", value(false)).truthy();
        if (by != "key" && by != "value") a.fail("You can only sort by either \"key\" or \"value\"");
        auto items = items_of(v);
        const std::size_t pos = by == "key" ? 0 : 1;
        std::stable_sort(items.begin(), items.end(), [&](const value& x, const value& y) {
            value kx = x.items()[pos], ky = y.items()[pos];
            if (!cs) {
                kx = ignore_case(kx);
                ky = ignore_case(ky);
            }
            return reverse ? less_than(ky, kx) : less_than(kx, ky);
        });
        return value::list(std::move(items));
    }
    if (n == "indent") {
        const value width = a.get(0, "width", value(std::int64_t{4}));
        const std::string indention = width.is_string() ? width.as_string()
                                                        : std::string(static_cast<std::size_t>(std::max<std::int64_t>(0, need_int(a, width, "indent"))), ' ');
        const bool first = a.get(1, "first", value(false)).truthy();
        const bool blank = a.get(2, "blank", value(false)).truthy();
        std::string s = v.str() + "\n";
        // splitlines() on the text (with the added newline, as the reference does).
        std::vector<std::string> lines;
        std::size_t start = 0;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '\n' || s[i] == '\r') {
                lines.push_back(s.substr(start, i - start));
                if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
                start = i + 1;
            }
        }
        std::string rv;
        if (blank) {
            for (std::size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + indention : "") + lines[i];
        } else {
            rv = lines.empty() ? "" : lines[0];
            for (std::size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? lines[i] : indention + lines[i]);
        }
        if (first) rv = indention + rv;
        return value(std::move(rv));
    }
    if (n == "center") {
        const std::int64_t width = need_int(a, a.get(0, "width", value(std::int64_t{80})), "center");
        const std::string s = v.str();
        const auto len = static_cast<std::int64_t>(count_code_points(s));
        if (width <= len) return value(s);
        const std::int64_t pad = width - len;
        const std::int64_t left = pad / 2 + (pad & width & 1);
        return value(std::string(static_cast<std::size_t>(left), ' ') + s + std::string(static_cast<std::size_t>(pad - left), ' '));
    }
    if (n == "wordcount") {
        std::int64_t count = 0;
        bool in_word = false;
        for (const char32_t c : cps(v.str())) {
            const bool w = is_word_char(c);
            if (w && !in_word) ++count;
            in_word = w;
        }
        return value(count);
    }
    if (n == "truncate") {
        const std::int64_t length = need_int(a, a.get(0, "length", value(std::int64_t{255})), "truncate");
        const bool killwords = a.get(1, "killwords", value(false)).truthy();
        const std::string end = a.get(2, "end", value("...")).str();
        const std::int64_t leeway = need_int(a, a.get(3, "leeway", value(std::int64_t{5})), "truncate");
        auto c = cps(v.str());
        const auto end_len = static_cast<std::int64_t>(count_code_points(end));
        if (static_cast<std::int64_t>(c.size()) <= length + leeway) return value(v.str());
        const std::size_t cut = static_cast<std::size_t>(std::max<std::int64_t>(0, length - end_len));
        if (killwords) return value(utf8(c.substr(0, cut)) + end);
        std::u32string head = c.substr(0, cut);
        const auto sp = head.rfind(U' ');
        if (sp != std::u32string::npos) head = head.substr(0, sp);
        return value(utf8(head) + end);
    }
    if (n == "format") {
        if (!a.keyword.empty() && !a.positional.empty()) a.fail("can't handle positional and keyword arguments at the same time");
        return value(py_percent_format(v.str(), value::tuple(a.positional)));
    }
    if (n == "batch") {
        const std::int64_t count = need_int(a, a.get(0, "linecount"), "batch");
        if (count <= 0) a.fail("batch size must be positive");
        const value fill = a.get(1, "fill_with", value::none());
        std::vector<value> out, cur;
        for (const auto& item : iterate(v)) {
            cur.push_back(item);
            if (static_cast<std::int64_t>(cur.size()) == count) {
                out.push_back(value::list(std::move(cur)));
                cur.clear();
            }
        }
        if (!cur.empty()) {
            if (!fill.is_none())
                while (static_cast<std::int64_t>(cur.size()) < count) cur.push_back(fill);
            out.push_back(value::list(std::move(cur)));
        }
        return value::iterator(std::move(out), "generator");
    }
    if (n == "slice") {
        const std::int64_t slices = need_int(a, a.get(0, "slices"), "slice");
        if (slices <= 0) a.fail("slice count must be positive");
        const auto items = iterate(v);
        const auto len = static_cast<std::int64_t>(items.size());
        const std::int64_t per = len / slices, extra = len % slices;
        std::vector<value> out;
        std::int64_t offset = 0;
        for (std::int64_t i = 0; i < slices; ++i) {
            const std::int64_t start = offset + i * per;
            if (i < extra) ++offset;
            const std::int64_t end = offset + (i + 1) * per;
            out.push_back(value::list(std::vector<value>(items.begin() + start, items.begin() + end)));
        }
        return value::iterator(std::move(out), "generator");
    }
    a.fail("no filter named '" + std::string(n) + "'");
}

} // namespace tether::agent::text::jinja

