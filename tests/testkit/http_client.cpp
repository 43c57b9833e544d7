// Synchronous test HTTP client; see http_client.hpp.
#include "testkit/http_client.hpp"

#include "tether/protocol/json_writer.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace tether::testkit {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string json_quote(std::string_view s) { return protocol::json_string(s); }

std::string http_response::header(std::string_view name) const {
    auto it = headers.find(name);
    if (it == headers.end()) {
        return {};
    }
    return std::string(it->value());
}

std::string http_response::describe() const {
    if (status == 0) {
        return "no response: " + error;
    }
    std::string b = body.size() > 400 ? body.substr(0, 400) + "..." : body;
    return "status " + std::to_string(status) + ": " + b;
}

http_client::http_client(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port) {}

http_response http_client::request(http::verb verb, const std::string& target, const std::string& body,
                                   const std::string& content_type, const header_list& extra) {
    http_response out;
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    beast::error_code ec;

    const tcp::endpoint ep(asio::ip::make_address(host_, ec), port_);
    if (ec) {
        out.error = "bad address " + host_;
        return out;
    }

    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, host_ + ":" + std::to_string(port_));
    req.set(http::field::user_agent, "tether-itest");
    req.keep_alive(false);
    for (const auto& [k, v] : auth_headers()) {
        req.set(k, v);
    }
    for (const auto& [k, v] : extra) {
        req.set(k, v);
    }
    if (!content_type.empty()) {
        req.set(http::field::content_type, content_type);
    }
    if (!body.empty() || verb == http::verb::post || verb == http::verb::put) {
        req.body() = body;
        req.prepare_payload();
    }

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64U << 20);
    parser.header_limit(64U << 10);

    // Each step runs as an async op on this private io_context: tcp_stream's
    // expiry bounds it, which blocking Beast calls would not.
    stream.expires_after(timeout_);
    stream.async_connect(ep, [&](beast::error_code e) { ec = e; });
    ioc.run();
    if (!ec) {
        ioc.restart();
        stream.expires_after(timeout_);
        http::async_write(stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
        ioc.run();
    }
    // Read even after a failed write: a server may answer (413, 401) and close
    // before taking the whole body, and that answer is what the test wants.
    if (!ec || ec == asio::error::broken_pipe || ec == asio::error::connection_reset) {
        const auto write_ec = ec;
        ioc.restart();
        stream.expires_after(timeout_);
        http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
        ioc.run();
        if (ec && !parser.is_header_done() && write_ec) {
            ec = write_ec;
        }
    }
    if (ec && !parser.is_header_done()) {
        out.error = ec.message();
        return out;
    }
    auto res = parser.release();
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    for (const auto& f : res) {
        out.headers.insert(f.name_string(), f.value());
    }
    if (ec) {
        out.error = ec.message(); // a response whose body was cut short
    }
    stream.socket().close(ec);
    remember_cookies(out);
    return out;
}

void http_client::remember_cookies(const http_response& r) {
    bool any = false;
    for (const auto& f : r.headers) {
        if (f.name() != http::field::set_cookie) {
            continue;
        }
        if (!any) {
            last_set_cookie_.clear();
            any = true;
        }
        std::string line(f.value());
        last_set_cookie_.push_back(line);
        auto semi = line.find(';');
        std::string pair = line.substr(0, semi);
        auto eq = pair.find('=');
        if (eq == std::string::npos) {
            continue;
        }
        std::string name = pair.substr(0, eq);
        std::string value = pair.substr(eq + 1);
        while (!name.empty() && name.front() == ' ') {
            name.erase(0, 1);
        }
        const bool expired = line.find("Max-Age=0") != std::string::npos || value.empty();
        if (expired) {
            cookies_.erase(name);
        } else {
            cookies_[name] = value;
        }
    }
}

http_client::header_list http_client::auth_headers() const {
    header_list out;
    if (!bearer_.empty()) {
        out.emplace_back("Authorization", "Bearer " + bearer_);
    }
    if (!cookies_.empty()) {
        std::string c;
        for (const auto& [k, v] : cookies_) {
            if (!c.empty()) {
                c += "; ";
            }
            c += k + "=" + v;
        }
        out.emplace_back("Cookie", c);
    }
    return out;
}

http_response http_client::get(const std::string& target, const header_list& extra) {
    return request(http::verb::get, target, {}, {}, extra);
}

http_response http_client::del(const std::string& target) { return request(http::verb::delete_, target); }

http_response http_client::post(const std::string& target, const std::string& body, const std::string& content_type) {
    return request(http::verb::post, target, body, content_type);
}

http_response http_client::post_json(const std::string& target, const std::string& json) {
    return request(http::verb::post, target, json, "application/json");
}

http_response http_client::login(const std::string& username, const std::string& password) {
    return post_json("/api/login",
                     "{\"username\":" + json_quote(username) + ",\"password\":" + json_quote(password) + "}");
}

} // namespace tether::testkit
