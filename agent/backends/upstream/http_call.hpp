#pragma once
// One HTTP/1.1 call to an upstream (http or https, verified), on the calling
// (worker) thread, with the response body handed over piece by piece as it
// arrives (an SSE stream streams). Cancellation closes the connection within
// 50 ms, so the upstream sees the client go and stops generating; every wait
// has a deadline (connect, idle, the whole call) and the body a size bound.

#include "backends/backend.hpp"
#include "backends/upstream/upstream_url.hpp"

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::agent {

struct http_call_limits {
    std::chrono::milliseconds connect_timeout{5'000};
    std::chrono::milliseconds idle_timeout{300'000}; // no byte for this long: the upstream is stuck
    std::optional<std::chrono::steady_clock::time_point> deadline; // the whole call, connect to last byte
    std::size_t max_body = 64U << 20;
};

struct http_request_spec {
    std::string method = "POST"; // POST or GET
    std::string target;          // "/v1/chat/completions"
    std::string content_type = "application/json"; // POST only
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

struct http_head {
    unsigned status = 0;
    std::string content_type;
    std::string content_disposition;
};

struct http_call_result {
    enum class outcome { done, cancelled, timed_out, failed } how = outcome::failed;
    http_head head;
    std::string error;      // what went wrong, for the user ("connection refused", "timed out", …)
    bool connected = false; // false: the upstream could not be reached at all
};

// `tls`: the client context for https upstreams (nullptr for http). `on_head`
// runs once with the status and headers; `on_body` with each piece of the
// body; either may return false to stop reading (the connection is closed).
http_call_result http_call(const upstream_url& url, boost::asio::ssl::context* tls, const http_request_spec& request,
                           cancellation_token& cancel, const std::function<bool(const http_head&)>& on_head,
                           const std::function<bool(std::string_view)>& on_body, const http_call_limits& limits);

// A client context for https upstreams: the system's CA certificates, or
// only `ca_file` when one is given. Throws std::invalid_argument naming the file.
boost::asio::ssl::context make_upstream_tls(const std::string& ca_file);

} // namespace tether::agent
