// Names of request states, as stored and as shown in the HTTP API.
#include "core/request.hpp"

#include <array>
#include <utility>

namespace tether::broker {
namespace {

constexpr std::array<std::pair<request_state, std::string_view>, 8> state_names{{
    {request_state::queued, "queued"},
    {request_state::dispatched, "dispatched"},
    {request_state::processing, "processing"},
    {request_state::streaming, "streaming"},
    {request_state::completed, "completed"},
    {request_state::failed, "failed"},
    {request_state::timeout, "timeout"},
    {request_state::cancelled, "cancelled"},
}};

} // namespace

std::string_view to_string(request_state s) {
    for (const auto& [state, name] : state_names) {
        if (state == s) {
            return name;
        }
    }
    return "unknown";
}

std::optional<request_state> parse_request_state(std::string_view s) {
    for (const auto& [state, name] : state_names) {
        if (name == s) {
            return state;
        }
    }
    return std::nullopt;
}

} // namespace tether::broker
