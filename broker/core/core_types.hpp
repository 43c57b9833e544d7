#pragma once
// Plain values the broker core takes and answers with: limits, outcomes of
// submit and cancel, views for the HTTP API and admin pages, counters for
// /metrics. No behaviour here.

#include "core/core_effects.hpp"
#include "core/space.hpp"

#include "tether/protocol/frames.hpp"
#include "tether/shared/clock.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tether::broker {

struct core_limits {
    // Dispatches per request; an agent loss after the last one fails it with agent_lost.
    int max_attempts = 3;
    // Events kept per request for replay; past it, the oldest deltas are merged.
    std::size_t max_events_per_request = 256;
    // Finished requests whose record and event log stay in memory (oldest go first).
    std::size_t retain_finished = 1000;
    // Bytes of streamed text accepted per request; past it the request fails
    // with output_too_large and the agent gets cancel.
    std::size_t max_output_bytes = 16U << 20;
    // Slots per space an agent may announce (larger values are clamped).
    std::uint32_t max_capacity = 64;
    // Sent to agents in `registered`.
    std::uint32_t heartbeat_s = protocol::default_heartbeat_s;
    // SSE event ids of this broker start are (event_epoch << 32) + 1, 2, 3…
    // per request; the server passes the store's start counter so that ids
    // never repeat across restarts (see broker_core::events_since).
    std::uint64_t event_epoch = 0;
    // When true, position updates (queued events after the queue moves) are
    // published only for requests the server marked with watch(); others
    // get a fresh one when watch() is called. False: every request gets them.
    bool positions_for_watched_only = false;
};

enum class submit_status { ok, unknown_space, queue_full, duplicate_id };

struct submit_outcome {
    submit_status status = submit_status::ok;
    std::size_t position = 0;        // ok: 1-based place in the queue
    std::uint32_t retry_after_s = 0; // queue_full: a guess for Retry-After
};

enum class cancel_outcome { ok, not_found, already_finished };

// One space as GET /api/spaces shows it.
struct space_view {
    space_config config;
    bool connected = false;
    std::string agent_name;
    std::string agent_version;
    std::size_t queue_length = 0;
    std::size_t in_flight = 0;  // held by the current agent connection
    std::uint32_t capacity = 0; // slots of the current agent connection
    bool draining = false;
    std::optional<protocol::model_info> model; // what the current agent said of its model
};

// One connected agent, for the admin page.
struct agent_view {
    agent_conn_id conn = 0;
    protocol::agent_info agent;
    std::vector<std::string> spaces; // spaces it currently serves
    std::size_t in_flight = 0;
    time_point connected_since{};
    bool draining = false;
};

struct core_counters {
    std::uint64_t submitted = 0;
    std::uint64_t rejected_queue_full = 0;
    std::uint64_t dispatched = 0;
    std::uint64_t requeued = 0;
    std::uint64_t completed = 0;
    std::uint64_t failed = 0;
    std::uint64_t timed_out = 0;
    std::uint64_t cancelled = 0;
    // Results the core did not use:
    std::uint64_t results_late = 0;        // for a request already finished (timeout, cancelled…)
    std::uint64_t results_wrong_agent = 0; // from a connection that does not hold the request
    std::uint64_t results_unknown = 0;     // for an id the core does not know (or no longer keeps)
};

} // namespace tether::broker
