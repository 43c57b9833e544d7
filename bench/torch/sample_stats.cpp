#include "sample_stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace tether::bench {

namespace {

double rank(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0;
    const auto n = static_cast<double>(sorted.size());
    const auto i = static_cast<std::size_t>(std::max(1.0, std::ceil(q * n))) - 1;
    return sorted[std::min(i, sorted.size() - 1)];
}

} // namespace

sample_summary summarise(std::vector<double> ms, double seconds) {
    sample_summary s;
    s.count = ms.size();
    s.seconds = seconds;
    if (ms.empty()) return s;
    std::sort(ms.begin(), ms.end());
    s.p50_ms = rank(ms, 0.50);
    s.p90_ms = rank(ms, 0.90);
    s.p99_ms = rank(ms, 0.99);
    s.max_ms = ms.back();
    s.mean_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
    return s;
}

result_line::result_line(std::string_view label) : text_(fmt::format("RESULT label={}", label)) {}

void result_line::print() const {
    fmt::print("{}\n", text_);
    std::fflush(stdout);
}

result_line& result_line::add(std::string_view key, std::string_view value) {
    text_ += fmt::format(" {}={}", key, value);
    return *this;
}

result_line& result_line::add(std::string_view key, std::uint64_t value) {
    text_ += fmt::format(" {}={}", key, value);
    return *this;
}

result_line& result_line::add(std::string_view key, double value, int decimals) {
    text_ += fmt::format(" {}={:.{}f}", key, value, decimals);
    return *this;
}

result_line& result_line::add(const sample_summary& s) {
    add("count", s.count);
    add("p50_ms", s.p50_ms, 4).add("p90_ms", s.p90_ms, 4).add("p99_ms", s.p99_ms, 4);
    add("max_ms", s.max_ms, 4).add("mean_ms", s.mean_ms, 4);
    return add("seconds", s.seconds);
}

} // namespace tether::bench
