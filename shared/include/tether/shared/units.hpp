#pragma once
// Parsing of the sizes, durations and addresses that flags and config take.
// Every function returns nullopt on bad input; the caller says what was wrong.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether {

// "1048576", "64KiB", "1MiB", "256MiB", "2GiB" (also KB/MB/GB as powers of 1000).
std::optional<std::uint64_t> parse_size(std::string_view text);
// "15" (seconds), "1.5", "500ms", "2s", "3m", "2h", "30d", "1w".
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

struct host_port {
    std::string host;
    std::uint16_t port = 0;
};
// "127.0.0.1:8080", "[::1]:8080", "localhost:80".
std::optional<host_port> parse_host_port(std::string_view text);

} // namespace tether
