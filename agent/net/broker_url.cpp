#include "net/broker_url.hpp"

#include <fmt/format.h>

#include <charconv>

namespace tether::agent {

std::string broker_url::to_string() const {
    const bool v6 = host.find(':') != std::string::npos;
    return fmt::format("{}://{}{}{}:{}{}", tls ? "wss" : "ws", v6 ? "[" : "", host, v6 ? "]" : "", port, target);
}

std::optional<broker_url> parse_broker_url(std::string_view text, std::string& error) {
    broker_url u;
    if (text.starts_with("wss://")) {
        u.tls = true;
        text.remove_prefix(6);
    } else if (text.starts_with("ws://")) {
        text.remove_prefix(5);
    } else {
        error = "the broker URL must start with ws:// or wss://";
        return std::nullopt;
    }
    const auto slash = text.find('/');
    std::string_view authority = text.substr(0, slash);
    if (slash != std::string_view::npos) u.target = std::string(text.substr(slash));
    if (u.target.find_first_of(" \r\n\t") != std::string::npos) {
        error = "the broker URL's path has whitespace in it";
        return std::nullopt;
    }
    std::string_view port_text;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            error = "unclosed '[' in the broker URL";
            return std::nullopt;
        }
        u.host = std::string(authority.substr(1, close - 1));
        auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest[0] != ':') {
                error = "unexpected text after ']' in the broker URL";
                return std::nullopt;
            }
            port_text = rest.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (u.host.empty() || u.host.find_first_of("@ /") != std::string::npos) {
        error = "the broker URL has no valid host";
        return std::nullopt;
    }
    if (port_text.empty()) {
        u.port = u.tls ? 443 : 80;
    } else {
        unsigned p = 0;
        auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
        if (ec != std::errc{} || end != port_text.data() + port_text.size() || p == 0 || p > 65535) {
            error = fmt::format("bad port '{}' in the broker URL", port_text);
            return std::nullopt;
        }
        u.port = static_cast<std::uint16_t>(p);
    }
    return u;
}

} // namespace tether::agent
