#pragma once
// The broker's memory over a long run (soak): samples of VmRSS and open files
// taken every few seconds, and what they say: start, middle, end, peak and
// the slope. Pure arithmetic; reading /proc is proc_status's job.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tether::bench {

struct memory_sample {
    double t_s = 0;           // seconds since the run started
    std::uint64_t rss_kib = 0;
    std::size_t open_files = 0;
};

struct memory_trend {
    std::size_t samples = 0;
    std::uint64_t start_kib = 0; // the first sample
    std::uint64_t mid_kib = 0;   // the sample nearest half the run
    std::uint64_t end_kib = 0;   // the last sample
    std::uint64_t peak_kib = 0;
    double slope_kib_per_min = 0;             // least squares over all samples
    double second_half_slope_kib_per_min = 0; // over the samples after the middle (past warm-up growth)
    std::size_t open_files_start = 0;
    std::size_t open_files_end = 0;
};

memory_trend summarize_trend(const std::vector<memory_sample>& samples);

} // namespace tether::bench
