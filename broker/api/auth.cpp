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

std::optional<caller> resolve_caller_cached(account_store& accounts, const net::request_header& header) {
    namespace http = boost::beast::http;
    caller c;
    if (auto it = header.find(http::field::authorization); it != header.end()) {
        auto token = bearer_token(sv(it->value()));
        if (!token) {
            c.bad_credentials = true;
            return c;
        }
        c.user = accounts.cached_api_key_user(*token);
        if (!c.user) return std::nullopt;
        c.how = auth_kind::bearer;
        return c;
    }
    if (auto it = header.find(http::field::cookie); it != header.end()) {
        if (auto token = cookie_value(sv(it->value()), session_cookie_name); token && !token->empty()) {
            c.user = accounts.cached_session_user(*token);
            if (!c.user) return std::nullopt;
            c.how = auth_kind::cookie;
            c.session_token = *token;
        }
    }
    return c;
}

caller resolve_caller(account_store& accounts, const net::request_header& header) {
    namespace http = boost::beast::http;
    caller c;
    if (auto it = header.find(http::field::authorization); it != header.end()) {
        auto token = bearer_token(sv(it->value()));
        if (!token) {
            c.bad_credentials = true;
            return c;
        }
        c.user = accounts.find_api_key_user(*token);
        c.how = auth_kind::bearer;
        c.bad_credentials = !c.user;
        return c;
    }
    if (auto it = header.find(http::field::cookie); it != header.end()) {
        if (auto token = cookie_value(sv(it->value()), session_cookie_name); token && !token->empty()) {
            c.user = accounts.find_session_user(*token);
            if (c.user) {
                c.how = auth_kind::cookie;
                c.session_token = *token;
            }
        }
    }
    return c;
}

} // namespace tether::broker::api
