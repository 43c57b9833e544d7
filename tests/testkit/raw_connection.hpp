#pragma once
// A plain TCP connection for hostile HTTP tests: send exactly the bytes given
// (malformed requests, headers dribbled byte by byte) and read whatever comes
// back. Every call is bounded by its timeout; errors are values.

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace tether::testkit {

class raw_connection {
public:
    raw_connection(const std::string& host, std::uint16_t port);
    bool connect(std::chrono::milliseconds timeout);
    // false when the bytes could not be written (peer closed, timeout).
    bool send(std::string_view bytes, std::chrono::milliseconds timeout);
    // Reads until the peer closes or `timeout` passes; returns everything read.
    std::string read_until_close(std::chrono::milliseconds timeout);
    // Reads until `marker` has been seen (or the peer closes, or `timeout`);
    // returns everything read, marker included. Later reads continue after it.
    std::string read_until(std::string_view marker, std::chrono::milliseconds timeout);
    // True once a read or write saw the peer close (or reset) the connection.
    bool peer_closed() const { return peer_closed_; }
    void close();

private:
    boost::asio::io_context ioc_;
    boost::beast::tcp_stream stream_;
    std::string host_;
    std::uint16_t port_;
    bool peer_closed_ = false;
};

// The status code of the first HTTP response in `raw` (0 when none).
int raw_status(const std::string& raw);

} // namespace tether::testkit
