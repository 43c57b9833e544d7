#include "api/auth.hpp"

#include <boost/beast/core/string.hpp>

#include <fmt/format.h>

namespace tether::broker::api {
namespace {
std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}
std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }
} // namespace

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        auto semi = header.find(';');
        auto pair = trim(header.substr(0, semi));
        header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
        auto eq = pair.find('=');
        if (eq == std::string_view::npos) continue;
        if (trim(pair.substr(0, eq)) != name) continue;
        auto value = trim(pair.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
        return std::string(value);
    }
    return std::nullopt;
}

std::optional<std::string> bearer_token(std::string_view authorization) {
    authorization = trim(authorization);
    constexpr std::string_view scheme = "bearer ";
    if (authorization.size() <= scheme.size() ||
        !boost::beast::iequals(authorization.substr(0, scheme.size()), scheme))
        return std::nullopt;
    auto token = trim(authorization.substr(scheme.size()));
    if (token.empty() || token.size() > 512) return std::nullopt;
    return std::string(token);
}

bool origin_allowed(std::string_view origin, std::string_view host, bool tls) {
    if (origin.empty()) return true;
    if (host.empty()) return false;
    auto expected = fmt::format("{}://{}", tls ? "https" : "http", host);
    return boost::beast::iequals(origin, expected);
}

std::string session_cookie(std::string_view token, bool tls, long max_age_s) {
    return fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}", session_cookie_name, token, max_age_s,
                       tls ? "; Secure" : "");
}

std::string clear_session_cookie(bool tls) {
    return fmt::format("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}", session_cookie_name,
                       tls ? "; Secure" : "");
}

namespace {

// What the request presents: a bearer token (or a malformed Authorization
// header), a session cookie, or nothing.
struct presented {
    auth_kind how = auth_kind::none;
    std::string token;
    bool malformed = false;
};

presented presented_credentials(const net::request_header& header) {
    namespace http = boost::beast::http;
    presented p;
    if (auto it = header.find(http::field::authorization); it != header.end()) {
        auto token = bearer_token(sv(it->value()));
        p.how = auth_kind::bearer;
        p.malformed = !token;
        if (token) p.token = std::move(*token);
        return p;
    }
    if (auto it = header.find(http::field::cookie); it != header.end()) {
        if (auto token = cookie_value(sv(it->value()), session_cookie_name); token && !token->empty()) {
            p.how = auth_kind::cookie;
            p.token = std::move(*token);
        }
    }
    return p;
}

// The caller for credentials `p` whose user lookup gave `user`.
caller caller_for(presented p, std::optional<user_record> user) {
    caller c;
    if (p.malformed) {
        c.bad_credentials = true; // an Authorization header we cannot read
        return c;
    }
    c.user = std::move(user);
    if (p.how == auth_kind::bearer) {
        c.how = auth_kind::bearer;
        c.bad_credentials = !c.user; // a key that is not valid is an error, not anonymity
        if (c.user) c.api_key = std::move(p.token);
    } else if (p.how == auth_kind::cookie && c.user) {
        c.how = auth_kind::cookie; // an unknown or expired cookie is just a visitor
        c.session_token = std::move(p.token);
    }
    return c;
}

} // namespace

std::optional<caller> resolve_caller_cached(account_store& accounts, const net::request_header& header) {
    auto p = presented_credentials(header);
    if (p.how == auth_kind::none || p.malformed) return caller_for(std::move(p), std::nullopt);
    auto user = p.how == auth_kind::bearer ? accounts.cached_api_key_user(p.token)
                                           : accounts.cached_session_user(p.token);
    if (!user) return std::nullopt; // unknown here: only the store can tell
    return caller_for(std::move(p), std::move(user));
}

caller resolve_caller(account_store& accounts, const net::request_header& header) {
    auto p = presented_credentials(header);
    if (p.how == auth_kind::none || p.malformed) return caller_for(std::move(p), std::nullopt);
    auto user = p.how == auth_kind::bearer ? accounts.find_api_key_user(p.token) : accounts.find_session_user(p.token);
    return caller_for(std::move(p), std::move(user));
}

} // namespace tether::broker::api
