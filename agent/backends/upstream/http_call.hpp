#pragma once
// One HTTP/1.1 POST to an upstream, on the calling (worker) thread, with the
// response body handed over piece by piece as it arrives (an SSE stream
// streams). Cancellation closes the connection within 50 ms, so the upstream
// sees the client go and stops generating; every wait has a deadline and the
// body a size bound.

#include "backends/backend.hpp"
#include "backends/upstream/upstream_url.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::agent {

struct http_call_limits {
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds idle_timeout{300'000}; // no byte for this long: the upstream is stuck
    std::size_t max_body = 64U << 20;
};

struct http_call_result {
    enum class outcome { done, cancelled, failed } how = outcome::failed;
    unsigned status = 0;
    std::string content_type;
    std::string error; // what went wrong, for the user ("connection refused", "timed out", …)
    bool connected = false; // false: the upstream could not be reached at all
};

// POSTs `body` (JSON) to `target` on the upstream. `on_head` runs once with
// the status and content type; `on_body` with each piece of the body; either
// may return false to stop reading (the connection is closed).
http_call_result http_post(const upstream_url& url, const std::string& target,
                           const std::vector<std::pair<std::string, std::string>>& headers, std::string body,
                           cancellation_token& cancel, const std::function<bool(unsigned, std::string_view)>& on_head,
                           const std::function<bool(std::string_view)>& on_body, const http_call_limits& limits = {});

} // namespace tether::agent
