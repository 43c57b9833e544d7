#include "text/chat_template.hpp"

#include "text/jinja/parser.hpp"
#include "text/json_view.hpp"

namespace tether::agent::text {
namespace {

std::string where(const std::string& name, const jinja::template_error& e) {
    if (e.line == 0) return name;
    return name + ":" + std::to_string(e.line) + ":" + std::to_string(e.column);
}

} // namespace

chat_template::chat_template(std::string source, std::string source_name)
    : source_(std::move(source)), name_(std::move(source_name)) {
    try {
        ast_ = jinja::parse(source_);
    } catch (const jinja::template_error& e) {
        throw text_error(where(name_, e) + ": the chat template does not parse: " + e.what());
    }
}

std::string chat_template::render(const chat_request& request, const std::map<std::string, std::string>& special_tokens,
                                  const jinja::render_limits& limits) const {
    jinja::value vars = jinja::value::make_dict();
    auto& v = vars.entries();
    for (const auto& [k, tok] : special_tokens) v.set(jinja::value(k), jinja::value(tok));
    v.set(jinja::value("messages"), request.messages);
    v.set(jinja::value("add_generation_prompt"), jinja::value(request.add_generation_prompt));
    v.set(jinja::value("tools"), request.tools);
    v.set(jinja::value("documents"), request.documents);
    for (const auto& [k, val] : request.extra) v.set(jinja::value(k), val);
    jinja::render_options options;
    options.now = request.now;
    options.limits = limits;
    try {
        return jinja::render(ast_, vars, options);
    } catch (const jinja::template_raised& e) {
        throw chat_refused(std::string("the chat template refused the conversation: ") + e.what());
    } catch (const jinja::template_error& e) {
        throw text_error(where(name_, e) + ": rendering the chat template failed: " + e.what());
    }
}

} // namespace tether::agent::text
