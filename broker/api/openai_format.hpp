#pragma once
// The OpenAI-compatible API's wire shapes: reading a chat completion request
// into what a Tether request carries (prompt, params, messages) and writing
// completions, stream chunks, model lists and OpenAI-style errors. Pure
// parsing and formatting; no I/O, no core, no auth.

#include "net/http_types.hpp"

#include <boost/beast/http/status.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::broker::api {

// {"error":{"message","type","param","code"}} with an HTTP status.
struct openai_error {
    boost::beast::http::status status = boost::beast::http::status::bad_request;
    std::string message;
    std::string type = "invalid_request_error";
    std::string param; // empty: null
    std::string code;  // empty: null
};

std::string openai_error_json(const openai_error& e);
net::string_response openai_error_response(const openai_error& e);

struct chat_message {
    std::string role;
    std::string content; // text parts joined
};

// Upper bounds on what a chat request may ask for.
struct chat_limits {
    std::size_t max_messages = 1024;
    std::size_t max_stop = 4;
    std::size_t max_stop_bytes = 256;
    std::int64_t max_tokens = 1'000'000;
};

struct chat_request {
    std::string model;
    std::vector<chat_message> messages;
    std::string messages_json; // [{"role":…,"content":"…"}], compact
    std::string prompt;        // for backends that read only a prompt
    std::string params_json;   // {"max_tokens":N,"temperature":T,"top_p":P,"stop":[…]}, set ones only
    std::vector<std::string> stop;
    bool stream = false;
};

// Reads a POST /v1/chat/completions body. nullopt and `error` set when the
// body is not a request we can serve.
std::optional<chat_request> parse_chat_request(std::string_view body, openai_error& error,
                                               const chat_limits& limits = {});

// One user message alone is the prompt as written; anything else becomes a
// transcript ("System: …\n\nUser: …\n\nAssistant:") that a plain text model
// continues as the assistant.
std::string prompt_from_messages(const std::vector<chat_message>& messages);

// Identity shared by a completion and all of its chunks.
struct completion_ids {
    std::string id; // "chatcmpl-<request uuid>"
    std::int64_t created = 0; // Unix seconds
    std::string model;
};

// `usage_json`: an object to pass through, or empty to leave usage out.
std::string completion_json(const completion_ids& ids, std::string_view content, std::string_view finish_reason,
                            std::string_view usage_json);
// A chat.completion.chunk; each optional part is written only when set.
std::string chunk_json(const completion_ids& ids, std::optional<std::string_view> role,
                       std::optional<std::string_view> content, std::optional<std::string_view> finish_reason);
// "data: <json>\n\n", the framing OpenAI clients read (no event: line).
std::string sse_data(std::string_view json);

std::string model_json(std::string_view name, std::int64_t created);
std::string models_json(const std::vector<std::string>& names, std::int64_t created);

// What the agent's completed result says: result.output, a finish_reason it
// chose ("length", …) and a usage object, when present.
struct completed_result {
    std::string output;
    std::string finish_reason; // empty: not given
    std::string usage_json;    // empty: not given
};
completed_result read_completed_event(std::string_view data_json);
// {"seq":N,"text":"…"} -> text; {"error":{…}} -> code and message.
std::optional<std::string> read_delta_text(std::string_view data_json);
std::pair<std::string, std::string> read_event_error(std::string_view data_json);

} // namespace tether::broker::api
