#pragma once
// Helpers the filters (filters.cpp) and the methods, tests and globals
// (builtins.cpp) share. Internal to agent/text/jinja.

#include "text/jinja/builtins.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::text::jinja {

// Refuses a collection past the render limits.
void check_size(runtime& rt, const call_args& a, std::size_t n);
// make_attrgetter: "a.b.0" walks getitem, integer parts as integers.
value attribute_path(runtime& rt, const value& item, const value& attribute);
// Lower-cased strings (Jinja's ignore_case); anything else unchanged.
value ignore_case(const value& v);
// A dict's (key, value) pairs as tuples.
std::vector<value> items_of(const value& v);
// select / reject / selectattr / rejectattr: a generator.
value select_items(runtime& rt, const value& seq, call_args& args, bool keep_when, bool by_attribute);
std::string strftime_value(std::chrono::system_clock::time_point now, std::string_view format);
value range_value(runtime& rt, call_args& a);
// int(v, base) as Jinja's |int does it; `fallback` when it cannot.
value to_int(const value& v, const value& fallback, std::int64_t base);

} // namespace tether::agent::text::jinja
