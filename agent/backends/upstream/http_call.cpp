#include "backends/upstream/http_call.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <map>
#include <stdexcept>
#include <vector>

namespace tether::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using steady = std::chrono::steady_clock;

std::string describe(const error_code& ec) {
    if (ec == beast::error::timeout) return "timed out";
    if (ec.category() == asio::error::get_ssl_category() || ec.category() == asio::ssl::error::get_stream_category()) {
        std::string m = ec.message();
        if (m.find("certificate") != std::string::npos) return "TLS: " + m + " (is its CA in --ca-file?)";
        return "TLS: " + m;
    }
    return ec.message();
}

// The call's state, the same for a plain and a TLS stream.
template <typename Stream> class call {
  public:
    call(asio::io_context& ioc, Stream& stream, cancellation_token& cancel, const http_call_limits& limits)
        : ioc_(ioc), stream_(stream), cancel_(cancel), limits_(limits) {}

    // Arms the lowest layer's timer for the next operation: `d`, or less when
    // the whole call's deadline comes first.
    void expire_after(std::chrono::milliseconds d) {
        auto when = steady::now() + d;
        if (limits_.deadline && *limits_.deadline < when) when = *limits_.deadline;
        beast::get_lowest_layer(stream_).expires_at(when);
    }
    bool past_deadline() const { return limits_.deadline && steady::now() >= *limits_.deadline; }

    // Runs the io_context until the operation started by `start` completes,
    // in 50 ms slices; a cancelled job closes the socket, which ends the
    // pending operation with operation_aborted.
    template <typename Start> error_code run(Start&& start) {
        bool done = false;
        error_code ec;
        start([&](error_code e) {
            ec = e;
            done = true;
        });
        while (!done) {
            ioc_.run_for(std::chrono::milliseconds(50));
            if (ioc_.stopped()) ioc_.restart();
            if (cancel_.cancelled() && !closed_) close();
        }
        return ec;
    }
    void close() {
        closed_ = true;
        error_code ignored;
        auto& sock = beast::get_lowest_layer(stream_).socket();
        sock.shutdown(tcp::socket::shutdown_both, ignored);
        beast::get_lowest_layer(stream_).close();
    }

  private:
    asio::io_context& ioc_;
    Stream& stream_;
    cancellation_token& cancel_;
    const http_call_limits& limits_;
    bool closed_ = false;
};

// One exchange on `stream`: connected here unless `reused` (a kept-alive
// connection from the pool). `keep` is set when the connection may serve
// another call (the answer was read whole and the upstream keeps it open);
// `stale` when a reused connection turned out closed before any answer, so
// the caller may retry on a new one.
template <typename Stream>
http_call_result run_call(asio::io_context& ioc, Stream& stream, bool reused, const upstream_url& url,
                          const http_request_spec& spec, cancellation_token& cancel,
                          const std::function<bool(const http_head&)>& on_head,
                          const std::function<bool(std::string_view)>& on_body, const http_call_limits& limits, bool& keep,
                          bool& stale) {
    http_call_result r;
    keep = false;
    stale = false;
    call<Stream> c(ioc, stream, cancel, limits);
    auto failed = [&](const std::string& what, const error_code& ec) {
        if (cancel.cancelled()) r.how = http_call_result::outcome::cancelled;
        else if (ec == beast::error::timeout && c.past_deadline()) r.how = http_call_result::outcome::timed_out;
        else r.how = http_call_result::outcome::failed;
        r.error = what + describe(ec);
        return r;
    };

    error_code ec;
    if (!reused) {
        // A numeric address needs no resolver (whose lookup runs on a thread of its own).
        std::vector<tcp::endpoint> endpoints;
        const auto address = asio::ip::make_address(url.host, ec);
        if (!ec) {
            endpoints.emplace_back(address, url.port);
        } else {
            tcp::resolver resolver(ioc);
            ec = c.run([&](auto h) {
                resolver.async_resolve(url.host, std::to_string(url.port), [&, h](error_code e, tcp::resolver::results_type res) {
                    for (const auto& e2 : res) endpoints.push_back(e2.endpoint());
                    h(e);
                });
            });
            if (ec) return failed("cannot resolve " + url.host + ": ", ec);
        }
        c.expire_after(limits.connect_timeout);
        ec = c.run([&](auto h) {
            beast::get_lowest_layer(stream).async_connect(endpoints, [h](error_code e, const tcp::endpoint&) { h(e); });
        });
        if (ec) return failed("cannot connect to " + url.host + ":" + std::to_string(url.port) + ": ", ec);
        beast::get_lowest_layer(stream).socket().set_option(tcp::no_delay(true), ec);
    }
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
        if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()))
            return failed("TLS: ", error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()));
        stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
        c.expire_after(limits.connect_timeout);
        ec = c.run([&](auto h) { stream.async_handshake(asio::ssl::stream_base::client, [h](error_code e) { h(e); }); });
        if (ec) return failed("cannot connect to " + url.display() + ": ", ec);
    }
    r.connected = true;
    if (spec.method.empty()) { // a probe: connecting was the point
        c.close();
        r.how = http_call_result::outcome::done;
        return r;
    }

    const bool get = spec.method == "GET";
    http::request<http::string_body> req{get ? http::verb::get : http::verb::post, spec.target, 11};
    const bool default_port = url.port == (url.tls() ? 443 : 80);
    const bool v6 = url.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + url.host + "]" : url.host;
    req.set(http::field::host, default_port ? host : host + ":" + std::to_string(url.port));
    req.set(http::field::user_agent, "tether-agent");
    if (!get) req.set(http::field::content_type, spec.content_type);
    for (const auto& [k, v] : spec.headers) req.set(k, v);
    if (!get) req.body() = spec.body;
    req.prepare_payload();

    c.expire_after(limits.idle_timeout);
    ec = c.run([&](auto h) { http::async_write(stream, req, [h](error_code e, std::size_t) { h(e); }); });
    // A kept-alive connection the upstream has closed meanwhile fails here or
    // at the first read: nothing was answered, so the call may be retried.
    auto closed_by_peer = [&](const error_code& e) {
        return e == http::error::end_of_stream || e == asio::error::eof || e == asio::error::connection_reset ||
               e == asio::error::broken_pipe;
    };
    if (ec && reused && closed_by_peer(ec) && !cancel.cancelled()) stale = true;
    if (ec) return failed("sending the request failed: ", ec);

    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(limits.max_body);
    parser.header_limit(64U << 10);
    c.expire_after(limits.idle_timeout);
    ec = c.run([&](auto h) { http::async_read_header(stream, buffer, parser, [h](error_code e, std::size_t) { h(e); }); });
    if (ec == http::error::body_limit)
        return failed("the answer is larger than the limit (" + std::to_string(limits.max_body) + " bytes): ", ec);
    if (ec && reused && closed_by_peer(ec) && buffer.size() == 0 && !cancel.cancelled()) stale = true;
    if (ec) return failed("no answer: ", ec);
    r.head.status = parser.get().result_int();
    r.head.content_type = std::string(parser.get()[http::field::content_type]);
    r.head.content_disposition = std::string(parser.get()[http::field::content_disposition]);
    if (!on_head(r.head)) {
        c.close();
        r.how = http_call_result::outcome::done;
        return r;
    }

    char chunk[16384];
    while (!parser.is_done()) {
        parser.get().body().data = chunk;
        parser.get().body().size = sizeof chunk;
        c.expire_after(limits.idle_timeout);
        ec = c.run([&](auto h) { http::async_read_some(stream, buffer, parser, [h](error_code e, std::size_t) { h(e); }); });
        if (ec == http::error::need_buffer) ec = {};
        const std::size_t got = sizeof chunk - parser.get().body().size;
        if (got > 0 && !on_body(std::string_view(chunk, got))) {
            c.close();
            break;
        }
        if (ec == http::error::body_limit)
            return failed("the answer is larger than the limit (" + std::to_string(limits.max_body) + " bytes): ", ec);
        if (ec) return failed("the answer broke off: ", ec);
    }
    keep = parser.is_done() && parser.keep_alive() && buffer.size() == 0 && !cancel.cancelled() && !c.past_deadline();
    if (!keep) c.close();
    r.how = http_call_result::outcome::done;
    return r;
}

