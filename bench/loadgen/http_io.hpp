#pragma once
// The load generator's HTTP client steps as coroutines on one io_context:
// a request/answer on a keep-alive connection, and an event stream read until
// its terminal event. Every step has a timeout; failures come back as values.
// Nothing here knows which mode runs it or keeps statistics.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tether::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// co_await x.async_op(..., nothrow) yields a tuple (error_code, ...) instead of throwing.
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// Where requests go and how they are signed.
struct http_target {
    tcp::endpoint endpoint;
    std::string host_header; // "127.0.0.1:8080"
    std::string bearer;      // API key; empty: no Authorization header
    std::chrono::milliseconds timeout{10'000};
};

// "127.0.0.1:8080" -> target (throws std::invalid_argument on a bad address:
// command-line input, checked at start-up). Port 0 only for a listen address.
http_target make_target(const std::string& host_port, std::string bearer, std::chrono::milliseconds timeout,
                        bool listen = false);

asio::awaitable<error_code> connect_to(beast::tcp_stream& stream, const http_target& t);

struct http_reply {
    int status = 0; // 0: transport failure, see ec
    error_code ec;
    std::string body;
};

// One request on `stream`, (re)connecting when it is closed; a request that
// fails on a reused connection (the server may have closed it while idle) is
// tried once more on a fresh one.
asio::awaitable<http_reply> exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer, const http_target& t,
                                     beast::http::verb verb, const std::string& path, const std::string& body,
                                     std::string_view content_type);

enum class stream_outcome { completed, failed, timeout, cancelled, http_error, transport_error };
const char* to_string(stream_outcome o);

// Opens a connection, GETs `path` as an event stream and reads until the
// first terminal event (completed, failed, timeout, cancelled), then closes.
// `detail` (optional) says what went wrong when the outcome is not an event:
// the error and the tail of what the stream had sent.
asio::awaitable<stream_outcome> watch_until_terminal(const http_target& t, const std::string& path,
                                                     std::string* detail = nullptr);

// The "request_id" of a submit answer, when it looks like an id.
std::optional<std::string> request_id_of(std::string_view body);

} // namespace tether::bench
