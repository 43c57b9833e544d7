#pragma once
// OpenAI's POST /v1/embeddings wire shapes: the body read into a Tether
// request's params ({"task":"embeddings","input":[…],"dimensions":N} for the
// agent), and the agent's rows (a file of float32 values, little-endian, row
// after row) written as OpenAI's list of embedding objects, floats or
// base64. Pure parsing and formatting; no I/O.

#include "api/openai_format.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::broker::api {

struct embeddings_limits {
    std::size_t max_inputs = 2048; // OpenAI's
};

struct embeddings_request {
    std::string model;
    std::string params_json;
    bool base64 = false; // encoding_format
    std::size_t inputs = 0;
};

// nullopt and `error` set when the body is not a request we can serve.
std::optional<embeddings_request> parse_embeddings_request(std::string_view body, openai_error& error,
                                                           const embeddings_limits& limits = {});

// The most rows and dimensions an answer is read back with (count and
// dimensions outside these leave the result without embeddings).
inline constexpr std::uint64_t max_embedding_rows = 2048;
inline constexpr std::uint64_t max_embedding_dimensions = 1U << 16;

// What the completed event's result says of the rows: their file, count and size.
struct embeddings_result {
    std::uint32_t blob = 0;
    bool has_file = false;
    std::uint64_t count = 0, dimensions = 0, prompt_tokens = 0;
};
embeddings_result read_embeddings_result(std::string_view completed_event_json);

// OpenAI's answer from the rows' bytes; nullopt when they do not match
// count x dimensions float32.
std::optional<std::string> embeddings_response_json(const embeddings_result& r, std::string_view rows, std::string_view model,
                                                    bool base64);

} // namespace tether::broker::api
