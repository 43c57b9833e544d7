#pragma once
// One client WebSocket to the broker, over plain TCP (ws://) or TLS (wss://,
// certificate and host name verified unless the context says otherwise).
// Hides Beast's stream types behind callbacks so the connection logic above
// compiles without them. All calls and callbacks run on the given executor
// (the connection's strand). It does not know the agent protocol.

#include "net/broker_url.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace tether::agent {

struct transport_limits {
    std::size_t max_message_bytes = (1U << 20) + 24; // a full blob chunk plus its header
    std::chrono::seconds connect_timeout{10};
    std::chrono::seconds handshake_timeout{10};
};

class ws_transport {
  public:
    using done_handler = std::function<void(boost::system::error_code)>;
    using read_handler = std::function<void(boost::system::error_code, bool binary, std::string data)>;

    // `tls` must outlive the transport; null for ws://.
    ws_transport(const boost::asio::any_io_executor& ex, boost::asio::ssl::context* tls, transport_limits limits = {});
    ~ws_transport();
    ws_transport(const ws_transport&) = delete;
    ws_transport& operator=(const ws_transport&) = delete;

    // Resolve, TCP connect, TLS handshake (wss), WebSocket upgrade; each step bounded.
    void async_connect(const broker_url& url, done_handler h);
    // Ping after `interval` of silence, give up after two intervals without a word.
    void set_heartbeat(std::chrono::seconds interval);
    // One whole message.
    void async_read(read_handler h);
    // `data` must stay alive and unchanged until `h` runs; one write at a time.
    void async_write(bool binary, const std::string& data, done_handler h);
    void async_close(std::uint16_t code, done_handler h);
    // Drops the TCP connection at once (no close handshake).
    void abort();
    // The code of the close frame the peer sent, 0 when none.
    std::uint16_t peer_close_code() const;
    std::string peer_close_reason() const;

    struct impl;

  private:
    std::shared_ptr<impl> impl_;
};

} // namespace tether::agent
