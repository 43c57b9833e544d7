#pragma once
// The seam between agent WebSocket sessions and the broker core: a session
// reports what its agent says (agent_hub), and the server drives the session
// through agent_link. Both sides are thread-safe; neither knows sockets of the other.

#include "core/core_effects.hpp"
#include "core/request.hpp"
#include "store/blob_writer.hpp"

#include "tether/protocol/frames.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace tether::broker::net {

// Implemented by agent_session. Every call posts to the session's strand.
class agent_link {
public:
    virtual ~agent_link() = default;
    virtual agent_conn_id conn() const = 0;
    // inference_request text, then its input files in chunks read from disk.
    virtual void send_request(std::string frame_text, const uuid& request, std::vector<stored_file> inputs) = 0;
    virtual void send_cancel(std::string frame_text, const uuid& request) = 0;
    // Any other text frame (e.g. an `error` notice).
    virtual void send_text(std::string frame_text) = 0;
    virtual void close(std::uint16_t code, std::string reason) = 0;
};

// Implemented by the server.
class agent_hub {
public:
    virtual ~agent_hub() = default;
    virtual agent_conn_id next_conn_id() = 0;
    // `reply` runs with the registered frame (on some thread); the session
    // sends it and closes with 4001 when nothing was accepted.
    virtual void on_register(std::shared_ptr<agent_link> link, protocol::register_frame frame,
                             std::function<void(protocol::registered_frame)> reply) = 0;
    virtual void on_result(agent_conn_id conn, protocol::inference_result_frame frame,
                           std::vector<stored_file> outputs) = 0;
    virtual void on_drain(agent_conn_id conn) = 0;
    virtual void on_closed(agent_conn_id conn) = 0;
    // A writer for an output file of `request`.
    virtual blob_writer open_output(const uuid& request, std::uint32_t blob, std::uint64_t max_bytes,
                                    std::error_code& ec) = 0;
};

} // namespace tether::broker::net
