#pragma once
// Latency histograms and rate-limit counts for /metrics: queue wait and
// end-to-end time per space, store commit latency, 429s from rate limits.
// Fed by the core host (request snapshots, commit callbacks) and the API;
// renders Prometheus text. Thread-safe; does no I/O and keeps no requests.

#include "core/request.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tether::broker::api {

// A cumulative Prometheus histogram over fixed upper bounds (seconds).
class histogram {
  public:
    explicit histogram(std::vector<double> upper_bounds);
    void observe(double seconds);
    // name_bucket{labels,le="…"} lines, then name_sum and name_count.
    void render(std::string& out, std::string_view name, std::string_view labels) const;
    std::uint64_t count() const { return count_; }

  private:
    std::vector<double> bounds_;
    std::vector<std::uint64_t> counts_; // per bound, not cumulative; the last is +Inf
    double sum_ = 0;
    std::uint64_t count_ = 0;
};

class latency_metrics {
  public:
    latency_metrics();

    // Every snapshot the core persists. The first dispatch gives the queue
    // wait (dispatched_at - created); the terminal state gives the end-to-end
    // latency (finished_at - created).
    void observe_request(const request_record& r);
    // Time from handing a snapshot to the store to its durable callback.
    void observe_commit(std::chrono::steady_clock::duration d);
    // A submission refused by a rate limit; `by` is "api_key" or "user".
    void count_rate_limited(std::string_view space, std::string_view by);

    // All of the above in Prometheus text format, HELP and TYPE included.
    std::string render() const;

  private:
    mutable std::mutex mutex_;
    std::map<std::string, histogram, std::less<>> queue_wait_; // by space
    std::map<std::string, histogram, std::less<>> end_to_end_; // by space
    histogram commit_;
    std::map<std::pair<std::string, std::string>, std::uint64_t> rate_limited_;
};

// Escapes a Prometheus label value (backslash, quote, newline).
std::string prometheus_label(std::string_view v);

} // namespace tether::broker::api
