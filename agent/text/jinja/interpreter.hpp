#pragma once
// Renders a parsed template with Jinja2's semantics as transformers sets it
// up for chat templates (ImmutableSandboxedEnvironment with loop controls):
// scoping (a loop iteration's `set` stays in it; namespace() crosses it),
// macros with defaults and caller, the filters, tests and str/dict/list
// methods templates use, raise_exception and strftime_now. Bounded: output
// size, loop iterations and call depth are limited, so a hostile template
// fails with template_error instead of taking the agent down.

#include "text/jinja/ast.hpp"

#include <chrono>
#include <cstddef>
#include <string>

namespace tether::agent::text::jinja {

struct render_limits {
    std::size_t max_output = 16U << 20;       // bytes
    std::size_t max_iterations = 1'000'000;   // loop iterations, all loops together
    std::size_t max_call_depth = 64;          // macro calls within each other
    std::size_t max_collection = 1'000'000;   // items a list or string repetition may reach
};

struct render_options {
    render_limits limits;
    // What strftime_now() formats (local time as the reference uses).
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

// Raised by raise_exception() in a template: the template's own words.
struct template_raised : template_error {
    using template_error::template_error;
};

// `variables`: a dict value (messages, add_generation_prompt, tools, …).
std::string render(const template_ast& ast, const value& variables, const render_options& options = {});

} // namespace tether::agent::text::jinja
