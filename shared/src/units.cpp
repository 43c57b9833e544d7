#include "tether/shared/units.hpp"

#include <charconv>
#include <cmath>

namespace tether {

std::optional<std::uint64_t> parse_size(std::string_view text) {
    std::uint64_t value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr == text.data()) return std::nullopt;
    const std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
    std::uint64_t mul = 1;
    if (unit.empty() || unit == "B")
        mul = 1;
    else if (unit == "KiB" || unit == "K" || unit == "k")
        mul = 1ULL << 10;
    else if (unit == "MiB" || unit == "M")
        mul = 1ULL << 20;
    else if (unit == "GiB" || unit == "G")
        mul = 1ULL << 30;
    else if (unit == "KB" || unit == "kB")
        mul = 1000;
    else if (unit == "MB")
        mul = 1000 * 1000;
    else if (unit == "GB")
        mul = 1000ULL * 1000 * 1000;
    else
        return std::nullopt;
    if (value > UINT64_MAX / mul) return std::nullopt;
    return value * mul;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    double value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr == text.data() || !std::isfinite(value) || value < 0) return std::nullopt;
    const std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
    double ms = 0;
    if (unit.empty() || unit == "s")
        ms = value * 1000;
    else if (unit == "ms")
        ms = value;
    else if (unit == "m" || unit == "min")
        ms = value * 60'000;
    else if (unit == "h")
        ms = value * 3'600'000;
    else if (unit == "d")
        ms = value * 86'400'000;
    else if (unit == "w")
        ms = value * 7 * 86'400'000.0;
    else
        return std::nullopt;
    if (ms > 1e15) return std::nullopt;
    return std::chrono::milliseconds{static_cast<std::int64_t>(std::llround(ms))};
}

std::optional<host_port> parse_host_port(std::string_view text) {
    host_port out;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
        out.host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        out.host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
        // An IPv6 address must be bracketed, or "::1:80" would silently mean host "::1".
        if (out.host.find(':') != std::string::npos) return std::nullopt;
    }
    if (out.host.empty() || port_text.empty()) return std::nullopt;
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
    out.port = static_cast<std::uint16_t>(port);
    return out;
}

} // namespace tether
