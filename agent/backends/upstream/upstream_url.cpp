#include "backends/upstream/upstream_url.hpp"

#include <charconv>

namespace tether::agent {

std::optional<upstream_url> parse_upstream_url(const std::string& text, std::string& error) {
    upstream_url u;
    std::string rest = text;
    std::string fragment;
    if (const auto hash = rest.find('#'); hash != std::string::npos) {
        fragment = rest.substr(hash + 1);
        rest.resize(hash);
    }
    const auto plus = rest.find('+');
    const auto colon = rest.find("://");
    if (plus == std::string::npos || colon == std::string::npos || plus > colon) {
        error = "expected KIND+http://HOST:PORT/PATH (KIND: openai)";
        return std::nullopt;
    }
    u.kind = rest.substr(0, plus);
    u.scheme = rest.substr(plus + 1, colon - plus - 1);
    if (u.kind != "openai") {
        error = "unknown upstream kind '" + u.kind + "' (supported: openai)";
        return std::nullopt;
    }
    if (u.scheme != "http") {
        error = "scheme '" + u.scheme + "' is not supported yet (http only)";
        return std::nullopt;
    }
    std::string authority = rest.substr(colon + 3);
    const auto slash = authority.find('/');
    u.base = slash == std::string::npos ? "" : authority.substr(slash);
    authority.resize(std::min(slash, authority.size()));
    while (!u.base.empty() && u.base.back() == '/') u.base.pop_back();
    if (const auto c = authority.rfind(':'); c != std::string::npos && authority.find(']') == std::string::npos) {
        unsigned port = 0;
        const auto* b = authority.data() + c + 1;
        const auto* e = authority.data() + authority.size();
        auto [p, ec] = std::from_chars(b, e, port);
        if (ec != std::errc() || p != e || port == 0 || port > 65535) {
            error = "bad port in '" + authority + "'";
            return std::nullopt;
        }
        u.port = static_cast<std::uint16_t>(port);
        authority.resize(c);
    }
    if (authority.empty() || authority.find_first_of(" @?") != std::string::npos) {
        error = "bad host in '" + text + "'";
        return std::nullopt;
    }
    u.host = authority;
    std::size_t at = 0;
    while (at < fragment.size()) {
        auto amp = fragment.find('&', at);
        if (amp == std::string::npos) amp = fragment.size();
        const std::string item = fragment.substr(at, amp - at);
        const auto eq = item.find('=');
        const std::string key = item.substr(0, eq);
        const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
        if (key == "model" && !value.empty()) u.model = value;
        else if (key == "key_env" && !value.empty()) u.key_env = value;
        else {
            error = "unknown or empty setting '" + item + "' after # (model=NAME, key_env=VAR)";
            return std::nullopt;
        }
        at = amp + 1;
    }
    return u;
}

} // namespace tether::agent
