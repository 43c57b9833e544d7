#include "memory_trend.hpp"

#include <algorithm>
#include <cmath>

namespace tether::bench {

namespace {

// Least-squares slope of rss over t, per minute; 0 with fewer than two samples.
double slope_per_min(std::vector<memory_sample>::const_iterator first, std::vector<memory_sample>::const_iterator last) {
    const auto n = static_cast<double>(last - first);
    if (n < 2) return 0;
    double st = 0, sr = 0;
    for (auto it = first; it != last; ++it) {
        st += it->t_s;
        sr += static_cast<double>(it->rss_kib);
    }
    const double mt = st / n, mr = sr / n;
    double num = 0, den = 0;
    for (auto it = first; it != last; ++it) {
        num += (it->t_s - mt) * (static_cast<double>(it->rss_kib) - mr);
        den += (it->t_s - mt) * (it->t_s - mt);
    }
    return den > 0 ? num / den * 60.0 : 0;
}

} // namespace

memory_trend summarize_trend(const std::vector<memory_sample>& samples) {
    memory_trend m;
    m.samples = samples.size();
    if (samples.empty()) return m;
    const auto& first = samples.front();
    const auto& last = samples.back();
    m.start_kib = first.rss_kib;
    m.end_kib = last.rss_kib;
    m.open_files_start = first.open_files;
    m.open_files_end = last.open_files;
    const double half = (first.t_s + last.t_s) / 2;
    auto mid = std::min_element(samples.begin(), samples.end(), [&](const memory_sample& a, const memory_sample& b) {
        return std::abs(a.t_s - half) < std::abs(b.t_s - half);
    });
    m.mid_kib = mid->rss_kib;
    for (const auto& s : samples) m.peak_kib = std::max(m.peak_kib, s.rss_kib);
    m.slope_kib_per_min = slope_per_min(samples.begin(), samples.end());
    m.second_half_slope_kib_per_min = slope_per_min(mid, samples.end());
    return m;
}

} // namespace tether::bench
