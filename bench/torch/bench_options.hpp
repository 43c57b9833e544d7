#pragma once
// tether-torch-bench's settings, parsed once from the command line in main.cpp
// and passed down by const&. Every run is bounded by a count and a duration,
// whichever ends first; nothing here reads the environment.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tether::bench {

struct torch_bench_options {
    std::string model;         // NAME.pt, its sidecar NAME.json beside it
    std::uint32_t threads = 1; // torch intra-op threads (at::set_num_threads)
    std::uint64_t warmup = 20; // calls (or requests) first, not counted
    std::uint64_t iterations = 1000;
    std::chrono::milliseconds duration{10'000};

    // The request: a prompt (text models), a generated PNG of image x image
    // pixels (image models), a 1 s generated WAV (audio models).
    std::string prompt; // "" = a default that suits the task
    std::uint32_t image = 128;
    std::uint32_t max_tokens = 200; // text-generation
    std::uint64_t seed = 8001;      // text-generation sampling

    // batch: raw forward at each batch size.
    std::vector<std::uint32_t> batch_sizes{1, 2, 4, 8, 16, 32};

    // dynamic: torch_backend with `capacity` and `submitters` threads.
    std::uint32_t capacity = 8;
    std::uint32_t max_batch = 8;
    std::uint32_t submitters = 8;
    std::chrono::milliseconds batch_wait{5};
};

} // namespace tether::bench
