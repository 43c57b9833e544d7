#include "upstream_server.hpp"

#include "http_io.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <fmt/format.h>

#include <fstream>

namespace tether::bench {

namespace http = beast::http;

namespace {

constexpr std::string_view sse_header = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
                                        "X-Accel-Buffering: no\r\nConnection: close\r\n\r\n";
constexpr std::string_view sse_event = "id: 1\nevent: completed\ndata: {\"result\":{\"output\":\"bench\"}}\n\n";

asio::awaitable<void> serve_connection(tcp::socket socket, std::uint64_t& next_id) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    while (true) {
        stream.expires_after(std::chrono::seconds(60));
        http::request_parser<http::string_body> parser;
        parser.body_limit(1U << 20);
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow);
        if (ec) break;
        auto& req = parser.get();
        const std::string_view target = req.target();
        if (req.method() == http::verb::get && target.ends_with("/events")) {
            // Like the broker: the header, then the event, then close.
            if (auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(sse_header), nothrow); wec) break;
            co_await asio::async_write(stream, asio::buffer(sse_event), nothrow);
            break;
        }
        http::response<http::string_body> res;
        res.version(11);
        res.keep_alive(req.keep_alive());
        if (req.method() == http::verb::post && target == "/v1/chat/completions" &&
            req.body().find("\"stream\":true") != std::string::npos) {
            // As an OpenAI-compatible server streams (what tether-agent's
            // --upstream asks for): the chunks of a one-token answer at once.
            const std::uint64_t id = ++next_id;
            res.result(http::status::ok);
            res.set(http::field::content_type, "text/event-stream");
            const auto head = fmt::format("data: {{\"id\":\"chatcmpl-{:016x}\",\"object\":\"chat.completion.chunk\","
                                          "\"created\":0,\"model\":\"ref\",\"choices\":[{{\"index\":0,",
                                          id);
            res.body() = head + "\"delta\":{\"role\":\"assistant\",\"content\":\"ok\"}}]}\n\n" + head +
                         "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n" +
                         "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\n"
                         "data: [DONE]\n\n";
        } else if (req.method() == http::verb::post && target == "/v1/chat/completions") {
            // The OpenAI flow's reference: a chat.completion answered at once.
            const std::uint64_t id = ++next_id;
            res.result(http::status::ok);
            res.set(http::field::content_type, "application/json");
            res.body() = fmt::format(
                "{{\"id\":\"chatcmpl-{:016x}\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"ref\","
                "\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"ok\"}},"
                "\"finish_reason\":\"stop\"}}]}}",
                id);
        } else if (req.method() == http::verb::post) {
            const std::uint64_t id = ++next_id;
            res.result(http::status::accepted);
            res.set(http::field::content_type, "application/json");
            res.body() = fmt::format("{{\"request_id\":\"{:08x}-0000-4000-8000-{:012x}\",\"status\":\"queued\",\"position\":0}}",
                                     static_cast<std::uint32_t>(id >> 32), id & 0xffffffffffffULL);
        } else if (target == "/healthz") {
            res.result(http::status::ok);
            res.body() = "{\"status\":\"ok\"}";
        } else {
            res.result(http::status::not_found);
        }
        res.prepare_payload();
        auto [wec, wn] = co_await http::async_write(stream, res, nothrow);
        if (wec || !res.keep_alive()) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.socket().close(ignored);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::uint64_t& next_id) {
    while (acceptor.is_open()) {
        auto [ec, socket] = co_await acceptor.async_accept(nothrow);
        if (ec) {
            if (ec == asio::error::operation_aborted) break;
            continue; // e.g. too many open files: keep serving the others
        }
        asio::co_spawn(acceptor.get_executor(), serve_connection(std::move(socket), next_id), asio::detached);
    }
}

} // namespace

int run_upstream(const loadgen_options& o) {
    auto where = make_target(o.listen, "", o.timeout, true);
    asio::io_context ioc(1);
    tcp::acceptor acceptor(ioc);
    acceptor.open(where.endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(where.endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    const auto port = acceptor.local_endpoint().port();
    if (!o.port_file.empty()) {
        std::ofstream(o.port_file) << port << '\n';
    }
    fmt::print("upstream listening on {}:{}\n", where.endpoint.address().to_string(), port);
    std::fflush(stdout);

    std::uint64_t next_id = 0;
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    asio::steady_timer lifetime(ioc);
    auto stop = [&] {
        error_code ignored;
        acceptor.close(ignored);
        signals.cancel(ignored);
        lifetime.cancel();
        ioc.stop();
    };
    signals.async_wait([&](error_code ec, int) {
        if (!ec) stop();
    });
    lifetime.expires_after(o.lifetime);
    lifetime.async_wait([&](error_code ec) {
        if (!ec) stop();
    });
    asio::co_spawn(ioc, accept_loop(acceptor, next_id), asio::detached);
    ioc.run();
    fmt::print("upstream stopped after {} submissions\n", next_id);
    return 0;
}

} // namespace tether::bench
