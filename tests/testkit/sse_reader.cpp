// Background text/event-stream reader; see sse_reader.hpp.
#include "testkit/sse_reader.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <limits>

namespace tether::testkit {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct sse_reader::state {
    asio::io_context ioc;
    beast::tcp_stream stream{ioc};
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::response_parser<http::string_body> parser;

    std::mutex mu;
    std::condition_variable cv;
    int status = 0;
    std::string content_type;
    bool ended = false;
    std::size_t consumed = 0; // body bytes already split into lines
    std::string line;         // partial line
    sse_event current;
    std::vector<sse_event> all;
    std::size_t returned = 0; // events handed to the test so far
    std::string raw;          // every body byte, under `mu` (the parser is the I/O thread's)

    void read_more() {
        http::async_read_some(stream, buffer, parser, [this](beast::error_code ec, std::size_t) { on_read(ec); });
    }

    void on_read(beast::error_code ec) {
        {
            std::lock_guard lock(mu);
            if (parser.is_header_done() && status == 0) {
                status = static_cast<int>(parser.get().result_int());
                content_type = std::string(parser.get()[http::field::content_type]);
            }
            consume_body();
            if (ec || parser.is_done()) {
                ended = true;
            }
        }
        cv.notify_all();
        if (!ec && !parser.is_done()) {
            read_more();
        }
    }

    // Splits new body bytes into lines and lines into events (WHATWG rules,
    // kept simple: \n or \r\n line ends, ':' comments, blank line dispatches).
    void consume_body() {
        const std::string& body = parser.get().body();
        for (; consumed < body.size(); ++consumed) {
            char c = body[consumed];
            raw.push_back(c);
            if (c != '\n') {
                line.push_back(c);
                continue;
            }
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            take_line(line);
            line.clear();
        }
    }

    void take_line(const std::string& l) {
        if (l.empty()) {
            if (current.has_data || current.has_id || !current.event.empty()) {
                if (current.event.empty()) {
                    current.event = "message";
                }
                if (!current.data.empty() && current.data.back() == '\n') {
                    current.data.pop_back();
                }
                all.push_back(std::move(current));
            }
            current = sse_event{};
            return;
        }
        if (l.front() == ':') {
            return; // comment (keep-alive)
        }
        auto colon = l.find(':');
        std::string field = l.substr(0, colon);
        std::string value;
        if (colon != std::string::npos) {
            value = l.substr(colon + 1);
            if (!value.empty() && value.front() == ' ') {
                value.erase(0, 1);
            }
        }
        if (field == "event") {
            current.event = value;
        } else if (field == "data") {
            current.data += value;
            current.data += '\n';
            current.has_data = true;
        } else if (field == "id") {
            current.id = value;
            current.has_id = true;
        }
    }
};

sse_reader::sse_reader(const http_client& auth, const std::string& target, const std::string& last_event_id,
                       const std::string& json_body)
    : st_(std::make_shared<state>()) {
    auto& s = *st_;
    s.parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    s.req = http::request<http::string_body>{json_body.empty() ? http::verb::get : http::verb::post, target, 11};
    if (!json_body.empty()) {
        s.req.set(http::field::content_type, "application/json");
        s.req.body() = json_body;
        s.req.prepare_payload();
    }
    s.req.set(http::field::host, auth.host() + ":" + std::to_string(auth.port()));
    s.req.set(http::field::accept, "text/event-stream");
    s.req.set(http::field::cache_control, "no-cache");
    for (const auto& [k, v] : auth.auth_headers()) {
        s.req.set(k, v);
    }
    if (!last_event_id.empty()) {
        s.req.set("Last-Event-ID", last_event_id);
    }
    beast::error_code ec;
    tcp::endpoint ep(asio::ip::make_address(auth.host(), ec), auth.port());
    s.stream.async_connect(ep, [st = st_.get()](beast::error_code e) {
        if (e) {
            st->on_read(e);
            return;
        }
        http::async_write(st->stream, st->req, [st](beast::error_code we, std::size_t) {
            if (we) {
                st->on_read(we);
                return;
            }
            st->read_more();
        });
    });
    thread_ = std::thread([st = st_] { st->ioc.run(); });
}

sse_reader::~sse_reader() {
    // Raw pointer: if the I/O thread already finished, this handler is never
    // run and must not keep the state alive through the io_context it sits in.
    asio::post(st_->ioc, [st = st_.get()] {
        beast::error_code ec;
        st->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        st->stream.socket().close(ec);
    });
    if (thread_.joinable()) {
        thread_.join();
    }
}

int sse_reader::wait_status(std::chrono::milliseconds timeout) {
    std::unique_lock lock(st_->mu);
    st_->cv.wait_for(lock, timeout, [&] { return st_->status != 0 || st_->ended; });
    return st_->status;
}

std::string sse_reader::content_type() {
    std::lock_guard lock(st_->mu);
    return st_->content_type;
}

std::optional<sse_event> sse_reader::next(std::chrono::milliseconds timeout) {
    std::unique_lock lock(st_->mu);
    st_->cv.wait_for(lock, timeout, [&] { return st_->returned < st_->all.size() || st_->ended; });
    if (st_->returned < st_->all.size()) {
        return st_->all[st_->returned++];
    }
    return std::nullopt;
}

std::optional<sse_event> sse_reader::wait_for(const std::string& name, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return std::nullopt;
        }
        auto e = next(left);
        if (!e) {
            return std::nullopt;
        }
        if (e->event == name) {
            return e;
        }
    }
}

std::vector<sse_event> sse_reader::seen() {
    std::lock_guard lock(st_->mu);
    return st_->all;
}

std::string sse_reader::seen_names() {
    std::string out;
    for (const auto& e : seen()) {
        if (!out.empty()) {
            out += ",";
        }
        out += e.event;
    }
    return out;
}

bool sse_reader::wait_ended(std::chrono::milliseconds timeout) {
    std::unique_lock lock(st_->mu);
    return st_->cv.wait_for(lock, timeout, [&] { return st_->ended; });
}

std::string sse_reader::raw_body() {
    std::lock_guard lock(st_->mu);
    return st_->raw;
}

} // namespace tether::testkit
