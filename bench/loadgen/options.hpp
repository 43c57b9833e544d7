#pragma once
// tether-loadgen's settings, parsed once from the command line in main.cpp
// and passed down by const&. Every run is bounded by a request count and a
// wall-clock duration, whichever comes first.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tether::bench {

struct loadgen_options {
    // Where: the broker (or nginx in front of the reference upstream).
    std::string target = "127.0.0.1:8080";
    std::string reference;   // latency: HOST:PORT of the nginx hop to compare with ("" = none)
    std::string reference_label = "nginx-hop"; // what the reference is ("direct": the upstream itself)
    std::string api_key;     // Bearer for /api/...
    std::string admin_key;   // scale: an admin's key, to create the spaces it needs
    std::vector<std::string> spaces{"bench"};
    // sse: POST then watch events to `completed`; submit: POST only;
    // openai: POST /v1/chat/completions (not streamed) and read the answer.
    std::string flow = "sse";

    // How much.
    unsigned concurrency = 1;           // requests in flight (one worker coroutine each)
    std::uint64_t requests = 1000;      // stop after this many
    std::uint64_t warmup = 0;           // first N not counted
    std::chrono::milliseconds duration{30'000};
    std::chrono::milliseconds timeout{10'000}; // each network step
    std::string prompt = "bench";
    // throughput --rate: request k starts no earlier than k / rate seconds
    // after the first (0: as fast as the workers go). At most `concurrency` in
    // flight: when all are busy, starts fall behind the schedule (counted).
    double rate = 0;
    // with broker_pid: sample the broker's RSS and open files this often (0: never)
    std::chrono::milliseconds sample_every{0};

    // scale
    unsigned idle_agents = 0;
    unsigned idle_watchers = 0;
    std::string space_prefix = "scale";
    std::chrono::milliseconds settle{2'000};

    // uploads
    std::uint64_t upload_bytes = 16ULL << 20;
    std::uint64_t chunk_bytes = 256U << 10;
    std::string upload_field = "file";

    // broker process to measure (0: none)
    int broker_pid = 0;

    // upstream server mode
    std::string listen = "127.0.0.1:0";
    std::string port_file; // written once listening
    std::chrono::milliseconds lifetime{900'000};
};

} // namespace tether::bench
