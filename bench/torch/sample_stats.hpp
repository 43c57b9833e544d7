#pragma once
// Timing for tether-torch-bench: bounded timed loops (a warm-up, then a count
// and a duration, whichever ends first), percentiles of the samples, and the
// `RESULT label=... key=value` lines scripts/bench-torch.sh collects. No torch.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tether::bench {

struct sample_summary {
    std::uint64_t count = 0;
    double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
    double seconds = 0; // wall time of the timed calls, all together
};

// Nearest-rank percentiles of per-call milliseconds.
sample_summary summarise(std::vector<double> ms, double seconds);

struct loop_bounds {
    std::uint64_t warmup = 0;
    std::uint64_t iterations = 1;
    std::chrono::milliseconds duration{10'000};
};

// Calls fn() `warmup` times untimed (cut short by the duration too), then
// times each call until `iterations` calls were timed or `duration` has
// passed since the timed calls began. At least one call is timed.
template <typename Fn> sample_summary timed_loop(const loop_bounds& b, Fn&& fn) {
    using clock = std::chrono::steady_clock;
    const auto warm_end = clock::now() + b.duration;
    for (std::uint64_t i = 0; i < b.warmup && clock::now() < warm_end; ++i)
        fn();
    std::vector<double> ms;
    ms.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(b.iterations, 1'000'000)));
    const auto start = clock::now();
    const auto end = start + b.duration;
    do {
        const auto t0 = clock::now();
        fn();
        ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    } while (ms.size() < b.iterations && clock::now() < end);
    return summarise(std::move(ms), std::chrono::duration<double>(clock::now() - start).count());
}

// One machine-readable line: `RESULT label=LABEL key=value ...` (values
// without spaces), built with add() and written to stdout by print().
class result_line {
  public:
    explicit result_line(std::string_view label);

    result_line& add(std::string_view key, std::string_view value);
    result_line& add(std::string_view key, std::uint64_t value);
    result_line& add(std::string_view key, double value, int decimals = 3);
    // count, p50/p90/p99/max/mean (ms), seconds.
    result_line& add(const sample_summary& s);
    void print() const;

  private:
    std::string text_;
};

} // namespace tether::bench
