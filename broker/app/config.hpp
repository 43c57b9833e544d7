#pragma once
// tether-broker serve's configuration: parsed once in main (flags, then the
// optional JSON config file for what flags left unset) and passed down by
// const&. No code below main reads the environment.

#include "core/rate_limiter.hpp"
#include "tether/shared/log.hpp"
#include "tether/shared/units.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace tether::broker::app {

struct broker_config {
    host_port listen{"127.0.0.1", 8080};
    std::filesystem::path data_dir = "./data";
    std::filesystem::path web_dir = "./web";
    std::optional<std::filesystem::path> tls_cert;
    std::optional<std::filesystem::path> tls_key;
    unsigned threads = 2;
    std::uint32_t heartbeat_s = 15;
    std::uint64_t max_upload = 256ULL << 20;
    std::uint64_t max_frame = 1ULL << 20;
    std::uint64_t max_json = 1ULL << 20;
    std::size_t max_connections = 4096; // --max-connections: HTTP, SSE and agent sockets together
    log::level log_level = log::level::info;
    std::optional<rate_limit_config> rate_limits; // --rate-limit, when given
    // Retention: finished requests older than `retain` go (nullopt: never),
    // and the oldest finished ones while the data is above max_data_size.
    std::optional<std::chrono::milliseconds> retain = std::chrono::hours(24 * 30);
    std::optional<std::uint64_t> max_data_size;
    std::chrono::milliseconds prune_interval{60'000};
};

} // namespace tether::broker::app
