#pragma once
// What the broker core asks the outside world to do, and the events it emits
// for watchers. The server implements core_effects; the core calls it and
// never touches a socket, a file or a thread itself.

#include "core/request.hpp"
#include "core/space.hpp"

#include "tether/shared/ids.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace tether::broker {

// Identifies one agent WebSocket connection; chosen by the server, never reused.
using agent_conn_id = std::uint64_t;

// One Server-Sent Event of one request. `id` is the SSE `id:` (Last-Event-ID
// on reconnect): (broker start << 32) + 1, 2, 3… per request, so ids grow
// across restarts too. `type` is one of queued,
// processing, delta, requeued, completed, failed, timeout, cancelled;
// `data_json` is a compact JSON object:
//   queued     {"position":N}          (1 = next to be dispatched)
//   processing {}
//   delta      {"seq":N,"text":"…"}
//   requeued   {"attempts":N}          (dispatches so far)
//   completed  {"result":{…},"inference_ms":N}   (inference_ms only when known)
//   failed / timeout / cancelled  {"error":{"code":"…","message":"…"}}
struct request_event {
    uuid request_id;
    std::uint64_t id = 0;
    std::string type;
    std::string data_json;
    friend bool operator==(const request_event&, const request_event&) = default;
};

// Calls arrive on the core's strand while the core is mid-operation: an
// implementation must not call back into broker_core from inside them (post
// such work instead).
class core_effects {
  public:
    virtual ~core_effects() = default;

    // Send inference_request for `r` on that connection, then the bytes of its
    // input files (r.inputs, read from disk).
    virtual void send_request(agent_conn_id conn, const request_record& r) = 0;
    // Send cancel; reason is "user", "timeout" or "space_removed".
    virtual void send_cancel(agent_conn_id conn, const uuid& request_id, std::string_view reason) = 0;
    // Close the agent's WebSocket with that code. The server later reports the
    // close with agent_lost(conn), which is then a no-op.
    virtual void close_agent(agent_conn_id conn, std::uint16_t code, std::string_view reason) = 0;
    // Send an `error` frame with that code and message (a notice about the
    // connection, e.g. that one of its spaces was withdrawn).
    virtual void send_notice(agent_conn_id conn, std::string_view code, std::string_view message) = 0;
    // The request's state changed; write the whole record to the store.
    virtual void persist(const request_record& r) = 0;
    // Deliver to the SSE watchers of e.request_id (the core keeps its own log
    // for replay, see broker_core::events_since).
    virtual void publish(const request_event& e) = 0;
    // A space was added or changed (`config`), or removed (nullptr). Lets the
    // server keep a copy that other threads read without a trip to the core.
    virtual void space_changed(std::string_view /*name*/, const space_config* /*config*/) {}
};

} // namespace tether::broker
