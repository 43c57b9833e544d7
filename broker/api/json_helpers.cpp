#include "api/json_helpers.hpp"

#include "tether/shared/clock.hpp"

namespace tether::broker::api {

string_response json_response(http::status status, std::string body) {
    string_response res{status, 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    res.body() += '\n';
    res.prepare_payload();
    return res;
}

string_response error_response(http::status status, std::string_view code, std::string_view message) {
    protocol::json_writer w;
    w.begin_object().key("error").begin_object().key("code").value(code).key("message").value(message);
    w.end_object().end_object();
    return json_response(status, w.take());
}

namespace {
void time_field(protocol::json_writer& w, std::string_view key, const std::optional<time_point>& t) {
    if (t) w.key(key).value(format_rfc3339(*t));
}
} // namespace

void write_request(protocol::json_writer& w, const request_record& r, std::optional<std::size_t> position) {
    auto id = r.id.to_string();
    w.begin_object();
    w.key("request_id").value(id);
    w.key("space").value(r.space);
    w.key("username").value(r.username);
    w.key("status").value(to_string(r.state));
    if (position && r.state == request_state::queued) w.key("position").value(static_cast<std::uint64_t>(*position));
    w.key("attempts").value(r.attempts);
    if (r.prompt) w.key("prompt").value(*r.prompt);
    w.key("params").raw(r.params_json.empty() ? "{}" : r.params_json);
    w.key("created").value(format_rfc3339(r.created));
    w.key("deadline").value(format_rfc3339(r.deadline));
    time_field(w, "dispatched_at", r.dispatched_at);
    time_field(w, "started_at", r.started_at);
    time_field(w, "finished_at", r.finished_at);
    if (!r.output_text.empty()) w.key("output").value(r.output_text);
    if (r.state == request_state::completed && !r.result_json.empty()) w.key("result").raw(r.result_json);
    if (r.inference_ms) w.key("inference_ms").value(*r.inference_ms);
    if (!r.error.code.empty())
        w.key("error").begin_object().key("code").value(r.error.code).key("message").value(r.error.message).end_object();
    w.key("inputs").begin_array();
    for (const auto& f : r.inputs)
        w.begin_object().key("blob").value(f.blob).key("field").value(f.field).key("name").value(f.name)
            .key("mime").value(f.mime).key("size").value(f.size).end_object();
    w.end_array();
    w.key("files").begin_array();
    for (const auto& f : r.outputs)
        w.begin_object().key("blob").value(f.blob).key("name").value(f.name).key("mime").value(f.mime)
            .key("size").value(f.size).key("url").value("/api/requests/" + id + "/files/" + std::to_string(f.blob))
            .end_object();
    w.end_array();
    w.end_object();
}

std::string request_json(const request_record& r, std::optional<std::size_t> position) {
    protocol::json_writer w;
    write_request(w, r, position);
    return w.take();
}

void write_space(protocol::json_writer& w, const space_view& s) {
    w.begin_object();
    w.key("name").value(s.config.name);
    w.key("description").value(s.config.description);
    w.key("features").begin_array();
    static constexpr std::pair<feature, const char*> names[] = {
        {feature_prompt, "prompt"}, {feature_audio, "audio"}, {feature_video, "video"}, {feature_file, "file"}};
    for (const auto& [bit, name] : names)
        if ((s.config.features & bit) != 0) w.value(name);
    w.end_array();
    w.key("connected").value(s.connected);
    if (s.connected) {
        w.key("agent").begin_object().key("name").value(s.agent_name).key("version").value(s.agent_version).end_object();
    } else {
        w.key("agent").null();
    }
    w.key("queue_length").value(static_cast<std::uint64_t>(s.queue_length));
    w.key("in_flight").value(static_cast<std::uint64_t>(s.in_flight));
    w.key("capacity").value(s.capacity);
    w.key("draining").value(s.draining);
    w.key("timeout_s").value(s.config.timeout_s);
    w.key("queue_limit").value(s.config.queue_limit);
    // What the connected agent said of its model: the page offers a chat to one with a template.
    w.key("model");
    if (s.model) {
        w.begin_object().key("name").value(s.model->name);
        w.key("context_length").value(std::uint64_t{s.model->context_length});
        w.key("chat").value(s.model->chat);
        if (!s.model->task.empty()) w.key("task").value(s.model->task);
        w.end_object();
    } else {
        w.null();
    }
    w.end_object();
}

std::string terminal_event_json(const request_record& r) {
    protocol::json_writer w;
    w.begin_object();
    if (r.state == request_state::completed) {
        w.key("result").raw(r.result_json.empty() ? "{}" : r.result_json);
        if (r.inference_ms) w.key("inference_ms").value(*r.inference_ms);
    } else {
        w.key("error").begin_object().key("code").value(r.error.code).key("message").value(r.error.message).end_object();
    }
    w.end_object();
    return w.take();
}

std::optional<simdjson::dom::object> parse_object(simdjson::dom::parser& parser, std::string_view body,
                                                  std::string& error) {
    simdjson::dom::element doc;
    if (auto err = parser.parse(body.data(), body.size()).get(doc); err) {
        error = "body is not valid JSON";
        return std::nullopt;
    }
    simdjson::dom::object obj;
    if (doc.get_object().get(obj)) {
        error = "body must be a JSON object";
        return std::nullopt;
    }
    return obj;
}

std::optional<std::string> string_field(simdjson::dom::object o, std::string_view key, bool& bad) {
    simdjson::dom::element e;
    if (o.at_key(key).get(e)) return std::nullopt;
    if (e.is_null()) return std::nullopt;
    std::string_view s;
    if (e.get_string().get(s)) {
        bad = true;
        return std::nullopt;
    }
    return std::string(s);
}

std::optional<std::int64_t> int_field(simdjson::dom::object o, std::string_view key, bool& bad) {
    simdjson::dom::element e;
    if (o.at_key(key).get(e)) return std::nullopt;
    if (e.is_null()) return std::nullopt;
    std::int64_t v = 0;
    if (e.get_int64().get(v)) {
        bad = true;
        return std::nullopt;
    }
    return v;
}

std::optional<bool> bool_field(simdjson::dom::object o, std::string_view key, bool& bad) {
    simdjson::dom::element e;
    if (o.at_key(key).get(e)) return std::nullopt;
    bool v = false;
    if (e.get_bool().get(v)) {
        bad = true;
        return std::nullopt;
    }
    return v;
}

} // namespace tether::broker::api
