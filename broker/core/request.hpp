#pragma once
// A request as the broker core and the store see it: its identity, inputs,
// state in the life cycle, timings and outcome. Plain value, no behaviour
// beyond naming states; the state machine lives in the core.

#include "tether/protocol/frames.hpp"
#include "tether/shared/clock.hpp"
#include "tether/shared/ids.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::broker {

enum class request_state { queued, dispatched, processing, streaming, completed, failed, timeout, cancelled };

std::string_view to_string(request_state s);
std::optional<request_state> parse_request_state(std::string_view s);
inline bool is_terminal(request_state s) {
    return s == request_state::completed || s == request_state::failed || s == request_state::timeout ||
           s == request_state::cancelled;
}

// An uploaded (input) or produced (output) file, kept on disk under data/blobs/.
struct stored_file {
    std::uint32_t blob = 0;
    std::string field; // input form field ("audio", "video", "file"); empty for outputs
    std::string name;
    std::string mime;
    std::uint64_t size = 0;
    std::string path;   // absolute path of the bytes on disk
    std::string sha256; // hex, when known
    friend bool operator==(const stored_file&, const stored_file&) = default;
};

struct request_record {
    uuid id;
    std::string space;
    std::string username;

    // Inputs: the prompt, the params object and (OpenAI-style) messages, as
    // validated compact JSON; files on disk.
    std::optional<std::string> prompt;
    std::string params_json = "{}";
    std::optional<std::string> messages_json;
    std::vector<stored_file> inputs;

    request_state state = request_state::queued;
    int attempts = 0; // dispatches so far; after max attempts an agent loss fails it with agent_lost

    time_point created{};
    time_point deadline{};
    std::optional<time_point> dispatched_at;
    std::optional<time_point> started_at; // first "processing"
    std::optional<time_point> finished_at;

    // Outcome.
    std::string output_text;  // concatenated deltas while streaming; result.output once completed
    std::string result_json;  // the agent's result object (compact JSON), when completed
    std::vector<stored_file> outputs;
    std::optional<double> inference_ms;
    protocol::error_info error; // set for failed / timeout / cancelled

    // The SSE id of the last event the record was persisted with (its
    // terminal event once finished; 0 for rows written before schema v4), so
    // a finished request replays that event under the same id after a restart.
    std::uint64_t last_event_id = 0;

    friend bool operator==(const request_record&, const request_record&) = default;
};

} // namespace tether::broker
