#pragma once
// The OpenAI-compatible API's wire shapes: reading a chat completion request
// into what a Tether request carries (prompt, params, messages) and writing
// completions, stream chunks, model lists and OpenAI-style errors. Pure
// parsing and formatting; no I/O, no core, no auth.

#include "net/http_types.hpp"

#include <boost/beast/http/status.hpp>
#include <simdjson.h>

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
// A 400 invalid_request_error about `param`.
openai_error invalid_request(std::string message, std::string param, std::string code = {});
// The body as a JSON object, or nullopt with `error` saying why not.
std::optional<simdjson::dom::object> body_object(simdjson::dom::parser& parser, std::string_view body, openai_error& error);
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

// Which endpoint: /v1/chat/completions or /v1/completions.
enum class openai_api { chat, completions };

struct chat_request {
    openai_api api = openai_api::chat;
    std::string model;
    std::vector<chat_message> messages; // chat
    std::string messages_json; // chat: [{"role":…,"content":"…"}], compact
    std::string prompt;        // completions: as sent; chat: for backends that read only a prompt
    // The sampling parameters given, range-checked, in one object the agent
    // reads: max_tokens (also from max_completion_tokens), temperature, top_p,
    // top_k, min_p, seed, presence_penalty, frequency_penalty,
    // repetition_penalty, stop, stop_token_ids, ignore_eos, logprobs,
    // top_logprobs.
    std::string params_json;
    std::vector<std::string> stop;
    bool stream = false;
    bool include_usage = false; // stream_options.include_usage
    bool logprobs = false;      // the answer carries log-probabilities
};

// Reads a POST /v1/chat/completions body. nullopt and `error` set when the
// body is not a request we can serve.
std::optional<chat_request> parse_chat_request(std::string_view body, openai_error& error,
                                               const chat_limits& limits = {});
// Reads a POST /v1/completions body (a prompt string instead of messages;
// logprobs a number of alternatives; no echo, suffix or best_of).
std::optional<chat_request> parse_completion_request(std::string_view body, openai_error& error,
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
// `logprobs_json`: the agent's array of {token, logprob, bytes,
// top_logprobs}, or empty for null.
std::string completion_json(const completion_ids& ids, std::string_view content, std::string_view finish_reason,
                            std::string_view usage_json, std::string_view logprobs_json = {});
// A chat.completion.chunk; each optional part is written only when set.
std::string chunk_json(const completion_ids& ids, std::optional<std::string_view> role,
                       std::optional<std::string_view> content, std::optional<std::string_view> finish_reason,
                       std::string_view logprobs_json = {});
// /v1/completions: a text_completion, and its stream chunks (also
// text_completion objects). Log-probabilities in the legacy layout: tokens,
// token_logprobs, top_logprobs (token -> logprob), text_offset.
std::string text_completion_json(const completion_ids& ids, std::string_view text, std::string_view finish_reason,
                                 std::string_view usage_json, std::string_view logprobs_json = {});
std::string text_chunk_json(const completion_ids& ids, std::string_view text, std::optional<std::string_view> finish_reason,
                            std::string_view logprobs_json = {});
// The last chunk of a stream with stream_options.include_usage: no choices, the usage.
std::string usage_chunk_json(const completion_ids& ids, openai_api api, std::string_view usage_json);
// "data: <json>\n\n", the framing OpenAI clients read (no event: line).
std::string sse_data(std::string_view json);

// A model: a space. What its agent announced (the model folder's name, its
// context length) is added as vLLM does (root, max_model_len) when known.
struct model_entry {
    std::string id;
    std::string root;
    std::uint32_t max_model_len = 0; // 0: unknown
};
std::string model_json(const model_entry& m, std::int64_t created);
std::string models_json(const std::vector<model_entry>& models, std::int64_t created);

// What the agent's completed result says: result.output, a finish_reason it
// chose ("length", …) and a usage object, when present.
struct completed_result {
    std::string output;
    std::string finish_reason; // empty: not given
    std::string usage_json;    // empty: not given
    std::string logprobs_json; // the agent's array, empty: not given
};
completed_result read_completed_event(std::string_view data_json);
// {"seq":N,"text":"…"} -> text; {"error":{…}} -> code and message.
std::optional<std::string> read_delta_text(std::string_view data_json);
std::pair<std::string, std::string> read_event_error(std::string_view data_json);

} // namespace tether::broker::api
