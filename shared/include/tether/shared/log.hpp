#pragma once
// Logging: one line per event on stderr, "2026-11-22T12:00:00.000Z INFO text".
// The level is set once at start-up; calls below it cost one comparison.

#include <fmt/format.h>

#include <string_view>

namespace tether::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(level l);
level current_level();
// "debug", "info", "warn", "error", "off"; false if the name is unknown.
bool parse_level(std::string_view name, level& out);
void write(level l, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
    if (current_level() <= level::debug) write(level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
    if (current_level() <= level::info) write(level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
    if (current_level() <= level::warn) write(level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
    if (current_level() <= level::error) write(level::error, fmt::format(f, std::forward<Args>(args)...));
}

} // namespace tether::log
