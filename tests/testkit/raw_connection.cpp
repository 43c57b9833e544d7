// Raw TCP for hostile HTTP tests; see raw_connection.hpp.
#include "testkit/raw_connection.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include <array>

namespace tether::testkit {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

raw_connection::raw_connection(const std::string& host, std::uint16_t port)
    : stream_(ioc_), host_(host), port_(port) {}

bool raw_connection::connect(std::chrono::milliseconds timeout) {
    beast::error_code ec;
    tcp::endpoint ep(asio::ip::make_address(host_, ec), port_);
    if (ec) {
        return false;
    }
    ioc_.restart();
    stream_.expires_after(timeout);
    stream_.async_connect(ep, [&](beast::error_code e) { ec = e; });
    ioc_.run();
    return !ec;
}

bool raw_connection::send(std::string_view bytes, std::chrono::milliseconds timeout) {
    beast::error_code ec;
    ioc_.restart();
    stream_.expires_after(timeout);
    asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()),
                      [&](beast::error_code e, std::size_t) { ec = e; });
    ioc_.run();
    if (ec && ec != beast::error::timeout) {
        peer_closed_ = true;
    }
    return !ec;
}

std::string raw_connection::read_until_close(std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::array<char, 4096> buf{};
    for (;;) {
        auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::milliseconds(0)) {
            break;
        }
        beast::error_code ec;
        std::size_t n = 0;
        ioc_.restart();
        stream_.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(left));
        stream_.async_read_some(asio::buffer(buf), [&](beast::error_code e, std::size_t k) {
            ec = e;
            n = k;
        });
        ioc_.run();
        out.append(buf.data(), n);
        if (ec) {
            if (ec != beast::error::timeout) {
                peer_closed_ = true;
            }
            break;
        }
    }
    return out;
}

std::string raw_connection::read_until(std::string_view marker, std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char ch = 0;
    // Byte by byte so nothing after the marker is consumed; only used for
    // short things like a handshake's response header.
    while (out.find(marker) == std::string::npos) {
        auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::milliseconds(0)) {
            break;
        }
        beast::error_code ec;
        std::size_t n = 0;
        ioc_.restart();
        stream_.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(left));
        stream_.async_read_some(asio::buffer(&ch, 1), [&](beast::error_code e, std::size_t k) {
            ec = e;
            n = k;
        });
        ioc_.run();
        if (n == 1) {
            out.push_back(ch);
        }
        if (ec) {
            if (ec != beast::error::timeout) {
                peer_closed_ = true;
            }
            break;
        }
    }
    return out;
}

void raw_connection::close() {
    beast::error_code ec;
    stream_.socket().close(ec);
}

int raw_status(const std::string& raw) {
    // "HTTP/1.1 404 Not Found"
    if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) {
        return 0;
    }
    int code = 0;
    for (std::size_t i = 9; i < 12; ++i) {
        if (raw[i] < '0' || raw[i] > '9') {
            return 0;
        }
        code = code * 10 + (raw[i] - '0');
    }
    return code;
}

} // namespace tether::testkit
