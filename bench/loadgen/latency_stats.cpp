#include "latency_stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tether::bench {

void latency_stats::add(std::chrono::nanoseconds d) {
    ++count_;
    if (ns_.size() < max_samples_) ns_.push_back(d.count());
}

latency_summary latency_stats::summarize() const {
    latency_summary s;
    s.samples = ns_.size();
    if (ns_.empty()) return s;
    std::vector<std::int64_t> sorted = ns_;
    std::sort(sorted.begin(), sorted.end());
    // Nearest rank: the smallest sample with at least p of the samples at or below it.
    auto rank = [&](double p) {
        auto idx = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
        idx = std::clamp<std::size_t>(idx, 1, sorted.size());
        return static_cast<double>(sorted[idx - 1]) / 1e6;
    };
    s.p50_ms = rank(0.50);
    s.p90_ms = rank(0.90);
    s.p99_ms = rank(0.99);
    s.max_ms = static_cast<double>(sorted.back()) / 1e6;
    const long double total = std::accumulate(sorted.begin(), sorted.end(), 0.0L);
    s.mean_ms = static_cast<double>(total / static_cast<long double>(sorted.size()) / 1e6L);
    return s;
}

} // namespace tether::bench
