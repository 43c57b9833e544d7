#include "api/router.hpp"

namespace tether::broker::api {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    while (!path.empty()) {
        if (path.front() == '/') {
            path.remove_prefix(1);
            continue;
        }
        auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash);
    }
    return out;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_space) {
    std::string out;
    out.reserve(s.size());
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            int hi = hex(s[i + 1]);
            int lo = hex(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::optional<std::string> api_call::query_param(std::string_view name) const {
    std::string_view q = query;
    while (!q.empty()) {
        auto amp = q.find('&');
        auto pair = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        if (!key || *key != name) continue;
        if (eq == std::string_view::npos) return std::string();
        return percent_decode(pair.substr(eq + 1), true);
    }
    return std::nullopt;
}

void router::add(boost::beast::http::verb method, std::string_view pattern, access who, handler_fn handler) {
    route r;
    r.method = method;
    for (auto s : split_path(pattern)) r.segments.emplace_back(s);
    r.who = who;
    r.handler = std::move(handler);
    routes_.push_back(std::move(r));
}

void router::add_non_blocking(boost::beast::http::verb method, std::string_view pattern, access who,
                              handler_fn handler) {
    add(method, pattern, who, std::move(handler));
    routes_.back().non_blocking = true;
}

router::match router::find(boost::beast::http::verb method, std::string_view path) const {
    match m;
    auto parts = split_path(path);
    for (const auto& r : routes_) {
        if (r.segments.size() != parts.size()) continue;
        std::vector<std::string> params;
        bool ok = true;
        for (std::size_t i = 0; i < parts.size() && ok; ++i) {
            const auto& seg = r.segments[i];
            if (!seg.empty() && seg.front() == '{') {
                auto decoded = percent_decode(parts[i], false);
                if (!decoded) {
                    m.bad_path = true;
                    return m;
                }
                params.push_back(std::move(*decoded));
            } else {
                ok = seg == parts[i];
            }
        }
        if (!ok) continue;
        m.path_known = true;
        if (r.method == method) {
            m.found = &r;
            m.params = std::move(params);
            return m;
        }
    }
    return m;
}

} // namespace tether::broker::api
