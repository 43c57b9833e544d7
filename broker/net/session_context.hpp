#pragma once
// What every network session shares: limits, the API handler, the agent hub
// and counters for /metrics. Built once by the server and passed by
// shared_ptr; sessions never reach for globals.

#include "net/http_types.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace tether::broker::net {

class agent_hub;

struct net_limits {
    std::chrono::seconds header_timeout{10};   // whole request header (slowloris)
    std::chrono::seconds body_timeout{30};     // per chunk of body progress
    std::chrono::seconds idle_timeout{60};     // keep-alive between requests
    std::chrono::seconds write_timeout{60};    // a string response
    std::chrono::seconds file_write_timeout{600};
    std::chrono::seconds tls_handshake_timeout{10};
    std::chrono::seconds sse_keepalive{15};
    std::uint32_t header_limit = 16 * 1024;
    std::size_t max_connections = 4096;
    // Agent WebSocket
    std::uint32_t heartbeat_s = 15;
    std::chrono::seconds register_timeout{10};
    std::size_t max_text_frame = 1U << 20;
    std::size_t max_blob_chunk = 1U << 20;
    std::uint64_t max_output_file = 256ULL << 20; // one output file from an agent
    std::uint64_t max_output_total = 1ULL << 30;  // all partial outputs held by one connection
    int max_violations = 5;
};

// Frames and bytes through agent connections; SSE and HTTP counts.
struct net_counters {
    std::atomic<std::uint64_t> frames_in{0};
    std::atomic<std::uint64_t> frames_out{0};
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> http_requests{0};
    std::atomic<std::int64_t> connections{0};
    std::atomic<std::int64_t> agent_connections{0};
    std::atomic<std::int64_t> sse_streams{0};
};

struct session_context {
    net_limits limits;
    std::shared_ptr<request_handler> handler;
    std::shared_ptr<agent_hub> agents;
    std::shared_ptr<net_counters> counters = std::make_shared<net_counters>();
};

// Holds one connection slot; released when the last session owning the socket ends.
class connection_ticket {
public:
    connection_ticket() = default;
    explicit connection_ticket(std::shared_ptr<net_counters> c) : c_(std::move(c)) { ++c_->connections; }
    connection_ticket(connection_ticket&& o) noexcept : c_(std::move(o.c_)) {}
    connection_ticket& operator=(connection_ticket&& o) noexcept {
        release();
        c_ = std::move(o.c_);
        return *this;
    }
    connection_ticket(const connection_ticket&) = delete;
    connection_ticket& operator=(const connection_ticket&) = delete;
    ~connection_ticket() { release(); }

private:
    void release() {
        if (c_) --c_->connections;
        c_.reset();
    }
    std::shared_ptr<net_counters> c_;
};

} // namespace tether::broker::net
