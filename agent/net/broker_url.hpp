#pragma once
// The broker address an agent dials: ws://HOST[:PORT][/PATH] or wss://...
// Parsing only; no name resolution, no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::agent {

struct broker_url {
    bool tls = false;
    std::string host; // without brackets for IPv6 literals
    std::uint16_t port = 0;
    std::string target = "/agent";
    // "wss://host:port/agent", for logs.
    std::string to_string() const;
};

// nullopt with `error` set when `text` is not a ws:// or wss:// URL.
std::optional<broker_url> parse_broker_url(std::string_view text, std::string& error);

} // namespace tether::agent
