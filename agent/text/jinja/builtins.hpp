#pragma once
// The filters, tests, methods and globals chat templates can use, each with
// the behaviour of its Jinja2 (or Python) original. Internal to the
// interpreter: it hands them a runtime to call back for nested filters and
// tests (map, select, selectattr) and to count work against the limits.

#include "text/jinja/interpreter.hpp"

#include <string_view>

namespace tether::agent::text::jinja {

class runtime {
  public:
    virtual ~runtime() = default;
    virtual value filter(std::string_view name, const value& operand, call_args& args) = 0;
    virtual bool test(std::string_view name, const value& operand, call_args& args) = 0;
    // Counts work (items walked by a filter, loop iterations) against the limits.
    virtual void spend(std::size_t items) = 0;
    virtual const render_options& options() const = 0;
};

value apply_filter(runtime& rt, std::string_view name, const value& operand, call_args& args);
bool apply_test(runtime& rt, std::string_view name, const value& operand, call_args& args);
// A method of a str, dict or list value (bound to it), or undefined.
value method_of(runtime& rt, const value& object, std::string_view name);
// range, namespace, dict, raise_exception, strftime_now; undefined otherwise.
value global_function(runtime& rt, std::string_view name);

// Jinja's environment.getattr / getitem (a dict's methods before its keys
// for `.`, its keys first for `[]`).
value get_attribute(runtime& rt, const value& object, std::string_view name);
value get_item(runtime& rt, const value& object, const value& key);
// The items a `for` walks (dict: keys, str: characters); throws for non-iterables.
std::vector<value> iterate(const value& v);

} // namespace tether::agent::text::jinja
