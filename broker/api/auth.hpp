#pragma once
// Who is calling: a session cookie (browsers) or "Authorization: Bearer <api
// key>" (programs); the CSRF rule for cookie-authenticated changes (Origin
// must match the Host, or be absent). Header parsing is pure; resolve_caller
// asks the account store and blocks on it.

#include "net/http_types.hpp"
#include "store/account_store.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace tether::broker::api {

inline constexpr std::string_view session_cookie_name = "tether_session";

enum class auth_kind { none, cookie, bearer };

struct caller {
    std::optional<user_record> user;
    auth_kind how = auth_kind::none;
    std::string session_token; // when how == cookie
    std::string api_key;       // when how == bearer (kept to re-check it: stream_registry)
    bool bad_credentials = false; // a key or cookie was given but is not valid
    bool signed_in() const { return user.has_value(); }
    bool admin() const { return user && user->admin; }
};

// The value of cookie `name` in a Cookie header; nullopt if absent.
std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name);
// The token of "Bearer <token>" (scheme case-insensitive); nullopt otherwise.
std::optional<std::string> bearer_token(std::string_view authorization);
// True when `origin` is empty or names the same scheme://host[:port] as the request.
bool origin_allowed(std::string_view origin, std::string_view host, bool tls);
// Set-Cookie values that start and end a browser session.
std::string session_cookie(std::string_view token, bool tls, long max_age_s);
std::string clear_session_cookie(bool tls);

caller resolve_caller(account_store& accounts, const net::request_header& header);
// The same answer when it needs no database read (no credentials, a malformed
// one, or one the store has in memory); nullopt when only resolve_caller can
// tell. Never blocks on disk.
std::optional<caller> resolve_caller_cached(account_store& accounts, const net::request_header& header);

} // namespace tether::broker::api
