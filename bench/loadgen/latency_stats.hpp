#pragma once
// Latency samples of one run and the summary printed from them (percentiles
// by nearest rank over every sample kept, not an estimate). Single-threaded:
// the load generator runs one io_context on one thread.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tether::bench {

struct latency_summary {
    std::size_t samples = 0;
    double p50_ms = 0;
    double p90_ms = 0;
    double p99_ms = 0;
    double max_ms = 0;
    double mean_ms = 0;
};

class latency_stats {
public:
    // Keeps at most `max_samples` (a bound on memory: 8 bytes each); later
    // samples are counted but not kept, and the summary says how many it used.
    explicit latency_stats(std::size_t max_samples = 20'000'000) : max_samples_(max_samples) {}

    void add(std::chrono::nanoseconds d);
    std::size_t count() const { return count_; }
    latency_summary summarize() const;

private:
    std::size_t max_samples_;
    std::size_t count_ = 0;
    std::vector<std::int64_t> ns_;
};

} // namespace tether::bench
