#include "tether/shared/log.hpp"

#include "tether/shared/clock.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

namespace tether::log {
namespace {
std::atomic<level> g_level{level::info};
constexpr std::string_view names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};
} // namespace

void set_level(level l) { g_level.store(l, std::memory_order_relaxed); }
level current_level() { return g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view name, level& out) {
    static constexpr std::pair<std::string_view, level> table[] = {
        {"debug", level::debug}, {"info", level::info}, {"warn", level::warn}, {"error", level::error},
        {"off", level::off}};
    for (const auto& [n, l] : table) {
        if (n == name) {
            out = l;
            return true;
        }
    }
    return false;
}

void write(level l, std::string_view message) {
    // One fwrite per line so concurrent threads never interleave inside a line.
    std::string line = format_rfc3339(std::chrono::system_clock::now());
    line += ' ';
    line += names[static_cast<int>(l)];
    line += ' ';
    line += message;
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace tether::log
