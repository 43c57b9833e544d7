#pragma once
// A model's chat template: the Jinja text from tokenizer_config.json (a
// string, or the named list's "default") or chat_template.jinja, parsed once
// at load (a construct we do not support fails there, with its line and
// column) and rendered per request with the variables transformers passes:
// messages, add_generation_prompt, tools, documents and the special tokens.

#include "text/jinja/ast.hpp"
#include "text/jinja/interpreter.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace tether::agent::text {

struct chat_request {
    jinja::value messages;                     // a list of {role, content, …}
    bool add_generation_prompt = true;
    jinja::value tools = jinja::value::none(); // a list, or None
    jinja::value documents = jinja::value::none();
    std::map<std::string, jinja::value> extra; // e.g. enable_thinking
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

class chat_template {
  public:
    // `source_name` names the file in errors. Throws text_error for a
    // template that does not parse or uses what is not supported.
    chat_template(std::string source, std::string source_name);

    // The prompt. Throws chat_refused when the template itself raised
    // (raise_exception: e.g. roles that do not alternate), text_error else.
    std::string render(const chat_request& request, const std::map<std::string, std::string>& special_tokens,
                       const jinja::render_limits& limits = {}) const;
    const std::string& source() const { return source_; }

  private:
    std::string source_;
    std::string name_;
    jinja::template_ast ast_;
};

} // namespace tether::agent::text
