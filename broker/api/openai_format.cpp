#include "api/openai_format.hpp"

#include "tether/protocol/json_writer.hpp"

#include <simdjson.h>

#include <algorithm>
#include <climits>
#include <cmath>

namespace tether::broker::api {

namespace http = boost::beast::http;

std::string openai_error_json(const openai_error& e) {
    protocol::json_writer w;
    w.begin_object().key("error").begin_object();
    w.key("message").value(e.message);
    w.key("type").value(e.type);
    w.key("param");
    if (e.param.empty()) w.null();
    else w.value(e.param);
    w.key("code");
    if (e.code.empty()) w.null();
    else w.value(e.code);
    w.end_object().end_object();
    return w.take();
}

net::string_response openai_error_response(const openai_error& e) {
    net::string_response res{e.status, 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.body() = openai_error_json(e) + "\n";
    res.prepare_payload();
    return res;
}

openai_error invalid_request(std::string message, std::string param, std::string code) {
    return openai_error{http::status::bad_request, std::move(message), "invalid_request_error", std::move(param),
                        std::move(code)};
}

namespace {

openai_error invalid(std::string message, std::string param, std::string code = {}) {
    return invalid_request(std::move(message), std::move(param), std::move(code));
}

bool known_role(std::string_view r) {
    return r == "system" || r == "developer" || r == "user" || r == "assistant" || r == "tool";
}

// content: a string, null (an assistant turn that only called tools), or an
// array of parts of which we take the text ones.
bool read_content(simdjson::dom::element e, std::string& out, std::string& why) {
    if (e.is_null()) return true;
    std::string_view s;
    if (!e.get_string().get(s)) {
        out = std::string(s);
        return true;
    }
    simdjson::dom::array parts;
    if (e.get_array().get(parts)) {
        why = "content must be a string or an array of parts";
        return false;
    }
    for (auto part : parts) {
        std::string_view type;
        std::string_view text;
        if (part["type"].get_string().get(type) || type != "text") {
            why = "only text content parts are supported";
            return false;
        }
        if (part["text"].get_string().get(text)) {
            why = "a text part needs a string 'text'";
            return false;
        }
        out += text;
    }
    return true;
}

bool read_messages(simdjson::dom::object body, chat_request& out, openai_error& error, const chat_limits& limits) {
    simdjson::dom::array messages;
    if (body["messages"].get_array().get(messages)) {
        error = invalid("'messages' is required and must be an array", "messages");
        return false;
    }
    std::size_t i = 0;
    for (auto m : messages) {
        auto param = "messages[" + std::to_string(i++) + "]";
        if (out.messages.size() >= limits.max_messages) {
            error = invalid("too many messages", "messages");
            return false;
        }
        simdjson::dom::object obj;
        std::string_view role;
        if (m.get_object().get(obj)) {
            error = invalid(param + " must be an object", param);
            return false;
        }
        if (obj["role"].get_string().get(role) || !known_role(role)) {
            error = invalid(param + ".role must be one of system, developer, user, assistant, tool", param + ".role");
            return false;
        }
        chat_message msg{std::string(role), {}};
        simdjson::dom::element content;
        std::string why;
        if (!obj["content"].get(content) && !read_content(content, msg.content, why)) {
            error = invalid(param + ".content: " + why, param + ".content");
            return false;
        }
        out.messages.push_back(std::move(msg));
    }
    if (out.messages.empty()) {
        error = invalid("'messages' must not be empty", "messages");
        return false;
    }
    protocol::json_writer w;
    w.begin_array();
    for (const auto& m : out.messages)
        w.begin_object().key("role").value(m.role).key("content").value(m.content).end_object();
    w.end_array();
    out.messages_json = w.take();
    return true;
}

std::optional<double> number_field(simdjson::dom::object body, std::string_view key, double lo, double hi,
                                   std::string_view range, openai_error& error, bool& bad) {
    simdjson::dom::element e;
    if (body.at_key(key).get(e) || e.is_null()) return std::nullopt;
    double v = 0;
    if (e.get_double().get(v) || !std::isfinite(v) || v < lo || v > hi) {
        error = invalid("'" + std::string(key) + "' must be a number from " + std::string(range),
                        std::string(key));
        bad = true;
        return std::nullopt;
    }
    return v;
}

bool read_stop(simdjson::dom::object body, chat_request& out, openai_error& error, const chat_limits& limits) {
    simdjson::dom::element e;
    if (body.at_key("stop").get(e) || e.is_null()) return true;
    auto add = [&](simdjson::dom::element item) {
        std::string_view s;
        if (item.get_string().get(s) || s.empty() || s.size() > limits.max_stop_bytes) {
            error = invalid("'stop' must be a non-empty string or an array of them, each at most " +
                                std::to_string(limits.max_stop_bytes) + " bytes",
                            "stop");
            return false;
        }
        out.stop.emplace_back(s);
        return true;
    };
    simdjson::dom::array list;
    if (e.get_array().get(list)) return add(e);
    for (auto item : list) {
        if (out.stop.size() >= limits.max_stop) {
            error = invalid("'stop' takes at most " + std::to_string(limits.max_stop) + " sequences", "stop");
            return false;
        }
        if (!add(item)) return false;
    }
    return true;
}

std::optional<std::int64_t> int_field(simdjson::dom::object body, std::string_view key, std::int64_t lo, std::int64_t hi,
                                      openai_error& error, bool& bad) {
    simdjson::dom::element e;
    if (body.at_key(key).get(e) || e.is_null()) return std::nullopt;
    std::int64_t v = 0;
    if (e.get_int64().get(v) || v < lo || v > hi) {
        error = invalid("'" + std::string(key) + "' must be an integer from " + std::to_string(lo) + " to " +
                            std::to_string(hi),
                        std::string(key));
        bad = true;
        return std::nullopt;
    }
    return v;
}

std::optional<bool> bool_field(simdjson::dom::object body, std::string_view key, openai_error& error, bool& bad) {
    simdjson::dom::element e;
    if (body.at_key(key).get(e) || e.is_null()) return std::nullopt;
    bool v = false;
    if (e.get_bool().get(v)) {
        error = invalid("'" + std::string(key) + "' must be a boolean", std::string(key));
        bad = true;
        return std::nullopt;
    }
    return v;
}

// The sampling surface (OpenAI's and vLLM's parameters), checked here for
// the error's shape and again by the agent, which knows the model's limits.
bool read_params(simdjson::dom::object body, chat_request& out, openai_error& error, const chat_limits& limits) {
    bool bad = false;
    std::optional<std::int64_t> max_tokens;
    for (std::string_view key : {"max_tokens", "max_completion_tokens"}) {
        simdjson::dom::element e;
        if (body.at_key(key).get(e) || e.is_null()) continue;
        std::int64_t v = 0;
        if (e.get_int64().get(v) || v < 1 || v > limits.max_tokens) {
            error = invalid("'" + std::string(key) + "' must be a positive integer", std::string(key));
            return false;
        }
        max_tokens = v;
    }
    const auto temperature = number_field(body, "temperature", 0, 2, "0 to 2", error, bad);
    const auto top_p = bad ? std::nullopt : number_field(body, "top_p", 0, 1, "0 to 1", error, bad);
    const auto min_p = bad ? std::nullopt : number_field(body, "min_p", 0, 1, "0 to 1", error, bad);
    const auto presence = bad ? std::nullopt : number_field(body, "presence_penalty", -2, 2, "-2 to 2", error, bad);
    const auto frequency = bad ? std::nullopt : number_field(body, "frequency_penalty", -2, 2, "-2 to 2", error, bad);
    const auto repetition = bad ? std::nullopt : number_field(body, "repetition_penalty", 1e-9, 10, "0 (excluded) to 10", error, bad);
    const auto top_k = bad ? std::nullopt : int_field(body, "top_k", -1, 1 << 24, error, bad);
    const auto seed = bad ? std::nullopt : int_field(body, "seed", INT64_MIN / 2, INT64_MAX / 2, error, bad);
    const auto ignore_eos = bad ? std::nullopt : bool_field(body, "ignore_eos", error, bad);
    const auto top_logprobs = bad ? std::nullopt : int_field(body, "top_logprobs", 0, 20, error, bad);
    if (bad) return false;
    // logprobs: a boolean for chat, a number of alternatives (0-5) for completions.
    std::optional<bool> logprobs;
    std::optional<std::int64_t> logprobs_n;
    if (out.api == openai_api::chat) {
        logprobs = bool_field(body, "logprobs", error, bad);
        if (bad) return false;
        if (top_logprobs && !logprobs.value_or(false)) {
            error = invalid("'top_logprobs' needs 'logprobs': true", "top_logprobs");
            return false;
        }
    } else {
        logprobs_n = int_field(body, "logprobs", 0, 5, error, bad);
        if (bad) return false;
    }
    simdjson::dom::element n;
    if (!body.at_key("n").get(n) && !n.is_null()) {
        std::int64_t v = 0;
        if (n.get_int64().get(v) || v != 1) {
            error = invalid("only n = 1 is supported", "n");
            return false;
        }
    }
    std::vector<std::int64_t> stop_ids;
    simdjson::dom::element ids;
    if (!body.at_key("stop_token_ids").get(ids) && !ids.is_null()) {
        simdjson::dom::array arr;
        if (ids.get_array().get(arr) || arr.size() > 64) {
            error = invalid("'stop_token_ids' must be an array of at most 64 token ids", "stop_token_ids");
            return false;
        }
        for (auto id : arr) {
            std::int64_t v = 0;
            if (id.get_int64().get(v) || v < 0) {
                error = invalid("'stop_token_ids' must hold non-negative integers", "stop_token_ids");
                return false;
            }
            stop_ids.push_back(v);
        }
    }
    simdjson::dom::element so;
    if (!body.at_key("stream_options").get(so) && !so.is_null()) {
        simdjson::dom::element iu;
        if (!so.is_object() || (!so["include_usage"].get(iu) && !iu.is_null() && iu.get_bool().get(out.include_usage))) {
            error = invalid("'stream_options' must be an object with a boolean 'include_usage'", "stream_options");
            return false;
        }
    }
    if (!read_stop(body, out, error, limits)) return false;

    protocol::json_writer w;
    w.begin_object();
    if (max_tokens) w.key("max_tokens").value(*max_tokens);
    if (temperature) w.key("temperature").value(*temperature);
    if (top_p) w.key("top_p").value(*top_p);
    if (top_k) w.key("top_k").value(*top_k);
    if (min_p) w.key("min_p").value(*min_p);
    if (seed) w.key("seed").value(*seed);
    if (presence) w.key("presence_penalty").value(*presence);
    if (frequency) w.key("frequency_penalty").value(*frequency);
    if (repetition) w.key("repetition_penalty").value(*repetition);
    if (!out.stop.empty()) {
        w.key("stop").begin_array();
        for (const auto& st : out.stop) w.value(st);
        w.end_array();
    }
    if (!stop_ids.empty()) {
        w.key("stop_token_ids").begin_array();
        for (auto id : stop_ids) w.value(id);
        w.end_array();
    }
    if (ignore_eos) w.key("ignore_eos").value(*ignore_eos);
    if (logprobs) w.key("logprobs").value(*logprobs);
    if (logprobs_n) w.key("logprobs").value(*logprobs_n);
    if (top_logprobs) w.key("top_logprobs").value(*top_logprobs);
    w.end_object();
    out.params_json = w.take();
    out.logprobs = logprobs.value_or(false) || logprobs_n.has_value();
    return true;
}

// model, stream: what both endpoints start with.
bool read_common(simdjson::dom::object obj, chat_request& out, openai_error& error) {
    std::string_view model;
    if (obj["model"].get_string().get(model) || model.empty()) {
        error = invalid("'model' is required: the name of a space (see GET /v1/models)", "model");
        return false;
    }
    out.model = std::string(model);
    simdjson::dom::element stream;
    if (!obj.at_key("stream").get(stream) && !stream.is_null() && stream.get_bool().get(out.stream)) {
        error = invalid("'stream' must be a boolean", "stream");
        return false;
    }
    return true;
}


} // namespace

std::optional<simdjson::dom::object> body_object(simdjson::dom::parser& parser, std::string_view body, openai_error& error) {
    simdjson::dom::element doc;
    simdjson::dom::object obj;
    if (parser.parse(body.data(), body.size()).get(doc)) {
        error = invalid("the body is not valid JSON", "");
        return std::nullopt;
    }
    if (doc.get_object().get(obj)) {
        error = invalid("the body must be a JSON object", "");
        return std::nullopt;
    }
    return obj;
}

std::optional<chat_request> parse_chat_request(std::string_view body, openai_error& error, const chat_limits& limits) {
    simdjson::dom::parser parser;
    auto obj = body_object(parser, body, error);
    if (!obj) return std::nullopt;
    chat_request out;
    out.api = openai_api::chat;
    if (!read_common(*obj, out, error)) return std::nullopt;
    if (!read_messages(*obj, out, error, limits)) return std::nullopt;
    if (!read_params(*obj, out, error, limits)) return std::nullopt;
    out.prompt = prompt_from_messages(out.messages);
    return out;
}

std::optional<chat_request> parse_completion_request(std::string_view body, openai_error& error, const chat_limits& limits) {
    simdjson::dom::parser parser;
    auto obj = body_object(parser, body, error);
    if (!obj) return std::nullopt;
    chat_request out;
    out.api = openai_api::completions;
    if (!read_common(*obj, out, error)) return std::nullopt;
    simdjson::dom::element prompt;
    std::string_view text;
    if (obj->at_key("prompt").get(prompt)) {
        error = invalid("'prompt' is required", "prompt");
        return std::nullopt;
    }
    simdjson::dom::array list;
    if (!prompt.get_string().get(text)) {
        out.prompt = std::string(text);
    } else if (!prompt.get_array().get(list) && list.size() == 1 && !list.at(0).get_string().get(text)) {
        out.prompt = std::string(text);
    } else {
        error = invalid("'prompt' must be a string (or an array of one string); token arrays and batches are not "
                        "supported",
                        "prompt");
        return std::nullopt;
    }
    if (out.prompt.empty()) {
        error = invalid("'prompt' must not be empty", "prompt");
        return std::nullopt;
    }
    simdjson::dom::element e;
    bool flag = false;
    if (!obj->at_key("echo").get(e) && !e.is_null() && (e.get_bool().get(flag) || flag)) {
        error = invalid("'echo' is not supported", "echo");
        return std::nullopt;
    }
    if (!obj->at_key("suffix").get(e) && !e.is_null()) {
        error = invalid("'suffix' is not supported", "suffix");
        return std::nullopt;
    }
    std::int64_t best = 1;
    if (!obj->at_key("best_of").get(e) && !e.is_null() && (e.get_int64().get(best) || best != 1)) {
        error = invalid("only best_of = 1 is supported", "best_of");
        return std::nullopt;
    }
    if (!read_params(*obj, out, error, limits)) return std::nullopt;
    return out;
}

std::string prompt_from_messages(const std::vector<chat_message>& messages) {
    if (messages.size() == 1 && messages[0].role == "user") return messages[0].content;
    std::string out;
    for (const auto& m : messages) {
        std::string role = m.role;
        if (!role.empty()) role[0] = static_cast<char>(role[0] - 'a' + 'A');
        out += role + ": " + m.content + "\n\n";
    }
    out += "Assistant:";
    return out;
}

namespace {
void begin_completion(protocol::json_writer& w, const completion_ids& ids, std::string_view object) {
    w.begin_object();
    w.key("id").value(ids.id);
    w.key("object").value(object);
    w.key("created").value(ids.created);
    w.key("model").value(ids.model);
    w.key("system_fingerprint").null();
}
} // namespace

std::string completion_json(const completion_ids& ids, std::string_view content, std::string_view finish_reason,
                            std::string_view usage_json, std::string_view logprobs_json) {
    protocol::json_writer w;
    begin_completion(w, ids, "chat.completion");
    w.key("choices").begin_array().begin_object();
    w.key("index").value(0);
    w.key("message").begin_object().key("role").value("assistant").key("content").value(content);
    w.key("refusal").null().end_object();
    w.key("logprobs");
    if (logprobs_json.empty()) w.null();
    else w.begin_object().key("content").raw(logprobs_json).key("refusal").null().end_object();
    w.key("finish_reason").value(finish_reason);
    w.end_object().end_array();
    if (!usage_json.empty()) w.key("usage").raw(usage_json);
    w.end_object();
    return w.take();
}

std::string chunk_json(const completion_ids& ids, std::optional<std::string_view> role,
                       std::optional<std::string_view> content, std::optional<std::string_view> finish_reason,
                       std::string_view logprobs_json) {
    protocol::json_writer w;
    begin_completion(w, ids, "chat.completion.chunk");
    w.key("choices").begin_array().begin_object();
    w.key("index").value(0);
    w.key("delta").begin_object();
    if (role) w.key("role").value(*role);
    if (content) w.key("content").value(*content);
    w.end_object();
    w.key("logprobs");
    if (logprobs_json.empty()) w.null();
    else w.begin_object().key("content").raw(logprobs_json).key("refusal").null().end_object();
    w.key("finish_reason");
    if (finish_reason) w.value(*finish_reason);
    else w.null();
    w.end_object().end_array();
    w.end_object();
    return w.take();
}

namespace {

// The agent's [{token, logprob, bytes, top_logprobs:[…]}] in the completions
// API's legacy layout; text offsets count characters.
void legacy_logprobs(protocol::json_writer& w, std::string_view logprobs_json) {
    simdjson::dom::parser p;
    simdjson::dom::array arr;
    if (logprobs_json.empty() || p.parse(logprobs_json.data(), logprobs_json.size()).get_array().get(arr)) {
        w.null();
        return;
    }
    std::vector<std::string> tokens;
    std::vector<double> values;
    std::vector<std::vector<std::pair<std::string, double>>> tops;
    for (auto item : arr) {
        std::string_view t;
        double lp = 0;
        if (item["token"].get_string().get(t) || item["logprob"].get_double().get(lp)) continue;
        tokens.emplace_back(t);
        values.push_back(lp);
        std::vector<std::pair<std::string, double>> top;
        simdjson::dom::array alts;
        if (!item["top_logprobs"].get_array().get(alts))
            for (auto a : alts) {
                std::string_view at;
                double alp = 0;
                if (!a["token"].get_string().get(at) && !a["logprob"].get_double().get(alp)) top.emplace_back(at, alp);
            }
        tops.push_back(std::move(top));
    }
    w.begin_object().key("tokens").begin_array();
    for (const auto& t : tokens) w.value(t);
    w.end_array().key("token_logprobs").begin_array();
    for (double v : values) w.value(v);
    w.end_array().key("top_logprobs").begin_array();
    for (const auto& top : tops) {
        w.begin_object();
        std::vector<std::string> seen;
        for (const auto& [t, v] : top) {
            if (std::find(seen.begin(), seen.end(), t) != seen.end()) continue; // one key each
            seen.push_back(t);
            w.key(t).value(v);
        }
        w.end_object();
    }
    w.end_array().key("text_offset").begin_array();
    std::uint64_t offset = 0;
    for (const auto& t : tokens) {
        w.value(offset);
        for (unsigned char c : t) offset += (c & 0xC0) != 0x80 ? 1 : 0;
    }
    w.end_array().end_object();
}

} // namespace

std::string text_completion_json(const completion_ids& ids, std::string_view text, std::string_view finish_reason,
                                 std::string_view usage_json, std::string_view logprobs_json) {
    protocol::json_writer w;
    begin_completion(w, ids, "text_completion");
    w.key("choices").begin_array().begin_object();
    w.key("text").value(text).key("index").value(0).key("logprobs");
    legacy_logprobs(w, logprobs_json);
    w.key("finish_reason").value(finish_reason);
    w.end_object().end_array();
    if (!usage_json.empty()) w.key("usage").raw(usage_json);
    w.end_object();
    return w.take();
}

std::string text_chunk_json(const completion_ids& ids, std::string_view text, std::optional<std::string_view> finish_reason,
                            std::string_view logprobs_json) {
    protocol::json_writer w;
    begin_completion(w, ids, "text_completion");
    w.key("choices").begin_array().begin_object();
    w.key("text").value(text).key("index").value(0).key("logprobs");
    legacy_logprobs(w, logprobs_json);
    w.key("finish_reason");
    if (finish_reason) w.value(*finish_reason);
    else w.null();
    w.end_object().end_array();
    w.end_object();
    return w.take();
}

std::string usage_chunk_json(const completion_ids& ids, openai_api api, std::string_view usage_json) {
    protocol::json_writer w;
    begin_completion(w, ids, api == openai_api::chat ? "chat.completion.chunk" : "text_completion");
    w.key("choices").begin_array().end_array();
    w.key("usage");
    if (usage_json.empty()) w.null();
    else w.raw(usage_json);
    w.end_object();
    return w.take();
}

std::string sse_data(std::string_view json) {
    std::string out;
    out.reserve(json.size() + 8);
    out += "data: ";
    out += json;
    out += "\n\n";
    return out;
}

std::string model_json(const model_entry& m, std::int64_t created) {
    protocol::json_writer w;
    w.begin_object().key("id").value(m.id).key("object").value("model").key("created").value(created);
    w.key("owned_by").value("tether");
    if (!m.root.empty()) w.key("root").value(m.root);
    if (m.max_model_len > 0) w.key("max_model_len").value(static_cast<std::uint64_t>(m.max_model_len));
    w.end_object();
    return w.take();
}

std::string models_json(const std::vector<model_entry>& models, std::int64_t created) {
    protocol::json_writer w;
    w.begin_object().key("object").value("list").key("data").begin_array();
    for (const auto& m : models) w.raw(model_json(m, created));
    w.end_array().end_object();
    return w.take();
}

completed_result read_completed_event(std::string_view data_json) {
    completed_result out;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(data_json.data(), data_json.size()).get(doc)) return out;
    simdjson::dom::object result;
    if (doc["result"].get_object().get(result)) return out;
    std::string_view s;
    if (!result["output"].get_string().get(s)) out.output = std::string(s);
    if (!result["finish_reason"].get_string().get(s) && (s == "stop" || s == "length" || s == "content_filter"))
        out.finish_reason = std::string(s);
    simdjson::dom::object usage;
    if (!result["usage"].get_object().get(usage)) out.usage_json = simdjson::minify(usage);
    simdjson::dom::array logprobs;
    if (!result["logprobs"].get_array().get(logprobs)) out.logprobs_json = simdjson::minify(logprobs);
    return out;
}

std::optional<std::string> read_delta_text(std::string_view data_json) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view s;
    if (parser.parse(data_json.data(), data_json.size()).get(doc) || doc["text"].get_string().get(s))
        return std::nullopt;
    return std::string(s);
}

std::pair<std::string, std::string> read_event_error(std::string_view data_json) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view code = "failed";
    std::string_view message = "the request failed";
    if (!parser.parse(data_json.data(), data_json.size()).get(doc)) {
        std::string_view v;
        if (!doc["error"]["code"].get_string().get(v)) code = v;
        if (!doc["error"]["message"].get_string().get(v)) message = v;
    }
    return {std::string(code), std::string(message)};
}

} // namespace tether::broker::api
