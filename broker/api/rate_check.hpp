#pragma once
// Applies the per-key and per-user rate limits to one submission by the
// caller of an API call; every submit path (Tether and OpenAI-compatible)
// asks here before submitting. Shapes no response: callers answer 429 in
// their own error format with the Retry-After given.

#include "api/api_call.hpp"
#include "api/metrics_latency.hpp"
#include "core/rate_limiter.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace tether::broker::api {

struct rate_refusal {
    std::uint32_t retry_after_s = 1;
    std::string_view limited_by; // "api_key" or "user"
};

// nullopt: go ahead (a token was taken). Null limiter: no limits.
std::optional<rate_refusal> check_rate_limit(rate_limiter* limiter, latency_metrics* metrics, const api_call& call,
                                             std::string_view space);

} // namespace tether::broker::api
