#pragma once
// Private bookkeeping of broker_core (per request, per space, per agent
// connection). Included only by the core's own .cpp files.

#include "core/broker_core.hpp"
#include "core/event_log.hpp"

namespace tether::broker {

struct broker_core::entry {
    request_record rec;
    std::optional<agent_conn_id> holder; // set while dispatched/processing/streaming
    event_log log;
    std::uint64_t next_event_id = 1;
    int watchers = 0;
    std::size_t published_position = 0; // position in the last queued event (0: none since queued)

    entry(request_record r, std::size_t max_events) : rec(std::move(r)), log(max_events) {}
};

// One space's slots on one agent connection.
struct broker_core::slot {
    std::uint32_t capacity = 1;
    std::vector<uuid> held; // in dispatch order
    std::optional<protocol::model_info> model; // what the agent said of its model
};

struct broker_core::space_state {
    space_config config;
    std::deque<uuid> queue;
    std::optional<agent_conn_id> holder; // the connection serving this space
    double avg_service_s = 0;            // moving average of dispatch-to-completion time
    bool has_avg = false;
};

struct broker_core::agent_state {
    agent_conn_id conn = 0;
    protocol::agent_info info;
    time_point connected_since{};
    bool draining = false;
    // Spaces it serves, and spaces it lost to another connection while
    // draining but still holds requests of.
    std::map<std::string, slot, std::less<>> slots;
};

} // namespace tether::broker
