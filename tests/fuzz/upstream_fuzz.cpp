// libFuzzer target for what the agent reads from an --upstream: the input is
// "[URL]\n[PATH]\n[body]". The URL goes to parse_upstream_url; the body is
// read as an answer the three kinds take: an SSE stream (fed whole, byte by
// byte and in uneven pieces: the events must be the same), a JSON document
// whose member at PATH is taken as text, a /models list, an error body. Nothing
// may crash, and every bound must hold (abort otherwise).
#include "backends/upstream/sse_lines.hpp"
#include "backends/upstream/upstream_backend.hpp"
#include "backends/upstream/upstream_url.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace tether::agent;

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "upstream_fuzz: %s\n", what);
    std::abort();
}

struct feed_result {
    std::vector<std::pair<std::string, std::string>> events; // name, data
    bool too_long = false;
};

feed_result feed(std::string_view body, std::size_t step) {
    feed_result r;
    answer_reader a;
    a.status = 200;
    a.sse = true;
    for (std::size_t at = 0; at < body.size(); at += step) {
        const bool more = a.feed(body.substr(at, step), [&](std::string_view data) {
            r.events.emplace_back(a.lines.event(), std::string(data));
        });
        if (!more) break;
    }
    r.too_long = a.too_long;
    if (!a.too_long && a.lines.pending() > answer_reader::max_event) fail("an unbounded pending event");
    return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto nl1 = in.find('\n');
    const std::string_view url = in.substr(0, nl1);
    const std::string_view rest = nl1 == std::string_view::npos ? std::string_view{} : in.substr(nl1 + 1);
    const auto nl2 = rest.find('\n');
    const std::string path(rest.substr(0, std::min<std::size_t>(nl2, 200)));
    const std::string_view body = nl2 == std::string_view::npos ? std::string_view{} : rest.substr(nl2 + 1);

    std::string error;
    if (auto u = parse_upstream_url(std::string(url), error)) {
        if (u->host.empty() || u->port == 0) fail("a URL without host or port parsed");
        if (u->max_body == 0 || u->max_body > max_upstream_body) fail("max_body out of bounds");
        if (u->kind == "gradio" && u->base.rfind("/call/") == std::string::npos) fail("a gradio URL without /call/");
        (void)u->display();
    } else if (error.empty()) {
        fail("a refused URL without a reason");
    }

    // SSE: the same events whatever the pieces the body arrives in.
    const auto whole = feed(body, body.size() + 1);
    if (!whole.too_long) {
        for (std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{64}}) {
            const auto pieces = feed(body, step);
            if (pieces.events != whole.events) fail("SSE events depend on how the body was split");
        }
    }

    // JSON answers: a member as text, model ids, an error message.
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    if (!body.empty() && !p.parse(body.data(), body.size()).get(doc) && !path.empty()) {
        simdjson::dom::element v;
        if (!upstream_member(doc, path).get(v)) (void)upstream_text(v);
    }
    const auto ids = openai_model_ids(body);
    if (ids.size() > 100) fail("more than 100 model ids");
    for (const auto& id : ids)
        if (id.empty() || id.size() > 256) fail("a model id out of bounds");
    (void)upstream_error_message(body);
    return 0;
}
