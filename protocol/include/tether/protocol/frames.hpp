#pragma once
// Wire types of the Tether agent protocol, version 1 (see docs/protocol.md).
// Plain values only: no I/O, no threads, no Beast. Parsing and encoding live
// in codec.hpp; the binary blob frame header in blob_header.hpp.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace tether::protocol {

inline constexpr int version = 1;
inline constexpr std::size_t default_max_text_frame = 1U << 20; // 1 MiB
inline constexpr std::size_t default_max_blob_chunk = 1U << 20; // 1 MiB of data per binary frame
inline constexpr std::uint32_t default_heartbeat_s = 15;

// WebSocket close codes used by the protocol.
inline constexpr std::uint16_t close_normal = 1000;
inline constexpr std::uint16_t close_going_away = 1001;
inline constexpr std::uint16_t close_too_big = 1009;
inline constexpr std::uint16_t close_protocol_violation = 4000;
inline constexpr std::uint16_t close_no_space_accepted = 4001;
// The broker withdrew this connection's registrations: a space's agent token
// was rotated, or the space was removed (the reason says which). Reconnecting
// with the same token will not work.
inline constexpr std::uint16_t close_revoked = 4003;

struct error_info {
    std::string code;
    std::string message;
    friend bool operator==(const error_info&, const error_info&) = default;
};

// A file named in JSON whose bytes travel in binary blob frames.
// `field` is set on inputs (which form field it came from), empty on outputs.
struct file_ref {
    std::uint32_t blob = 0;
    std::string field;
    std::string name;
    std::string mime;
    std::uint64_t size = 0;
    friend bool operator==(const file_ref&, const file_ref&) = default;
};

// ---------------------------------------------------------------- agent -> broker

struct agent_info {
    std::string name;
    std::string version;
    std::string instance; // chosen once per agent process, kept across reconnects
    friend bool operator==(const agent_info&, const agent_info&) = default;
};

// What an agent says of the model behind a space (optional): its name, how
// many tokens it takes (prompt and answer), whether it has a chat template.
struct model_info {
    std::string name;
    std::uint32_t context_length = 0; // 0: not a language model, or not known
    bool chat = false;
    // What it does, when not a language model: "embeddings",
    // "text-classification", "image-classification", "speech-recognition",
    // "summarization"; "" for a language model (or not said).
    std::string task;
    friend bool operator==(const model_info&, const model_info&) = default;
};

struct space_registration {
    std::string space;
    std::string token;
    std::uint32_t capacity = 1;
    std::vector<std::string> models;
    std::optional<model_info> model;
    friend bool operator==(const space_registration&, const space_registration&) = default;
};

struct register_frame {
    int protocol = version;
    agent_info agent;
    std::vector<space_registration> spaces;
    friend bool operator==(const register_frame&, const register_frame&) = default;
};

enum class result_status { processing, streaming, completed, failed };

struct inference_result_frame {
    std::string request_id;
    result_status status = result_status::processing;
    // streaming
    std::uint64_t seq = 0;
    std::string delta_text;
    // completed: `result_json` is the whole "result" object, validated and
    // re-emitted compactly; `output`, `confidence` and `files` are read from it.
    std::string result_json;
    std::string output;
    std::optional<double> confidence;
    std::vector<file_ref> files;
    std::optional<double> inference_ms; // metrics.inference_ms
    // failed
    error_info error;
    friend bool operator==(const inference_result_frame&, const inference_result_frame&) = default;
};

struct drain_frame {
    friend bool operator==(const drain_frame&, const drain_frame&) = default;
};

using agent_frame = std::variant<register_frame, inference_result_frame, drain_frame>;

// ---------------------------------------------------------------- broker -> agent

struct space_status {
    std::string space;
    bool ok = false;
    std::optional<error_info> error; // set when !ok
    friend bool operator==(const space_status&, const space_status&) = default;
};

struct registered_frame {
    std::vector<space_status> spaces;
    std::uint32_t heartbeat_s = default_heartbeat_s;
    friend bool operator==(const registered_frame&, const registered_frame&) = default;
};

struct inference_request_frame {
    std::string request_id;
    std::string space;
    std::string username;
    // payload
    std::optional<std::string> prompt;
    std::string params_json = "{}";          // payload.params, a JSON object, compact
    std::optional<std::string> messages_json; // payload.messages (OpenAI style), a JSON array, compact
    std::vector<file_ref> files;              // payload.files
    std::string deadline;                     // RFC 3339, UTC
    friend bool operator==(const inference_request_frame&, const inference_request_frame&) = default;
};

struct cancel_frame {
    std::string request_id;
    std::string reason; // "timeout" or "user" (or "shutdown")
    friend bool operator==(const cancel_frame&, const cancel_frame&) = default;
};

struct error_frame {
    std::string code;
    std::string message;
    friend bool operator==(const error_frame&, const error_frame&) = default;
};

using broker_frame = std::variant<registered_frame, inference_request_frame, cancel_frame, error_frame>;

} // namespace tether::protocol
