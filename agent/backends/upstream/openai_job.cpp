// Kind openai: a job against an OpenAI-compatible server, streamed.
#include "backends/upstream/sse_lines.hpp"
#include "backends/upstream/upstream_backend.hpp"

#include "tether/protocol/json_writer.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <chrono>

namespace tether::agent {
namespace {

using steady = std::chrono::steady_clock;

} // namespace

// The message of an error body: OpenAI's {"error":{"message"}}, FastAPI's
// {"detail"}, TGI's {"error": "…"}, or the start of the text.
std::string upstream_error_message(std::string_view body) {
    if (body.empty()) return {};
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::string_view msg;
    if (!p.parse(body.data(), body.size()).get(doc)) {
        if (!doc["error"]["message"].get_string().get(msg)) return std::string(msg);
        if (!doc["error"].get_string().get(msg)) return std::string(msg);
        if (!doc["message"].get_string().get(msg)) return std::string(msg);
        if (!doc["detail"].get_string().get(msg)) return std::string(msg);
    }
    std::string text(body.substr(0, 300));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    return text;
}

// A failed call or an error status, reported the same way for both kinds.
// True when the call failed (and the sink has been told).
bool report_call_failure(const http_call_result& r, const std::string& space, const std::string& error_body,
                         cancellation_token& cancel, result_sink& sink, upstream_outcome& out) {
    if (r.how == http_call_result::outcome::cancelled || cancel.cancelled()) return true; // the broker dropped it
    if (!r.connected) {
        out.unreachable = true;
        out.error = r.error;
        sink.failed("upstream_unavailable", fmt::format("the upstream for {} is not reachable: {}", space, r.error));
        return true;
    }
    if (r.how == http_call_result::outcome::timed_out) {
        sink.failed("upstream_timeout", "the upstream did not finish in time (before the request's deadline): " + r.error);
        return true;
    }
    if (r.how == http_call_result::outcome::failed) {
        sink.failed("upstream_error", "the upstream failed: " + r.error);
        return true;
    }
    const unsigned st = r.head.status;
    if (st >= 300) {
        // A request the upstream refused as malformed is the client's to fix;
        // a wrong key, path or model, or a broken upstream, is the operator's.
        const bool client = st == 400 || st == 413 || st == 422;
        sink.failed(client ? "bad_input" : "upstream_error",
                    fmt::format("the upstream answered {}: {}", st, upstream_error_message(error_body)));
        return true;
    }
    return false;
}

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

std::vector<std::string> openai_model_ids(std::string_view body) {
    std::vector<std::string> ids;
    if (body.empty()) return ids;
    simdjson::dom::parser p;
    simdjson::dom::array data;
    if (p.parse(body.data(), body.size())["data"].get_array().get(data)) return ids;
    for (auto m : data) {
        std::string_view id;
        if (!m["id"].get_string().get(id) && !id.empty() && id.size() <= 256) ids.emplace_back(id);
        if (ids.size() == 100) break;
    }
    return ids;
}

upstream_outcome run_openai_job(const upstream_target& t, boost::asio::ssl::context* tls, const std::string& model,
                                const job& j, cancellation_token& cancel, result_sink& sink, const http_call_limits& limits) {
    upstream_outcome out;
    const bool chat = !j.messages_json.empty();
    http_request_spec req;
    req.target = t.url.base + (chat ? "/chat/completions" : "/completions");
    req.headers = t.headers;
    req.headers.emplace_back("Accept", "text/event-stream");
    req.body = openai_upstream_body(j, model);

    const auto start = steady::now();
    std::string text, finish_reason, usage, stream_error;
    bool processing = false, stream_error_client = false;
    answer_reader answer;
    simdjson::dom::parser parser;
    auto on_event = [&](std::string_view data) {
        if (data == "[DONE]") return;
        simdjson::dom::element chunk;
        if (parser.parse(data.data(), data.size()).get(chunk)) return;
        if (chunk["error"].error() == simdjson::SUCCESS) {
            stream_error = upstream_error_message(data);
            std::string_view type;
            if (!chunk["error"]["type"].get_string().get(type)) stream_error_client = type == "invalid_request_error";
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
    const auto r = http_call(
        t.url, tls, req, cancel,
        [&](const http_head& h) {
            answer.status = h.status;
            answer.sse = h.content_type.starts_with("text/event-stream");
            return true;
        },
        [&](std::string_view bytes) { return answer.feed(bytes, on_event) && stream_error.empty(); }, limits);
    if (report_call_failure(r, j.space, answer.error_body, cancel, sink, out)) return out;
    if (!stream_error.empty()) {
        // An error the upstream calls the client's (invalid_request_error) is
        // the client's here too, as if it had come before the stream.
        if (stream_error_client) sink.failed("bad_input", "the upstream refused the request: " + stream_error);
        else sink.failed("upstream_error", "the upstream failed mid-stream: " + stream_error);
        return out;
    }
    if (answer.too_long) {
        sink.failed("upstream_error", "the upstream sent an event of more than 1 MiB");
        return out;
    }
    if (!answer.sse) {
        // An upstream that ignored "stream": one JSON answer.
        simdjson::dom::element doc;
        if (parser.parse(answer.body).get(doc)) {
            sink.failed("upstream_error", "the upstream's answer is neither an event stream nor JSON");
            return out;
        }
        std::string_view content;
        auto choice = doc["choices"].at(0);
        if (chat ? !choice["message"]["content"].get_string().get(content) : !choice["text"].get_string().get(content))
            text = std::string(content);
        std::string_view reason;
        if (!choice["finish_reason"].get_string().get(reason)) finish_reason = std::string(reason);
        simdjson::dom::object u;
        if (!doc["usage"].get_object().get(u)) usage = simdjson::minify(u);
        if (!text.empty()) sink.delta(text);
    } else if (finish_reason.empty() && usage.empty()) {
        // The stream ended without a last chunk: the upstream went away mid-answer.
        sink.failed("upstream_error", "the upstream's stream ended before the answer did (no finish_reason)");
        return out;
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
    return out;
}

} // namespace tether::agent
