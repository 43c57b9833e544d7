#include "backends/upstream/http_call.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace tether::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// Runs the io_context until `done`, in 50 ms slices; a cancelled job closes
// the stream, which ends the pending operation with operation_aborted.
template <typename Done> void run_until(asio::io_context& ioc, beast::tcp_stream& stream, cancellation_token& cancel, Done done) {
    bool closed = false;
    while (!done()) {
        ioc.run_for(std::chrono::milliseconds(50));
        if (ioc.stopped()) ioc.restart();
        if (cancel.cancelled() && !closed) {
            closed = true;
            error_code ignored;
            stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
            stream.close();
        }
    }
}

std::string describe(const error_code& ec) {
    if (ec == beast::error::timeout) return "timed out";
    return ec.message();
}

} // namespace

http_call_result http_post(const upstream_url& url, const std::string& target,
                           const std::vector<std::pair<std::string, std::string>>& headers, std::string body,
                           cancellation_token& cancel, const std::function<bool(unsigned, std::string_view)>& on_head,
                           const std::function<bool(std::string_view)>& on_body, const http_call_limits& limits) {
    http_call_result r;
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    tcp::resolver resolver(ioc);
    error_code ec;
    bool done = false;
    auto finish = [&](error_code e) {
        ec = e;
        done = true;
    };
    auto failed = [&](const std::string& what) {
        r.how = cancel.cancelled() ? http_call_result::outcome::cancelled : http_call_result::outcome::failed;
        r.error = what;
        return r;
    };

    tcp::resolver::results_type endpoints;
    resolver.async_resolve(url.host, std::to_string(url.port), [&](error_code e, tcp::resolver::results_type res) {
        endpoints = std::move(res);
        finish(e);
    });
    run_until(ioc, stream, cancel, [&] { return done; });
    if (ec) return failed("cannot resolve " + url.host + ": " + describe(ec));

    done = false;
    stream.expires_after(limits.connect_timeout);
    stream.async_connect(endpoints, [&](error_code e, const tcp::endpoint&) { finish(e); });
    run_until(ioc, stream, cancel, [&] { return done; });
    if (ec) return failed("cannot connect to " + url.host + ":" + std::to_string(url.port) + ": " + describe(ec));
    r.connected = true;

    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, url.host + ":" + std::to_string(url.port));
    req.set(http::field::user_agent, "tether-agent");
    req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.prepare_payload();

    done = false;
    stream.expires_after(limits.idle_timeout);
    http::async_write(stream, req, [&](error_code e, std::size_t) { finish(e); });
    run_until(ioc, stream, cancel, [&] { return done; });
    if (ec) return failed("sending the request failed: " + describe(ec));

    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(limits.max_body);
    done = false;
    stream.expires_after(limits.idle_timeout);
    http::async_read_header(stream, buffer, parser, [&](error_code e, std::size_t) { finish(e); });
    run_until(ioc, stream, cancel, [&] { return done; });
    if (ec) return failed("no answer: " + describe(ec));
    r.status = parser.get().result_int();
    r.content_type = std::string(parser.get()[http::field::content_type]);
    if (!on_head(r.status, r.content_type)) {
        r.how = http_call_result::outcome::done;
        return r;
    }

    char chunk[16384];
    while (!parser.is_done()) {
        parser.get().body().data = chunk;
        parser.get().body().size = sizeof chunk;
        done = false;
        stream.expires_after(limits.idle_timeout);
        http::async_read(stream, buffer, parser, [&](error_code e, std::size_t) { finish(e); });
        run_until(ioc, stream, cancel, [&] { return done; });
        if (ec == http::error::need_buffer) ec = {};
        const std::size_t got = sizeof chunk - parser.get().body().size;
        if (got > 0 && !on_body(std::string_view(chunk, got))) break;
        if (ec == http::error::body_limit) return failed("the answer is larger than " + std::to_string(limits.max_body >> 20) + " MiB");
        if (ec) return failed("the answer broke off: " + describe(ec));
    }
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    r.how = http_call_result::outcome::done;
    return r;
}

} // namespace tether::agent
