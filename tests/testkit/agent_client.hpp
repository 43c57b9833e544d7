#pragma once
// A test double for the AGENT SIDE of the protocol, speaking it frame by frame
// over a real WebSocket (Beast) so tests can drive the broker exactly, send
// hostile frames and observe close codes. Not tether-agent: no backends, no
// reconnect. The socket is serviced on a background thread (pings answered);
// the test reads received frames from a queue with bounded waits.

#include "tether/protocol/frames.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace tether::testkit {

using namespace std::chrono_literals;

struct ws_message {
    bool binary = false;
    std::string data;
};

// An inference_request and the bytes of every blob it named, reassembled.
struct received_request {
    protocol::inference_request_frame frame;
    std::map<std::uint32_t, std::string> blobs;
    const std::string& id() const { return frame.request_id; }
};

class agent_client {
public:
    agent_client(std::string host, std::uint16_t port, std::string target = "/agent");
    ~agent_client();
    agent_client(const agent_client&) = delete;
    agent_client& operator=(const agent_client&) = delete;

    // TCP connect + WebSocket upgrade. On failure, last_error() says why.
    bool connect(std::chrono::milliseconds timeout = 5s);
    std::string last_error() const;
    // The value of agent.instance this client registers with (random per object).
    const std::string& instance() const { return instance_; }
    void set_instance(std::string id) { instance_ = std::move(id); }

    // ---- raw frames
    bool send_text(std::string text, std::chrono::milliseconds timeout = 5s);
    bool send_binary(std::string bytes, std::chrono::milliseconds timeout = 5s);
    std::optional<ws_message> next_message(std::chrono::milliseconds timeout);
    // The next message, parsed as a broker frame (nullopt on timeout, close,
    // a binary message or a frame the codec refuses; last_error() says which).
    std::optional<protocol::broker_frame> next_frame(std::chrono::milliseconds timeout);

    // ---- protocol
    static protocol::space_registration space(std::string name, std::string token, std::uint32_t capacity = 1);
    bool send_register(const std::vector<protocol::space_registration>& spaces, int protocol_version = 1);
    // Sends register and waits for registered.
    std::optional<protocol::registered_frame> register_spaces(const std::vector<protocol::space_registration>& spaces,
                                                             std::chrono::milliseconds timeout = 5s);
    // register_spaces for one space, true when that space was accepted.
    bool register_space(const std::string& name, const std::string& token, std::uint32_t capacity = 1);

    // Waits for the next inference_request (other frames before it are a failure
    // and are reported through last_error()), then reads its blob frames.
    std::optional<received_request> expect_request(std::chrono::milliseconds timeout = 5s);
    std::optional<protocol::cancel_frame> expect_cancel(std::chrono::milliseconds timeout = 5s);
    std::optional<protocol::error_frame> expect_error(std::chrono::milliseconds timeout = 5s);

    bool send_processing(const std::string& request_id);
    bool send_delta(const std::string& request_id, std::uint64_t seq, const std::string& text);
    // The result object sent is {"output": output, "files": […]}.
    bool send_completed(const std::string& request_id, const std::string& output,
                        const std::vector<protocol::file_ref>& files = {}, std::optional<double> inference_ms = 5.0);
    // A completed result given whole ({"output":…, "finish_reason":…, "usage":…, …}).
    bool send_completed_json(const std::string& request_id, const std::string& output, const std::string& result_json);
    bool send_failed(const std::string& request_id, const std::string& code, const std::string& message);
    // Sends `bytes` as blob `blob` of `request_id` in chunks of `chunk` bytes.
    bool send_blob(const std::string& request_id, std::uint32_t blob, const std::string& bytes,
                   std::size_t chunk = 64U << 10);
    bool send_drain();

    // ---- closing
    // Waits for the connection to end; the close code the broker sent, or 1006
    // when it dropped without a close frame. nullopt when still open at the deadline.
    std::optional<std::uint16_t> wait_closed(std::chrono::milliseconds timeout);
    bool is_closed() const;
    // Close handshake with `code` (bounded).
    void close(std::uint16_t code = 1000);
    // Abrupt loss: the TCP connection goes away without a close frame.
    void drop();

private:
    bool send(bool binary, std::string data, std::chrono::milliseconds timeout);

    struct state;
    std::shared_ptr<state> st_;
    std::thread thread_;
    std::string host_;
    std::uint16_t port_;
    std::string target_;
    std::string instance_;
};

} // namespace tether::testkit
