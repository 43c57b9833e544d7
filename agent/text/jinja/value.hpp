#pragma once
// Values of the chat-template interpreter, with the semantics of Python and
// Jinja2 that templates rely on: truthiness, str() and repr() (lists print
// as ['a', 1]), == across int/float/bool, ordering, `in`, dicts that keep
// insertion order, tuples, namespaces, callables, and jinja2.Undefined
// (prints as nothing, fails on arithmetic or attribute access).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tether::agent::text::jinja {

// An error while rendering (or parsing); `line`/`column` 1-based, 0 unknown.
struct template_error : std::runtime_error {
    template_error(const std::string& message, int line = 0, int column = 0)
        : std::runtime_error(message), line(line), column(column) {}
    int line;
    int column;
};

class value;
struct dict;
struct call_args;

using list_ptr = std::shared_ptr<std::vector<value>>;
using dict_ptr = std::shared_ptr<dict>;
using native_fn = std::function<value(call_args&)>;

enum class kind : std::uint8_t { undefined, none, boolean, integer, floating, string, list, tuple, dict, ns, callable };

struct callable_value {
    std::string name;
    native_fn fn;
};

class value {
  public:
    value() = default; // undefined
    static value undefined(std::string name = {});
    static value none();
    value(bool b);
    value(std::int64_t i);
    value(int i) : value(static_cast<std::int64_t>(i)) {}
    value(double d);
    value(std::string s);
    value(const char* s) : value(std::string(s)) {}
    static value list(std::vector<value> items = {});
    static value tuple(std::vector<value> items);
    // What Jinja2's filters return as generators (map, select…, unique,
    // batch, slice, items), reversed() iterators and dict views
    // (dict.items/keys/values): iterable like a list, but not subscriptable,
    // without len() (views have it) and, but for views, always true.
    // `type` is Python's name for it: "generator", "dict_items", ….
    static value iterator(std::vector<value> items, std::string type);
    static value make_dict();
    static value make_namespace();
    static value function(std::string name, native_fn fn);

    kind type() const { return kind_; }
    bool is_undefined() const { return kind_ == kind::undefined; }
    bool is_none() const { return kind_ == kind::none; }
    bool is_bool() const { return kind_ == kind::boolean; }
    bool is_int() const { return kind_ == kind::integer; }
    bool is_float() const { return kind_ == kind::floating; }
    bool is_number() const { return kind_ == kind::integer || kind_ == kind::floating || kind_ == kind::boolean; }
    bool is_string() const { return kind_ == kind::string; }
    bool is_list() const { return kind_ == kind::list || kind_ == kind::tuple; }
    bool is_iterator() const { return kind_ == kind::list && !s_.empty(); }
    bool is_dict_view() const { return is_iterator() && s_.rfind("dict_", 0) == 0; }
    bool is_dict() const { return kind_ == kind::dict || kind_ == kind::ns; }
    bool is_callable() const { return kind_ == kind::callable; }

    bool as_bool() const { return b_; }
    std::int64_t as_int() const { return i_; }
    double as_double() const; // int, float or bool
    const std::string& as_string() const { return s_; }
    std::vector<value>& items() const { return *list_; }
    dict& entries() const { return *dict_; }
    const callable_value& fn() const { return *fn_; }
    // The name an undefined value was looked up by, for error messages.
    const std::string& undefined_name() const { return s_; }

    bool truthy() const;
    // Python str() (as Jinja prints it: undefined is "").
    std::string str() const;
    // Python repr().
    std::string repr() const;
    // Jinja's type name for errors ("str", "list", "dict", "int", …).
    std::string type_name() const;

    friend bool operator==(const value& a, const value& b);

  private:
    kind kind_ = kind::undefined;
    bool b_ = false;
    std::int64_t i_ = 0;
    double d_ = 0;
    std::string s_;
    list_ptr list_;
    dict_ptr dict_;
    std::shared_ptr<callable_value> fn_;
};

// Insertion-ordered mapping; keys compared as Python does (1 == 1.0 == True).
struct dict {
    std::vector<std::pair<value, value>> items;
    std::unordered_map<std::string, std::size_t> index; // key identity -> position

    const value* find(const value& key) const;
    const value* find(std::string_view key) const;
    void set(const value& key, value v);
    std::size_t size() const { return items.size(); }
};

// Arguments of a call: positional, then keyword (in call order).
struct call_args {
    std::vector<value> positional;
    std::vector<std::pair<std::string, value>> keyword;
    int line = 0;
    int column = 0;

    // The argument at `index` or named `name`, else `fallback`.
    value get(std::size_t index, std::string_view name, value fallback = value()) const;
    [[noreturn]] void fail(const std::string& message) const { throw template_error(message, line, column); }
};

// Python's float repr (shortest round trip; 1.0, 1e+16, 1e-05).
std::string python_float_repr(double d);
std::string python_string_repr(std::string_view s);
// json.dumps(v, ensure_ascii=False, indent=…, sort_keys=…), with Python's
// separators: ", " and ": " (or "," and ": " when indenting).
std::string to_json(const value& v, std::optional<int> indent = std::nullopt, bool sort_keys = false,
                    std::optional<std::pair<std::string, std::string>> separators = std::nullopt);
// Python ordering (<); throws template_error for types that do not compare.
bool less_than(const value& a, const value& b);
// `needle in haystack`.
bool contains(const value& haystack, const value& needle);
// Python's len(); nullopt when the value has none.
std::optional<std::size_t> length_of(const value& v);
// A value from JSON text (the template's variables: messages, tools, …).
value from_json(std::string_view json);

} // namespace tether::agent::text::jinja
