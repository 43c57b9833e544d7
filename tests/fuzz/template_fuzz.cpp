// libFuzzer target for hostile chat templates: the input (up to its first
// NUL byte) is parsed as a chat template; what follows the NUL, if it is a
// JSON array, is the conversation (else a fixed one with system, user,
// assistant and tool turns). Renders with small limits, with and without a
// generation prompt and tools. Errors are fine; crashes, hangs, unbounded
// memory and exceptions other than the library's own are not.
#include "text/chat_template.hpp"
#include "text/jinja/value.hpp"
#include "text/json_view.hpp"

#include <cstdint>
#include <string>
#include <string_view>

using namespace tether::agent::text;

namespace {

constexpr std::string_view fixed_messages =
    R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi 😀"},)"
    R"({"role":"assistant","content":"","tool_calls":[{"type":"function","function":{"name":"f","arguments":{"x":1}}}]},)"
    R"({"role":"tool","content":"42","tool_call_id":"c1"},{"role":"user","content":[{"type":"text","text":"and?"}]}])";
constexpr std::string_view tools =
    R"([{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{"x":{"type":"integer"}}}}}])";

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto nul = input.find('\0');
    const std::string source(input.substr(0, nul));
    std::optional<chat_template> t;
    try {
        t.emplace(source, "chat_template.jinja");
    } catch (const text_error&) {
        return 0;
    }
    chat_request r;
    try {
        r.messages = jinja::from_json(nul == std::string_view::npos ? fixed_messages : input.substr(nul + 1));
    } catch (const jinja::template_error&) {
        r.messages = jinja::from_json(fixed_messages);
    }
    const std::map<std::string, std::string> specials{{"bos_token", "<s>"}, {"eos_token", "</s>"}};
    jinja::render_limits limits;
    limits.max_output = 1U << 16;
    limits.max_iterations = 20'000;
    limits.max_collection = 20'000;
    for (const bool agp : {false, true}) {
        r.add_generation_prompt = agp;
        r.tools = agp ? jinja::from_json(tools) : jinja::value::none();
        try {
            (void)t->render(r, specials, limits);
        } catch (const text_error&) {
        }
    }
    return 0;
}