// Plain connections kept alive for the next call, per worker thread: each
// thread runs its own io_context, so a pooled socket is only ever used by the
// thread that made it. At most 4 idle per upstream per thread.
struct thread_pool {
    asio::io_context ioc;
    std::map<std::string, std::vector<beast::tcp_stream>> idle;
};
thread_pool& this_thread_pool() {
    thread_local thread_pool p;
    return p;
}

} // namespace

http_call_result http_call(const upstream_url& url, asio::ssl::context* tls, const http_request_spec& request,
                           cancellation_token& cancel, const std::function<bool(const http_head&)>& on_head,
                           const std::function<bool(std::string_view)>& on_body, const http_call_limits& limits) {
    bool keep = false, stale = false;
    if (url.tls()) {
        if (tls == nullptr) {
            http_call_result r;
            r.error = "no TLS context for " + url.display();
            return r;
        }
        asio::io_context ioc;
        beast::ssl_stream<beast::tcp_stream> stream(ioc, *tls);
        return run_call(ioc, stream, false, url, request, cancel, on_head, on_body, limits, keep, stale);
    }
    auto& pool = this_thread_pool();
    const std::string key = url.host + ":" + std::to_string(url.port);
    auto& idle = pool.idle[key];
    while (!idle.empty()) {
        beast::tcp_stream stream = std::move(idle.back());
        idle.pop_back();
        auto r = run_call(pool.ioc, stream, true, url, request, cancel, on_head, on_body, limits, keep, stale);
        if (keep && idle.size() < 4) idle.push_back(std::move(stream));
        if (!stale) return r;
        // The upstream had closed it: the next idle one, or a new connection.
    }
    beast::tcp_stream stream(pool.ioc);
    auto r = run_call(pool.ioc, stream, false, url, request, cancel, on_head, on_body, limits, keep, stale);
    if (keep && idle.size() < 4) idle.push_back(std::move(stream));
    return r;
}

asio::ssl::context make_upstream_tls(const std::string& ca_file) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    error_code ec;
    if (!ca_file.empty()) {
        ctx.load_verify_file(ca_file, ec);
        if (ec) throw std::invalid_argument("--ca-file " + ca_file + ": " + ec.message());
    } else {
        ctx.set_default_verify_paths(ec);
        if (ec) throw std::runtime_error("cannot load the system's CA certificates: " + ec.message());
    }
    return ctx;
}

} // namespace tether::agent
