#include "http_io.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <charconv>
#include <stdexcept>

namespace tether::bench {

namespace http = beast::http;

http_target make_target(const std::string& host_port, std::string bearer, std::chrono::milliseconds timeout,
                        bool listen) {
    auto colon = host_port.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("expected HOST:PORT, got \"" + host_port + "\"");
    unsigned port = 0;
    auto p = host_port.substr(colon + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc{} || end != p.data() + p.size() || (port == 0 && !listen) || port > 65535)
        throw std::invalid_argument("bad port in \"" + host_port + "\"");
    error_code aec;
    auto addr = asio::ip::make_address(host_port.substr(0, colon), aec);
    if (aec) throw std::invalid_argument("expected a numeric IP address in \"" + host_port + "\"");
    return http_target{tcp::endpoint(addr, static_cast<unsigned short>(port)), host_port, std::move(bearer), timeout};
}

asio::awaitable<error_code> connect_to(beast::tcp_stream& stream, const http_target& t) {
    stream.expires_after(t.timeout);
    auto [ec] = co_await stream.async_connect(t.endpoint, nothrow);
    if (!ec) stream.socket().set_option(tcp::no_delay(true), ec);
    co_return ec;
}

asio::awaitable<http_reply> exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer, const http_target& t,
                                     http::verb verb, const std::string& path, const std::string& body,
                                     std::string_view content_type) {
    http::request<http::string_body> req{verb, path, 11};
    req.set(http::field::host, t.host_header);
    if (!t.bearer.empty()) req.set(http::field::authorization, "Bearer " + t.bearer);
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = body;
    req.prepare_payload();
    req.keep_alive(true);

    http_reply reply;
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool reused = stream.socket().is_open();
        if (!reused) {
            buffer.clear();
            if (auto ec = co_await connect_to(stream, t)) {
                reply.ec = ec;
                co_return reply;
            }
        }
        stream.expires_after(t.timeout);
        auto [wec, wn] = co_await http::async_write(stream, req, nothrow);
        http::response_parser<http::string_body> parser;
        parser.body_limit(1U << 20);
        error_code rec;
        if (!wec) {
            auto [ec, rn] = co_await http::async_read(stream, buffer, parser, nothrow);
            rec = ec;
        }
        auto ec = wec ? wec : rec;
        if (ec) {
            error_code ignored;
            stream.socket().close(ignored);
            reply.ec = ec;
            if (reused) continue; // a stale keep-alive connection: once more, fresh
            co_return reply;
        }
        auto res = parser.release();
        reply.status = static_cast<int>(res.result_int());
        reply.ec = {};
        reply.body = std::move(res.body());
        if (!res.keep_alive()) {
            error_code ignored;
            stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
            stream.socket().close(ignored);
        }
        co_return reply;
    }
    co_return reply;
}

const char* to_string(stream_outcome o) {
    switch (o) {
    case stream_outcome::completed: return "completed";
    case stream_outcome::failed: return "failed";
    case stream_outcome::timeout: return "timeout";
    case stream_outcome::cancelled: return "cancelled";
    case stream_outcome::http_error: return "http_error";
    case stream_outcome::transport_error: return "transport_error";
    }
    return "?";
}

namespace {

// The terminal event named in `text` at or after `from`, if any.
std::optional<stream_outcome> find_terminal(std::string_view text, std::size_t from) {
    static constexpr std::pair<std::string_view, stream_outcome> names[] = {
        {"event: completed", stream_outcome::completed},
        {"event: failed", stream_outcome::failed},
        {"event: timeout", stream_outcome::timeout},
        {"event: cancelled", stream_outcome::cancelled},
    };
    for (auto pos = text.find("event: ", from); pos != std::string_view::npos; pos = text.find("event: ", pos + 1)) {
        for (const auto& [name, outcome] : names)
            if (text.compare(pos, name.size(), name) == 0) return outcome;
    }
    return std::nullopt;
}

// Printable tail of a stream for failure reports.
std::string printable_tail(const std::string& seen, std::size_t n) {
    std::string out;
    for (char c : seen.substr(seen.size() > n ? seen.size() - n : 0)) {
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) out += '?';
        else out += c;
    }
    return out;
}

} // namespace

asio::awaitable<stream_outcome> watch_until_terminal(const http_target& t, const std::string& path,
                                                     std::string* detail) {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    if (auto ec = co_await connect_to(stream, t)) {
        if (detail != nullptr) *detail = "connect: " + ec.message();
        co_return stream_outcome::transport_error;
    }
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + t.host_header + "\r\nAccept: text/event-stream\r\n";
    if (!t.bearer.empty()) req += "Authorization: Bearer " + t.bearer + "\r\n";
    req += "\r\n";
    stream.expires_after(t.timeout);
    if (auto [ec, n] = co_await asio::async_write(stream, asio::buffer(req), nothrow); ec) {
        if (detail != nullptr) *detail = "write: " + ec.message();
        co_return stream_outcome::transport_error;
    }

    // Raw bytes: the broker's stream is close-delimited, nginx's is chunked;
    // the event names are found in either. Bounded: only a tail is kept.
    constexpr std::size_t keep_limit = 256U << 10;
    std::string seen;
    std::array<char, 8192> chunk{};
    std::size_t body_from = std::string::npos;
    std::size_t scan_from = 0;
    auto outcome = stream_outcome::transport_error;
    while (true) {
        stream.expires_after(t.timeout);
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), nothrow);
        if (ec) {
            if (detail != nullptr) *detail = "read: " + ec.message() + " after \"" + printable_tail(seen, 200) + "\"";
            break;
        }
        seen.append(chunk.data(), n);
        if (body_from == std::string::npos) {
            auto end = seen.find("\r\n\r\n");
            if (end == std::string::npos) {
                if (seen.size() > 64U << 10) break; // a header this long is not an answer
                continue;
            }
            if (seen.compare(0, 12, "HTTP/1.1 200") != 0) {
                if (detail != nullptr) *detail = printable_tail(seen, 200);
                outcome = stream_outcome::http_error;
                break;
            }
            body_from = end + 4;
            scan_from = body_from;
        }
        if (auto found = find_terminal(seen, scan_from)) {
            outcome = *found;
            break;
        }
        // An event name split over two reads is found next time: rescan its tail.
        scan_from = seen.size() > 32 ? std::max(body_from, seen.size() - 32) : body_from;
        if (seen.size() > keep_limit) {
            const std::size_t drop = seen.size() - 64;
            seen.erase(0, drop);
            body_from = 0;
            scan_from = 0;
        }
    }
    // Abortive close (RST): a load generator that closes thousands of streams
    // a second would otherwise fill loopback with TIME_WAIT sockets, and a
    // reused port meeting one is reset: an error of the harness, not the server.
    error_code ignored;
    stream.socket().set_option(asio::socket_base::linger(true, 0), ignored);
    stream.socket().close(ignored);
    co_return outcome;
}

std::optional<std::string> request_id_of(std::string_view body) {
    constexpr std::string_view key = "\"request_id\":\"";
    auto at = body.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    at += key.size();
    auto end = body.find('"', at);
    if (end == std::string_view::npos || end == at || end - at > 64) return std::nullopt;
    auto id = body.substr(at, end - at);
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-'))
            return std::nullopt;
    return std::string(id);
}

} // namespace tether::bench
