#include "backends/upstream/openai_upstream.hpp"

#include "tether/protocol/json_writer.hpp"
#include "tether/shared/log.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <chrono>
#include <cstdlib>

namespace tether::agent {
namespace {

using steady = std::chrono::steady_clock;
constexpr std::size_t max_error_body = 64U << 10;

// Reads an SSE body as it arrives: whole `data:` payloads, one at a time.
class sse_lines {
  public:
    template <typename F> void feed(std::string_view bytes, F&& on_data) {
        pending_.append(bytes);
        std::size_t start = 0;
        for (;;) {
            const auto nl = pending_.find('\n', start);
            if (nl == std::string::npos) break;
            std::string_view line(pending_.data() + start, nl - start);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (line.starts_with("data:")) {
                line.remove_prefix(5);
                if (line.starts_with(' ')) line.remove_prefix(1);
                on_data(line);
            }
            start = nl + 1;
        }
        pending_.erase(0, start);
    }
    std::size_t pending() const { return pending_.size(); }

  private:
    std::string pending_;
};

std::string error_message(std::string_view body) {
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::string_view msg;
    if (!p.parse(body.data(), body.size()).get(doc)) {
        if (!doc["error"]["message"].get_string().get(msg)) return std::string(msg);
        if (!doc["error"].get_string().get(msg)) return std::string(msg);
        if (!doc["message"].get_string().get(msg)) return std::string(msg);
        if (!doc["detail"].get_string().get(msg)) return std::string(msg);
    }
    return std::string(body.substr(0, 300));
}

} // namespace

std::string openai_upstream_body(const job& j, const std::string& model) {
    protocol::json_writer w;
    w.begin_object().key("model").value(model);
    if (!j.messages_json.empty()) w.key("messages").raw(j.messages_json);
    else w.key("prompt").value(j.prompt);
    simdjson::dom::parser p;
    simdjson::dom::object params;
    if (!j.params_json.empty() && !p.parse(j.params_json).get_object().get(params))
        for (auto [k, v] : params) {
            if (k == "model" || k == "messages" || k == "prompt" || k == "stream" || k == "stream_options") continue;
            w.key(k).raw(simdjson::minify(v));
        }
    w.key("stream").value(true);
    w.key("stream_options").begin_object().key("include_usage").value(true).end_object();
    w.end_object();
    return w.take();
}

openai_upstream::openai_upstream(std::map<std::string, upstream_url> upstreams, http_call_limits limits) : limits_(limits) {
    for (auto& [space, url] : upstreams) {
        served s;
        if (!url.key_env.empty()) {
            const char* key = std::getenv(url.key_env.c_str());
            if (key == nullptr || *key == '\0')
                log::warn("upstream for space {}: ${} is not set; calling it without a key", space, url.key_env);
            else s.key = key;
        }
        s.url = std::move(url);
        log::info("space {}: served by the OpenAI-compatible server at http://{}:{}{} (model {})", space, s.url.host,
                  s.url.port, s.url.base, s.url.model.empty() ? std::string("= the space's name") : s.url.model);
        spaces_.emplace(space, std::move(s));
    }
}

std::vector<std::string> openai_upstream::models(const std::string& space) const {
    auto it = spaces_.find(space);
    if (it == spaces_.end()) return {};
    return {it->second.url.model.empty() ? space : it->second.url.model};
}

void openai_upstream::run(const job& j, cancellation_token& cancel, result_sink& sink) {
    const auto it = spaces_.find(j.space);
    if (it == spaces_.end()) return sink.failed("bad_input", "no upstream serves space " + j.space);
    const served& s = it->second;
    const bool chat = !j.messages_json.empty();
    const std::string model = s.url.model.empty() ? j.space : s.url.model;
    std::vector<std::pair<std::string, std::string>> headers{{"Accept", "text/event-stream"}};
    if (!s.key.empty()) headers.emplace_back("Authorization", "Bearer " + s.key);

    const auto start = steady::now();
    unsigned status = 0;
    std::string error_body, whole_body, text, finish_reason, usage, stream_error;
    bool sse = false, processing = false;
    sse_lines lines;
    simdjson::dom::parser parser;
    auto on_payload = [&](std::string_view data) {
        if (data == "[DONE]") return;
        simdjson::dom::element chunk;
        if (parser.parse(data.data(), data.size()).get(chunk)) return;
        if (chunk["error"].error() == simdjson::SUCCESS) {
            stream_error = error_message(data);
            return;
        }
        simdjson::dom::object u;
        if (!chunk["usage"].get_object().get(u)) usage = simdjson::minify(u);
        simdjson::dom::array choices;
        if (chunk["choices"].get_array().get(choices) || choices.size() == 0) return;
        auto choice = choices.at(0);
        std::string_view piece;
        if (chat ? !choice["delta"]["content"].get_string().get(piece) : !choice["text"].get_string().get(piece)) {
            if (!piece.empty()) {
                if (!processing) {
                    processing = true;
                    sink.processing();
                }
                text.append(piece);
                sink.delta(std::string(piece));
            }
        }
        std::string_view reason;
        if (!choice["finish_reason"].get_string().get(reason)) finish_reason = std::string(reason);
    };
    const auto r = http_post(
        s.url, s.url.base + (chat ? "/chat/completions" : "/completions"), headers, openai_upstream_body(j, model), cancel,
        [&](unsigned st, std::string_view ctype) {
            status = st;
            sse = ctype.starts_with("text/event-stream");
            return true;
        },
        [&](std::string_view bytes) {
            if (status >= 300) {
                error_body.append(bytes.substr(0, max_error_body - std::min(max_error_body, error_body.size())));
                return error_body.size() < max_error_body;
            }
            if (!sse) {
                whole_body.append(bytes);
                return true;
            }
            lines.feed(bytes, on_payload);
            return stream_error.empty() && lines.pending() < (1U << 20); // one SSE line is never 1 MiB
        },
        limits_);
    if (r.how == http_call_result::outcome::cancelled || cancel.cancelled()) return; // the broker dropped it
    if (!r.connected)
        return sink.failed("upstream_unavailable", fmt::format("the upstream for {} is not reachable: {}", j.space, r.error));
    if (r.how == http_call_result::outcome::failed) return sink.failed("upstream_error", "the upstream failed: " + r.error);
    if (status >= 300)
        return sink.failed("upstream_error", fmt::format("the upstream answered {}: {}", status, error_message(error_body)));
    if (!stream_error.empty()) return sink.failed("upstream_error", "the upstream failed mid-stream: " + stream_error);
    if (!sse) {
        // An upstream that ignored "stream": one JSON answer.
        simdjson::dom::element doc;
        if (parser.parse(whole_body).get(doc))
            return sink.failed("upstream_error", "the upstream's answer is neither an event stream nor JSON");
        std::string_view content;
        auto choice = doc["choices"].at(0);
        if (chat ? !choice["message"]["content"].get_string().get(content) : !choice["text"].get_string().get(content))
            text = std::string(content);
        std::string_view reason;
        if (!choice["finish_reason"].get_string().get(reason)) finish_reason = std::string(reason);
        simdjson::dom::object u;
        if (!doc["usage"].get_object().get(u)) usage = simdjson::minify(u);
        if (!text.empty()) sink.delta(text);
    }
    protocol::json_writer w;
    w.begin_object();
    if (!finish_reason.empty()) w.key("finish_reason").value(finish_reason);
    if (!usage.empty()) w.key("usage").raw(usage);
    w.end_object();
    completion c;
    c.output = std::move(text);
    c.extra_json = w.take();
    c.inference_ms = std::chrono::duration<double, std::milli>(steady::now() - start).count();
    sink.completed(std::move(c));
}

} // namespace tether::agent
