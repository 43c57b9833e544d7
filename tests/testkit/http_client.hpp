#pragma once
// A small synchronous HTTP/1.1 client for integration tests (Beast). One
// connection per request, every step bounded by a timeout; I/O failures come
// back as status 0 with `error` set, never as exceptions. Keeps the session
// cookie a login sets, and can send a Bearer key instead.

#include "testkit/json_doc.hpp"

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tether::testkit {

struct http_response {
    int status = 0;    // 0: no response at all, see `error`
    std::string error; // transport error, when status == 0
    std::string body;
    boost::beast::http::fields headers;

    std::string header(std::string_view name) const;
    json_doc json() const { return json_doc::parse(body); }
    // "status 404: {...body...}" for failure messages.
    std::string describe() const;
};

class http_client {
public:
    http_client(std::string host, std::uint16_t port);

    void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
    void set_bearer(std::string token) { bearer_ = std::move(token); }
    void clear_bearer() { bearer_.clear(); }
    void clear_cookies() { cookies_.clear(); }
    bool has_cookie(const std::string& name) const { return cookies_.count(name) != 0; }
    // The raw Set-Cookie headers of the last response that had any.
    const std::vector<std::string>& last_set_cookie() const { return last_set_cookie_; }

    using header_list = std::vector<std::pair<std::string, std::string>>;
    http_response request(boost::beast::http::verb verb, const std::string& target, const std::string& body = {},
                          const std::string& content_type = {}, const header_list& extra = {});

    http_response get(const std::string& target, const header_list& extra = {});
    http_response del(const std::string& target);
    http_response post(const std::string& target, const std::string& body, const std::string& content_type);
    http_response post_json(const std::string& target, const std::string& json);
    // POST /api/login; a 200 leaves the session cookie in the jar.
    http_response login(const std::string& username, const std::string& password);

    // Cookie and Authorization headers as this client would send them (for sse_reader).
    header_list auth_headers() const;

    const std::string& host() const { return host_; }
    std::uint16_t port() const { return port_; }

private:
    void remember_cookies(const http_response& r);

    std::string host_;
    std::uint16_t port_;
    std::chrono::milliseconds timeout_{std::chrono::seconds(10)};
    std::string bearer_;
    std::map<std::string, std::string> cookies_;
    std::vector<std::string> last_set_cookie_;
};

// Writes a JSON string literal (quoted, escaped) for building request bodies.
std::string json_quote(std::string_view s);

} // namespace tether::testkit
